//! The STARTTLS side of the SMTP endpoint: one self-signed certificate per
//! process (rcgen) and a rustls server configuration built on the ring
//! provider explicitly, so it works whether or not the process installed a
//! default provider. Clients must be told to accept an unverified
//! certificate, as they would for any lab relay.

use std::sync::{Arc, OnceLock};

use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use super::reply::SERVER_NAME;

/// The acceptor every SMTP endpoint of this process shares, or why none
/// could be built.
pub fn acceptor() -> Result<TlsAcceptor, String> {
    static CONFIG: OnceLock<Result<Arc<ServerConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(server_config)
        .clone()
        .map(TlsAcceptor::from)
}

fn server_config() -> Result<Arc<ServerConfig>, String> {
    let names = [SERVER_NAME, "localhost", "127.0.0.1", "::1"].map(str::to_string);
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| format!("cannot generate the STARTTLS certificate: {e}"))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| format!("cannot use the STARTTLS certificate: {e}"))?;
    Ok(Arc::new(config))
}
