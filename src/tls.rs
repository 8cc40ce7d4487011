//! The process-wide TLS crypto provider (ring; never aws-lc-rs).

/// Installs ring as rustls' default provider; later calls do nothing.
pub fn ensure_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
