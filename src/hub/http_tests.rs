use super::*;

fn listen() -> SocketOrigin {
    SocketOrigin::of(
        false,
        "127.0.0.1:7420".parse().unwrap(),
        Some("evil.example:7420"),
    )
}

fn text(response: &[u8]) -> String {
    String::from_utf8_lossy(response).into_owned()
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn an_upgrade_goes_on_to_the_websocket_and_a_plain_get_is_a_page() {
    let upgrade =
        "GET /?tkn=x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    assert_eq!(read_head(upgrade.as_bytes()), Head::Upgrade);
    let odd_case = "GET /acp HTTP/1.1\r\nupgrade: h2c, WebSocket\r\n\r\n";
    assert_eq!(read_head(odd_case.as_bytes()), Head::Upgrade);
    let page = "GET /monitor.js?v=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    let expected = Head::Plain {
        method: "GET".into(),
        path: "/monitor.js".into(),
        query: "v=1".into(),
        len: page.len(),
        host: Some("h".into()),
    };
    assert_eq!(read_head(page.as_bytes()), expected);
    // Another protocol's upgrade is no WebSocket: a plain request.
    let h2c = "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n";
    assert!(matches!(read_head(h2c.as_bytes()), Head::Plain { .. }));
}

#[test]
fn a_head_not_complete_yet_is_waited_for_and_garbage_is_left_to_the_upgrade() {
    assert_eq!(read_head(b"GET / HTTP/1.1\r\nHost:"), Head::Incomplete);
    assert_eq!(read_head(b"GE"), Head::Incomplete);
    assert_eq!(
        read_head(b"\x16\x03\x01\x02\x00 tls hello\r\n\r\n"),
        Head::Upgrade
    );
}

#[test]
fn the_page_comes_with_its_type_length_and_a_strict_policy_naming_the_hub() {
    let response = text(&respond("GET", "/", &listen()));
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert_eq!(
        header(&response, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let length = header(&response, "content-length").unwrap();
    assert_eq!(length, body.len().to_string());
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&response, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&response, "connection"), Some("close"));
    let csp = header(&response, "content-security-policy").unwrap();
    assert_eq!(
        csp,
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws://127.0.0.1:7420; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let script = text(&respond("GET", "/monitor.js", &listen()));
    assert_eq!(
        header(&script, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let v6 = policy(&SocketOrigin::of(
        false,
        "[::1]:9000".parse().unwrap(),
        None,
    ));
    assert!(v6.contains("connect-src 'self' ws://[::1]:9000;"), "{v6}");
}

#[test]
fn under_tls_the_page_may_open_sockets_to_the_host_it_was_loaded_from_and_nowhere_else() {
    let any: SocketAddr = "0.0.0.0:7420".parse().unwrap();
    let named = policy(&SocketOrigin::of(true, any, Some("hub.example:7420")));
    assert!(
        named.contains("connect-src 'self' wss://hub.example:7420;"),
        "{named}"
    );
    for hostile in ["a.example; script-src *", "a b", "x\"y", ""] {
        let kept = policy(&SocketOrigin::of(true, any, Some(hostile)));
        assert!(
            kept.contains("connect-src 'self' wss://0.0.0.0:7420;"),
            "{kept}"
        );
    }
}

#[test]
fn other_paths_are_not_found_and_other_methods_not_allowed() {
    let missing = text(&respond("GET", "/etc/passwd", &listen()));
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );
    assert!(header(&missing, "content-security-policy").is_some());
    let post = text(&respond("POST", "/", &listen()));
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert_eq!(header(&post, "allow"), Some("GET, HEAD"));
    let head = text(&respond("HEAD", "/", &listen()));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body");
    assert_ne!(header(&head, "content-length"), Some("0"));
}

#[tokio::test]
async fn a_page_request_is_answered_and_closed_and_an_upgrade_is_left_unread() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bounded = Duration::from_secs(10);
    let client = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Sent in two pieces: the head is waited for.
        stream.write_all(b"GET /monitor.css HT").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stream
            .write_all(b"TP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        response
    });
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::load(&dir.path().join("token"), Default::default()).unwrap();
    let mut served = HubStream::plain(listener.accept().await.unwrap().0);
    let front = tokio::time::timeout(bounded, front_door(&mut served, addr, &keys));
    assert_eq!(front.await.unwrap(), Front::Done);
    let response = text(
        &tokio::time::timeout(bounded, client)
            .await
            .unwrap()
            .unwrap(),
    );
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("text/css"), "{response}");

    let upgrade = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client.write_all(upgrade).await.unwrap();
    let mut served = HubStream::plain(listener.accept().await.unwrap().0);
    let front = tokio::time::timeout(bounded, front_door(&mut served, addr, &keys));
    assert_eq!(front.await.unwrap(), Front::Upgrade);
    let mut left = vec![0u8; upgrade.len()];
    served.read_exact(&mut left).await.unwrap();
    assert_eq!(&left[..], upgrade, "the upgrade reads the head whole");
}
