//! TLS as DM configures it: `ssl-ca`, `ssl-cert`, `ssl-key` and
//! `cert-allowed-cn` name PEM files and the client common names allowed in.
//! One set of files serves the master port (gRPC + HTTP), its etcd client,
//! the follower → leader forwarding client and the etcd member.

use std::path::PathBuf;

/// The TLS files of a master (DM's `security.Security` as paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM bundle of trusted CAs.
    pub ca: PathBuf,
    /// PEM certificate chain presented by this process.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// When non-empty, peers must present a certificate whose subject CN is
    /// one of these.
    pub allowed_cn: Vec<String>,
}
