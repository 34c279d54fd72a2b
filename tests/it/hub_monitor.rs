//! The web monitor's page on the hub's port: `ourocodus serve` announces where the
//! monitor is, a plain HTTP GET gets the page (no token in it) under a strict
//! Content-Security-Policy naming the hub, other paths and methods are refused, and
//! a WebSocket upgrade on the same port still works.

use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{bounded, fake_team, ourocodus_bin};

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

/// A running hub and what it printed on start.
struct Hub {
    child: Child,
    _config: tempfile::TempDir,
    lines: Vec<String>,
}

impl Hub {
    async fn start(extra: &[&str]) -> Hub {
        let config = tempfile::tempdir().unwrap();
        let team = config.path().join("team.toml");
        std::fs::write(&team, fake_team(&["backend"])).unwrap();
        let mut child = Command::new(ourocodus_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&team)
            .arg("--store")
            .arg(config.path().join("store.db"))
            .args(extra)
            .env("XDG_CONFIG_HOME", config.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut lines = Vec::new();
        for _ in 0..2 {
            let line = tokio::time::timeout(WAIT, stdout.next_line()).await;
            lines.push(line.unwrap().unwrap().unwrap());
        }
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Hub {
            child,
            _config: config,
            lines,
        }
    }

    fn addr(&self) -> &str {
        let rest = self.lines[0]
            .strip_prefix("ourocodus hub on ws://")
            .unwrap();
        rest.split(' ').next().unwrap()
    }

    /// The token as clients find it: in its file, never on stdout.
    fn token(&self) -> String {
        let file = self._config.path().join("ourocodus/token");
        std::fs::read_to_string(file).unwrap().trim().to_string()
    }

    /// One raw HTTP/1.1 exchange: the whole response, as the server closed it.
    async fn fetch(&self, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(self.addr()).await.unwrap();
        let request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr());
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8(response).unwrap()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
    }
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn serve_announces_the_monitor_and_serves_its_page_without_the_token_under_a_strict_policy() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--print-login-link"]).await;
        let (addr, token) = (hub.addr().to_string(), hub.token());
        assert!(
            hub.lines.iter().all(|line| !line.contains(&token)),
            "the token is never printed: {:?}",
            hub.lines
        );
        let code = hub.lines[1]
            .strip_prefix(&format!("monitor: http://{addr}/login?code="))
            .unwrap_or_else(|| panic!("a login link: {}", hub.lines[1]));
        assert!(
            code.len() == 64 && code.bytes().all(|b| b.is_ascii_hexdigit()) && code != token,
            "{code}"
        );

        let page = hub.fetch("GET", "/").await;
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert_eq!(
            header(&page, "content-type"),
            Some("text/html; charset=utf-8")
        );
        let csp = header(&page, "content-security-policy").unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self';"),
            "{csp}"
        );
        assert!(
            csp.contains(&format!("connect-src 'self' ws://{addr};")),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!page.contains(&token), "the page holds no token");
        assert!(
            page.contains("<script type=\"module\" src=\"/monitor.js\">"),
            "{page}"
        );

        let script = hub.fetch("GET", "/monitor.js").await;
        assert!(script.starts_with("HTTP/1.1 200 OK\r\n"), "{script}");
        assert_eq!(header(&script, "x-content-type-options"), Some("nosniff"));
        assert!(!script.contains(&token));
        assert!(
            hub.fetch("GET", "/secret")
                .await
                .starts_with("HTTP/1.1 404 ")
        );
        assert!(hub.fetch("POST", "/").await.starts_with("HTTP/1.1 405 "));

        // The same port still upgrades: the page's own socket.
        let url = format!("ws://{addr}/?tkn={token}");
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"channel":"ahp-root://"}}"#;
        socket.send(Message::text(ping)).await.unwrap();
        let answer = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
        let answer = answer.unwrap().unwrap().into_text().unwrap();
        assert!(answer.contains("\"result\":null"), "{answer}");
    })
    .await;
}

#[tokio::test]
async fn a_hub_whose_output_is_not_a_terminal_names_the_monitor_but_prints_no_login_link() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let addr = hub.addr().to_string();
        assert_eq!(
            hub.lines[1],
            format!("monitor: http://{addr}/ (log in with a link from `ourocodus login-link`)")
        );
        assert!(
            hub.lines.iter().all(|l| !l.contains("code=")),
            "{:?}",
            hub.lines
        );
    })
    .await;
}
