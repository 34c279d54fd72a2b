//! An editor written with the ACP Python SDK (`tests/peers/python_editor.py`, SDK
//! 0.12.1) drives the proxy, whose team is two fake-agent roles. The editor
//! advertises fs read and write, answers permission requests by option kind and
//! prints one JSON object describing the run: what it saw is what a third-party
//! client library makes of the proxy's wire.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;

use super::installed;
use crate::support::{fake_team, ourocodus_bin, schema};

/// The editor's own limit on a run, and ours on the editor (a little more).
const EDITOR_TIMEOUT_SECS: u64 = 30;
const LIMIT: Duration = Duration::from_secs(EDITOR_TIMEOUT_SECS + 15);

/// Runs python_editor.py against `ourocodus acp` with the two-role fake team, in
/// `project` as the session cwd; returns its JSON output.
async fn run_editor(project: &Path, editor_args: &[&str]) -> Value {
    let python = installed(".venv/bin/python");
    let editor = installed("python_editor.py");
    let scratch = tempfile::tempdir().expect("temp dir");
    let team = scratch.path().join("team.toml");
    std::fs::write(&team, fake_team(&["alpha", "beta"])).expect("write team");
    let proxy_stderr = scratch.path().join("proxy.stderr");
    let timeout = EDITOR_TIMEOUT_SECS.to_string();
    let run = Command::new(&python)
        .arg(&editor)
        .args(["--cwd", &project.to_string_lossy(), "--timeout", &timeout])
        .args(["--agent-stderr", &proxy_stderr.to_string_lossy()])
        .args(editor_args)
        .args([
            "--",
            ourocodus_bin(),
            "acp",
            "--config",
            &team.to_string_lossy(),
            "--store",
            &scratch.path().join("store.db").to_string_lossy(),
        ])
        .env("OUROCODUS_LOG", "debug")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(LIMIT, run)
        .await
        .expect("python_editor.py did not finish in time")
        .expect("run python_editor.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let explain = || {
        format!(
            "python_editor.py {}\nstdout: {stdout}\nstderr: {}\nproxy stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&proxy_stderr).unwrap_or_default()
        )
    };
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON report ({e})\n{}", explain()));
    assert!(
        output.status.success() && report["error"].is_null(),
        "the editor run failed\n{}",
        explain()
    );
    check_against_schema(&report);
    report
}

/// Everything the editor recorded raw from the proxy must be valid ACP.
fn check_against_schema(report: &Value) {
    assert!(schema::active(), "the ACP schema ships with the peers");
    let response = |result: &Value| json!({ "jsonrpc": "2.0", "id": 1, "result": result });
    schema::check_agent_message(&response(&report["initialize"]), Some("initialize"));
    schema::check_agent_message(&response(&report["newSession"]), Some("session/new"));
    for params in report["updates"].as_array().into_iter().flatten() {
        let message = json!({ "jsonrpc": "2.0", "method": "session/update", "params": params });
        schema::check_agent_message(&message, None);
    }
    for request in report["permissionRequests"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let message = json!({ "jsonrpc": "2.0", "id": 1, "method": "session/request_permission", "params": request["params"] });
        schema::check_agent_message(&message, None);
    }
}

fn role_of(update: &Value) -> &str {
    update["update"]["_meta"]["ourocodus"]["role"]
        .as_str()
        .unwrap_or("")
}

/// The text a role said (speaker labels aside).
fn said_by(report: &Value, role: &str) -> Vec<String> {
    report["updates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| u["update"]["sessionUpdate"] == "agent_message_chunk" && role_of(u) == role)
        .filter(|u| u["update"]["_meta"]["ourocodus"]["label"] != true)
        .filter_map(|u| u["update"]["content"]["text"].as_str())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_python_sdk_editor_sees_both_roles_answers_their_permission_and_serves_their_files() {
    let project = tempfile::tempdir().expect("temp dir");
    let both = "@alpha @beta alpha> say hello from alpha\\n; alpha> ask permission edit as Write notes.txt; \
                beta> write file out/beta.txt written by beta; beta> say beta done\\n";
    let routed = "beta> say not me; alpha> read file out/beta.txt";
    let report = run_editor(
        project.path(),
        &[
            "--prompt",
            both,
            "--prompt",
            routed,
            "--permission",
            "allow_once",
        ],
    )
    .await;
    let session = report["sessionId"].as_str().expect("session id");
    assert_eq!(report["initialize"]["agentInfo"]["name"], "ourocodus");
    let reasons: Vec<&Value> = report["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["stopReason"])
        .collect();
    assert_eq!(reasons, [&json!("end_turn"), &json!("end_turn")]);

    // Every update is on the editor's session; every one a role sent names its role.
    for update in report["updates"].as_array().unwrap() {
        assert_eq!(update["sessionId"], session, "{update}");
        let kind = update["update"]["sessionUpdate"].as_str().unwrap_or("");
        if kind != "available_commands_update" && kind != "config_option_update" {
            assert!(["alpha", "beta"].contains(&role_of(update)), "{update}");
        }
    }
    let beta_path = project.path().join("out/beta.txt");
    assert_eq!(
        said_by(&report, "alpha"),
        [
            "hello from alpha\n",
            "permission: allow-once",
            "written by beta"
        ]
    );
    assert_eq!(
        said_by(&report, "beta"),
        [
            format!("wrote {}", beta_path.display()),
            "beta done\n".into()
        ]
    );

    // The permission request arrived with the role in its title and _meta, and alpha
    // got the answer (it said `permission: allow-once` above).
    let requests = report["permissionRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0]["params"];
    assert_eq!(request["sessionId"], session);
    assert_eq!(request["toolCall"]["toolCallId"], "alpha/call_1");
    assert_eq!(request["toolCall"]["title"], "alpha: notes.txt");
    assert_eq!(request["toolCall"]["_meta"]["ourocodus"]["role"], "alpha");
    assert_eq!(request["_meta"]["ourocodus"]["role"], "alpha");
    assert_eq!(
        requests[0]["outcome"],
        json!({ "outcome": "selected", "optionId": "allow-once" })
    );

    // beta's write and alpha's read went through the editor, on the editor's session.
    let writes = report["fsWrites"].as_array().unwrap();
    assert_eq!(
        writes,
        &[json!({ "sessionId": session, "path": beta_path, "content": "written by beta" })]
    );
    assert_eq!(
        std::fs::read_to_string(&beta_path).unwrap(),
        "written by beta"
    );
    let reads = report["fsReads"].as_array().unwrap();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["sessionId"], session);
    assert_eq!(reads[0]["path"], json!(beta_path));
    // The proxy ended when the editor closed its stdin.
    assert_eq!(report["agentExit"]["code"], 0);
    assert_eq!(report["agentExit"]["killed"], false);
}

#[tokio::test]
#[ignore = "needs third-party peers: bash tests/peers/install.sh (run by .ci/run)"]
async fn a_python_sdk_editor_that_cancels_at_a_permission_request_gets_cancelled_for_the_whole_turn()
 {
    let project = tempfile::tempdir().expect("temp dir");
    // alpha asks once beta has surely spoken; beta would then talk for 10 s more.
    let script = "@alpha @beta alpha> sleep 1s; alpha> ask permission execute as Bash rm -rf build; \
                  beta> say working\\n; beta> sleep 10s; beta> say too late\\n";
    let report = run_editor(
        project.path(),
        &["--prompt", script, "--permission", "cancel"],
    )
    .await;
    let turn = &report["turns"][0];
    assert_eq!(turn["stopReason"], "cancelled", "{turn}");
    assert!(
        turn["seconds"].as_f64().unwrap() < 5.0,
        "beta's sleep was cut short: {turn}"
    );
    let requests = report["permissionRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["params"]["toolCall"]["title"],
        "alpha: rm -rf build"
    );
    assert_eq!(requests[0]["outcome"], json!({ "outcome": "cancelled" }));
    assert_eq!(said_by(&report, "beta"), ["working\n"]);
    assert!(
        !said_by(&report, "alpha")
            .iter()
            .any(|t| t.starts_with("permission:")),
        "alpha's script stopped at the cancel"
    );
}
