//! TLS as DM configures it: `ssl-ca`, `ssl-cert`, `ssl-key` and
//! `cert-allowed-cn` name PEM files and the common names allowed in. One set
//! of files serves the master port (gRPC + HTTP terminate on one TLS
//! listener), the master's etcd client, the follower → leader forwarding
//! client, dmctl, and the etcd member.
//!
//! Invariants (docs/protocol.md#tls):
//! * the server asks for client certificates only when `cert-allowed-cn` is
//!   set; then a client without one, or whose subject CN is not listed, is
//!   refused during the handshake;
//! * clients verify the server's chain against `ssl-ca` but, like TiDB's
//!   `util.NewTLSConfig`, not its host name; with `cert-allowed-cn` they
//!   also check the server's CN.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

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

/// A TLS set-up error: which file and why (DM: 48002 `invalid TLS config`).
#[derive(Debug, thiserror::Error)]
#[error("invalid TLS config: {what} {path}: {reason}")]
pub struct TlsError {
    pub what: &'static str,
    pub path: String,
    pub reason: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsFiles {
    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in read_certs(&self.ca, "ssl-ca")? {
            roots.add(cert).map_err(|e| TlsError {
                what: "ssl-ca",
                path: self.ca.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        Ok(roots)
    }

    fn identity(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
        let certs = read_certs(&self.cert, "ssl-cert")?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| TlsError {
            what: "ssl-key",
            path: self.key.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok((certs, key))
    }

    /// The server side of the master port: HTTP/2 and HTTP/1.1 offered by
    /// ALPN; client certificates required only with `allowed_cn`.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let (certs, key) = self.identity()?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| self.config_error(e))?;
        let builder = if self.allowed_cn.is_empty() {
            builder.with_no_client_auth()
        } else {
            let inner = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(self.roots()?),
                provider(),
            )
            .build()
            .map_err(|e| self.config_error(e))?;
            builder.with_client_cert_verifier(Arc::new(AllowedCnClientVerifier {
                inner,
                allowed_cn: self.allowed_cn.clone(),
            }))
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| self.config_error(e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The client side (forwarding, dmctl): verify the chain against the CA
    /// without checking the host name, present our certificate, and check
    /// the server's CN when `allowed_cn` is set.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            provider(),
        )
        .build()
        .map_err(|e| self.config_error(e))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| self.config_error(e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyServerVerifier {
                inner,
                allowed_cn: self.allowed_cn.clone(),
            }));
        // dmctl may be given only `--ssl-ca`: then it presents no certificate.
        let mut config = if self.cert.as_os_str().is_empty() && self.key.as_os_str().is_empty() {
            builder.with_no_client_auth()
        } else {
            let (certs, key) = self.identity()?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| self.config_error(e))?
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// etcd-client's TLS options (CA and identity; etcd checks host names).
    pub fn etcd_options(&self) -> Result<etcd_client::TlsOptions, TlsError> {
        let read = |path: &Path, what: &'static str| {
            std::fs::read(path).map_err(|e| TlsError {
                what,
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        Ok(etcd_client::TlsOptions::new()
            .ca_certificate(etcd_client::Certificate::from_pem(read(
                &self.ca, "ssl-ca",
            )?))
            .identity(etcd_client::Identity::from_pem(
                read(&self.cert, "ssl-cert")?,
                read(&self.key, "ssl-key")?,
            )))
    }

    fn config_error(&self, e: impl ToString) -> TlsError {
        TlsError {
            what: "ssl-cert",
            path: self.cert.display().to_string(),
            reason: e.to_string(),
        }
    }
}

fn read_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |reason: String| TlsError {
        what,
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("no certificate found".into()));
    }
    Ok(certs)
}

/// The subject common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

fn check_cn(der: &[u8], allowed: &[String]) -> Result<(), rustls::Error> {
    let cn = common_name(der).unwrap_or_default();
    if allowed.contains(&cn) {
        Ok(())
    } else {
        tracing::warn!(common_name = %cn, allowed = ?allowed, "TLS peer refused: common name not allowed");
        Err(rustls::Error::General(format!(
            "certificate common name {cn:?} is not in cert-allowed-cn"
        )))
    }
}

/// WebPKI client verification plus DM's `cert-allowed-cn` check.
#[derive(Debug)]
struct AllowedCnClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    allowed_cn: Vec<String>,
}

/// The signature checks of a verifier that only adds to WebPKI's
/// certificate checks: its `inner` WebPKI verifier's, unchanged.
macro_rules! signatures_checked_by_inner {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

impl ClientCertVerifier for AllowedCnClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)?;
        check_cn(end_entity, &self.allowed_cn)?;
        Ok(ClientCertVerified::assertion())
    }

    signatures_checked_by_inner!();
}

/// WebPKI server verification that accepts any host name (as Go's
/// `InsecureSkipVerify` plus a manual chain check in TiDB's util), with the
/// optional CN check.
#[derive(Debug)]
struct ChainOnlyServerVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    allowed_cn: Vec<String>,
}

impl ServerCertVerifier for ChainOnlyServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(_) => {}
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => {}
            Err(e) => return Err(e),
        }
        if !self.allowed_cn.is_empty() {
            check_cn(end_entity, &self.allowed_cn)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    signatures_checked_by_inner!();
}

/// A gRPC channel to `addr` (`host:port`, scheme optional), over TLS when
/// `tls` is given; connects lazily.
pub fn grpc_channel(
    addr: &str,
    tls: Option<&TlsFiles>,
    connect_timeout: std::time::Duration,
) -> Result<tonic::transport::Channel, TlsError> {
    let (endpoint, connector) = grpc_endpoint(addr, tls, connect_timeout)?;
    Ok(match connector {
        Some(connector) => endpoint.connect_with_connector_lazy(connector),
        None => endpoint.connect_lazy(),
    })
}

/// Like [`grpc_channel`] but dials now: `Err` when `addr` does not accept
/// a connection (or the TLS handshake) within `connect_timeout`.
pub async fn grpc_connect(
    addr: &str,
    tls: Option<&TlsFiles>,
    connect_timeout: std::time::Duration,
) -> Result<tonic::transport::Channel, String> {
    let (endpoint, connector) =
        grpc_endpoint(addr, tls, connect_timeout).map_err(|e| e.to_string())?;
    let connected = match connector {
        Some(connector) => endpoint.connect_with_connector(connector).await,
        None => endpoint.connect().await,
    };
    connected.map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    })
}

type TlsConnectFn = tower::util::BoxCloneSyncService<
    http::Uri,
    hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    io::Error,
>;

fn grpc_endpoint(
    addr: &str,
    tls: Option<&TlsFiles>,
    connect_timeout: std::time::Duration,
) -> Result<(tonic::transport::Endpoint, Option<TlsConnectFn>), TlsError> {
    let bare = crate::config::unwrap_scheme(addr).to_string();
    // `http` even with TLS: our connector does the handshake, and tonic
    // refuses `https` URIs that it would have to secure itself.
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{bare}"))
        .map_err(|e| TlsError {
            what: "address",
            path: addr.to_string(),
            reason: e.to_string(),
        })?
        .connect_timeout(connect_timeout);
    let Some(tls) = tls else {
        return Ok((endpoint, None));
    };
    let connector = tokio_rustls::TlsConnector::from(tls.client_config()?);
    let target = bare.clone();
    let connect = tower::service_fn(move |_uri: http::Uri| {
        let connector = connector.clone();
        let target = target.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(&target).await?;
            let host = target
                .rsplit_once(':')
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
                .unwrap_or(&target)
                .to_string();
            let name = ServerName::try_from(host)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = connector.connect(name, tcp).await?;
            Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    Ok((
        endpoint,
        Some(tower::util::BoxCloneSyncService::new(connect)),
    ))
}

/// Serves `routes` (gRPC, and HTTP/1 for the HTTP routes merged into them)
/// on `listener` until `shutdown`; over TLS when `tls` is given, which then
/// terminates gRPC and HTTP alike. The master's and the worker's ports.
pub async fn serve_routes(
    routes: axum::Router,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        .add_routes(tonic::service::Routes::from(routes));
    match tls {
        Some(tls) => {
            let incoming = tls_incoming(listener, tls, shutdown.clone());
            server
                .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
                .await
        }
        None => {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            server
                .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
                .await
        }
    }
}

/// Accepted TLS connections for tonic's `serve_with_incoming`: handshakes
/// run concurrently, a failed one is logged and dropped (the listener goes
/// on).
pub fn tls_incoming(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    cancel: tokio_util::sync::CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<TlsConn>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                        .await;
                match handshake {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(TlsConn { stream, peer })).await;
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%peer, %error, "TLS handshake refused");
                    }
                    Err(_) => tracing::warn!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// One accepted TLS connection on the master port.
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: std::net::SocketAddr,
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.stream.get_ref().0.local_addr().ok(),
            remote_addr: Some(self.peer),
        }
    }
}

impl tokio::io::AsyncRead for TlsConn {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsConn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
