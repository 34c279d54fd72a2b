//! Reads what an agent says about its usage from the raw field text it was indexed
//! with: a `usage_update`'s `used`, `size` and `cost`, and a prompt answer's `usage`.
//! Agents are not trusted: a count that is not a whole number from 0 to 2^64-1, or a
//! cost that is not a finite amount of at least 0 in a plain currency code, is left
//! out, never guessed at. Knows nothing of where the fields came from.

use super::{ContextWindow, Cost, Currency, Tokens, UsageReport};
use crate::jsonrpc::{IndexedObject, ObjectFields};

/// What a `usage_update` (its `update` object's fields) says that can be read.
pub fn read_update(update: ObjectFields<'_>) -> UsageReport {
    let count_of = |key: &str| update.get(key).and_then(|f| count(f.value()));
    let context = match (count_of("used"), count_of("size")) {
        (Some(used), Some(size)) => Some(ContextWindow { used, size }),
        _ => None,
    };
    let cost = update.get("cost").and_then(|f| cost(f.value()));
    UsageReport { context, cost }
}

/// The token counts of a prompt answer's `usage` object; `None` when not one of them
/// can be read. A missing `totalTokens` is the sum of the others.
pub fn read_tokens(usage: ObjectFields<'_>) -> Option<Tokens> {
    let count_of = |key: &str| usage.get(key).and_then(|f| count(f.value()));
    let parts = [
        count_of("inputTokens"),
        count_of("outputTokens"),
        count_of("thoughtTokens"),
        count_of("cachedReadTokens"),
        count_of("cachedWriteTokens"),
    ];
    let total = count_of("totalTokens");
    if total.is_none() && parts.iter().all(Option::is_none) {
        return None;
    }
    let [input, output, thought, cached_read, cached_write] = parts.map(Option::unwrap_or_default);
    let sum = [output, thought, cached_read, cached_write]
        .into_iter()
        .fold(input, u64::saturating_add);
    Some(Tokens {
        total_tokens: total.unwrap_or(sum),
        input_tokens: input,
        output_tokens: output,
        thought_tokens: thought,
        cached_read_tokens: cached_read,
        cached_write_tokens: cached_write,
    })
}

/// A JSON integer from 0 to `u64::MAX`, as raw text: no sign, fraction or exponent.
fn count(raw: &str) -> Option<u64> {
    let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| raw.parse().ok()).flatten()
}

/// A `Cost` object as raw text: `{ amount, currency }`, other fields ignored.
fn cost(raw: &str) -> Option<Cost> {
    let indexed = IndexedObject::new(raw)?;
    let fields = indexed.fields();
    let amount = amount(fields.get("amount")?.value())?;
    let currency = Currency::new(&fields.get_str("currency")?)?;
    Cost::new(amount, currency)
}

/// A JSON number as raw text (anything else is `None`; so is a number too large for
/// a double).
fn amount(raw: &str) -> Option<f64> {
    let number = raw.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    number.then(|| raw.parse().ok()).flatten()
}
