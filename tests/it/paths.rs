//! Hostile agents against the proxy's path handling and its reading of keys: paths
//! that hide where they land, paths that cost the proxy its time, updates that say two
//! things at once, and files that are not files.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    Peer as _, Proxy, WAIT, bounded, fake_team, fake_team_with, text_from, updates,
};

fn fs_editor() -> serde_json::Value {
    json!({ "fs": { "readTextFile": true, "writeTextFile": true } })
}

fn real_cwd(proxy: &Proxy) -> PathBuf {
    std::fs::canonicalize(proxy.cwd()).unwrap()
}

#[tokio::test]
async fn a_write_through_a_symlink_and_dot_dot_is_relayed_as_the_path_it_resolves_to() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], "directories = [\"src\"]")).await;
        let cwd = real_cwd(&proxy);
        std::fs::create_dir_all(cwd.join("src/deep/inner")).unwrap();
        std::os::unix::fs::symlink(cwd.join("src/deep/inner"), cwd.join("src/link")).unwrap();
        proxy.initialize(fs_editor()).await;
        let session = proxy.new_session().await;
        // Physically src/link/../.. is src; read lexically it is the project root.
        let id = proxy
            .prompt_id(&session, "write file src/link/../../x.txt hi")
            .await;
        let (messages, _) = proxy
            .until_response(id, |r| {
                (r["method"] == "fs/write_text_file").then(|| json!({}))
            })
            .await;
        let relayed: Vec<_> = messages
            .iter()
            .filter(|m| m["method"] == "fs/write_text_file")
            .collect();
        assert_eq!(relayed.len(), 1, "{messages:?}");
        assert_eq!(relayed[0]["params"]["path"], json!(cwd.join("src/x.txt")));
    })
    .await;
}

#[tokio::test]
async fn a_nul_byte_in_a_path_is_invalid_params_and_never_reaches_the_editor() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        proxy.initialize(fs_editor()).await;
        let session = proxy.new_session().await;
        let write = r#"{"jsonrpc":"2.0","id":"w1","method":"fs/write_text_file","params":{"sessionId":"fake-1","path":"a\u0000.txt","content":"x"}}"#;
        let read = r#"{"jsonrpc":"2.0","id":"r1","method":"fs/read_text_file","params":{"sessionId":"fake-1","path":"notes\u0000/../../etc/passwd"}}"#;
        let id = proxy.prompt_id(&session, &format!("raw {write}; raw {read}; sleep 300ms")).await;
        let (messages, _) = proxy.until_response(id, |_| Some(json!({ "content": "" }))).await;
        assert!(messages.iter().all(|m| !m["method"].as_str().unwrap_or("").starts_with("fs/")), "{messages:?}");
        let stderr = proxy.stderr();
        for request in ["w1", "r1"] {
            let said = format!(r#"response to "{request}", which no call is waiting for: error {{"code":-32602"#);
            assert!(stderr.contains(&said), "{request}: {stderr}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_read_outside_the_sessions_directories_is_refused_before_it_reaches_the_editor() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        proxy.initialize(fs_editor()).await;
        let session = proxy.new_session().await;
        let id = proxy
            .prompt_id(
                &session,
                "read file ../../../../etc/hostname; read file notes.txt",
            )
            .await;
        let (messages, _) = proxy
            .until_response(id, |r| {
                (r["method"] == "fs/read_text_file")
                    .then(|| json!({ "content": "from the editor" }))
            })
            .await;
        let relayed: Vec<_> = messages
            .iter()
            .filter(|m| m["method"] == "fs/read_text_file")
            .map(|m| m["params"]["path"].clone())
            .collect();
        assert_eq!(
            relayed,
            vec![json!(real_cwd(&proxy).join("notes.txt"))],
            "{messages:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_path_of_300000_components_is_refused_at_once_without_freezing_the_proxy() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        proxy.initialize(fs_editor()).await;
        let session = proxy.new_session().await;
        let path = "a/".repeat(300_000);
        let write = json!({"jsonrpc": "2.0", "id": "long", "method": "fs/write_text_file",
            "params": {"sessionId": "fake-1", "path": path, "content": "x"}});
        let started = Instant::now();
        let id = proxy
            .prompt_id(
                &session,
                &format!("raw {write}; sleep 200ms; say still here"),
            )
            .await;
        let (messages, _) = proxy.until_response(id, |_| Some(json!({}))).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(text_from(&messages, "alpha").contains("still here"));
        let said = r#"response to "long", which no call is waiting for: error {"code":-32602"#;
        assert!(proxy.stderr().contains(said), "{}", proxy.stderr());
    })
    .await;
}

#[tokio::test]
async fn reading_a_fifo_is_refused_at_once_instead_of_parking_the_proxy() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let fifo = proxy.cwd().join("pipe");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let session = proxy.plain_session().await;
        let (messages, _) = proxy
            .prompt(&session, "read file pipe; write file pipe x; say after")
            .await;
        let said = text_from(&messages, "alpha");
        assert_eq!(said.matches("not a regular file").count(), 2, "{said}");
        assert!(said.contains("after"), "{said}");
    })
    .await;
}

#[tokio::test]
async fn a_file_over_the_message_cap_is_refused_and_a_line_range_of_it_is_served() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start_with_args(&fake_team(&["alpha"]), &["--max-message-size", "64KiB"]).await;
        let lines: String = (1..=100_000).map(|n| format!("line {n}\n")).collect();
        std::fs::write(proxy.cwd().join("big.txt"), lines).unwrap();
        let session = proxy.plain_session().await;
        let range = r#"{"jsonrpc":"2.0","id":"range","method":"fs/read_text_file","params":{"sessionId":"fake-1","path":"big.txt","line":1000,"limit":2}}"#;
        let (messages, _) = proxy
            .prompt(&session, &format!("read file big.txt; raw {range}; sleep 300ms; say after"))
            .await;
        let said = text_from(&messages, "alpha");
        assert!(said.contains("read failed") && said.contains("larger than"), "{said}");
        let served = r#"response to "range", which no call is waiting for: result {"content":"line 1000\nline 1001\n"}"#;
        assert!(proxy.stderr().contains(served), "{}", proxy.stderr());
    })
    .await;
}

#[tokio::test]
async fn an_update_with_two_session_update_keys_never_reaches_the_editor() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let forged = r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"fake-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"innocent"},"sessionUpdate":"plan","entries":[{"content":"forged plan","priority":"high","status":"pending"}]}}}"#;
        let two_sessions = r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"fake-1","sessionId":"other","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"twice"}}}}"#;
        let (messages, _) = proxy
            .prompt(&session, &format!("raw {forged}; raw {two_sessions}; say after"))
            .await;
        let seen = serde_json::to_string(&updates(&messages)).unwrap();
        assert!(!seen.contains("forged plan") && !seen.contains("innocent") && !seen.contains("twice"), "{seen}");
        assert!(text_from(&messages, "alpha").contains("after"));
    })
    .await;
}

#[tokio::test]
async fn a_symlink_to_a_name_that_is_not_utf8_is_refused_and_the_proxy_goes_on() {
    use std::os::unix::ffi::OsStrExt;
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team_with(&["alpha"], "directories = [\"src\"]")).await;
        let cwd = real_cwd(&proxy);
        std::fs::create_dir_all(cwd.join("src")).unwrap();
        let not_utf8 = std::ffi::OsStr::from_bytes(b"\xff");
        std::os::unix::fs::symlink(not_utf8, cwd.join("src/inside")).unwrap();
        let up = std::path::Path::new("..").join(not_utf8);
        std::os::unix::fs::symlink(up, cwd.join("src/outside")).unwrap();
        proxy.initialize(fs_editor()).await;
        let session = proxy.new_session().await;
        let script = "write file src/inside/x.txt x; write file src/outside/x.txt x; read file src/inside/y; say after";
        let (messages, _) = proxy.prompt(&session, script).await;
        assert!(messages.iter().all(|m| !m["method"].as_str().unwrap_or("").starts_with("fs/")), "{messages:?}");
        let said = text_from(&messages, "alpha");
        assert_eq!(said.matches("not UTF-8").count(), 3, "{said}");
        assert!(said.contains("after"), "{said}");
    })
    .await;
}
