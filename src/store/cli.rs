//! `ourocodus log` and `ourocodus sessions`: the store read back for a person (or `--json` for a
//! program). Knows arguments, terminals and output lines; the queries are `read`'s, the
//! summaries `render`'s.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;

use super::read::{LogFilter, LogPosition, LoggedEvent, ReadError, SessionSummary, StoreReader};
use super::schema::OpenError;
use super::{default_path, iso8601_utc, render, time::clock_utc};
use crate::ids::SessionId;

/// How often `--follow` looks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);
/// Events read per query.
const CHUNK: usize = 1000;

#[derive(clap::Args, Debug, Clone)]
pub struct LogArgs {
    /// The store file (default: $XDG_DATA_HOME/ourocodus/store.db).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Only this session's events, in order (default: all sessions, oldest first).
    #[arg(long)]
    pub session: Option<String>,
    /// Only this role's events.
    #[arg(long)]
    pub role: Option<String>,
    /// Keep printing new events until interrupted.
    #[arg(long)]
    pub follow: bool,
    /// One JSON object per line: session, seq, time, role, kind, payload.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SessionsArgs {
    /// The store file (default: $XDG_DATA_HOME/ourocodus/store.db).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Only sessions in this directory.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no store path: pass --store, or set XDG_DATA_HOME or HOME")]
    NoDefaultPath,
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

pub(super) fn open_reader(store: Option<&Path>) -> Result<StoreReader, CliError> {
    let path = match store {
        Some(path) => path.to_owned(),
        None => default_path().ok_or(CliError::NoDefaultPath)?,
    };
    Ok(StoreReader::open(&path)?)
}

/// A closed pipe (`| head`) ends the output quietly.
pub(super) fn quiet_on_closed_pipe(result: Result<(), CliError>) -> Result<(), CliError> {
    match result {
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

pub fn run_log(args: &LogArgs) -> Result<(), CliError> {
    let reader = open_reader(args.store.as_deref())?;
    let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    quiet_on_closed_pipe(print_log(&reader, args, colour))
}

fn print_log(reader: &StoreReader, args: &LogArgs, colour: bool) -> Result<(), CliError> {
    let session = args.session.as_deref().map(SessionId::new);
    let filter = LogFilter {
        session: session.as_ref(),
        role: args.role.as_deref(),
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut position = LogPosition::default();
    loop {
        let events = reader.log_after(position, filter, CHUNK)?;
        for event in &events {
            write_event(&mut out, event, args.json, colour)?;
        }
        match events.last() {
            Some(last) => position = last.position,
            None if args.follow => {
                out.flush()?;
                std::thread::sleep(FOLLOW_INTERVAL);
            }
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    session: &'a str,
    seq: u64,
    time: String,
    role: Option<&'a str>,
    kind: &'a str,
    payload: JsonPayload<'a>,
}

/// The payload as JSON when it is JSON, else as a string.
#[derive(Serialize)]
#[serde(untagged)]
enum JsonPayload<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

fn write_event(
    out: &mut impl Write,
    logged: &LoggedEvent,
    json: bool,
    colour: bool,
) -> io::Result<()> {
    let e = &logged.event;
    if json {
        let payload = serde_json::from_str::<&RawValue>(&e.payload)
            .map_or(JsonPayload::Text(&e.payload), JsonPayload::Json);
        let line = JsonEvent {
            session: logged.session.as_str(),
            seq: e.seq,
            time: iso8601_utc(e.time_ms),
            role: e.role.as_deref(),
            kind: &e.kind,
            payload,
        };
        serde_json::to_writer(&mut *out, &line)?;
        return writeln!(out);
    }
    let short: String = logged.session.as_str().chars().take(8).collect();
    let role = e.role.as_deref().unwrap_or("-");
    let role = if colour {
        coloured(role)
    } else {
        format!("{role:<10}")
    };
    let summary = render::summary(&e.kind, &e.payload);
    writeln!(
        out,
        "{}  {short:<8}  {role}  {:<17}  {summary}",
        clock_utc(e.time_ms),
        e.kind
    )
}

fn coloured(role: &str) -> String {
    use crate::hub_client::render::{Colour, role_label};
    role_label(role, 10, Colour::On)
}

pub fn run_sessions(args: &SessionsArgs) -> Result<(), CliError> {
    let reader = open_reader(args.store.as_deref())?;
    let cwd = match &args.cwd {
        Some(dir) => Some(std::path::absolute(dir)?),
        None => None,
    };
    quiet_on_closed_pipe(print_sessions(&reader, cwd.as_deref(), args.json))
}

fn print_sessions(reader: &StoreReader, cwd: Option<&Path>, json: bool) -> Result<(), CliError> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut cursor = None;
    loop {
        let page = reader.list_sessions(cwd, cursor.as_deref(), 200)?;
        for session in &page.sessions {
            write_session(&mut out, session, json)?;
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSession<'a> {
    id: &'a str,
    cwd: &'a str,
    title: Option<&'a str>,
    created_at: String,
    updated_at: String,
    events: u64,
}

fn write_session(out: &mut impl Write, s: &SessionSummary, json: bool) -> io::Result<()> {
    if json {
        let line = JsonSession {
            id: s.id.as_str(),
            cwd: &s.cwd,
            title: s.title.as_deref(),
            created_at: iso8601_utc(s.created_at_ms),
            updated_at: iso8601_utc(s.updated_at_ms),
            events: s.events,
        };
        serde_json::to_writer(&mut *out, &line)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{}  {}  {:>7} events  {}  {}",
        s.id,
        iso8601_utc(s.updated_at_ms),
        s.events,
        render::escape_controls(&s.cwd),
        render::escape_controls(s.title.as_deref().unwrap_or("-"))
    )
}
