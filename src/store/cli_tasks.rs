//! `ourocodus tasks`: a session's task graph as its last recorded snapshots say, for a
//! person (one line per task) or a program (`--json`, one task per line). Knows the
//! `task` payload's fields; the queries are `read`'s.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::Value;

use super::cli::{CliError, open_reader, quiet_on_closed_pipe};
use super::read::StoreReader;
use super::render::escape_controls;
use crate::ids::SessionId;

/// Events read per query.
const CHUNK: usize = 1000;

#[derive(clap::Args, Debug, Clone)]
pub struct TasksArgs {
    /// The store file (default: $XDG_DATA_HOME/ourocodus/store.db).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The session (default: the most recently updated one).
    #[arg(long)]
    pub session: Option<String>,
    /// One JSON object per task, per line.
    #[arg(long)]
    pub json: bool,
}

pub fn run_tasks(args: &TasksArgs) -> Result<(), CliError> {
    let reader = open_reader(args.store.as_deref())?;
    let session = match &args.session {
        Some(id) => SessionId::new(id),
        None => match reader
            .list_sessions(None, None, 1)?
            .sessions
            .into_iter()
            .next()
        {
            Some(latest) => latest.id,
            None => return Ok(()),
        },
    };
    let tasks = last_snapshots(&reader, &session)?;
    quiet_on_closed_pipe(print_tasks(session.as_str(), tasks.values(), args.json))
}

/// Each task's last recorded snapshot, by number (`t2` before `t10`).
fn last_snapshots(
    reader: &StoreReader,
    session: &SessionId,
) -> Result<BTreeMap<u64, Value>, CliError> {
    let mut tasks = BTreeMap::new();
    let mut after = 0;
    loop {
        let events = reader.events(session, after, CHUNK)?;
        let Some(last) = events.last() else {
            break;
        };
        after = last.seq;
        for event in events.iter().filter(|e| e.kind == "task") {
            let Ok(task) = serde_json::from_str::<Value>(&event.payload) else {
                continue;
            };
            let number = task["id"]
                .as_str()
                .and_then(|id| id.strip_prefix('t'))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(number) = number {
                tasks.insert(number, task);
            }
        }
    }
    Ok(tasks)
}

/// A session's tasks, one line each after a heading, or one JSON object per line
/// (the store's snapshots and the hub's `_ourocodus/tasks` alike).
pub(crate) fn print_tasks<'a>(
    session: &str,
    tasks: impl ExactSizeIterator<Item = &'a Value>,
    json: bool,
) -> Result<(), CliError> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    if !json {
        writeln!(out, "session {session}: {} tasks", tasks.len())?;
    }
    for task in tasks {
        if json {
            serde_json::to_writer(&mut out, task).map_err(io::Error::from)?;
            writeln!(out)?;
            continue;
        }
        writeln!(out, "{}", task_line(task))?;
    }
    out.flush()?;
    Ok(())
}

/// `t2  backend  in_flight  high  Add paging  (after t1)`
fn task_line(task: &Value) -> String {
    let field = |key: &str| escape_controls(task[key].as_str().unwrap_or("-"));
    let after: Vec<&str> = task["depends_on"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut line = format!(
        "{:<5} {:<12} {:<10} {:<7} {}",
        field("id"),
        field("role"),
        field("status"),
        field("priority"),
        field("title")
    );
    if !after.is_empty() {
        line.push_str(&format!("  (after {})", after.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_line_names_its_id_role_status_priority_title_and_what_it_waits_for() {
        let task = serde_json::json!({ "id": "t3", "role": "test", "status": "inbox",
            "priority": "high", "title": "e2e\u{1b}[2J", "depends_on": ["t1", "t2"] });
        let line = task_line(&task);
        assert!(
            line.starts_with("t3    test         inbox      high    e2e"),
            "{line}"
        );
        assert!(line.ends_with("(after t1, t2)"), "{line}");
        assert!(
            !line.contains('\u{1b}'),
            "control characters are escaped: {line}"
        );
    }
}
