//! TLS on the master port (DM's `ssl-ca`, `ssl-cert`, `ssl-key`,
//! `cert-allowed-cn`): gRPC and HTTP terminate on one TLS listener; with
//! `cert-allowed-cn` a client without a certificate, or with a CN not
//! listed, is refused, and an allowed one is served. Certificates are made
//! at run time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dm_master::proto::master_client::MasterClient;
use dm_master::proto::ShowDdlLocksRequest;
use dm_master::tls::TlsFiles;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::master::TestMaster;
use crate::support::unique_space;

/// A test CA that issues leaf certificates into a temp dir.
struct Pki {
    dir: tempfile::TempDir,
    issuer: Issuer<'static, KeyPair>,
    ca: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "dm-test-ca");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        Pki {
            issuer: Issuer::new(params, key),
            dir,
            ca,
        }
    }

    /// A certificate for `cn`, valid for 127.0.0.1 and localhost.
    fn issue(&self, cn: &str) -> TlsFiles {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = self.dir.path().join(format!("{cn}.pem"));
        let key_path = self.dir.path().join(format!("{cn}-key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        TlsFiles {
            ca: self.ca.clone(),
            cert: cert_path,
            key: key_path,
            allowed_cn: Vec::new(),
        }
    }
}

/// An HTTPS GET with `config`; the response text, or the error.
async fn https_get(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
) -> Result<String, std::io::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut stream = connector.connect(name, tcp).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("timed out"))??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn http1(files: &TlsFiles) -> Arc<rustls::ClientConfig> {
    let mut config = (*files.client_config().unwrap()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A client that trusts the CA but presents no certificate.
fn anonymous(ca: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// ShowDDLLocks over gRPC to the master at `addr`, as the client `who`.
async fn show_locks_as(
    addr: std::net::SocketAddr,
    who: &TlsFiles,
) -> Result<tonic::Response<dm_master::proto::ShowDdlLocksResponse>, tonic::Status> {
    let channel =
        dm_master::tls::grpc_channel(&addr.to_string(), Some(who), Duration::from_secs(3)).unwrap();
    MasterClient::new(channel)
        .show_ddl_locks(ShowDdlLocksRequest::default())
        .await
}

#[tokio::test]
async fn with_cert_allowed_cn_only_listed_clients_get_in() {
    let pki = Pki::new();
    let tls = TlsFiles {
        allowed_cn: vec!["dm-client".into()],
        ..pki.issue("dm-master")
    };
    let master = TestMaster::builder(&unique_space("tls"))
        .name("tls")
        .configure(|config| config.tls = Some(tls))
        .lead(Duration::from_secs(10))
        .await;
    let addr = master.local_addr;

    // The allowed client: gRPC and HTTP both work over TLS.
    let allowed = pki.issue("dm-client");
    let locks = show_locks_as(addr, &allowed).await.unwrap().into_inner();
    assert!(locks.result, "{}", locks.msg);
    let status = https_get(addr, http1(&allowed), "/status").await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(status.contains("Release Version: v"), "{status}");

    // A CN that is not listed: refused on both protocols.
    let intruder = pki.issue("intruder");
    let refused = show_locks_as(addr, &intruder).await;
    assert!(refused.is_err(), "{refused:?}");
    let refused = https_get(addr, http1(&intruder), "/status").await;
    assert!(
        !matches!(&refused, Ok(text) if text.starts_with("HTTP/1.1 200")),
        "{refused:?}"
    );

    // No client certificate: refused.
    let refused = https_get(addr, anonymous(&pki.ca), "/status").await;
    assert!(
        !matches!(&refused, Ok(text) if text.starts_with("HTTP/1.1 200")),
        "{refused:?}"
    );

    // Plain HTTP on the TLS port: no answer.
    let plain = crate::grpc::http_get(addr, "/status").await;
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");

    // A server whose CN the client does not allow is refused by the client.
    let picky = TlsFiles {
        allowed_cn: vec!["someone-else".into()],
        ..allowed.clone()
    };
    assert!(show_locks_as(addr, &picky).await.is_err());
    master.stop().await;
}

#[tokio::test]
async fn without_cert_allowed_cn_clients_need_no_certificate() {
    let pki = Pki::new();
    let tls = pki.issue("dm-master");
    let master = TestMaster::builder(&unique_space("tls2"))
        .name("tls2")
        .configure(|config| config.tls = Some(tls))
        .start()
        .await;
    let addr = master.local_addr;
    let status = https_get(addr, anonymous(&pki.ca), "/status")
        .await
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    master.stop().await;
}
