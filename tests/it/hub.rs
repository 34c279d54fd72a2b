//! The hub's front door: `ourocodus serve` as a separate process, reached by the
//! third-party AHP client (`ahp` over `ahp-ws`) and by a raw WebSocket client.

use std::process::Stdio;
use std::time::Duration;

use ahp::ahp_types::state::SnapshotState;
use ahp::{Client, ClientConfig, ClientError};
use futures_util::{SinkExt, StreamExt};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{bounded, fake_team, ourocodus_bin};

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

type Raw = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A running `ourocodus serve` with its own config directory (and so its own token).
pub(crate) struct Hub {
    child: Child,
    /// `127.0.0.1:PORT` as the hub printed it.
    pub(crate) addr: String,
    pub(crate) token: String,
    /// The monitor's one-time login link, as `serve` printed it.
    pub(crate) login_link: String,
    _config: tempfile::TempDir,
}

impl Hub {
    pub(crate) async fn start(extra: &[&str]) -> Hub {
        Hub::start_in(tempfile::tempdir().unwrap(), extra).await
    }

    /// A hub in this directory (its token, team, store and log), e.g. one a
    /// killed hub left.
    pub(crate) async fn start_in(config: tempfile::TempDir, extra: &[&str]) -> Hub {
        let team = config.path().join("team.toml");
        if !team.exists() {
            std::fs::write(&team, fake_team(&["backend", "test"])).unwrap();
        }
        let mut child = Command::new(ourocodus_bin())
            .arg("serve")
            // Any free loopback port, unless the test says where.
            .args(
                ["--listen", "127.0.0.1:0"]
                    .iter()
                    .filter(|_| !extra.contains(&"--listen")),
            )
            .arg("--config")
            .arg(&team)
            .arg("--store")
            .arg(config.path().join("store.db"))
            // Its stdout is a pipe: the login link only when asked for.
            .arg("--print-login-link")
            .args(extra)
            .env("XDG_CONFIG_HOME", config.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(config.path().join("hub.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = async || {
            tokio::time::timeout(WAIT, lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
        };
        let first = next().await;
        let addr = first
            .strip_prefix("ourocodus hub on ws://")
            .or_else(|| first.strip_prefix("ourocodus hub on wss://"))
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        let second = next().await;
        let login_link = second
            .strip_prefix("monitor: ")
            .unwrap_or_else(|| panic!("unexpected second line: {second}"))
            .to_string();
        // Keep reading whatever else it prints, so it never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        // Never printed: a client reads the file, as `ourocodus token` does.
        let from_file = std::fs::read_to_string(config.path().join("ourocodus/token")).unwrap();
        let token = from_file.trim().to_string();
        Hub {
            child,
            addr,
            token,
            login_link,
            _config: config,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://{}/?tkn={}", self.addr, self.token)
    }

    pub(crate) async fn client(&self) -> Client {
        let transport = ahp_ws::WebSocketTransport::connect(&self.url())
            .await
            .unwrap();
        let config = ClientConfig {
            subscription_buffer: 65_536,
            ..ClientConfig::default()
        };
        Client::connect(transport, config).await.unwrap()
    }

    async fn raw(&self) -> Raw {
        tokio_tungstenite::connect_async(self.url())
            .await
            .unwrap()
            .0
    }

    /// The HTTP status the upgrade answers, with these headers on the request.
    pub(crate) async fn upgrade_status(&self, url: &str, headers: &[(&str, &str)]) -> u16 {
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap();
            request.headers_mut().insert(name, value.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((_, response)) => response.status().as_u16(),
            Err(WsError::Http(response)) => response.status().as_u16(),
            Err(e) => panic!("upgrade failed otherwise: {e}"),
        }
    }

    /// What the hub logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self._config.path().join("hub.log")).unwrap_or_default()
    }

    /// SIGKILL, then the directory it leaves.
    pub(crate) async fn kill9(mut self) -> tempfile::TempDir {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait().await;
        std::mem::replace(&mut self._config, tempfile::tempdir().unwrap())
    }

    pub(crate) fn dir(&self) -> &std::path::Path {
        self._config.path()
    }

    pub(crate) fn signal(&self, signal: Signal) {
        let pid = self.child.id().unwrap();
        kill(Pid::from_raw(pid as i32), signal).unwrap();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
    }
}

/// Sends one frame and reads the next text frame as JSON.
async fn exchange(socket: &mut Raw, frame: &str) -> Value {
    socket.send(Message::text(frame)).await.unwrap();
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

pub(crate) async fn raw_ping_works(socket: &mut Raw) {
    let reply = exchange(
        socket,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"channel":"ahp-root://"}}"#,
    )
    .await;
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":1,"result":null}));
}

#[tokio::test]
async fn the_ahp_client_initializes_with_1_0_0_and_sees_the_team_in_the_root_snapshot() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let client = hub.client().await;
        let init = client
            .initialize(
                "it".into(),
                vec!["1.0.0".into()],
                vec!["ahp-root://".into()],
            )
            .await
            .unwrap();
        assert_eq!(init.protocol_version, "1.0.0");
        assert_eq!(init.server_info.unwrap().name, "ourocodus");
        let [snapshot] = init.snapshots.as_slice() else {
            panic!("one snapshot: {:?}", init.snapshots)
        };
        assert_eq!(snapshot.resource, "ahp-root://");
        let SnapshotState::Root(root) = &snapshot.state else {
            panic!("a root state: {:?}", snapshot.state)
        };
        assert_eq!(root.agents[0].provider, "ourocodus");
        assert_eq!(root.agents[0].display_name, "Ourocodus team");
        client.ping().await.unwrap();
        let refused = client
            .request::<_, Value>("createChat", json!({"channel": "ahp-session:/x"}))
            .await;
        assert!(
            matches!(&refused, Err(ClientError::Rpc(e)) if e.code == -32601),
            "{refused:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_vs_code_style_0_9_0_offer_negotiates_0_9_0_and_reconnect_without_a_channel_is_answered()
{
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let mut socket = hub.raw().await;
        raw_ping_works(&mut socket).await;
        let init = r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"channel":"ahp-root://","clientId":"vs","protocolVersions":["0.9.0"],"initialSubscriptions":["ahp-root://"]}}"#;
        let reply = exchange(&mut socket, init).await;
        assert_eq!(reply["result"]["protocolVersion"], "0.9.0");
        assert_eq!(reply["result"]["snapshots"][0]["state"]["agents"][0]["provider"], "ourocodus");
        let now = reply["result"]["serverSeq"].as_u64().unwrap();
        let mut again = hub.raw().await;
        let reconnect = json!({"jsonrpc": "2.0", "id": "r", "method": "reconnect", "params":
            {"clientId": "vs", "lastSeenServerSeq": now, "subscriptions": ["ahp-root://"]}});
        let reply = exchange(&mut again, &reconnect.to_string()).await;
        assert_eq!(reply["id"], "r");
        // Nothing happened since: a replay of nothing.
        assert_eq!(reply["result"]["type"], "replay", "{reply}");
        assert_eq!(reply["result"]["actions"], json!([]));
        // A sequence number this hub never gave (another run's): fresh snapshots.
        let reconnect = r#"{"jsonrpc":"2.0","id":"s","method":"reconnect","params":{"clientId":"vs","lastSeenServerSeq":999,"subscriptions":["ahp-root://"]}}"#;
        let reply = exchange(&mut again, reconnect).await;
        assert_eq!(reply["result"]["type"], "snapshot", "{reply}");
        assert_eq!(reply["result"]["snapshots"][0]["resource"], "ahp-root://");
    })
    .await;
}

#[tokio::test]
async fn bad_frames_are_answered_with_json_rpc_errors_and_ids_echoed_as_sent() {
    bounded(LIMIT, async {
        let hub = Hub::start(&[]).await;
        let mut socket = hub.raw().await;
        let reply = exchange(&mut socket, "{oops").await;
        assert_eq!(reply["error"]["code"], -32700);
        assert_eq!(reply["id"], Value::Null);
        let reply = exchange(
            &mut socket,
            r#"{"jsonrpc":"2.0","id":"s-1","method":"ping"}"#,
        )
        .await;
        assert_eq!(reply, json!({"jsonrpc":"2.0","id":"s-1","result":null}));
        let reply = exchange(
            &mut socket,
            r#"{"jsonrpc":"2.0","id":9,"method":"noSuchThing"}"#,
        )
        .await;
        assert_eq!(reply["error"]["code"], -32601);
        assert_eq!(reply["id"], 9);
        let reply = exchange(&mut socket, r#"{"id":3}"#).await;
        assert_eq!(reply["error"]["code"], -32600);
        raw_ping_works(&mut socket).await;
    })
    .await;
}

#[tokio::test]
async fn the_upgrade_needs_the_token_and_a_permitted_origin() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--allow-origin", "vscode-file://vscode-app"]).await;
        let bare = format!("ws://{}/", hub.addr);
        assert_eq!(hub.upgrade_status(&bare, &[]).await, 401, "no token");
        let wrong = format!("ws://{}/?tkn={}", hub.addr, "0".repeat(64));
        assert_eq!(hub.upgrade_status(&wrong, &[]).await, 401, "wrong token");
        let bearer = format!("Bearer {}", hub.token);
        assert_eq!(
            hub.upgrade_status(&bare, &[("authorization", &bearer)])
                .await,
            101
        );
        let url = hub.url();
        let evil = [("origin", "https://evil.example")];
        assert_eq!(hub.upgrade_status(&url, &evil).await, 403, "wrong origin");
        let vscode = [("origin", "vscode-file://vscode-app")];
        assert_eq!(
            hub.upgrade_status(&url, &vscode).await,
            101,
            "allowed origin"
        );
        let own = format!("http://{}", hub.addr);
        assert_eq!(
            hub.upgrade_status(&url, &[("origin", &own)]).await,
            101,
            "own origin"
        );
    })
    .await;
}

#[tokio::test]
async fn a_frame_over_the_cap_closes_that_connection_only() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--max-frame-size", "1KiB"]).await;
        let mut big = hub.raw().await;
        let mut other = hub.raw().await;
        let huge = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
            "x".repeat(4096)
        );
        let _ = big.send(Message::text(huge)).await;
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match big.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => return None,
                }
            }
        })
        .await
        .expect("the big sender's connection ends");
        assert!(matches!(closed, Some(1009) | None), "{closed:?}");
        raw_ping_works(&mut other).await;
    })
    .await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_others_go_on() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--max-client-backlog", "64KiB"]).await;
        let mut other = hub.raw().await;
        let (mut deaf_tx, _deaf_rx_never_read) = hub.raw().await.split();
        let ping =
            r#"{"jsonrpc":"2.0","id":123456,"method":"ping","params":{"channel":"ahp-root://"}}"#;
        let dropped = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                for _ in 0..1000 {
                    if deaf_tx.feed(Message::text(ping)).await.is_err() {
                        return;
                    }
                }
                if deaf_tx.flush().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(dropped.is_ok(), "the hub kept a client that never reads");
        raw_ping_works(&mut other).await;
        assert!(
            hub.log().contains("the client stopped reading"),
            "{}",
            hub.log()
        );
    })
    .await;
}

#[tokio::test]
async fn a_non_loopback_listen_address_is_refused_without_allow_remote() {
    bounded(LIMIT, async {
        let config = tempfile::tempdir().unwrap();
        // `serve ARGS`, which must fail: what it says.
        let refused = async |args: &[&str], why: &str| {
            let out = Command::new(ourocodus_bin())
                .arg("serve")
                .args(args)
                .env("XDG_CONFIG_HOME", config.path())
                .output()
                .await
                .unwrap();
            assert!(!out.status.success(), "{why}");
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        let stderr = refused(&["--listen", "0.0.0.0:0"], "loopback only").await;
        assert!(stderr.contains("not a loopback address"), "{stderr}");
        assert!(stderr.contains("--allow-remote"), "{stderr}");
        // With --allow-remote, TLS material is still required, and must be readable.
        let remote = ["--listen", "0.0.0.0:0", "--allow-remote"];
        let stderr = refused(&remote, "never in the clear").await;
        assert!(stderr.contains("not a loopback address"), "{stderr}");
        let unreadable = [
            &remote[..],
            &["--tls-cert", "missing-c.pem", "--tls-key", "missing-k.pem"],
        ]
        .concat();
        let stderr = refused(&unreadable, "material it cannot read is refused").await;
        assert!(stderr.contains("missing-c.pem"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn sigterm_closes_connections_and_exits_0() {
    bounded(LIMIT, async {
        let mut hub = Hub::start(&[]).await;
        let mut socket = hub.raw().await;
        raw_ping_works(&mut socket).await;
        hub.signal(Signal::SIGTERM);
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => return None,
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(closed, Some(1001), "going away");
        let status = tokio::time::timeout(WAIT, hub.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(0));
    })
    .await;
}
