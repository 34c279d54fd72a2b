//! What a session's roles spent, tallied per role and per task: the tokens their
//! prompt answers reported, the latest context window their `usage_update`s gave, and
//! their cost, kept per currency (amounts in different currencies are never added).
//! Pure: it takes values already read (`read`) and knows nothing of agents, the wire,
//! the store or who shows the totals.

mod read;
mod show;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::tasks::TaskId;
use crate::ids::Role;

pub use read::{read_tokens, read_update};
pub use show::describe;

/// Currencies followed per role: an agent that invents more is not followed further.
const MAX_CURRENCIES: usize = 8;
/// Longest currency code taken, in characters.
const MAX_CURRENCY_CHARS: usize = 16;

/// Token counts as a prompt answer's `usage` gives them (ACP's unstable `Usage`),
/// summed with saturation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tokens {
    pub total_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub thought_tokens: u64,
    pub cached_read_tokens: u64,
    pub cached_write_tokens: u64,
}

impl Tokens {
    pub fn add(&mut self, other: &Tokens) {
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.thought_tokens = self.thought_tokens.saturating_add(other.thought_tokens);
        self.cached_read_tokens = self
            .cached_read_tokens
            .saturating_add(other.cached_read_tokens);
        self.cached_write_tokens = self
            .cached_write_tokens
            .saturating_add(other.cached_write_tokens);
    }
}

/// How full a role's context window is, as its last `usage_update` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContextWindow {
    pub used: u64,
    pub size: u64,
}

/// A currency code as an agent named it ("USD", "EUR", "credits"): 1 to 16 ASCII
/// letters, digits, `_`, `.` or `-`, so it is safe to show anywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Currency(Box<str>);

impl Currency {
    pub fn new(code: &str) -> Option<Currency> {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        let fits = (1..=MAX_CURRENCY_CHARS).contains(&code.len());
        (fits && code.chars().all(plain)).then(|| Currency(code.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount in one currency: finite, never negative.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub amount: f64,
    pub currency: Currency,
}

impl Cost {
    pub fn new(amount: f64, currency: Currency) -> Option<Cost> {
        // `+ 0.0` turns -0.0 into 0.0.
        (amount.is_finite() && amount >= 0.0).then_some(Cost {
            amount: amount + 0.0,
            currency,
        })
    }
}

/// Amounts per currency, in the order of their codes; one entry per currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Costs(Vec<Cost>);

impl Costs {
    pub fn iter(&self) -> impl Iterator<Item = &Cost> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, currency: &Currency) -> Option<f64> {
        self.entry(currency).ok().map(|at| self.0[at].amount)
    }

    fn entry(&self, currency: &Currency) -> Result<usize, usize> {
        self.0.binary_search_by(|c| c.currency.cmp(currency))
    }

    /// Sets the amount in `currency` to what `change` makes of it (0 if new).
    fn update(&mut self, currency: &Currency, change: impl FnOnce(f64) -> f64) {
        match self.entry(currency) {
            Ok(at) => self.0[at].amount = change(self.0[at].amount),
            Err(at) => self.0.insert(
                at,
                Cost {
                    amount: change(0.0),
                    currency: currency.clone(),
                },
            ),
        }
    }

    fn add(&mut self, currency: &Currency, amount: f64) {
        self.update(currency, |sum| saturating_sum(sum, amount));
    }

    fn add_all(&mut self, other: &Costs) {
        for cost in other.iter() {
            self.add(&cost.currency, cost.amount);
        }
    }
}

/// `a + b` for amounts that are finite and not negative: the largest finite amount
/// rather than infinity.
fn saturating_sum(a: f64, b: f64) -> f64 {
    let sum = a + b;
    if sum.is_finite() { sum } else { f64::MAX }
}

/// What one `usage_update` said that could be read (the rest is left out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageReport {
    pub context: Option<ContextWindow>,
    /// The cumulative cost of the agent's session so far, as ACP defines it.
    pub cost: Option<Cost>,
}

/// One role's or one task's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub tokens: Tokens,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextWindow>,
    pub cost: Costs,
}

#[derive(Debug, Default)]
struct RoleUsage {
    tally: Tally,
    /// The last cumulative amount per currency the role's agent reported: each
    /// report counts for what it adds to it.
    reported: Costs,
}

impl RoleUsage {
    /// What a cumulative `cost` adds to the last one in its currency; a lower amount
    /// is a count started afresh (a new agent session), all of it new. `None` for a
    /// currency past the limit.
    fn increase(&mut self, cost: &Cost) -> Option<f64> {
        let last = self.reported.get(&cost.currency);
        if last.is_none() && self.reported.0.len() >= MAX_CURRENCIES {
            return None;
        }
        let increase = match last {
            Some(last) if cost.amount >= last => cost.amount - last,
            _ => cost.amount,
        };
        self.reported.update(&cost.currency, |_| cost.amount);
        Some(increase)
    }
}

#[derive(Debug)]
struct TaskUsage {
    role: Role,
    tally: Tally,
}

/// A session's tallies.
#[derive(Debug, Default)]
pub struct SessionUsage {
    roles: BTreeMap<Role, RoleUsage>,
    tasks: BTreeMap<TaskId, TaskUsage>,
    /// Which turns (in the session's numbering) worked on which task.
    task_turns: BTreeMap<u64, TaskId>,
}

impl SessionUsage {
    /// Turn `turn` works on `task`: what its roles report counts for the task too.
    pub fn note_task_turn(&mut self, turn: u64, task: TaskId) {
        self.task_turns.insert(turn, task);
    }

    /// A `usage_update` of `role`, during `turn` if it had one.
    pub fn note_report(&mut self, role: &Role, turn: Option<u64>, report: &UsageReport) {
        let usage = self.roles.entry(role.clone()).or_default();
        let increase = report
            .cost
            .as_ref()
            .and_then(|cost| Some((&cost.currency, usage.increase(cost)?)));
        let apply = |tally: &mut Tally| {
            if let Some(context) = report.context {
                tally.context = Some(context);
            }
            if let Some((currency, amount)) = increase {
                tally.cost.add(currency, amount);
            }
        };
        apply(&mut usage.tally);
        if let Some(task) = self.task_of(role, turn) {
            apply(task);
        }
    }

    /// The token counts of `role`'s answer to `turn` (if the turn is still known).
    pub fn note_tokens(&mut self, role: &Role, turn: Option<u64>, tokens: &Tokens) {
        let usage = self.roles.entry(role.clone()).or_default();
        usage.tally.tokens.add(tokens);
        if let Some(task) = self.task_of(role, turn) {
            task.tokens.add(tokens);
        }
    }

    /// The tally of the task `turn` worked on, if it worked on one.
    fn task_of(&mut self, role: &Role, turn: Option<u64>) -> Option<&mut Tally> {
        let task = *self.task_turns.get(&turn?)?;
        let usage = self.tasks.entry(task).or_insert_with(|| TaskUsage {
            role: role.clone(),
            tally: Tally::default(),
        });
        Some(&mut usage.tally)
    }

    /// Every role's and every task's totals, and the session's.
    pub fn summary(&self) -> UsageSummary {
        let mut total = Total::default();
        let roles = self
            .roles
            .iter()
            .map(|(role, usage)| {
                total.tokens.add(&usage.tally.tokens);
                total.cost.add_all(&usage.tally.cost);
                RoleLine {
                    role: role.clone(),
                    tally: usage.tally.clone(),
                }
            })
            .collect();
        let tasks = self
            .tasks
            .iter()
            .map(|(task, usage)| TaskLine {
                task: task.to_string(),
                role: usage.role.clone(),
                tally: usage.tally.clone(),
            })
            .collect();
        UsageSummary {
            roles,
            tasks,
            total,
        }
    }
}

/// The totals of a session, as `/usage` shows them and `_ourocodus/usage` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UsageSummary {
    pub roles: Vec<RoleLine>,
    pub tasks: Vec<TaskLine>,
    pub total: Total,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleLine {
    pub role: Role,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskLine {
    /// The task's id (`t1`, ...).
    pub task: String,
    /// The role whose turns worked on it.
    pub role: Role,
    #[serde(flatten)]
    pub tally: Tally,
}

/// Every role's tokens and cost added up (each currency apart).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Total {
    pub tokens: Tokens,
    pub cost: Costs,
}
