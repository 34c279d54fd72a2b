//! `--max-message-size`: a line over the cap is refused with an error and skipped,
//! and the session goes on.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{fake_team, ourocodus_bin};

#[test]
fn a_message_over_the_configured_size_is_refused_and_the_next_one_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("team.toml");
    std::fs::write(&config, fake_team(&["alpha"])).unwrap();
    let mut proxy = Command::new(ourocodus_bin())
        .args(["acp", "--max-message-size", "4KiB", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(dir.path().join("store.db"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = proxy.stdin.take().unwrap();
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"pad\":\"{}\"}}}}\n",
        "x".repeat(8192)
    );
    stdin.write_all(big.as_bytes()).unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{\"protocolVersion\":1}}\n")
        .unwrap();
    drop(stdin);
    let lines: Vec<Value> = BufReader::new(proxy.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .filter(|m: &Value| m.get("method").is_none())
        .collect();
    assert!(proxy.wait().unwrap().success());
    assert_eq!(lines[0]["error"]["code"], -32600, "{lines:?}");
    assert!(
        lines[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("over the size limit")
    );
    assert_eq!(lines[1]["id"], 2);
    assert_eq!(lines[1]["result"]["protocolVersion"], 1);
}

#[test]
fn an_unknown_size_unit_is_a_usage_error() {
    let status = Command::new(ourocodus_bin())
        .args(["acp", "--no-store", "--max-message-size", "3 parsecs"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
