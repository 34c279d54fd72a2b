//! The hub (`ourocodus serve`) from outside, over its WebSocket: actions per second
//! delivered to each of 10 subscribers of one session against 1 (same run), the
//! reconnect gap (a subscriber that leaves mid-stream and comes back with its last
//! `serverSeq`: actions lost and twice), and the hub's memory with 10 sessions of a
//! 4-role team, idle and all streaming at once.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Plan;
use super::procfs;
use super::report::{Report, Row, Target, Unit};
use super::setup::Workspace;
use super::stats::median;
use crate::error::{Error, Result};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROLES: usize = 4;
const WAIT: Duration = Duration::from_secs(60);

pub fn run(workspace: &Workspace, plan: &Plan, report: &mut Report) {
    eprintln!("bench: hub");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return report.failure(format!("hub: no runtime: {e}")),
    };
    if let Err(e) = runtime.block_on(measure(workspace, plan, report)) {
        report.failure(format!("hub: {e}"));
    }
}

async fn measure(workspace: &Workspace, plan: &Plan, report: &mut Report) -> Result<()> {
    let hub = HubProcess::start(workspace)?;
    let chunks = plan.chunks_per_role / 4;
    let mut one = Vec::new();
    let mut ten = Vec::new();
    for round in 0..plan.fan_in_rounds.min(3) {
        let session = format!("ahp-session:/bench-fan-{round}");
        one.push(fan_out(&hub, &session, 1, chunks).await?);
        let session = format!("ahp-session:/bench-fan10-{round}");
        ten.push(fan_out(&hub, &session, 10, chunks).await?);
    }
    report.row(Row {
        metric: "hub: actions/s to each of 10 subscribers (vs 1)".into(),
        unit: Unit::MessagesPerSecond,
        baseline: Some(median(&one)),
        proxy: median(&ten),
        target: Target::RatioAtLeast(0.5),
    });
    let (lost, twice, total) = reconnect_gap(&hub, chunks).await?;
    report.note(format!(
        "hub reconnect gap: a subscriber left after 5 of {total} actions and came back with its last serverSeq: {lost} lost, {twice} twice"
    ));
    if lost + twice > 0 {
        report.failure(format!("hub reconnect gap: {lost} lost, {twice} twice"));
    }
    memory(&hub, plan, report).await
}

/// A running hub with a team of 4 fake agents; killed on drop.
struct HubProcess {
    child: Child,
    addr: String,
    token: String,
    cwd: String,
}

/// The token a hub started with `XDG_CONFIG_HOME=home` made (it never prints it).
pub(super) fn token_in(home: &std::path::Path) -> Result<String> {
    let path = home.join("ourocodus").join("token");
    let token = std::fs::read_to_string(&path)
        .map_err(|e| Error::Other(format!("the hub's token {}: {e}", path.display())))?;
    Ok(token.trim().to_string())
}

impl HubProcess {
    fn start(workspace: &Workspace) -> Result<HubProcess> {
        let config = workspace.team_config(ROLES, true)?;
        let home = workspace.dir().join("hub-home");
        std::fs::create_dir_all(&home)?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--store")
            .arg(workspace.dir().join("hub-store.db"))
            .env("XDG_CONFIG_HOME", &home)
            .env("OUROCODUS_LOG", "warn")
            .current_dir(workspace.dir())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(workspace.dir().join("hub.stderr"))?)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Other("no stdout".into()))?;
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let mut next = || lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let first = next();
        let addr = first
            .strip_prefix("ourocodus hub on ws://")
            .and_then(|rest| rest.split(' ').next())
            .ok_or_else(|| Error::Other(format!("the hub said {first:?}")))?
            .to_string();
        // Drain the rest so the hub never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let token = token_in(&home)?;
        Ok(HubProcess {
            child,
            addr,
            token,
            cwd: workspace.dir().display().to_string(),
        })
    }

    async fn connect(&self, client: &str) -> Result<Socket> {
        let url = format!("ws://{}/?tkn={}", self.addr, self.token);
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| Error::Other(format!("connect: {e}")))?;
        let init =
            json!({"channel": "ahp-root://", "clientId": client, "protocolVersions": ["1.0.0"]});
        call(&mut socket, "initialize", init).await?;
        Ok(socket)
    }

    async fn session(&self, socket: &mut Socket, uri: &str) -> Result<String> {
        let params =
            json!({"channel": uri, "workingDirectories": [format!("file://{}", self.cwd)]});
        call(socket, "createSession", params).await?;
        let subscribed = call(socket, "subscribe", json!({"channel": uri})).await?;
        subscribed
            .pointer("/snapshot/state/_meta/ourocodus/leadChat")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::Other("no lead chat in the session".into()))
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(socket: &mut Socket, method: &str, params: Value) -> Result<Value> {
    let frame = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    send(socket, &frame).await?;
    loop {
        let message = next_json(socket).await?;
        if message.get("id").is_some() {
            if let Some(error) = message.get("error") {
                return Err(Error::Other(format!("{method}: {error}")));
            }
            return Ok(message.get("result").cloned().unwrap_or(Value::Null));
        }
    }
}

async fn send(socket: &mut Socket, frame: &Value) -> Result<()> {
    socket
        .send(Message::text(frame.to_string()))
        .await
        .map_err(|e| Error::Other(format!("send: {e}")))
}

/// The `serverSeq` written in an action frame's text.
fn server_seq(text: &str) -> u64 {
    let Some((_, rest)) = text.split_once(r#""serverSeq":"#) else {
        return 0;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

async fn next_text(socket: &mut Socket) -> Result<String> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .map_err(|_| Error::Other("the hub went quiet".into()))?
            .ok_or_else(|| Error::Other("the hub closed the connection".into()))?
            .map_err(|e| Error::Other(format!("read: {e}")))?;
        if let Message::Text(text) = message {
            return Ok(text.to_string());
        }
    }
}

async fn next_json(socket: &mut Socket) -> Result<Value> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .map_err(|_| Error::Other("the hub went quiet".into()))?
            .ok_or_else(|| Error::Other("the hub closed the connection".into()))?
            .map_err(|e| Error::Other(format!("read: {e}")))?;
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).map_err(|e| Error::Other(e.to_string()));
        }
    }
}

fn prompt(lead: &str, seq: i64, turn: &str, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "method": "dispatchAction", "params": {
        "channel": lead, "clientSeq": seq, "action": {
            "type": "chat/turnStarted", "turnId": turn, "startedAt": "2026-11-30T00:00:00.000Z",
            "message": {"text": text, "origin": {"kind": "user"}}}}})
}

/// The serverSeqs of a turn's actions on one subscriber's `channel`, until the turn ends.
async fn read_turn(socket: &mut Socket, channel: &str, turn: &str) -> Result<Vec<u64>> {
    let mut seqs = Vec::new();
    let on_channel = format!(r#""channel":"{channel}""#);
    loop {
        let text = next_text(socket).await?;
        // The hub is measured, not this client: a delta is counted from its text;
        // only frames that may end the turn are parsed whole.
        if !text.contains(&on_channel) {
            continue;
        }
        if text.contains(r#""type":"chat/delta""#) {
            seqs.push(server_seq(&text));
            continue;
        }
        let message: Value =
            serde_json::from_str(&text).map_err(|e| Error::Other(e.to_string()))?;
        if message["method"] != "action" || message["params"]["channel"] != channel {
            continue;
        }
        let params = &message["params"];
        seqs.push(params["serverSeq"].as_u64().unwrap_or(0));
        let action = &params["action"];
        let ends = matches!(
            action["type"].as_str(),
            Some("chat/turnComplete" | "chat/turnCancelled" | "chat/error")
        );
        if ends && action["turnId"] == turn && action["_meta"]["ourocodus"]["continues"].is_null() {
            return Ok(seqs);
        }
    }
}

/// Streams one role's `chunks` to `subscribers` of a session's lead chat; the
/// median subscriber's actions per second.
async fn fan_out(hub: &HubProcess, session: &str, subscribers: usize, chunks: u64) -> Result<f64> {
    // A client id of its own: the hub takes each (clientId, clientSeq) once.
    let mut driver = hub.connect(&format!("driver-{session}")).await?;
    let lead = hub.session(&mut driver, session).await?;
    let mut readers = Vec::new();
    for i in 0..subscribers {
        let mut socket = hub.connect(&format!("reader-{i}-{session}")).await?;
        call(&mut socket, "subscribe", json!({"channel": lead})).await?;
        readers.push(socket);
    }
    let text = format!("@r0 stream {chunks} chunks of 100 bytes");
    let started = Instant::now();
    send(&mut driver, &prompt(&lead, 1, "bench", &text)).await?;
    let tasks: Vec<_> = readers
        .into_iter()
        .map(|mut socket| {
            let lead = lead.clone();
            tokio::spawn(async move {
                let seqs = read_turn(&mut socket, &lead, "bench").await?;
                Ok::<_, Error>(seqs.len() as f64 / started.elapsed().as_secs_f64())
            })
        })
        .collect();
    let mut rates = Vec::new();
    for task in tasks {
        rates.push(task.await.map_err(|e| Error::Other(e.to_string()))??);
    }
    Ok(median(&rates))
}

/// (lost, twice, total) for a subscriber that leaves after 5 actions and comes back.
async fn reconnect_gap(hub: &HubProcess, chunks: u64) -> Result<(usize, usize, usize)> {
    let mut driver = hub.connect("gap-driver").await?;
    let lead = hub.session(&mut driver, "ahp-session:/bench-gap").await?;
    call(&mut driver, "subscribe", json!({"channel": lead})).await?;
    let mut leaving = hub.connect("gap-leaving").await?;
    call(&mut leaving, "subscribe", json!({"channel": lead})).await?;
    let text = format!("@r0 stream {chunks} chunks of 100 bytes");
    send(&mut driver, &prompt(&lead, 1, "gap", &text)).await?;
    let mut got = Vec::new();
    while got.len() < 5 {
        let message = next_json(&mut leaving).await?;
        if message["method"] == "action" {
            got.push(message["params"]["serverSeq"].as_u64().unwrap_or(0));
        }
    }
    drop(leaving);
    let last_seen = got.last().copied().unwrap_or(0);
    let mut back = hub.connect("gap-back").await?;
    let params =
        json!({"clientId": "gap-leaving", "lastSeenServerSeq": last_seen, "subscriptions": [lead]});
    let replay = call(&mut back, "reconnect", params).await?;
    if replay["type"] != "replay" {
        return Err(Error::Other(format!(
            "reconnect answered {}",
            replay["type"]
        )));
    }
    let replayed = replay["actions"].as_array().cloned().unwrap_or_default();
    got.extend(
        replayed
            .iter()
            .map(|a| a["serverSeq"].as_u64().unwrap_or(0)),
    );
    let all = read_turn(&mut driver, &lead, "gap").await?;
    let end = all.last().copied().unwrap_or(0);
    let ended_in_replay = got.last().is_some_and(|seq| *seq >= end);
    if !ended_in_replay {
        got.extend(read_turn(&mut back, &lead, "gap").await?);
    }
    let expected: BTreeSet<u64> = all.iter().copied().collect();
    let unique: BTreeSet<u64> = got.iter().copied().collect();
    let lost = expected.difference(&unique).count();
    Ok((lost, got.len() - unique.len(), all.len()))
}

/// The hub's memory with 10 sessions of the 4-role team: idle, then all streaming.
async fn memory(hub: &HubProcess, plan: &Plan, report: &mut Report) -> Result<()> {
    let pid = hub.child.id();
    let mut leads = Vec::new();
    let mut driver = hub.connect("memory").await?;
    for i in 0..10 {
        leads.push(
            hub.session(&mut driver, &format!("ahp-session:/bench-mem-{i}"))
                .await?,
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = procfs::rss_bytes(pid).unwrap_or(0) as f64;
    let chunks = plan.chunks_per_role / 20;
    let mut watchers = Vec::new();
    for (i, lead) in leads.iter().enumerate() {
        let mut socket = hub.connect(&format!("mem-{i}")).await?;
        call(&mut socket, "subscribe", json!({"channel": lead})).await?;
        let text = format!("@all stream {chunks} chunks of 100 bytes");
        send(&mut driver, &prompt(lead, i as i64 + 1, "mem", &text)).await?;
        let lead = lead.clone();
        watchers.push(tokio::spawn(async move {
            read_turn(&mut socket, &lead, "mem").await
        }));
    }
    for watcher in watchers {
        watcher.await.map_err(|e| Error::Other(e.to_string()))??;
    }
    let peak = procfs::peak_rss_bytes(pid).unwrap_or(0) as f64;
    for (metric, value) in [("idle", idle), ("peak while all stream", peak)] {
        report.row(Row {
            metric: format!("hub RSS, 10 sessions x {ROLES} roles, {metric}"),
            unit: Unit::Bytes,
            baseline: None,
            proxy: value,
            target: Target::None,
        });
    }
    report.note(format!(
        "hub memory: each of the 10 sessions streamed {chunks} chunks from each of its {ROLES} roles at once"
    ));
    Ok(())
}
