//! One prompt turn: runs a parsed script step by step for one session, stops at
//! once on cancel, and answers the prompt. Knows nothing of how messages arrive.
//!
//! Steps that talk to the client live in `client_steps`, steps that touch the
//! process or its surroundings in `local_steps`; the plain output steps are here.

mod client_steps;
mod local_steps;
mod mcp_steps;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::client::{Answer, ClientCalls};
use super::io::Outbox;
use super::script::Step;
use super::session::Session;
use super::stream::{ChunkLines, big_text};
use super::wire;
use crate::jsonrpc::{ErrorObject, RequestId};

/// What every turn shares with the agent.
pub struct Shared {
    /// `agentInfo.name`, also reported by `whoami`.
    pub name: String,
    pub outbox: Outbox,
    pub calls: ClientCalls,
    /// Numbers `call_<n>` tool call ids across all sessions.
    pub next_tool_call: AtomicU64,
}

impl Shared {
    pub fn new(name: String, outbox: Outbox) -> Self {
        Shared {
            name,
            outbox,
            calls: ClientCalls::default(),
            next_tool_call: AtomicU64::new(1),
        }
    }
}

/// How a turn ends, other than by running out of steps.
#[derive(Debug)]
pub enum End {
    /// Answer with this stop reason.
    Stop(String),
    /// Answer with this JSON-RPC error.
    Error(ErrorObject),
    /// The session's prompt was cancelled: answer `cancelled`.
    Cancelled,
    /// Never answer, and keep the session busy.
    Hang,
    /// End the process with this code, without answering.
    Exit(i32),
    /// Stdout is gone; nothing can be answered.
    Closed,
}

type StepResult = Result<(), End>;

/// A running prompt of one session.
pub struct Turn {
    pub shared: Arc<Shared>,
    pub session: Arc<Session>,
    pub cancel: CancellationToken,
}

/// How long queued output may take to reach stdout before an exit happens anyway.
const EXIT_GRACE: Duration = Duration::from_millis(500);

impl Turn {
    /// Runs `steps` and answers request `id`; the task ends with the turn.
    pub async fn run(self, id: RequestId, steps: Vec<Step>) {
        let usage = answer_usage(&steps);
        let end = match self.run_steps(steps).await {
            Ok(()) => End::Stop("end_turn".into()),
            Err(end) => end,
        };
        self.finish(&id, end, usage).await;
    }

    async fn run_steps(&self, steps: Vec<Step>) -> StepResult {
        for step in steps {
            if self.cancel.is_cancelled() {
                return Err(End::Cancelled);
            }
            self.run_step(step).await?;
        }
        Ok(())
    }

    async fn finish(self, id: &RequestId, end: End, usage: Option<String>) {
        let answer = match end {
            End::Stop(reason) => wire::stop_response(id, &reason, usage.as_deref()),
            End::Cancelled => wire::response(id, &json!({ "stopReason": "cancelled" })),
            End::Error(e) => wire::error(id, e.code, e.message),
            // The session stays busy for good, as with an agent that hung.
            End::Hang => return,
            End::Exit(code) => return exit_process(&self.shared.outbox, code).await,
            End::Closed => return self.session.end_turn(),
        };
        // Free the session first, so a client that prompts again as soon as it
        // reads the answer is not refused.
        self.session.end_turn();
        let _ = self.shared.outbox.send(answer).await;
    }

    async fn run_step(&self, step: Step) -> StepResult {
        match step {
            Step::Say(text) => self.say(&text).await,
            Step::Echo(text) => self.echo(&text).await,
            Step::Think(text) => self.update(&wire::thought_chunk(&text)).await,
            Step::Stream { chunks, line_bytes } => self.stream(chunks, line_bytes).await,
            Step::Big { bytes } => self.say(&big_text(bytes)).await,
            Step::ToolCall(spec) => self.tool_call(&spec).await,
            Step::AskPermission(spec) => self.ask_permission(&spec).await,
            Step::WriteFile { path, content } => self.write_file(&path, &content).await,
            Step::ReadFile { path } => self.read_file(&path).await,
            Step::Sleep(duration) => self.interruptible(tokio::time::sleep(duration)).await,
            Step::Crash => Err(End::Exit(3)),
            Step::Exit(code) => Err(End::Exit(code)),
            Step::Hang => Err(End::Hang),
            Step::Garbage => self.garbage().await,
            Step::StderrFlood { lines } => self.stderr_flood(lines).await,
            Step::Plan(entries) => self.update(&wire::plan(&entries)).await,
            Step::Error { code, message } => Err(End::Error(ErrorObject {
                code,
                message,
                data: None,
            })),
            Step::Stop(reason) => Err(End::Stop(reason)),
            Step::Update(raw) => {
                self.send(wire::session_update_raw(&self.session.id, &raw))
                    .await
            }
            Step::Raw(text) => self.send(format!("{text}\n").into_bytes()).await,
            // Taken before the steps run (`answer_usage`).
            Step::AnswerUsage(_) => Ok(()),
            Step::Terminal { command, args } => self.terminal(&command, &args).await,
            Step::Elicit(message) => self.elicit(&message).await,
            Step::Whoami => self.whoami().await,
            Step::Commands => self.update(&wire::available_commands()).await,
            Step::Mode(mode_id) => self.mode(&mode_id).await,
            Step::SpawnGrandchild => self.spawn_grandchild().await,
            Step::DiskWrite { path, content } => self.disk_write(&path, &content).await,
            Step::Shell(command) => self.shell(&command).await,
            Step::Mcp {
                tool,
                arguments,
                times,
            } => self.mcp_call(&tool, &arguments, times).await,
            Step::Unknown(text) => self.say(&format!("unknown step: {text}")).await,
            Step::Bad { text, reason } => self.say(&format!("bad step: {text}: {reason}")).await,
        }
    }

    /// Runs `future` unless the turn is cancelled first.
    async fn interruptible<T>(&self, future: impl Future<Output = T>) -> Result<T, End> {
        tokio::select! {
            biased;
            // Cancel-safe: waiting on a token has no side effects.
            () = self.cancel.cancelled() => Err(End::Cancelled),
            // Every future passed here may be dropped half-way: a queue send
            // (the item is then not sent), a sleep, or a pending call's answer.
            value = future => Ok(value),
        }
    }

    /// Queues lines for stdout, waiting while the queue is full.
    async fn send(&self, line: Vec<u8>) -> StepResult {
        self.interruptible(self.shared.outbox.send(line))
            .await?
            .map_err(|_| End::Closed)
    }

    async fn update(&self, update: &Value) -> StepResult {
        self.send(wire::session_update(&self.session.id, update))
            .await
    }

    async fn say(&self, text: &str) -> StepResult {
        self.update(&wire::message_chunk(text)).await
    }

    /// Sends a request to the client and waits for its answer.
    async fn call(&self, method: &str, params: &Value) -> Result<Answer, End> {
        let (line, mut pending) = self.shared.calls.start(method, params);
        self.send(line).await?;
        self.interruptible(pending.answer()).await
    }

    fn next_tool_call_id(&self) -> String {
        format!(
            "call_{}",
            self.shared.next_tool_call.fetch_add(1, Ordering::Relaxed)
        )
    }

    async fn echo(&self, text: &str) -> StepResult {
        for word in words_with_spacing(text) {
            self.say(word).await?;
        }
        Ok(())
    }

    /// Sends numbered chunks in large pre-built batches, yielding now and then
    /// so that a cancel read meanwhile is seen.
    async fn stream(&self, chunks: u64, line_bytes: usize) -> StepResult {
        let mut lines = ChunkLines::new(&self.session.id, chunks, line_bytes);
        let mut batches: u32 = 0;
        while !lines.is_done() {
            self.send(lines.next_batch()).await?;
            batches = batches.wrapping_add(1);
            if batches.is_multiple_of(16) {
                tokio::task::yield_now().await;
            }
        }
        Ok(())
    }

    async fn mode(&self, mode_id: &str) -> StepResult {
        self.session.force_mode(mode_id);
        self.update(&wire::current_mode(mode_id)).await
    }
}

/// The `usage` the prompt's answer carries: the last `usage` step's, wherever it is.
fn answer_usage(steps: &[Step]) -> Option<String> {
    steps.iter().rev().find_map(|step| match step {
        Step::AnswerUsage(raw) => Some(raw.clone()),
        _ => None,
    })
}

/// Queues an exit behind everything already written, then ends the process even
/// if stdout is stalled.
async fn exit_process(outbox: &Outbox, code: i32) {
    let deadline = tokio::time::Instant::now() + EXIT_GRACE;
    let _ = tokio::time::timeout_at(deadline, outbox.exit(code)).await;
    tokio::time::sleep_until(deadline).await;
    std::process::exit(code);
}

/// Splits text into words, each carrying the whitespace after it, so that the
/// pieces joined give back the text exactly.
fn words_with_spacing(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut seen_word, mut after_space) = (0, false, false);
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if !space && after_space && seen_word {
            pieces.push(&text[start..i]);
            start = i;
        }
        seen_word |= !space;
        after_space = space;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::words_with_spacing;

    #[test]
    fn echoed_words_carry_their_trailing_spaces_and_join_back_to_the_text() {
        assert_eq!(
            words_with_spacing("hello  big\nworld"),
            ["hello  ", "big\n", "world"]
        );
        assert_eq!(words_with_spacing("  lead trail "), ["  lead ", "trail "]);
        assert_eq!(words_with_spacing(""), Vec::<&str>::new());
        let text = " a\tb  c \n";
        assert_eq!(words_with_spacing(text).concat(), text);
    }
}
