//! `ourocodus demo` end to end: the real binary plays its scripted session through
//! the real proxy, and its transcript must show every beat's evidence. These checks
//! fail if routing, speaker labels, permission relay or cancel break.

// A failed unwrap is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole demo takes about 3 s with `--fast`.
const DEMO_LIMIT: Duration = Duration::from_secs(60);

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

fn run_demo() -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ourocodus"))
        .args(["demo", "--fast", "--no-color"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ourocodus demo");
    let stdout = read_in_background(child.stdout.take().expect("stdout"));
    let stderr = read_in_background(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + DEMO_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ourocodus demo took longer than {DEMO_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        success: status.success(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// The part of the transcript under the heading of beat `number`.
fn beat(stdout: &str, number: usize) -> &str {
    let start = stdout
        .find(&format!("── {number}/5 "))
        .unwrap_or_else(|| panic!("no beat {number} in:\n{stdout}"));
    let rest = &stdout[start..];
    let end = rest[3..].find("\n── ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The role of the nearest `● role` header above the line that is exactly `line`.
fn speaker_of(section: &str, line: &str) -> Option<String> {
    let lines: Vec<&str> = section.lines().collect();
    let at = lines.iter().position(|l| l.trim() == line)?;
    lines[..at]
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("● "))
        .map(str::to_string)
}

/// Whether some line of `section` is exactly `line` once indentation is trimmed
/// (so a prompt that mentions the words does not count).
fn has_line(section: &str, line: &str) -> bool {
    section.lines().any(|l| l.trim() == line)
}

#[test]
fn the_demo_plays_every_beat_through_the_real_proxy() {
    let run = run_demo();
    let out = &run.stdout;
    assert!(
        run.success,
        "demo failed\n--- stdout ---\n{out}\n--- stderr ---\n{}",
        run.stderr
    );
    assert!(
        !out.contains('\x1b'),
        "--no-color output has escapes:\n{out}"
    );

    let routed = beat(out, 1);
    assert!(routed.contains("Plan (architect)"), "{routed}");
    assert_eq!(
        routed.matches("Plan (").count(),
        1,
        "only the route answers:\n{routed}"
    );
    assert!(routed.contains("[ ] Design the /orders API"), "{routed}");
    assert!(
        has_line(
            routed,
            "Plan ready: backend builds the endpoint, test covers it."
        ),
        "{routed}"
    );

    let together = beat(out, 2);
    let spoken = [
        (
            "backend",
            "Adding the orders handler, with input validation.",
        ),
        ("test", "Writing a failing test for /orders first."),
        ("backend", "Documented it in docs/api.md."),
        ("test", "The test passes against the new handler."),
    ];
    for (role, line) in spoken {
        assert_eq!(
            speaker_of(together, line).as_deref(),
            Some(role),
            "{line:?} whole, under {role}'s header:\n{together}"
        );
    }

    let permission = beat(out, 3);
    assert!(
        permission.contains("? backend asks permission: Edit src/orders.rs (edit)"),
        "{permission}"
    );
    assert!(
        permission.contains("→ the editor chose “Allow once” (allow_once)"),
        "{permission}"
    );
    assert!(
        has_line(permission, "permission: allow-once"),
        "the agent got the choice:\n{permission}"
    );
    assert!(
        permission.contains("▸ backend: Edit src/orders.rs … completed"),
        "{permission}"
    );

    let cancel = beat(out, 4);
    assert!(
        has_line(
            cancel,
            "Running the whole test suite, this takes a while..."
        ),
        "{cancel}"
    );
    assert!(
        cancel.contains("⊘ the editor sends session/cancel"),
        "{cancel}"
    );
    let answered_after_ms = cancel
        .split("■ stopReason: cancelled (")
        .nth(1)
        .and_then(|rest| rest.split(" ms after the cancel)").next())
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no cancelled stopReason with its delay:\n{cancel}"));
    // Well under the proxy's 5 s grace for agents that ignore a cancel: the agent
    // itself was told, and stopped.
    assert!(
        answered_after_ms < 3000,
        "the cancel took {answered_after_ms} ms:\n{cancel}"
    );
    assert!(
        !has_line(cancel, "All tests passed."),
        "the turn went on after cancel:\n{cancel}"
    );

    let unknown = beat(out, 5);
    assert!(
        unknown.contains("@nobody is not a role in this team"),
        "{unknown}"
    );
    assert!(
        unknown.contains("This prompt went to: architect."),
        "{unknown}"
    );
    assert_eq!(
        speaker_of(unknown, "@nobody please review the orders endpoint").as_deref(),
        Some("architect")
    );

    assert!(out.contains(r#"{"agent_servers": {"Ourocodus": {"type": "custom", "command": "ourocodus", "args": ["acp"]}}}"#));
}
