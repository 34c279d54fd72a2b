//! A session's usage as text for the chat (`/usage`): a markdown table per role with
//! the session's total, then one per task. Knows the summary; nothing of who shows it.

use super::{ContextWindow, Costs, Tally, Tokens, UsageSummary};

const COLUMNS: &str =
    "tokens | input | output | thought | cache read | cache write | context | cost |";

/// The summary as markdown.
pub fn describe(summary: &UsageSummary) -> String {
    if summary.roles.is_empty() {
        return "No usage reported yet: agents report it with `usage_update` and in their prompt answers.\n".into();
    }
    let mut text = String::from("Usage in this session, per role:\n\n");
    text.push_str(&format!("| role | {COLUMNS}\n"));
    text.push_str(&format!("|---|{}\n", "---|".repeat(8)));
    for line in &summary.roles {
        text.push_str(&format!("| {} | {}\n", line.role, tally_cells(&line.tally)));
    }
    let total = &summary.total;
    text.push_str(&format!(
        "| **total** | {} | | {} |\n",
        token_cells(&total.tokens),
        cost_text(&total.cost)
    ));
    if !summary.tasks.is_empty() {
        text.push_str("\nPer task:\n\n");
        text.push_str(&format!("| task | role | {COLUMNS}\n"));
        text.push_str(&format!("|---|---|{}\n", "---|".repeat(8)));
        for line in &summary.tasks {
            let cells = tally_cells(&line.tally);
            text.push_str(&format!("| {} | {} | {cells}\n", line.task, line.role));
        }
    }
    text
}

/// A tally's cells, each ended by ` |`.
fn tally_cells(tally: &Tally) -> String {
    format!(
        "{} | {} | {} |",
        token_cells(&tally.tokens),
        context_text(tally.context),
        cost_text(&tally.cost)
    )
}

fn token_cells(tokens: &Tokens) -> String {
    [
        tokens.total_tokens,
        tokens.input_tokens,
        tokens.output_tokens,
        tokens.thought_tokens,
        tokens.cached_read_tokens,
        tokens.cached_write_tokens,
    ]
    .map(|n| n.to_string())
    .join(" | ")
}

fn context_text(context: Option<ContextWindow>) -> String {
    let Some(ContextWindow { used, size }) = context else {
        return "–".into();
    };
    if size == 0 {
        return format!("{used} / {size}");
    }
    let percent = u128::from(used) * 100 / u128::from(size);
    format!("{used} / {size} ({percent}%)")
}

fn cost_text(costs: &Costs) -> String {
    if costs.is_empty() {
        return "–".into();
    }
    let amounts: Vec<String> = costs
        .iter()
        .map(|c| format!("{} {}", amount_text(c.amount), c.currency.as_str()))
        .collect();
    amounts.join(", ")
}

/// At least two decimals and at most four (`0.25`, `1.00`, `0.0125`); huge amounts in
/// scientific notation.
pub(super) fn amount_text(amount: f64) -> String {
    if amount >= 1e12 {
        return format!("{amount:.3e}");
    }
    let mut text = format!("{amount:.4}");
    while text.ends_with('0') && text.len() - text.find('.').unwrap_or(0) > 3 {
        text.pop();
    }
    text
}
