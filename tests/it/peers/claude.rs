//! The real Claude Code adapter (`@agentclientprotocol/claude-agent-acp` 0.49.0) as
//! the `claude` role, offline and without credentials: a fresh HOME for the proxy,
//! no ANTHROPIC_* / CLAUDE_* variables, `IS_SANDBOX=1` in the role's env (we run as
//! root). `initialize` and `session/new` work like that; a prompt fails with -32000.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::{DirectPeer, installed, next_matching, toml_path};
use crate::support::{Peer as _, Proxy, bounded, ourocodus_bin, text_from};

const LIMIT: Duration = Duration::from_secs(60);
pub const ROLE: &str = "claude";
pub const PERSONA: &str = "Reviewer of the storage layer; answers in one paragraph.";

/// A Claude role and a fake role, run hermetically.
pub struct ClaudeTeam {
    /// The proxy's HOME: no ~/.claude of this machine, and nothing left behind.
    pub home: TempDir,
    /// `command = ...` and `args = [...]` of the claude role.
    launch: String,
    /// More TOML for the claude role.
    pub extra: String,
    /// More `env` entries for the claude role (after IS_SANDBOX).
    pub env: String,
}

impl ClaudeTeam {
    pub fn new() -> ClaudeTeam {
        let adapter = adapter();
        ClaudeTeam {
            home: tempfile::tempdir().expect("temp HOME"),
            launch: format!("command = \"node\"\nargs = [{}]", toml_path(&adapter)),
            extra: String::new(),
            env: String::new(),
        }
    }

    /// Runs the adapter behind `tee`, which copies each line the proxy sends it to `log`
    /// (whose directory the role's sandbox then lets it write).
    fn with_input_copied_to(mut self, log: &Path) -> ClaudeTeam {
        let script = r#"tee "$0" | exec node "$1""#;
        self.launch = format!(
            "command = \"/bin/sh\"\nargs = [\"-c\", {script:?}, {}, {}]\nsandbox_writable = [{}]",
            toml_path(log),
            toml_path(&adapter()),
            toml_path(log.parent().expect("a directory"))
        );
        self
    }

    pub fn toml(&self) -> String {
        format!(
            "[defaults]\nroute = [\"{ROLE}\"]\n\n\
             [roles.{ROLE}]\n{}\nenv = {{ IS_SANDBOX = \"1\"{} }}\npersona = {PERSONA:?}\n{}\n\n\
             [roles.fake]\ncommand = {:?}\nargs = [\"fake-agent\", \"--name\", \"fake\"]\npersona = \"the fake agent\"\n",
            self.launch,
            self.env,
            self.extra,
            ourocodus_bin(),
        )
    }

    pub async fn start(&self) -> Proxy {
        let home = self.home.path().to_string_lossy().to_string();
        Proxy::start_with_env_changes(&self.toml(), &[("HOME", &home)], &claude_sensitive_vars())
            .await
    }

    /// Another proxy in the directory (project, store) an earlier one used.
    pub async fn start_in(&self, dir: TempDir) -> Proxy {
        let home = self.home.path().to_string_lossy().to_string();
        Proxy::start_in_with(
            dir,
            &self.toml(),
            &[("HOME", &home)],
            &claude_sensitive_vars(),
        )
        .await
    }
}

/// Inherited variables that could hand Claude Code credentials, another API or this
/// machine's settings; hermetic runs remove them.
pub fn claude_sensitive_vars() -> Vec<String> {
    const EXACT: &[&str] = &[
        "AWS_BEARER_TOKEN_BEDROCK",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "XDG_CONFIG_HOME",
    ];
    std::env::vars()
        .map(|(name, _)| name)
        .filter(|name| {
            name.starts_with("ANTHROPIC_")
                || name.starts_with("CLAUDE_")
                || EXACT.contains(&name.as_str())
        })
        .collect()
}

pub fn adapter() -> PathBuf {
    installed("node_modules/@agentclientprotocol/claude-agent-acp/dist/index.js")
}

/// The adapter run directly (same hermetic environment): its session/new result and
/// the commands it announces right after.
async fn direct_session() -> (Value, Value) {
    let home = tempfile::tempdir().expect("temp HOME");
    let project = tempfile::tempdir().expect("temp project");
    let home_path = home.path().to_string_lossy().to_string();
    let adapter = adapter().to_string_lossy().to_string();
    let env = [("HOME", home_path.as_str()), ("IS_SANDBOX", "1")];
    let mut peer = DirectPeer::spawn(
        Path::new("node"),
        &[&adapter],
        &env,
        &claude_sensitive_vars(),
        project.path(),
    );
    let session = peer.open_session(project.path()).await;
    let commands = loop {
        let message = peer.next().await;
        if message["params"]["update"]["sessionUpdate"] == "available_commands_update" {
            break message["params"]["update"]["availableCommands"].clone();
        }
    };
    (session, commands)
}

fn is_update(message: &Value, kind: &str) -> bool {
    message["method"] == "session/update" && message["params"]["update"]["sessionUpdate"] == kind
}

/// Waits for the claude role's session to be announced: the options update that
/// has `claude/...` options, then the commands update that has `claude:...` commands.
async fn claude_announced(proxy: &mut Proxy) -> (Vec<Value>, Vec<Value>) {
    let has = |list: &Value, field: &str, prefix: &str| {
        list.as_array()
            .into_iter()
            .flatten()
            .any(|entry| entry[field].as_str().is_some_and(|v| v.starts_with(prefix)))
    };
    let options = next_matching(proxy, "claude's config options", |m| {
        is_update(m, "config_option_update")
            && has(&m["params"]["update"]["configOptions"], "id", "claude/")
    })
    .await;
    let commands = next_matching(proxy, "claude's commands", |m| {
        is_update(m, "available_commands_update")
            && has(
                &m["params"]["update"]["availableCommands"],
                "name",
                "claude:",
            )
    })
    .await;
    let list = |m: &Value, field: &str| m["params"]["update"][field].as_array().unwrap().clone();
    (
        list(&options, "configOptions"),
        list(&commands, "availableCommands"),
    )
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn claude_offline_opens_a_session_whose_options_and_commands_appear_namespaced_by_role() {
    let team = ClaudeTeam::new();
    bounded(LIMIT, async {
        let proxied = async {
            let mut proxy = team.start().await;
            let session = proxy.plain_session().await;
            let announced = claude_announced(&mut proxy).await;
            (proxy, session, announced)
        };
        let ((direct, direct_commands), (proxy, session, (options, commands))) =
            tokio::join!(direct_session(), proxied);

        // Each of the adapter's options, renamed `claude/<id>` and `claude: <name>`.
        let direct_options = direct["configOptions"].as_array().unwrap();
        let ids: Vec<&str> = direct_options
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["mode", "model", "effort"], "FINDINGS b.");
        for option in direct_options {
            let id = format!("{ROLE}/{}", option["id"].as_str().unwrap());
            let shown = options
                .iter()
                .find(|o| o["id"] == id.as_str())
                .unwrap_or_else(|| panic!("no {id} among {options:#?}"));
            let mut expected = option.clone();
            expected["id"] = json!(id);
            expected["name"] = json!(format!("{ROLE}: {}", option["name"].as_str().unwrap()));
            assert_eq!(shown, &expected);
        }
        assert_eq!(
            options[0]["id"], "route",
            "the proxy's own option comes first"
        );

        // Each of its slash commands, named `claude:<name>`, after the proxy's own.
        let direct_commands = direct_commands.as_array().unwrap();
        assert!(
            (20..=60).contains(&direct_commands.len()),
            "FINDINGS b. counted 25 commands, got {}",
            direct_commands.len()
        );
        let own: Vec<&str> = [
            "agents", "spawn", "kill", "restart", "merge", "tasks", "approve", "reject", "retry",
            "answer", "usage", "mode",
        ]
        .to_vec();
        assert_eq!(commands.len(), direct_commands.len() + own.len());
        for (shown, name) in commands.iter().zip(&own) {
            assert_eq!(shown["name"], *name);
        }
        for (shown, command) in commands[own.len()..].iter().zip(direct_commands) {
            let mut expected = command.clone();
            expected["name"] = json!(format!("{ROLE}:{}", command["name"].as_str().unwrap()));
            let description = command["description"].as_str().unwrap_or_default();
            expected["description"] = json!(format!("[{ROLE}] {description}"));
            assert_eq!(shown, &expected);
        }
        assert!(session.starts_with("ouro-"));
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn claude_offline_answers_a_prompt_within_seconds_with_an_auth_notice_and_an_error_naming_the_role()
 {
    let team = ClaudeTeam::new();
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = proxy.plain_session().await;
        claude_announced(&mut proxy).await;
        let asked_at = Instant::now();
        let id = proxy.prompt_id(&session, "@claude hello").await;
        let (messages, response) = proxy.until_response(id, |_| None).await;
        let elapsed = asked_at.elapsed();
        assert!(
            elapsed < Duration::from_secs(5),
            "answered after {elapsed:?}"
        );

        let error = &response["error"];
        assert_eq!(error["code"], -32000, "{response}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("claude: Authentication required"),
            "{message}"
        );
        assert_eq!(
            error["data"]["ourocodus"]["roles"][ROLE],
            json!({ "code": -32000, "message": "Authentication required" })
        );
        let notice = text_from(&messages, ROLE);
        assert!(
            notice.contains("**claude needs authentication**")
                && notice.contains("Authentication required —"),
            "a visible notice from the role: {notice:?}"
        );
        // The adapter's usage_update comes just after its error answer: still routed,
        // before the proxy's answer (which waits for the store) or after it.
        let before = messages
            .iter()
            .find(|m| is_update(m, "usage_update"))
            .cloned();
        let late = match before {
            Some(update) => update,
            None => {
                next_matching(&mut proxy, "claude's usage_update after the error", |m| {
                    is_update(m, "usage_update")
                })
                .await
            }
        };
        assert_eq!(late["params"]["sessionId"], session.as_str());
        assert_eq!(late["params"]["update"]["_meta"]["ourocodus"]["role"], ROLE);
        assert!(proxy.close().await.success());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn claude_receives_the_role_persona_as_system_prompt_append_and_not_as_prompt_text() {
    let wire = tempfile::tempdir().expect("temp dir");
    let log = wire.path().join("claude.stdin.jsonl");
    let mut team = ClaudeTeam::new().with_input_copied_to(&log);
    team.extra = "tools_deny = [\"execute\"]".into();
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = proxy.plain_session().await;
        claude_announced(&mut proxy).await;
        let id = proxy.prompt_id(&session, "@claude hello").await;
        proxy.until_response(id, |_| None).await;
        assert!(proxy.close().await.success());
    })
    .await;
    // What the adapter read on its stdin, copied by tee.
    let received: Vec<Value> = std::fs::read_to_string(&log)
        .expect("tee log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let sent = |method: &str| {
        received
            .iter()
            .find(|m| m["method"] == method)
            .unwrap_or_else(|| panic!("no {method} in {received:#?}"))
    };
    let meta = &sent("session/new")["params"]["_meta"];
    let append = meta["systemPrompt"]["append"]
        .as_str()
        .unwrap_or_else(|| panic!("systemPrompt must be {{append}}, not a string: {meta}"));
    assert!(
        append
            .starts_with("You are the `claude` role in a team of coding agents run by Ourocodus.")
    );
    assert!(append.contains(PERSONA), "{append}");
    assert_eq!(meta["systemPrompt"].as_object().unwrap().len(), 1, "{meta}");
    // tools_deny = ["execute"] is handed to the adapter too.
    assert_eq!(
        meta["claudeCode"]["options"]["disallowedTools"],
        json!(["Bash", "BashOutput", "KillShell"])
    );
    // The persona is not repeated as prompt text for this adapter.
    let prompt = &sent("session/prompt")["params"]["prompt"];
    assert_eq!(prompt, &json!([{ "type": "text", "text": "hello" }]));
}

/// `claude/mode`'s current value in a list of config options.
fn claude_mode(options: &Value) -> Value {
    options
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["id"] == "claude/mode")
        .map(|o| o["currentValue"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn after_claudes_mode_is_set_the_editor_is_never_shown_the_old_mode() {
    let team = ClaudeTeam::new();
    bounded(LIMIT, async {
        let mut proxy = team.start().await;
        let session = proxy.plain_session().await;
        claude_announced(&mut proxy).await;
        let params = json!({ "sessionId": session, "configId": "claude/mode", "value": "plan" });
        let id = proxy.request("session/set_config_option", params).await;
        let (mut after, response) = proxy.until_response(id, |_| None).await;
        assert_eq!(claude_mode(&response["result"]["configOptions"]), "plan");
        while let Some(late) = proxy.next_within(Duration::from_millis(500)).await {
            after.push(late);
        }
        // The adapter sends current_mode_update {plan} just before its answer; each
        // options update the proxy makes of it must agree with the answer.
        for message in after
            .iter()
            .filter(|m| is_update(m, "config_option_update"))
        {
            let shown = claude_mode(&message["params"]["update"]["configOptions"]);
            assert_eq!(shown, "plan", "stale claude/mode in {message}");
        }
        assert!(proxy.close().await.success());
    })
    .await;
}
