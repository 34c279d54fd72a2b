//! TLS for the hub and its clients: the server's certificate chain and key read from
//! PEM files (`--tls-cert`, `--tls-key`), and what a client trusts (the system's
//! roots, plus the certificate authority in `$OUROCODUS_TLS_CA` for a hub whose
//! certificate is self-made). Ring is the only crypto provider. Knows nothing of
//! WebSockets or of what is spoken inside.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The variable naming a PEM file of certificate authorities a client trusts too.
pub const CA_VAR: &str = "OUROCODUS_TLS_CA";

/// What a client says when the hub's certificate is not trusted.
pub const UNTRUSTED_HINT: &str = "for a hub whose certificate is self-made, set \
    $OUROCODUS_TLS_CA to the PEM file of the authority that signed it";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    Material { path: PathBuf, reason: String },
    #[error("TLS setup failed: {0}")]
    Setup(#[from] rustls::Error),
    #[error("no certificate authority to trust: the system has none and ${CA_VAR} is not set")]
    NoRoots,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn material(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::Material {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Every certificate in a PEM file; an error if there is none.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| material(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| material(path, e))?;
    if certs.is_empty() {
        return Err(material(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The hub's TLS: its certificate chain (leaf first) and private key, HTTP/1.1 only.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| material(key, e))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What a client of the hub trusts: the system's roots and `$OUROCODUS_TLS_CA`.
pub fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    let extra = std::env::var_os(CA_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    client_config_with(extra.as_deref())
}

/// The same, with `ca` instead of the variable.
pub fn client_config_with(ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    if let Some(ca) = ca {
        for cert in certificates(ca)? {
            roots.add(cert).map_err(|e| material(ca, e))?;
        }
    }
    // Unreadable system certificates are skipped: the hub's own CA may be all we need.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_untrusted_hint_names_the_variable_clients_read() {
        assert!(UNTRUSTED_HINT.contains(&format!("${CA_VAR} ")));
    }

    #[test]
    fn missing_or_empty_material_is_named_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.path().join("missing.pem");
        let err = server_config(&missing, &missing).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
        let err = server_config(&empty, &empty).unwrap_err().to_string();
        assert!(err.contains("empty.pem") && err.contains("no PEM"), "{err}");
        let err = client_config_with(Some(&empty)).unwrap_err().to_string();
        assert!(err.contains("empty.pem"), "{err}");
    }

    #[test]
    fn a_certificate_and_its_key_make_a_server_and_its_ca_a_client() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let server = server_config(&cert_path, &key_path).unwrap();
        assert_eq!(server.alpn_protocols, vec![b"http/1.1".to_vec()]);
        client_config_with(Some(&cert_path)).unwrap();
        // Another certificate's key does not go with this one.
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&key_path, other.serialize_pem()).unwrap();
        assert!(
            server_config(&cert_path, &key_path).is_err(),
            "a key that does not match"
        );
        // A key file holding a certificate is no key.
        let err = server_config(&cert_path, &cert_path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.pem"), "{err}");
    }
}
