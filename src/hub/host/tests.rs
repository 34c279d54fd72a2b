//! The host driven in memory: frames in, frames out, commands to a stand-in core.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::publish::Host;
use super::versions::Version;
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

    /// Another client on the same host; what it is sent comes out of the receiver.
    fn join(&mut self, client: u64) -> mpsc::UnboundedReceiver<Outgoing> {
        let (tx, out) = mpsc::unbounded_channel();
        let backlog = Backlog::new(1 << 20, 1 << 19);
        let client_out = ClientOut::new(tx, backlog, CancellationToken::new());
        self.host.clients.join(client, client_out);
        out
    }

    fn send_as(&mut self, client: u64, frame: &Value) {
        self.host.on_frame(client, parse_frame(&frame.to_string()));
    }

    /// Publishes a server action given as JSON; it must apply.
    fn publish(&mut self, channel: &str, action: Value) {
        let action = serde_json::from_value(action).unwrap();
        assert!(self.host.publish(channel, action), "applied");
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

/// What VS Code 1.139 (code-server 4.139.1's workbench) sends as it connects: its
/// own offer list, a `_meta`, and `clientInfo`.
#[test]
fn vs_code_1_139s_initialize_is_answered_with_0_9_0() {
    let mut h = Harness::new();
    let init = h.reply(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"channel":"ahp-root://","protocolVersions":["0.9.0","0.7.0","0.6.0","0.5.2","0.5.1"],"clientId":"vscode-1","clientInfo":{"name":"Visual Studio Code","version":"1.139.1"},"_meta":{},"initialSubscriptions":["ahp-root://"]}}"#);
    assert_eq!(init["result"]["protocolVersion"], "0.9.0", "{init}");
    assert_eq!(
        init["result"]["snapshots"][0]["resource"], "ahp-root://",
        "{init}"
    );
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

/// Every frame a client was sent so far, as JSON.
fn frames(out: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<Value> {
    std::iter::from_fn(|| out.try_recv().ok())
        .filter_map(|frame| match frame {
            Outgoing::Text(text) => Some(serde_json::from_str(&text).unwrap()),
            Outgoing::Close(_) => None,
        })
        .collect()
}

/// The types of the actions among these frames (live, or in a replay's result).
fn action_types(frames: &[Value]) -> Vec<String> {
    let live = frames.iter().filter(|f| f["method"] == "action");
    let live = live.map(|f| &f["params"]);
    let replayed = frames
        .iter()
        .filter_map(|f| f["result"]["actions"].as_array())
        .flatten();
    live.chain(replayed)
        .map(|envelope| envelope["action"]["type"].as_str().unwrap().to_string())
        .collect()
}

/// The lead chat of a new session, with client 1 initialized at 1.0.0 and
/// subscribed to it, and client 2 (a 0.9 one) initialized at 0.9.0, subscribed too.
fn two_versions_on_one_chat(h: &mut Harness) -> (String, mpsc::UnboundedReceiver<Outgoing>) {
    h.reply(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"channel":"ahp-root://","clientId":"new","protocolVersions":["0.9.0","1.0.0"]}}"#);
    let session = h.session("copilot:/abc");
    let lead = format!("ahp-chat:/{session}/lead");
    h.reply(
        &json!({"jsonrpc":"2.0","id":2,"method":"subscribe","params":{"channel":lead}}).to_string(),
    );
    let mut old = h.join(2);
    h.send_as(
        2,
        &json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"channel":"ahp-root://",
            "clientId":"old","protocolVersions":["0.9.0"],"initialSubscriptions":[lead]}}),
    );
    let init = frames(&mut old);
    assert_eq!(init[0]["result"]["protocolVersion"], "0.9.0");
    assert_eq!(init[0]["result"]["snapshots"][0]["resource"], lead.as_str());
    (lead, old)
}

/// A turn with a part and a delta, and a 0.10.0 action (`chat/canvasesChanged`)
/// between them.
fn a_turn_with_a_newer_action(h: &mut Harness, lead: &str) {
    h.publish(
        lead,
        json!({"type":"chat/turnStarted","turnId":"t1","startedAt":"2026-11-30T10:00:00.000Z",
            "message":{"text":"hi","origin":{"kind":"user"}}}),
    );
    h.publish(
        lead,
        json!({"type":"chat/responsePart","turnId":"t1",
            "part":{"kind":"markdown","id":"p1","content":"hel"}}),
    );
    h.publish(lead, json!({"type":"chat/canvasesChanged","canvases":[]}));
    h.publish(
        lead,
        json!({"type":"chat/delta","turnId":"t1","partId":"p1","content":"lo"}),
    );
}

const EVERY_TYPE: [&str; 4] = [
    "chat/turnStarted",
    "chat/responsePart",
    "chat/canvasesChanged",
    "chat/delta",
];
const WHAT_0_9_KNOWS: [&str; 3] = ["chat/turnStarted", "chat/responsePart", "chat/delta"];

#[test]
fn an_action_newer_than_a_clients_version_is_not_sent_to_it_and_the_rest_reach_everyone() {
    let mut h = Harness::new();
    let (lead, mut old) = two_versions_on_one_chat(&mut h);
    let mut unannounced = h.join(3);
    h.send_as(
        3,
        &json!({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"channel":lead}}),
    );
    frames(&mut unannounced);
    a_turn_with_a_newer_action(&mut h, &lead);
    assert_eq!(action_types(&h.written()), EVERY_TYPE, "the 1.0 client");
    assert_eq!(
        action_types(&frames(&mut old)),
        WHAT_0_9_KNOWS,
        "the 0.9 client"
    );
    assert_eq!(
        action_types(&frames(&mut unannounced)),
        EVERY_TYPE,
        "a client that subscribed without `initialize` is sent what 1.0 is, as before"
    );
}

#[test]
fn a_reconnect_replays_only_what_the_clients_version_knows_and_without_channel_means_0_9() {
    let mut h = Harness::new();
    let (lead, _old) = two_versions_on_one_chat(&mut h);
    let seen = h.host.seq;
    a_turn_with_a_newer_action(&mut h, &lead);
    h.written();
    let reconnect = |channel: Option<&str>| {
        let mut params = json!({"clientId":"back","lastSeenServerSeq":seen,"subscriptions":[lead]});
        if let Some(channel) = channel {
            params["channel"] = json!(channel);
        }
        json!({"jsonrpc":"2.0","id":1,"method":"reconnect","params":params})
    };
    let mut vs_code = h.join(3);
    h.send_as(3, &reconnect(None));
    let mut current = h.join(4);
    h.send_as(4, &reconnect(Some("ahp-root://")));
    let version = |h: &Harness, client| h.host.clients.get(client).unwrap().version;
    assert_eq!(version(&h, 3), Some(Version::new(0, 9, 0)));
    assert_eq!(version(&h, 4), Some(Version::new(1, 0, 0)));
    let replay = frames(&mut vs_code);
    assert_eq!(replay[0]["result"]["type"], "replay");
    assert_eq!(action_types(&replay), WHAT_0_9_KNOWS, "replayed to 0.9");
    assert_eq!(
        action_types(&frames(&mut current)),
        EVERY_TYPE,
        "replayed to 1.0"
    );
    h.publish(&lead, json!({"type":"chat/canvasesChanged","canvases":[]}));
    assert!(frames(&mut vs_code).is_empty(), "nor is it sent live after");
    assert_eq!(
        action_types(&frames(&mut current)),
        ["chat/canvasesChanged"]
    );
}

#[test]
fn a_reconnect_after_initialize_keeps_the_version_agreed() {
    let mut h = Harness::new();
    h.reply(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"channel":"ahp-root://","clientId":"c","protocolVersions":["0.9.3"]}}"#);
    h.reply(r#"{"jsonrpc":"2.0","id":2,"method":"reconnect","params":{"channel":"ahp-root://","clientId":"c","subscriptions":[]}}"#);
    let client = h.host.clients.get(1).unwrap();
    assert_eq!(client.version, Some(Version::new(0, 9, 3)));
}
