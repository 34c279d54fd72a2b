//! The host driven in memory: frames in, frames out, commands to a stand-in core.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::publish::Host;
use super::{ClientOut, Directory, HostOptions, parse_frame};
use crate::backlog::Backlog;
use crate::core::{Command, Reply};
use crate::hub::connection::Outgoing;
use crate::ids::SessionId;

struct Harness {
    host: Host,
    commands: mpsc::UnboundedReceiver<Command>,
    out: mpsc::UnboundedReceiver<Outgoing>,
}

impl Harness {
    fn new() -> Harness {
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let options = HostOptions {
            registry: None,
            default_cwd: "/tmp".into(),
        };
        let mut host = Host::new(commands_tx, Directory::default(), options);
        let (tx, out) = mpsc::unbounded_channel();
        let backlog = Backlog::new(1 << 20, 1 << 19);
        host.clients
            .join(1, ClientOut::new(tx, backlog, CancellationToken::new()));
        Harness {
            host,
            commands,
            out,
        }
    }

    fn send(&mut self, frame: &str) {
        self.host.on_frame(1, parse_frame(frame));
    }

    /// Every frame written to the client so far, as JSON (`"closed"` for a close).
    fn written(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Ok(out) = self.out.try_recv() {
            frames.push(match out {
                Outgoing::Text(text) => serde_json::from_str(&text).unwrap(),
                Outgoing::Close(_) => Value::from("closed"),
            });
        }
        frames
    }

    fn reply(&mut self, frame: &str) -> Value {
        self.send(frame);
        let mut written = self.written();
        assert_eq!(written.len(), 1, "one frame back for {frame}: {written:?}");
        written.remove(0)
    }

    /// A session created through the host, the stand-in core answering.
    fn session(&mut self, uri: &str) -> SessionId {
        self.send(
            &json!({"jsonrpc":"2.0","id":10,"method":"createSession","params":{"channel":uri}})
                .to_string(),
        );
        let Ok(Command::NewSession { request, .. }) = self.commands.try_recv() else {
            panic!("createSession asks the core for a session")
        };
        let session = SessionId::new("ouro-s1");
        let opened = Reply::Opened {
            session: session.clone(),
            modes: Value::Null,
            config_options: Value::Null,
        };
        self.host.on_reply(request.as_number().unwrap(), Ok(opened));
        let answers: Vec<Value> = self
            .written()
            .into_iter()
            .filter(|f| f.get("id").is_some())
            .collect();
        assert_eq!(answers, vec![json!({"jsonrpc":"2.0","id":10,"result":{}})]);
        session
    }
}

#[test]
fn ping_answers_null_before_anything_else_with_the_id_as_sent() {
    let mut h = Harness::new();
    let reply = h
        .reply(r#"{"jsonrpc":"2.0","id":"a1","method":"ping","params":{"channel":"ahp-root://"}}"#);
    assert_eq!(reply, json!({"jsonrpc":"2.0","id":"a1","result":null}));
}

#[test]
fn bad_frames_get_the_standard_errors_and_a_key_given_twice_is_refused() {
    let mut h = Harness::new();
    let parse = h.reply("{oops");
    assert_eq!(
        (parse["error"]["code"].clone(), parse["id"].clone()),
        (json!(-32700), Value::Null)
    );
    let twice = h.reply(r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"initialize"}"#);
    assert_eq!(twice["error"]["code"], -32700);
    let no_version = h.reply(r#"{"id":4,"method":"ping"}"#);
    assert_eq!(
        (
            no_version["error"]["code"].clone(),
            no_version["id"].clone()
        ),
        (json!(-32600), json!(4))
    );
    let unknown = h.reply(r#"{"jsonrpc":"2.0","id":5,"method":"frobnicate"}"#);
    assert_eq!(unknown["error"]["code"], -32601);
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown method")
    );
    let later = h.reply(r#"{"jsonrpc":"2.0","id":6,"method":"createChat","params":{}}"#);
    assert!(
        later["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not implemented yet")
    );
}

#[test]
fn initialize_picks_the_highest_offer_and_no_common_version_is_refused_then_closed() {
    let mut h = Harness::new();
    let init = h.reply(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"channel":"ahp-root://","clientId":"c","protocolVersions":["0.9.0","1.0.0"],"initialSubscriptions":["ahp-root://"]}}"#);
    assert_eq!(init["result"]["protocolVersion"], "1.0.0");
    assert_eq!(
        init["result"]["snapshots"][0]["state"]["agents"][0]["provider"],
        "ourocodus"
    );
    h.send(r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"channel":"ahp-root://","clientId":"c","protocolVersions":["0.8.0"]}}"#);
    let written = h.written();
    assert_eq!(written[0]["error"]["code"], -32005);
    assert_eq!(written[0]["error"]["data"]["supportedVersions"][0], "1.0.0");
    assert_eq!(written[1], "closed");
}

#[test]
fn a_prompt_dispatched_twice_with_the_same_client_seq_is_taken_once() {
    let mut h = Harness::new();
    h.reply(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"channel":"ahp-root://","clientId":"vs","protocolVersions":["1.0.0"]}}"#);
    let session = h.session("copilot:/abc");
    let lead = format!("ahp-chat:/{session}/lead");
    let sub = h.reply(
        &json!({"jsonrpc":"2.0","id":2,"method":"subscribe","params":{"channel":lead}}).to_string(),
    );
    assert_eq!(sub["result"]["snapshot"]["resource"], lead.as_str());
    let dispatch = json!({"jsonrpc":"2.0","method":"dispatchAction","params":{"channel":lead,"clientSeq":7,"action":{
        "type":"chat/turnStarted","turnId":"x","startedAt":"2026-11-30T10:00:00.000Z",
        "message":{"text":"@backend hi","origin":{"kind":"user"}}}}})
    .to_string();
    h.send(&dispatch);
    h.send(&dispatch);
    let prompts = std::iter::from_fn(|| h.commands.try_recv().ok())
        .filter(|c| matches!(c, Command::Prompt { .. }))
        .count();
    assert_eq!(prompts, 1, "one prompt reaches the core");
    let echoed: Vec<Value> = h
        .written()
        .into_iter()
        .filter(|f| f["method"] == "action")
        .collect();
    assert_eq!(echoed.len(), 1, "{echoed:?}");
    assert_eq!(
        echoed[0]["params"]["origin"],
        json!({"clientId":"vs","clientSeq":7})
    );
}

#[test]
fn a_client_past_its_unread_cap_is_dropped_and_told_why() {
    let mut h = Harness::new();
    let (tx, mut out) = mpsc::unbounded_channel();
    let abandon = CancellationToken::new();
    let tiny: Arc<Backlog> = Backlog::new(64, 32);
    h.host
        .clients
        .join(2, ClientOut::new(tx, tiny, abandon.clone()));
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"channel":"ahp-root://","padding":"................................................................"}}"#;
    h.host.on_frame(2, parse_frame(ping));
    h.host.on_frame(2, parse_frame(ping));
    assert!(abandon.is_cancelled());
    let mut closed = false;
    while let Ok(frame) = out.try_recv() {
        closed |= matches!(frame, Outgoing::Close(_));
    }
    assert!(closed, "the last frame says why");
    assert!(h.host.clients.get(2).is_none());
}
