//! TLS for every port, from the `--tls-*` files: with a client CA, mutual TLS. The gRPC
//! ports speak HTTP/2 over it (`connection.rs` ends TLS itself, so that it can follow the
//! connection's frames); the HTTP port HTTP/1.1 (`http_port.rs` runs each handshake in its
//! connection's task, bounded in time, and the connections in number).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// Why the TLS files cannot serve HTTPS.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpsError(String);

/// The rustls configuration of a port speaking `protocol` (its ALPN name).
pub fn acceptor(files: &TlsFiles, protocol: &[u8]) -> Result<TlsAcceptor, HttpsError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| HttpsError(format!("{what}: {e}"));
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| failed(&files.cert.display().to_string(), &e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| failed(&files.key.display().to_string(), &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("protocol versions", &e))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca)
                .map_err(|e| failed(&ca.display().to_string(), &e))?
            {
                let cert = cert.map_err(|e| failed(&ca.display().to_string(), &e))?;
                roots
                    .add(cert)
                    .map_err(|e| failed(&ca.display().to_string(), &e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| failed("client CA", &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| failed("certificate and key", &e))?;
    config.alpn_protocols = vec![protocol.to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
