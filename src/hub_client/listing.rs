//! `ourocodus sessions` and `ourocodus tasks` asked of the hub when one answers
//! (`listSessions`, `_ourocodus/tasks`), in the store's layout where the hub knows
//! the same things; the event store read as before when no hub runs (with a note)
//! or when `--store` names one. Knows which of the two answers; the store's own
//! printing stays `store::cli`'s.

use std::io::{self, Write};
use std::process::ExitCode;

use ahp::ahp_types::state::SessionSummary;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::connect::{Channel, Hub, HubCliError};
use super::team::{self, session_id_of};
use super::{HubArg, block_on, exit};
use crate::store::cli::SessionsArgs;
use crate::store::cli_tasks::{TasksArgs, print_tasks};
use crate::store::render::escape_controls;

pub fn run_sessions(args: &SessionsArgs, hub: &HubArg) -> Result<ExitCode, HubCliError> {
    or_store(
        args.store.is_some(),
        || block_on(hub_sessions(args, hub)),
        || crate::store::cli::run_sessions(args),
    )
}

pub fn run_tasks(args: &TasksArgs, hub: &HubArg) -> Result<ExitCode, HubCliError> {
    or_store(
        args.store.is_some(),
        || block_on(hub_tasks(args, hub)),
        || crate::store::cli_tasks::run_tasks(args),
    )
}

/// The hub's answer, unless `--store` was given or no hub runs: then the store's.
fn or_store(
    store_named: bool,
    hub_answer: impl FnOnce() -> Result<ExitCode, HubCliError>,
    from_store: impl FnOnce() -> Result<(), crate::store::cli::CliError>,
) -> Result<ExitCode, HubCliError> {
    if store_named {
        from_store()?;
        return Ok(ExitCode::SUCCESS);
    }
    match hub_answer() {
        Err(HubCliError::NoHub { addr, .. }) => {
            eprintln!(
                "ourocodus: no hub is running at {addr} (start one with `ourocodus serve`); \
                 reading the event store"
            );
            match from_store() {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // Neither answered: as for every hub command without a hub.
                Err(e) => {
                    eprintln!("ourocodus: {e}");
                    Ok(ExitCode::from(exit::NO_HUB))
                }
            }
        }
        answer => answer,
    }
}

async fn hub_sessions(args: &SessionsArgs, hub: &HubArg) -> Result<u8, HubCliError> {
    let hub = Hub::connect(hub.hub.as_deref()).await?;
    let mut sessions = team::list_sessions(&hub).await?;
    sessions.sort_by(|a, b| b.modified_at.cmp(&a.modified_at));
    let cwd = match &args.cwd {
        Some(dir) => Some(std::path::absolute(dir)?.to_string_lossy().into_owned()),
        None => None,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    for summary in &sessions {
        let listed = Listed::of(summary);
        if cwd
            .as_ref()
            .is_some_and(|c| listed.cwd.as_deref() != Some(c))
        {
            continue;
        }
        if args.json {
            serde_json::to_writer(&mut out, &listed).map_err(io::Error::from)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", listed.line())?;
        }
    }
    out.flush()?;
    Ok(exit::OK)
}

/// A session as `sessions` prints it from the hub (the store's fields but `events`).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: String,
    uri: String,
    cwd: Option<String>,
    title: Option<String>,
    created_at: String,
    updated_at: String,
}

impl Listed {
    fn of(summary: &SessionSummary) -> Listed {
        let meta_cwd = summary
            .meta
            .as_ref()
            .and_then(|m| m.get("ourocodus"))
            .and_then(|o| o.get("cwd"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let listed_cwd = summary
            .working_directories
            .iter()
            .flatten()
            .next()
            .and_then(|uri| path_of_file_uri(uri));
        Listed {
            id: session_id_of(summary),
            uri: summary.resource.clone(),
            cwd: meta_cwd.or(listed_cwd),
            title: Some(summary.title.clone()).filter(|t| !t.is_empty()),
            created_at: summary.created_at.clone(),
            updated_at: summary.modified_at.clone(),
        }
    }

    /// `id  updated  cwd  title`, as the store's listing without its event count.
    fn line(&self) -> String {
        format!(
            "{}  {}  {}  {}",
            escape_controls(&self.id),
            escape_controls(&self.updated_at),
            escape_controls(self.cwd.as_deref().unwrap_or("-")),
            escape_controls(self.title.as_deref().unwrap_or("-"))
        )
    }
}

/// `/a/b c` from `file:///a/b%20c`.
fn path_of_file_uri(uri: &str) -> Option<String> {
    let encoded = uri.strip_prefix("file://")?;
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[derive(Deserialize)]
struct TasksResult {
    tasks: Vec<Value>,
}

async fn hub_tasks(args: &TasksArgs, hub: &HubArg) -> Result<u8, HubCliError> {
    let hub = Hub::connect(hub.hub.as_deref()).await?;
    let sessions = team::list_sessions(&hub).await?;
    let Some(summary) = team::choose(&sessions, args.session.as_deref())? else {
        return Ok(exit::OK);
    };
    let result: TasksResult = hub
        .request("_ourocodus/tasks", Channel::new(&summary.resource))
        .await?;
    let mut tasks = result.tasks;
    tasks.sort_by_key(task_number);
    // The team's id for the heading (the store's), which the session's state names.
    let session_id = if args.json {
        session_id_of(summary)
    } else {
        let mut events = hub.client.events();
        let session = team::open(&hub, &summary.resource, &mut events).await?;
        session.session_id
    };
    print_tasks(&session_id, tasks.iter(), args.json)?;
    Ok(exit::OK)
}

/// `t12` → 12, so `t2` comes before `t10`.
fn task_number(task: &Value) -> u64 {
    task.get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.strip_prefix('t'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_hub_session_is_listed_like_a_stored_one_without_its_event_count() {
        let summary: SessionSummary = serde_json::from_value(json!({
            "resource": "ahp-session:/abc", "provider": "ourocodus", "title": "Add a cache",
            "status": 1, "createdAt": "2026-11-30T08:00:00.000Z",
            "modifiedAt": "2026-11-30T08:00:00.030Z",
            "workingDirectories": ["file:///w/al%20pha"],
            "_meta": { "ourocodus": { "sessionId": "team-1" } } }))
        .unwrap();
        let listed = Listed::of(&summary);
        assert_eq!(
            listed.line(),
            "team-1  2026-11-30T08:00:00.030Z  /w/al pha  Add a cache"
        );
        let json = serde_json::to_value(&listed).unwrap();
        assert_eq!(json["id"], "team-1");
        assert_eq!(json["updatedAt"], "2026-11-30T08:00:00.030Z");
    }

    #[test]
    fn tasks_sort_by_number() {
        let mut tasks = [
            json!({"id": "t10"}),
            json!({"id": "t2"}),
            json!({"id": "x"}),
        ];
        tasks.sort_by_key(task_number);
        assert_eq!(tasks[0]["id"], "t2");
        assert_eq!(tasks[1]["id"], "t10");
    }
}
