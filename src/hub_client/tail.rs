//! `ourocodus tail`: a session's actions as they happen (the session and every chat
//! of it), one line each or one JSON envelope each, filtered by role and type;
//! `--from SEQ` first replays what came after SEQ (`reconnect`), each action once;
//! written by a `Printer`, so a slow output never holds up reading the hub.
//! Knows the replay's promise (docs/hub.md); the lines are `render`'s.

use std::collections::HashSet;
use std::io;
use std::process::ExitCode;

use ahp::ahp_types::actions::ActionEnvelope;
use ahp::ahp_types::commands::ReconnectResult;
use ahp::{ClientEventStream, SubscriptionEvent};

use super::action::describe;
use super::connect::{Hub, HubCliError, client_error};
use super::printer::{Printer, QUEUE_CAP, Queued};
use super::render::{Colour, Place, kind_matches, tail_line};
use super::team::{self, TeamSession};
use super::{HubArg, block_on, stdout_colour};

#[derive(clap::Args, Debug, Clone)]
pub struct TailArgs {
    #[command(flatten)]
    pub hub: HubArg,
    /// The session: its URI, its team session id or a unique prefix (default: the
    /// most recently modified).
    #[arg(long)]
    pub session: Option<String>,
    /// Only this role's actions (its `_meta.ourocodus.role`, or its role chat).
    #[arg(long)]
    pub role: Option<String>,
    /// Only actions of this type (repeatable): `delta`, `turnStarted`, `chat/toolCallStart`, …
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// One JSON action envelope per line.
    #[arg(long)]
    pub json: bool,
    /// First the actions after this serverSeq (as the hub still holds them), then live.
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
}

pub fn run_tail(args: &TailArgs) -> Result<ExitCode, HubCliError> {
    block_on(tail(args))
}

async fn tail(args: &TailArgs) -> Result<u8, HubCliError> {
    let hub = Hub::connect(args.hub.hub.as_deref()).await?;
    let mut events = hub.client.events();
    let sessions = team::list_sessions(&hub).await?;
    let Some(summary) = team::choose(&sessions, args.session.as_deref())? else {
        return Err(HubCliError::Usage(format!(
            "the hub at {} has no session yet: `ourocodus send TEXT` starts one",
            hub.addr
        )));
    };
    let session = team::open(&hub, &summary.resource, &mut events).await?;
    for chat in session.channels().into_iter().skip(1) {
        hub.client
            .subscribe(chat)
            .await
            .map_err(|e| client_error("subscribe", e))?;
    }
    let colour = if stdout_colour() {
        Colour::On
    } else {
        Colour::Off
    };
    let mut out = TailOut {
        channels: session.channels().into_iter().collect(),
        session: &session,
        args,
        colour,
        last_seq: args.from.unwrap_or(0),
        printer: Printer::new(io::stdout(), QUEUE_CAP),
        last_printed: args.from.unwrap_or(0),
        before_gap: None,
    };
    // Said once subscribed: from here on nothing of the session is missed.
    eprintln!(
        "ourocodus: following session {} on {} ({} chats)",
        session.session_id,
        hub.addr,
        session.channels().len() - 1
    );
    if let Some(from) = args.from {
        replay(&hub, &session, from, &mut out).await?;
    }
    follow(&mut events, &mut out).await
}

/// `reconnect` from `from`: the actions after it printed, or a note that the hub
/// no longer holds them.
async fn replay(
    hub: &Hub,
    session: &TeamSession,
    from: u64,
    out: &mut TailOut<'_>,
) -> Result<(), HubCliError> {
    let last_seen = i64::try_from(from).unwrap_or(i64::MAX);
    let answer = hub
        .client
        .reconnect(hub.client_id.clone(), last_seen, session.channels())
        .await
        .map_err(|e| client_error("reconnect", e))?;
    match answer {
        ReconnectResult::Replay(replay) => {
            let mut actions = replay.actions;
            actions.sort_by_key(|a| a.server_seq);
            for envelope in &actions {
                out.print(envelope)?;
            }
            if !replay.missing.is_empty() {
                eprintln!(
                    "ourocodus: the hub replayed nothing for {}",
                    replay.missing.join(", ")
                );
            }
        }
        ReconnectResult::Snapshot(_) => eprintln!(
            "ourocodus: the hub no longer holds the actions after {from} (too old, or from \
             before it restarted): following live from here"
        ),
    }
    Ok(())
}

async fn follow(events: &mut ClientEventStream, out: &mut TailOut<'_>) -> Result<u8, HubCliError> {
    while let Some(event) = events.recv().await {
        if let SubscriptionEvent::Action(envelope) = event.event {
            out.print(&envelope)?;
        }
    }
    Err(HubCliError::Closed)
}

struct TailOut<'a> {
    channels: HashSet<String>,
    session: &'a TeamSession,
    args: &'a TailArgs,
    colour: Colour,
    /// The highest serverSeq printed (or `--from`): anything at or below it was
    /// shown already, live and replayed copies alike.
    last_seq: u64,
    /// Writes the lines, so a slow output never holds up the reading of the hub.
    printer: Printer,
    /// The serverSeq of the last line handed to the printer.
    last_printed: u64,
    /// While lines are not printed (the output far behind): the serverSeq before them.
    before_gap: Option<u64>,
}

impl TailOut<'_> {
    fn place(&self, channel: &str) -> Place {
        if channel == self.session.lead_chat {
            Place::Lead
        } else if channel == self.session.uri {
            Place::Session
        } else {
            Place::RoleChat
        }
    }

    fn print(&mut self, envelope: &ActionEnvelope) -> Result<(), HubCliError> {
        if envelope.server_seq <= self.last_seq || !self.channels.contains(&envelope.channel) {
            return Ok(());
        }
        self.last_seq = envelope.server_seq;
        let wire = serde_json::to_value(&envelope.action).map_err(io::Error::from)?;
        let mut action = describe(envelope, &wire);
        if action.role.is_none() {
            action.role = self
                .session
                .role_of_chat(&envelope.channel)
                .map(str::to_string);
        }
        let role = action.role.as_deref();
        if let Some(wanted) = &self.args.role
            && role != Some(wanted.as_str())
        {
            return Ok(());
        }
        if !self.args.kinds.is_empty()
            && !self
                .args
                .kinds
                .iter()
                .any(|k| kind_matches(k, &action.kind))
        {
            return Ok(());
        }
        let line = if self.args.json {
            serde_json::to_string(envelope).map_err(io::Error::from)?
        } else {
            tail_line(&action, self.place(&envelope.channel), self.colour)
        };
        let before = self.last_printed;
        match self.printer.line(line)? {
            Queued::Printed => {}
            Queued::Dropped => {
                self.before_gap.get_or_insert(before);
            }
            Queued::PrintedAfterGap(count) => {
                let from = self.before_gap.take().unwrap_or(before);
                eprintln!(
                    "ourocodus: {count} actions not printed: the output fell more than {} MiB \
                     behind (`ourocodus tail --from {from}` prints them while the hub holds them)",
                    QUEUE_CAP >> 20
                );
            }
        }
        self.last_printed = envelope.server_seq;
        Ok(())
    }
}
