//! Who speaks in a plain client's single message stream. A role mid-line holds the
//! floor; everything another role sends meanwhile waits, in order, so text from two
//! roles never shares a line and no role's own order changes. A label marks each
//! change of speaker. Pure: knows nothing of JSON or the wire.

use std::collections::VecDeque;

use crate::ids::Role;

/// One update a role wants shown, already built as a line for the editor.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: Vec<u8>,
    pub kind: ItemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A text chunk; `ends_line` when its text ends with a newline.
    Text { ends_line: bool },
    /// Anything else (a tool call, a plan...): shown apart from the text flow.
    Other,
}

/// What to send, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A speaker label for `role`; `newlines` blank-line separators go before it.
    Label {
        role: Role,
        newlines: usize,
    },
    /// End the line `role` left open (its turn was cut short by a forced break).
    LineBreak {
        role: Role,
    },
    Line(Vec<u8>),
}

/// Waiting output above this many bytes forces the holder's line to end.
pub const MAX_WAITING_BYTES: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct Floor {
    /// The role whose line is open, if any.
    holder: Option<Role>,
    /// Roles waiting to speak, first come first served, each with its items in order.
    waiting: VecDeque<(Role, VecDeque<Item>)>,
    waiting_bytes: usize,
    last_speaker: Option<Role>,
    at_line_start: bool,
    started: bool,
}

impl Floor {
    /// Offers one item from `role`; returns what can be sent now.
    pub fn push(&mut self, role: &Role, item: Item) -> Vec<Output> {
        let mut out = Vec::new();
        if self.holder.as_ref().is_some_and(|h| h != role) {
            self.enqueue(role, item);
            if self.waiting_bytes > MAX_WAITING_BYTES {
                out.extend(self.force_break());
            }
            return out;
        }
        self.emit(role, item, &mut out);
        self.flush_waiting(&mut out);
        out
    }

    /// `role` is done for now (its turn ended): it gives up the floor.
    pub fn release(&mut self, role: &Role) -> Vec<Output> {
        let mut out = Vec::new();
        if self.holder.as_ref() == Some(role) {
            self.holder = None;
        }
        self.flush_waiting(&mut out);
        out
    }

    /// Ends the holder's open line so waiting roles can speak.
    pub fn force_break(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(holder) = self.holder.take() {
            out.push(Output::LineBreak { role: holder });
            self.at_line_start = true;
        }
        self.flush_waiting(&mut out);
        out
    }

    /// Sends everything still waiting, breaking lines as needed.
    pub fn flush_all(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while !self.waiting.is_empty() {
            out.extend(self.force_break());
        }
        out
    }

    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    fn enqueue(&mut self, role: &Role, item: Item) {
        self.waiting_bytes += item.line.len();
        match self.waiting.iter_mut().find(|(r, _)| r == role) {
            Some((_, items)) => items.push_back(item),
            None => self
                .waiting
                .push_back((role.clone(), VecDeque::from([item]))),
        }
    }

    fn emit(&mut self, role: &Role, item: Item, out: &mut Vec<Output>) {
        out.extend(self.enter(role, item.kind));
        out.push(Output::Line(item.line));
    }

    /// Lets `role` speak now if nobody else holds the floor: the label to send before
    /// its line, if any. `None` means the update must wait (`push` it instead). After
    /// sending the line, call `after_admitted`.
    pub fn admit(&mut self, role: &Role, kind: ItemKind) -> Option<Option<Output>> {
        if self.holder.as_ref().is_some_and(|h| h != role) {
            return None;
        }
        Some(self.enter(role, kind))
    }

    /// What may follow an admitted update: roles that were waiting for the floor.
    pub fn after_admitted(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.waiting.is_empty() {
            self.flush_waiting(&mut out);
        }
        out
    }

    /// Updates who holds the floor for one update of `role`; returns its label, if due.
    fn enter(&mut self, role: &Role, kind: ItemKind) -> Option<Output> {
        let mut label = None;
        match kind {
            ItemKind::Text { ends_line } => {
                if self.last_speaker.as_ref() != Some(role) {
                    label = Some(self.label(role));
                    self.last_speaker = Some(role.clone());
                }
                self.at_line_start = ends_line;
                if ends_line {
                    self.holder = None;
                } else if self.holder.as_ref() != Some(role) {
                    self.holder = Some(role.clone());
                }
            }
            ItemKind::Other => {
                self.at_line_start = true;
                self.holder = None;
                // Another role's card between texts: whoever speaks next is labelled.
                if self.last_speaker.as_ref() != Some(role) {
                    self.last_speaker = None;
                }
            }
        }
        self.started = true;
        label
    }

    fn label(&self, role: &Role) -> Output {
        let newlines = match (self.started, self.at_line_start) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => 2,
        };
        Output::Label {
            role: role.clone(),
            newlines,
        }
    }

    /// While nobody holds the floor, lets waiting roles speak in arrival order.
    fn flush_waiting(&mut self, out: &mut Vec<Output>) {
        while self.holder.is_none() {
            let Some((role, items)) = self.waiting.pop_front() else {
                return;
            };
            let mut items = items;
            while let Some(item) = items.pop_front() {
                self.waiting_bytes -= item.line.len();
                self.emit(&role, item, out);
            }
            // A role left mid-line keeps the floor; the others keep waiting.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Item {
        Item {
            line: s.as_bytes().to_vec(),
            kind: ItemKind::Text {
                ends_line: s.ends_with('\n'),
            },
        }
    }

    fn other(s: &str) -> Item {
        Item {
            line: s.as_bytes().to_vec(),
            kind: ItemKind::Other,
        }
    }

    /// Renders outputs as a transcript: labels as `[role]`, breaks as `\n`.
    fn render(outputs: &[Output]) -> String {
        outputs
            .iter()
            .map(|o| match o {
                Output::Label { role, newlines } => format!("{}[{role}]", "\n".repeat(*newlines)),
                Output::LineBreak { .. } => "\n".to_string(),
                Output::Line(l) => String::from_utf8(l.clone()).unwrap(),
            })
            .collect()
    }

    #[test]
    fn two_roles_mid_line_never_share_a_line() {
        let (a, b) = (Role::new("a"), Role::new("b"));
        let mut floor = Floor::default();
        let mut out = floor.push(&a, text("hello "));
        out.extend(floor.push(&b, text("other ")));
        out.extend(floor.push(&b, text("words\n")));
        out.extend(floor.push(&a, text("world\n")));
        assert_eq!(render(&out), "[a]hello world\n\n[b]other words\n");
    }

    #[test]
    fn a_waiting_role_keeps_its_own_order_across_kinds() {
        let (a, b) = (Role::new("a"), Role::new("b"));
        let mut floor = Floor::default();
        let mut out = floor.push(&a, text("open"));
        out.extend(floor.push(&b, text("b1 ")));
        out.extend(floor.push(&b, other("<tool>")));
        assert_eq!(render(&out), "[a]open");
        out.extend(floor.release(&a));
        assert_eq!(render(&out), "[a]open\n\n[b]b1 <tool>");
    }

    #[test]
    fn a_forced_break_ends_the_holders_line_and_it_is_relabelled_later() {
        let (a, b) = (Role::new("a"), Role::new("b"));
        let mut floor = Floor::default();
        let mut out = floor.push(&a, text("long line"));
        out.extend(floor.push(&b, text("b says\n")));
        out.extend(floor.force_break());
        out.extend(floor.push(&a, text(" continues\n")));
        assert_eq!(render(&out), "[a]long line\n\n[b]b says\n\n[a] continues\n");
    }

    #[test]
    fn flush_all_delivers_everything_waiting() {
        let (a, b, c) = (Role::new("a"), Role::new("b"), Role::new("c"));
        let mut floor = Floor::default();
        let mut out = floor.push(&a, text("a"));
        out.extend(floor.push(&b, text("b")));
        out.extend(floor.push(&c, text("c")));
        out.extend(floor.flush_all());
        assert_eq!(render(&out), "[a]a\n\n[b]b\n\n[c]c");
        assert!(!floor.has_waiting());
    }

    #[test]
    fn the_same_speaker_is_not_relabelled() {
        let a = Role::new("a");
        let mut floor = Floor::default();
        let mut out = floor.push(&a, text("one\n"));
        out.extend(floor.push(&a, other("<tool>")));
        out.extend(floor.push(&a, text("two\n")));
        assert_eq!(render(&out), "[a]one\n<tool>two\n");
    }

    #[test]
    fn text_after_another_roles_card_is_labelled() {
        let (a, b) = (Role::new("a"), Role::new("b"));
        let mut floor = Floor::default();
        let mut out = floor.push(&a, text("a1\n"));
        out.extend(floor.push(&b, other("<b tool>")));
        out.extend(floor.push(&b, text("b1\n")));
        out.extend(floor.push(&a, other("<a tool>")));
        out.extend(floor.push(&a, text("a2\n")));
        assert_eq!(render(&out), "[a]a1\n<b tool>\n[b]b1\n<a tool>\n[a]a2\n");
    }

    #[test]
    fn admitting_directly_matches_pushing() {
        let (a, b) = (Role::new("a"), Role::new("b"));
        let mut floor = Floor::default();
        let label = floor
            .admit(&a, ItemKind::Text { ends_line: false })
            .expect("free floor");
        assert!(matches!(label, Some(Output::Label { .. })));
        assert!(
            floor
                .admit(&b, ItemKind::Text { ends_line: true })
                .is_none(),
            "a holds the line"
        );
        floor.push(&b, text("b waits\n"));
        assert_eq!(
            floor.admit(&a, ItemKind::Text { ends_line: true }),
            Some(None),
            "same speaker, no label"
        );
        assert_eq!(render(&floor.after_admitted()), "\n[b]b waits\n");
    }

    #[test]
    fn too_much_waiting_output_forces_a_break() {
        let (a, b) = (Role::new("a"), Role::new("b"));
        let mut floor = Floor::default();
        floor.push(&a, text("open"));
        let big = "x".repeat(MAX_WAITING_BYTES + 1);
        let out = floor.push(&b, text(&big));
        assert!(matches!(out[0], Output::LineBreak { .. }));
        assert!(!floor.has_waiting());
    }
}
