//! The hub over TLS (`serve --tls-cert --tls-key`): a certificate signed by a test
//! authority, the third-party AHP client and the hub's own clients (`agents`, `acp
//! --attach`) trusting that authority through `$OUROCODUS_TLS_CA`, nothing spoken in
//! the clear, the monitor's page naming `wss://` in its policy, and a hub on every
//! address once remote access is asked for with TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ahp::{Client, ClientConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::hub::Hub;
use crate::support::hub_cli::{HubAt, command, run, stderr_of, stdout_of};
use crate::support::{Proxy, bounded};

const LIMIT: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(20);

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A test authority and a certificate it signed for `localhost` and 127.0.0.1, as
/// PEM files in `dir`: (authority, certificate, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// A hub serving TLS, with the authority that signed its certificate.
async fn tls_hub(extra: &[&str]) -> (Hub, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let mut args = vec!["--tls-cert", cert.to_str().unwrap(), "--tls-key"];
    args.push(key.to_str().unwrap());
    args.extend_from_slice(extra);
    let hub = Hub::start_in(dir, &args).await;
    (hub, ca)
}

/// A TLS client trusting only `ca`.
fn trusting(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The WebSocket upgrade to `url` over a TCP connection to `addr`, TLS by `connector`.
async fn upgrade(
    addr: &str,
    url: &str,
    connector: Connector,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = url.into_client_request().unwrap();
    let upgraded =
        tokio_tungstenite::client_async_tls_with_config(request, tcp, None, Some(connector));
    tokio::time::timeout(WAIT, upgraded)
        .await
        .expect("the upgrade ends in time")
        .map(|(socket, _)| socket)
}

#[tokio::test]
async fn a_tls_hub_speaks_ahp_to_a_client_trusting_its_authority_and_nothing_in_the_clear() {
    bounded(LIMIT, async {
        let (hub, ca) = tls_hub(&[]).await;
        let url = format!("wss://{}/?tkn={}", hub.addr, hub.token);
        let socket = upgrade(&hub.addr, &url, Connector::Rustls(trusting(&ca)))
            .await
            .unwrap();
        let transport = ahp_ws::WebSocketTransport::from_stream(socket);
        let client = Client::connect(transport, ClientConfig::default())
            .await
            .unwrap();
        let init = client
            .initialize("tls".into(), vec!["1.0.0".into()], vec![])
            .await
            .unwrap();
        assert_eq!(init.protocol_version, "1.0.0");

        // A client that does not trust the authority never gets as far as the token.
        let elsewhere = tempfile::tempdir().unwrap();
        let (_, cert, _) = certificates(elsewhere.path());
        let stranger = upgrade(&hub.addr, &url, Connector::Rustls(trusting(&cert))).await;
        assert!(stranger.is_err(), "an unknown authority is refused");

        // The same port in the clear: no upgrade, whatever the token.
        let clear = format!("ws://{}/?tkn={}", hub.addr, hub.token);
        let plain = upgrade(&hub.addr, &clear, Connector::Plain).await;
        assert!(plain.is_err(), "no WebSocket in the clear on a TLS hub");
        let mut tcp = tokio::net::TcpStream::connect(&hub.addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer)).await;
        assert!(
            !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
            "no page in the clear"
        );
    })
    .await;
}

#[tokio::test]
async fn agents_and_acp_attach_reach_a_tls_hub_with_its_authority_in_ourocodus_tls_ca() {
    bounded(LIMIT, async {
        let (hub, ca) = tls_hub(&[]).await;
        let at = HubAt {
            addr: format!("wss://{}", hub.addr),
            token: hub.token.clone(),
        };
        let mut agents = command(&at, hub.dir(), &["agents"]);
        agents.env("OUROCODUS_TLS_CA", &ca);
        let listed = run(agents, WAIT).await;
        assert_eq!(listed.status.code(), Some(0), "{}", stderr_of(&listed));
        assert!(
            stdout_of(&listed).contains("backend"),
            "{}",
            stdout_of(&listed)
        );

        let untrusted = run(command(&at, hub.dir(), &["agents"]), WAIT).await;
        assert_eq!(untrusted.status.code(), Some(1));
        let said = stderr_of(&untrusted);
        assert!(
            said.contains("OUROCODUS_TLS_CA"),
            "says what to set: {said}"
        );

        let token = [("OUROCODUS_TOKEN", hub.token.as_str())];
        let (status, said) = crate::hub_attach::attach_fails(&at.addr, &token).await;
        assert!(!status.success());
        assert!(
            said.contains("OUROCODUS_TLS_CA"),
            "says what to set: {said}"
        );

        let ca = ca.to_str().unwrap();
        let env = [
            ("OUROCODUS_TOKEN", hub.token.as_str()),
            ("OUROCODUS_TLS_CA", ca),
        ];
        let mut editor = Proxy::attach(&at.addr, &env).await;
        let session = editor.plain_session().await;
        let (_, answer) = editor.prompt(&session, "@backend hello").await;
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        assert!(editor.close().await.success());
    })
    .await;
}

/// Everything a server answers to one GET of `path` over TLS, read to its end.
async fn tls_get(addr: &str, ca: &Path, host: &str, path: &str) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(trusting(ca));
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // The hub closes without a TLS close_notify on some paths: what came is enough.
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn on_every_address_with_allow_remote_the_monitor_page_names_wss_to_the_host_it_was_loaded_from()
 {
    bounded(LIMIT, async {
        let (hub, ca) = tls_hub(&["--listen", "0.0.0.0:0", "--allow-remote"]).await;
        assert!(hub.addr.starts_with("0.0.0.0:"), "{}", hub.addr);
        let port = hub.addr.rsplit(':').next().unwrap();
        // No browser can open 0.0.0.0: the link names the machine.
        let machine = nix::unistd::gethostname().unwrap().into_string().unwrap();
        let linked = format!("https://{machine}:{port}/login?code=");
        assert!(hub.login_link.starts_with(&linked), "{}", hub.login_link);
        let local = format!("127.0.0.1:{port}");
        let host = format!("localhost:{port}");
        let page = tls_get(&local, &ca, &host, "/").await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        let policy = page
            .lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with("content-security-policy:")
            })
            .unwrap_or_else(|| panic!("a policy: {page}"));
        assert!(
            policy.contains(&format!("connect-src 'self' wss://{host};")),
            "{policy}"
        );
        // The page's own origin may open the socket; another may not.
        let url = format!("wss://{host}/?tkn={}", hub.token);
        let with_origin = |origin: &str| {
            let mut request = url.as_str().into_client_request().unwrap();
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
            request
        };
        for (origin, admitted) in [
            (format!("https://{host}"), true),
            ("https://evil.example".into(), false),
            // Another local server's page: the hub's own are https:// only.
            (format!("http://{host}"), false),
            (format!("http://{local}"), false),
        ] {
            let tcp = tokio::net::TcpStream::connect(&local).await.unwrap();
            let connector = Connector::Rustls(trusting(&ca));
            let upgraded = tokio_tungstenite::client_async_tls_with_config(
                with_origin(&origin),
                tcp,
                None,
                Some(connector),
            )
            .await;
            assert_eq!(upgraded.is_ok(), admitted, "{origin}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_printed_login_link_is_https_and_its_host_prefixed_cookie_is_never_sent_in_the_clear() {
    bounded(LIMIT, async {
        let (hub, ca) = tls_hub(&[]).await;
        let prefix = format!("https://{}", hub.addr);
        let path = hub
            .login_link
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("an https link: {}", hub.login_link));
        let answer = tls_get(&hub.addr, &ca, &hub.addr, path).await;
        assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
        let cookie = answer
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
            .unwrap_or_else(|| panic!("a cookie: {answer}"));
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(
            cookie.contains(": __Host-ourocodus_session=") && cookie.contains("; Path=/"),
            "{cookie}"
        );
        assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
        let location = answer
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("location:"))
            .unwrap_or_else(|| panic!("a redirect: {answer}"));
        assert!(location.contains(": /#sk="), "{location}");
    })
    .await;
}

#[tokio::test]
async fn the_clients_never_send_the_token_in_the_clear_beyond_loopback() {
    bounded(LIMIT, async {
        let dir = tempfile::tempdir().unwrap();
        let far = HubAt {
            addr: "ws://hub.example:7420".into(),
            token: "ab".repeat(32),
        };
        let refused = run(command(&far, dir.path(), &["agents"]), WAIT).await;
        assert_eq!(refused.status.code(), Some(1));
        let said = stderr_of(&refused);
        assert!(
            said.contains("in the clear") && said.contains("wss://"),
            "{said}"
        );
        let token = [("OUROCODUS_TOKEN", far.token.as_str())];
        let (status, said) = crate::hub_attach::attach_fails("10.0.0.1:7420", &token).await;
        assert!(!status.success());
        assert!(said.contains("in the clear"), "{said}");
    })
    .await;
}
