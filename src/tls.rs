//! TLS set-up shared by the SMTP client, the HTTP clients and the
//! configuration's checks: the crypto provider, and reading a CA file.

use lettre::transport::smtp::client::{Certificate, TlsParameters};
use std::path::Path;

/// The crypto provider for TLS, installed once per process.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads `[mail.smtp] ca_file`: one or more PEM certificates, each checked
/// the way the TLS setup will use it.
pub fn read_ca_file(path: &Path) -> std::result::Result<Certificate, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    if !pem.windows(BEGIN.len()).any(|w| w == BEGIN) {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    let cert = Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
    install_crypto();
    TlsParameters::builder("localhost".into())
        .add_root_certificate(cert.clone())
        .build_rustls()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cert)
}
