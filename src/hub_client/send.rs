//! `ourocodus send`: one prompt as a turn on a session's lead chat (`chat/turnStarted`
//! with our own turn id), its output streamed until that turn ends, and the end as
//! the exit code (`exit`). Picks or makes the session (`team`); the printing is
//! `send_out`'s. Knows turns; nothing of how other clients answer permissions.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use ahp::ahp_types::actions::{
    ActionEnvelope, ChatToolCallConfirmedAction, ChatToolCallReadyAction, ChatTurnStartedAction,
    StateAction,
};
use ahp::ahp_types::state::{
    ConfirmationOptionKind, Message, MessageKind, MessageOrigin, ToolCallConfirmationReason,
};
use ahp::{ClientEventStream, SubscriptionEvent};

use super::action::meta_str;
use super::connect::{Hub, HubCliError, client_error};
use super::render::{Colour, exit_for_stop};
use super::send_out::Printer;
use super::team::{self, TeamSession};
use super::{HubArg, block_on, exit, stdout_colour};

/// How often the progress line is redrawn.
const TICK: Duration = Duration::from_millis(250);

#[derive(clap::Args, Debug, Clone)]
pub struct SendArgs {
    #[command(flatten)]
    pub hub: HubArg,
    /// The session: its URI, its team session id or a unique prefix (default: the
    /// most recently modified; a new one in this directory if there is none).
    #[arg(long)]
    pub session: Option<String>,
    /// Address the prompt to this role (sent as `@ROLE TEXT`).
    #[arg(long)]
    pub role: Option<String>,
    /// Approve every permission request of the turn with its first allow option.
    #[arg(long)]
    pub yes: bool,
    /// Print each action of the turn as one JSON line instead of text.
    #[arg(long)]
    pub json: bool,
    /// The prompt (words are joined with spaces).
    #[arg(required = true, num_args = 1..)]
    pub text: Vec<String>,
}

pub fn run_send(args: &SendArgs) -> Result<ExitCode, HubCliError> {
    block_on(send(args))
}

/// The prompt as sent: `@role text` when a role is named.
pub fn prompt_text(role: Option<&str>, words: &[String]) -> String {
    let text = words.join(" ");
    match role.map(|r| r.trim().trim_start_matches('@')) {
        Some(role) if !role.is_empty() => format!("@{role} {text}"),
        _ => text,
    }
}

async fn send(args: &SendArgs) -> Result<u8, HubCliError> {
    let hub = Hub::connect(args.hub.hub.as_deref()).await?;
    let mut events = hub.client.events();
    let session = pick_or_create(&hub, args.session.as_deref(), &mut events).await?;
    hub.client
        .subscribe(session.lead_chat.clone())
        .await
        .map_err(|e| client_error("subscribe", e))?;
    let turn_id = format!("cli-{}", uuid::Uuid::new_v4());
    let started = ChatTurnStartedAction {
        turn_id: turn_id.clone(),
        started_at: crate::store::iso8601_utc(now_ms()),
        message: Message {
            text: prompt_text(args.role.as_deref(), &args.text),
            origin: MessageOrigin {
                kind: MessageKind::User,
            },
            attachments: None,
            model: None,
            agent: None,
            meta: None,
        },
        queued_message_id: None,
        meta: None,
    };
    let dispatched = hub
        .client
        .dispatch(
            session.lead_chat.clone(),
            StateAction::ChatTurnStarted(started),
        )
        .await
        .map_err(|e| client_error("dispatchAction", e))?;
    let colour = if stdout_colour() {
        Colour::On
    } else {
        Colour::Off
    };
    let progress = std::io::stderr().is_terminal() && !args.json;
    let mut turn = Turn {
        hub: &hub,
        lead_chat: &session.lead_chat,
        turn_id: &turn_id,
        client_seq: dispatched.client_seq,
        yes: args.yes,
        printer: Printer::new(colour, args.json, args.yes, progress),
    };
    let code = turn.follow(&mut events).await;
    turn.printer.finish()?;
    code
}

async fn pick_or_create(
    hub: &Hub,
    selector: Option<&str>,
    events: &mut ClientEventStream,
) -> Result<TeamSession, HubCliError> {
    let sessions = team::list_sessions(hub).await?;
    let uri = match team::choose(&sessions, selector)? {
        Some(session) => session.resource.clone(),
        None => {
            let cwd = std::env::current_dir()?;
            team::create(hub, &cwd).await?
        }
    };
    team::open(hub, &uri, events).await
}

/// Our turn, followed to its end.
struct Turn<'a> {
    hub: &'a Hub,
    lead_chat: &'a str,
    turn_id: &'a str,
    /// Our dispatch's `clientSeq`: its echo says whether the hub took it.
    client_seq: i64,
    yes: bool,
    printer: Printer,
}

impl Turn<'_> {
    async fn follow(&mut self, events: &mut ClientEventStream) -> Result<u8, HubCliError> {
        let mut tick = tokio::time::interval(TICK);
        loop {
            // Both branches are cancel-safe: a broadcast receive and a timer tick.
            let event = tokio::select! {
                event = events.recv() => event,
                _ = tick.tick() => {
                    self.printer.tick("waiting for the team");
                    continue;
                }
            };
            let Some(event) = event else {
                return Err(HubCliError::Closed);
            };
            let SubscriptionEvent::Action(envelope) = event.event else {
                continue;
            };
            if envelope.channel != self.lead_chat {
                continue;
            }
            if let Some(code) = self.handle(&envelope).await? {
                return Ok(code);
            }
        }
    }

    /// Prints one action of the lead chat; `Some(code)` when it ends our turn.
    async fn handle(&mut self, envelope: &ActionEnvelope) -> Result<Option<u8>, HubCliError> {
        let ours = envelope
            .origin
            .as_ref()
            .is_some_and(|o| o.client_id == self.hub.client_id && o.client_seq == self.client_seq);
        if ours && let Some(reason) = &envelope.rejection_reason {
            eprintln!("ourocodus: the hub refused the prompt: {reason}");
            return Ok(Some(exit::ERROR));
        }
        let wire = serde_json::to_value(&envelope.action).map_err(std::io::Error::from)?;
        if wire.get("turnId").and_then(|t| t.as_str()) != Some(self.turn_id) {
            return Ok(None);
        }
        self.printer.action(envelope, &wire)?;
        match &envelope.action {
            StateAction::ChatToolCallReady(ready) if self.yes && ready.confirmed.is_none() => {
                self.approve(ready).await?;
                Ok(None)
            }
            StateAction::ChatTurnComplete(_) => {
                if wire.pointer("/_meta/ourocodus/continues") == Some(&true.into()) {
                    eprintln!(
                        "ourocodus: another turn took over the lead chat; `ourocodus tail` follows it"
                    );
                }
                Ok(Some(exit_for_stop(meta_str(&wire, "stopReason"))))
            }
            StateAction::ChatTurnCancelled(_) => {
                eprintln!("ourocodus: the turn was cancelled");
                Ok(Some(exit::CANCELLED))
            }
            StateAction::ChatError(error) => {
                eprintln!("ourocodus: the turn failed: {}", error.part.error.message);
                Ok(Some(exit::ERROR))
            }
            _ => Ok(None),
        }
    }

    /// `--yes`: the request approved with its first allow option.
    async fn approve(&mut self, ready: &ChatToolCallReadyAction) -> Result<(), HubCliError> {
        let option = ready
            .options
            .iter()
            .flatten()
            .find(|o| o.kind == ConfirmationOptionKind::Approve);
        let confirmed = ChatToolCallConfirmedAction {
            turn_id: ready.turn_id.clone(),
            tool_call_id: ready.tool_call_id.clone(),
            meta: None,
            approved: true,
            confirmed: Some(ToolCallConfirmationReason::UserAction),
            reason: None,
            edited_tool_input: None,
            user_suggestion: None,
            reason_message: None,
            selected_option_id: option.map(|o| o.id.clone()),
        };
        self.hub
            .client
            .dispatch(
                self.lead_chat.to_string(),
                StateAction::ChatToolCallConfirmed(confirmed),
            )
            .await
            .map_err(|e| client_error("dispatchAction", e))?;
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_addressed_with_a_mention() {
        let words = ["hello".to_string(), "there".to_string()];
        assert_eq!(prompt_text(Some("backend"), &words), "@backend hello there");
        assert_eq!(prompt_text(Some("@test"), &words), "@test hello there");
        assert_eq!(prompt_text(None, &words), "hello there");
    }
}
