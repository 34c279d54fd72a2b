//! What `send` prints of its turn: each role's text streamed after its label (the
//! lead chat's markdown part of that role), a line per tool call and per permission
//! request, proxy notices; or every action as a JSON line. And the progress line on
//! stderr while nothing is said (only on a terminal, only between lines, so it never
//! cuts into the text). Knows the lead chat's layout (docs/hub.md); not the turn's end.

use std::collections::HashSet;
use std::io::{self, Write};
use std::time::Instant;

use ahp::ahp_types::actions::{ActionEnvelope, StateAction};
use ahp::ahp_types::state::ResponsePart;
use serde_json::Value;

use super::action::{part_text, plain, role_of};
use super::render::{Colour, printable, role_label, strip_heading};

/// Label width for `send`'s lines.
const LABEL_WIDTH: usize = 0;

pub struct Printer {
    colour: Colour,
    json: bool,
    /// Whether the last thing written to stdout ended a line.
    at_line_start: bool,
    /// The role whose text is being streamed.
    speaker: Option<String>,
    /// Parts whose first text was seen (the heading is dropped from it only).
    parts_seen: HashSet<String>,
    /// `--yes`: requests are approved, not left to another client.
    approve: bool,
    /// `Some(start)` when stderr is a terminal and wants a progress line.
    progress_since: Option<Instant>,
    progress_shown: bool,
}

impl Printer {
    pub fn new(colour: Colour, json: bool, approve: bool, progress: bool) -> Printer {
        Printer {
            colour,
            json,
            approve,
            at_line_start: true,
            speaker: None,
            parts_seen: HashSet::new(),
            progress_since: progress.then(Instant::now),
            progress_shown: false,
        }
    }

    /// Prints what a person (or `--json`) is shown of one action of the turn.
    pub fn action(&mut self, envelope: &ActionEnvelope, wire: &Value) -> io::Result<()> {
        if self.json {
            let line = serde_json::to_string(envelope)?;
            return self.line(&line);
        }
        let role = role_of(wire);
        match &envelope.action {
            StateAction::ChatDelta(a) => self.text(
                role.as_deref().unwrap_or(&a.part_id),
                &a.part_id,
                &a.content,
            ),
            StateAction::ChatResponsePart(a) => match &a.part {
                ResponsePart::Markdown(p) => {
                    self.text(role.as_deref().unwrap_or(&p.id), &p.id, &p.content)
                }
                ResponsePart::SystemNotification(p) => {
                    self.labelled("ourocodus", &plain(&p.content))
                }
                ResponsePart::Error(_) => {
                    self.labelled(role.as_deref().unwrap_or("error"), &part_text(&a.part))
                }
                _ => Ok(()),
            },
            StateAction::ChatToolCallStart(a) => self.labelled(
                role.as_deref().unwrap_or("tool"),
                &format!("tool {}", a.display_name),
            ),
            StateAction::ChatToolCallReady(a) if a.confirmed.is_none() => {
                let options: Vec<&str> =
                    a.options.iter().flatten().map(|o| o.id.as_str()).collect();
                let how = if self.approve {
                    "approving it (--yes)"
                } else {
                    "answer in the web monitor or an editor attached to the hub, or send \
                     with --yes"
                };
                let asks = format!(
                    "asks permission: {} [{}] ({how})",
                    plain(&a.invocation_message),
                    options.join(", ")
                );
                self.labelled(role.as_deref().unwrap_or("tool"), &asks)
            }
            StateAction::ChatToolCallComplete(a) if !a.result.success => self.labelled(
                role.as_deref().unwrap_or("tool"),
                &format!("tool failed: {}", plain(&a.result.past_tense_message)),
            ),
            _ => Ok(()),
        }
    }

    /// Ends the output: the last line finished, the progress line cleared.
    pub fn finish(&mut self) -> io::Result<()> {
        self.clear_progress();
        if !self.at_line_start {
            self.write("\n")?;
        }
        Ok(())
    }

    /// Shows how long the turn has run, on stderr, between lines.
    pub fn tick(&mut self, what: &str) {
        let Some(since) = self.progress_since else {
            return;
        };
        if !self.at_line_start {
            return;
        }
        let line = format!("\r\x1b[K{what}… {}s", since.elapsed().as_secs());
        let _ = io::stderr().write_all(line.as_bytes());
        self.progress_shown = true;
    }

    fn clear_progress(&mut self) {
        if self.progress_shown {
            let _ = io::stderr().write_all(b"\r\x1b[K");
            self.progress_shown = false;
        }
    }

    /// Streamed text of `role`'s part: a label when the speaker changes.
    fn text(&mut self, role: &str, part: &str, content: &str) -> io::Result<()> {
        let first = self.parts_seen.insert(part.to_string());
        let content = if first {
            strip_heading(role, content)
        } else {
            content
        };
        if content.is_empty() {
            return Ok(());
        }
        let mut out = String::new();
        if self.speaker.as_deref() != Some(role) {
            if !self.at_line_start {
                out.push('\n');
            }
            out.push_str(&role_label(role, LABEL_WIDTH, self.colour));
            out.push_str(": ");
            self.speaker = Some(role.to_string());
        }
        out.push_str(&printable(content));
        self.write(&out)
    }

    /// A line of its own, after a label; the next text gets its label again.
    fn labelled(&mut self, label: &str, text: &str) -> io::Result<()> {
        self.speaker = None;
        let label = role_label(label, LABEL_WIDTH, self.colour);
        let text = printable(text.trim_end());
        self.line(&format!("{label}: {text}"))
    }

    fn line(&mut self, line: &str) -> io::Result<()> {
        let lead = if self.at_line_start { "" } else { "\n" };
        self.write(&format!("{lead}{line}\n"))
    }

    fn write(&mut self, text: &str) -> io::Result<()> {
        self.clear_progress();
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        if let Some(last) = text.chars().last() {
            self.at_line_start = last == '\n';
        }
        Ok(())
    }
}
