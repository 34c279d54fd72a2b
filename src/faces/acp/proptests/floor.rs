//! The speaker floor under any interleaving of several roles' pushes and admissions,
//! releases, forced breaks and flushes: every item comes out exactly once, each role's
//! in the order it offered them, and no line of the text stream mixes two roles.

use std::collections::HashMap;

use proptest::prelude::*;

use super::config;
use crate::faces::acp::floor::{Floor, Item, ItemKind, MAX_WAITING_BYTES, Output};
use crate::ids::Role;

/// What an offered item is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// A text chunk; a newline inside it, at its end, both, or neither.
    Text {
        inner_newline: bool,
        ends_line: bool,
    },
    /// A text chunk big enough that two waiting force the holder's line to end.
    BigText,
    /// A tool call, a plan: shown apart from the text flow.
    Other,
}

#[derive(Debug, Clone)]
enum Step {
    /// A role offers an item: by `push`, or by `admit` first as the per-message path does.
    Offer {
        role: usize,
        shape: Shape,
        admit_first: bool,
    },
    Release {
        role: usize,
    },
    ForceBreak,
    FlushAll,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        20 => (prop::bool::weighted(0.15), any::<bool>())
            .prop_map(|(inner_newline, ends_line)| Shape::Text { inner_newline, ends_line }),
        6 => Just(Shape::Other),
        1 => Just(Shape::BigText),
    ]
}

fn step(roles: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (0..roles, shape(), prop::bool::weighted(0.5))
            .prop_map(|(role, shape, admit_first)| Step::Offer { role, shape, admit_first }),
        3 => (0..roles).prop_map(|role| Step::Release { role }),
        1 => Just(Step::ForceBreak),
        1 => Just(Step::FlushAll),
    ]
}

fn script() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (2usize..=4).prop_flat_map(|roles| (Just(roles), prop::collection::vec(step(roles), 0..48)))
}

/// Item `number`'s line: its number first, so each line says which item it is.
fn item(number: usize, shape: Shape) -> Item {
    let mut line = format!("{number}:").into_bytes();
    let kind = match shape {
        Shape::Text {
            inner_newline,
            ends_line,
        } => {
            line.extend_from_slice(if inner_newline { b"a\nb" } else { b"ab" });
            if ends_line {
                line.push(b'\n');
            }
            ItemKind::Text { ends_line }
        }
        Shape::BigText => {
            // Filled whole rather than grown byte by byte: debug builds stay quick.
            let mut big = vec![b'x'; MAX_WAITING_BYTES / 2 + 1];
            big[..line.len()].copy_from_slice(&line);
            line = big;
            ItemKind::Text { ends_line: false }
        }
        Shape::Other => ItemKind::Other,
    };
    Item { line, kind }
}

fn number_of(line: &[u8]) -> usize {
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[..digits])
        .ok()
        .and_then(|n| n.parse().ok())
        .expect("every line starts with its item's number")
}

/// What happened, in order: offers, the floor's outputs, and the steps that let a
/// role's open line be cut (its release, a forced break, a flush with work to do).
#[derive(Debug)]
enum Event {
    Offered(usize),
    Out(Output),
    Released(usize),
    Forced,
}

/// An offered item: whose, what, how many bytes.
#[derive(Debug, Clone, Copy)]
struct Offered {
    role: usize,
    shape: Shape,
    bytes: usize,
}

/// Runs the script as the router would, then flushes; returns what happened and, for
/// each offered item, its role and shape.
fn play(roles: &[Role], steps: &[Step]) -> (Vec<Event>, Vec<Offered>) {
    let mut floor = Floor::default();
    let mut events = Vec::new();
    let mut offered = Vec::new();
    for step in steps {
        let outputs = match *step {
            Step::Offer {
                role,
                shape,
                admit_first,
            } => {
                let item = item(offered.len(), shape);
                events.push(Event::Offered(offered.len()));
                offered.push(Offered {
                    role,
                    shape,
                    bytes: item.line.len(),
                });
                offer(&mut floor, &roles[role], item, admit_first)
            }
            Step::Release { role } => {
                events.push(Event::Released(role));
                floor.release(&roles[role])
            }
            Step::ForceBreak => {
                events.push(Event::Forced);
                floor.force_break()
            }
            Step::FlushAll => flush_all(&mut floor, &mut events),
        };
        events.extend(outputs.into_iter().map(Event::Out));
    }
    let outputs = flush_all(&mut floor, &mut events);
    events.extend(outputs.into_iter().map(Event::Out));
    assert!(!floor.has_waiting(), "flush_all leaves nothing waiting");
    (events, offered)
}

/// A flush cuts the holder's line only when someone is waiting.
fn flush_all(floor: &mut Floor, events: &mut Vec<Event>) -> Vec<Output> {
    if floor.has_waiting() {
        events.push(Event::Forced);
    }
    floor.flush_all()
}

fn offer(floor: &mut Floor, role: &Role, item: Item, admit_first: bool) -> Vec<Output> {
    if admit_first && let Some(label) = floor.admit(role, item.kind) {
        let mut out: Vec<Output> = label.into_iter().collect();
        out.push(Output::Line(item.line));
        out.extend(floor.after_admitted());
        return out;
    }
    floor.push(role, item)
}

/// Follows the text stream a plain editor shows, line by line.
#[derive(Default)]
struct TextStream {
    /// The role whose text the current line holds; `None` at the start of a line.
    line_owner: Option<Role>,
    /// The role whose line is open and who has not let it go: nobody else may speak.
    holder: Option<Role>,
    /// The role the latest label named.
    labelled: Option<Role>,
}

impl TextStream {
    /// Something of `role`'s comes out: only if nobody else holds the floor.
    fn speak(&mut self, role: &Role) -> Result<(), TestCaseError> {
        if let Some(holder) = &self.holder {
            prop_assert_eq!(holder, role, "another role spoke while a line was open");
        }
        Ok(())
    }

    /// Text from `role` lands on the current line.
    fn write(&mut self, role: &Role) -> Result<(), TestCaseError> {
        if let Some(owner) = &self.line_owner {
            prop_assert_eq!(owner, role, "one line holds text of two roles");
        }
        self.line_owner = Some(role.clone());
        Ok(())
    }

    fn end_line(&mut self) {
        self.line_owner = None;
        self.holder = None;
    }

    /// A label is `\n` × newlines, then `**[role]**`, then a blank line.
    fn label(&mut self, role: &Role, newlines: usize) -> Result<(), TestCaseError> {
        self.speak(role)?;
        if newlines > 0 {
            self.end_line();
        }
        self.write(role)?;
        self.end_line();
        self.labelled = Some(role.clone());
        Ok(())
    }

    fn line_break(&mut self, role: &Role) -> Result<(), TestCaseError> {
        self.speak(role)?;
        self.write(role)?;
        self.end_line();
        Ok(())
    }

    fn other(&mut self, role: &Role) -> Result<(), TestCaseError> {
        self.speak(role)?;
        self.end_line();
        Ok(())
    }

    fn text(&mut self, role: &Role, ends_open: bool) -> Result<(), TestCaseError> {
        self.speak(role)?;
        prop_assert_eq!(
            self.labelled.as_ref(),
            Some(role),
            "a change of speaker is labelled"
        );
        self.write(role)?;
        if ends_open {
            self.holder = Some(role.clone());
        } else {
            self.end_line();
        }
        Ok(())
    }
}

/// Checks what happened against what was offered.
fn check(roles: &[Role], events: &[Event], offered: &[Offered]) -> Result<(), TestCaseError> {
    let mut stream = TextStream::default();
    let mut seen = vec![false; offered.len()];
    let mut last_of_role: HashMap<usize, usize> = HashMap::new();
    let mut waiting_bytes = 0;
    let mut break_due: Option<Role> = None;
    for event in events {
        if let Some(holder) = break_due.take() {
            let cut = matches!(event, Event::Out(Output::LineBreak { role }) if *role == holder);
            prop_assert!(
                cut,
                "over {} bytes waiting, yet {}'s line was not cut",
                MAX_WAITING_BYTES,
                holder
            );
        }
        let output = match event {
            Event::Out(output) => output,
            Event::Offered(number) => {
                let item = offered[*number];
                let role = &roles[item.role];
                let must_wait = stream.holder.as_ref().is_some_and(|holder| holder != role);
                if must_wait && waiting_bytes + item.bytes > MAX_WAITING_BYTES {
                    break_due = stream.holder.clone();
                }
                waiting_bytes += item.bytes;
                continue;
            }
            Event::Released(role) => {
                if stream.holder.as_ref() == Some(&roles[*role]) {
                    stream.holder = None;
                }
                continue;
            }
            Event::Forced => {
                stream.holder = None;
                continue;
            }
        };
        match output {
            Output::Label { role, newlines } => stream.label(role, *newlines)?,
            Output::LineBreak { role } => stream.line_break(role)?,
            Output::Line(line) => {
                let number = number_of(line);
                prop_assert!(
                    !std::mem::replace(&mut seen[number], true),
                    "item {} came out twice",
                    number
                );
                let item = offered[number];
                waiting_bytes -= item.bytes;
                if let Some(previous) = last_of_role.insert(item.role, number) {
                    prop_assert!(
                        previous < number,
                        "{}'s item {} came out after {}",
                        roles[item.role],
                        previous,
                        number
                    );
                }
                let role = &roles[item.role];
                match item.shape {
                    Shape::Other => stream.other(role)?,
                    Shape::Text { ends_line, .. } => stream.text(role, !ends_line)?,
                    Shape::BigText => stream.text(role, true)?,
                }
            }
        }
    }
    prop_assert!(
        break_due.is_none(),
        "over {} bytes waiting at the end, yet no line was cut",
        MAX_WAITING_BYTES
    );
    let lost: Vec<usize> = (0..offered.len()).filter(|n| !seen[*n]).collect();
    prop_assert!(lost.is_empty(), "items never came out: {:?}", lost);
    Ok(())
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn every_item_comes_out_once_in_its_roles_order_and_no_line_mixes_roles(
        (role_count, steps) in script()
    ) {
        let roles: Vec<Role> = (0..role_count).map(|i| Role::new(format!("r{i}"))).collect();
        let (events, offered) = play(&roles, &steps);
        check(&roles, &events, &offered)?;
    }
}
