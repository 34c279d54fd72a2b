use super::show::amount_text;
use super::*;
use crate::jsonrpc::IndexedObject;

fn report(update: &str) -> UsageReport {
    let indexed = IndexedObject::new(update).unwrap();
    read_update(indexed.fields())
}

fn tokens(usage: &str) -> Option<Tokens> {
    let indexed = IndexedObject::new(usage).unwrap();
    read_tokens(indexed.fields())
}

fn usd(amount: f64) -> UsageReport {
    cost_report(amount, "USD")
}

fn cost_report(amount: f64, currency: &str) -> UsageReport {
    UsageReport {
        context: None,
        cost: Cost::new(amount, Currency::new(currency).unwrap()),
    }
}

fn costs(tally: &Tally) -> Vec<(String, f64)> {
    tally
        .cost
        .iter()
        .map(|c| (c.currency.as_str().to_string(), c.amount))
        .collect()
}

fn role_tally(usage: &SessionUsage, role: &str) -> Tally {
    let summary = usage.summary();
    let line = summary.roles.iter().find(|l| l.role.as_str() == role);
    line.map(|l| l.tally.clone()).unwrap_or_default()
}

fn task_id(text: &str) -> TaskId {
    text.parse().unwrap()
}

#[test]
fn a_usage_update_gives_its_context_window_and_its_cost() {
    let read = report(
        r#"{"sessionUpdate":"usage_update","used":53000,"size":200000,"cost":{"amount":0.25,"currency":"USD","_meta":{}}}"#,
    );
    assert_eq!(
        read.context,
        Some(ContextWindow {
            used: 53000,
            size: 200000
        })
    );
    assert_eq!(read.cost, Cost::new(0.25, Currency::new("USD").unwrap()));
    let bare = report(r#"{"sessionUpdate":"usage_update","used":1,"size":2,"cost":null}"#);
    assert_eq!(bare.cost, None);
}

#[test]
fn hostile_usage_values_are_left_out_never_guessed_at() {
    let cases = [
        r#"{"used":-1,"size":10}"#,
        r#"{"used":1.5,"size":10}"#,
        r#"{"used":"5","size":10}"#,
        r#"{"used":1e3,"size":10}"#,
        r#"{"used":18446744073709551616,"size":10}"#,
        r#"{"used":null,"size":10}"#,
        r#"{"size":10}"#,
    ];
    for case in cases {
        assert_eq!(report(case).context, None, "{case}");
    }
    let costs = [
        r#"{"cost":{"amount":-0.5,"currency":"USD"}}"#,
        r#"{"cost":{"amount":1e400,"currency":"USD"}}"#,
        r#"{"cost":{"amount":"1","currency":"USD"}}"#,
        r#"{"cost":{"amount":1,"currency":"US D"}}"#,
        r#"{"cost":{"amount":1,"currency":"USD | x"}}"#,
        r#"{"cost":{"amount":1,"currency":""}}"#,
        r#"{"cost":{"amount":1,"currency":"AAAAAAAAAAAAAAAAA"}}"#,
        r#"{"cost":{"amount":1,"currency":7}}"#,
        r#"{"cost":{"amount":1}}"#,
        r#"{"cost":[1,"USD"]}"#,
        r#"{"cost":"1 USD"}"#,
    ];
    for case in costs {
        assert_eq!(report(case).cost, None, "{case}");
    }
    let max = report(r#"{"used":18446744073709551615,"size":0}"#);
    assert_eq!(max.context.map(|c| c.used), Some(u64::MAX));
}

#[test]
fn a_prompt_answers_token_counts_are_read_and_a_missing_total_is_their_sum() {
    let read = tokens(
        r#"{"totalTokens":70,"inputTokens":40,"outputTokens":20,"thoughtTokens":5,"cachedReadTokens":3,"cachedWriteTokens":2}"#,
    );
    assert_eq!(
        read,
        Some(Tokens {
            total_tokens: 70,
            input_tokens: 40,
            output_tokens: 20,
            thought_tokens: 5,
            cached_read_tokens: 3,
            cached_write_tokens: 2,
        })
    );
    let summed = tokens(r#"{"inputTokens":40,"outputTokens":20,"thoughtTokens":null}"#).unwrap();
    assert_eq!((summed.total_tokens, summed.thought_tokens), (60, 0));
    assert_eq!(tokens(r#"{"inputTokens":-4,"outputTokens":"x"}"#), None);
    assert_eq!(tokens("{}"), None);
    let huge = tokens(r#"{"inputTokens":18446744073709551615,"outputTokens":9}"#).unwrap();
    assert_eq!(huge.total_tokens, u64::MAX, "the sum saturates");
}

#[test]
fn tokens_add_up_per_role_and_saturate_instead_of_wrapping() {
    let mut usage = SessionUsage::default();
    let alpha = Role::new("alpha");
    let some = Tokens {
        total_tokens: 30,
        input_tokens: 20,
        output_tokens: 10,
        ..Tokens::default()
    };
    usage.note_tokens(&alpha, Some(1), &some);
    usage.note_tokens(&alpha, Some(2), &some);
    usage.note_tokens(&Role::new("beta"), None, &some);
    assert_eq!(role_tally(&usage, "alpha").tokens.total_tokens, 60);
    assert_eq!(role_tally(&usage, "alpha").tokens.input_tokens, 40);
    assert_eq!(usage.summary().total.tokens.total_tokens, 90);
    let huge = Tokens {
        total_tokens: u64::MAX,
        ..Tokens::default()
    };
    usage.note_tokens(&alpha, None, &huge);
    usage.note_tokens(&alpha, None, &huge);
    assert_eq!(role_tally(&usage, "alpha").tokens.total_tokens, u64::MAX);
    assert_eq!(usage.summary().total.tokens.total_tokens, u64::MAX);
}

#[test]
fn a_cumulative_cost_counts_for_what_it_adds_and_a_lower_one_starts_afresh() {
    let mut usage = SessionUsage::default();
    let alpha = Role::new("alpha");
    for amount in [0.5, 1.25, 1.25] {
        usage.note_report(&alpha, None, &usd(amount));
    }
    assert_eq!(costs(&role_tally(&usage, "alpha")), [("USD".into(), 1.25)]);
    // A fresh agent session reports from zero again: all of it is new.
    usage.note_report(&alpha, None, &usd(0.5));
    assert_eq!(costs(&role_tally(&usage, "alpha")), [("USD".into(), 1.75)]);
}

#[test]
fn costs_in_different_currencies_are_never_added_together() {
    let mut usage = SessionUsage::default();
    let (alpha, beta) = (Role::new("alpha"), Role::new("beta"));
    usage.note_report(&alpha, None, &usd(0.5));
    usage.note_report(&alpha, None, &cost_report(2.0, "EUR"));
    usage.note_report(&beta, None, &usd(0.25));
    usage.note_report(&beta, None, &cost_report(10.0, "credits"));
    assert_eq!(
        costs(&role_tally(&usage, "alpha")),
        [("EUR".into(), 2.0), ("USD".into(), 0.5)]
    );
    let total: Vec<(String, f64)> = usage
        .summary()
        .total
        .cost
        .iter()
        .map(|c| (c.currency.as_str().to_string(), c.amount))
        .collect();
    assert_eq!(
        total,
        [
            ("EUR".into(), 2.0),
            ("USD".into(), 0.75),
            ("credits".into(), 10.0)
        ]
    );
}

#[test]
fn huge_costs_saturate_and_invented_currencies_stop_being_followed() {
    let mut usage = SessionUsage::default();
    let alpha = Role::new("alpha");
    for amount in [f64::MAX, 0.0, f64::MAX] {
        usage.note_report(&alpha, None, &usd(amount));
    }
    assert_eq!(
        costs(&role_tally(&usage, "alpha")),
        [("USD".into(), f64::MAX)]
    );
    for n in 0..20 {
        usage.note_report(&alpha, None, &cost_report(1.0, &format!("C{n:02}")));
    }
    assert_eq!(
        role_tally(&usage, "alpha").cost.iter().count(),
        MAX_CURRENCIES
    );
    assert!(
        usage
            .summary()
            .total
            .cost
            .iter()
            .all(|c| c.amount.is_finite())
    );
}

#[test]
fn what_a_task_turn_reports_counts_for_its_task_and_its_role() {
    let mut usage = SessionUsage::default();
    let backend = Role::new("backend");
    usage.note_task_turn(4, task_id("t2"));
    usage.note_report(&backend, Some(3), &usd(0.5));
    let window = UsageReport {
        context: Some(ContextWindow {
            used: 10,
            size: 100,
        }),
        cost: Cost::new(0.75, Currency::new("USD").unwrap()),
    };
    usage.note_report(&backend, Some(4), &window);
    let counted = Tokens {
        total_tokens: 7,
        ..Tokens::default()
    };
    usage.note_tokens(&backend, Some(4), &counted);
    usage.note_tokens(&backend, Some(5), &counted);
    let summary = usage.summary();
    assert_eq!(summary.tasks.len(), 1);
    let task = &summary.tasks[0];
    assert_eq!((task.task.as_str(), task.role.as_str()), ("t2", "backend"));
    assert_eq!(task.tally.tokens.total_tokens, 7);
    assert_eq!(
        costs(&task.tally),
        [("USD".into(), 0.25)],
        "only what t2 added"
    );
    assert_eq!(task.tally.context, window.context);
    assert_eq!(role_tally(&usage, "backend").tokens.total_tokens, 14);
}

#[test]
fn the_summary_serialises_as_the_extension_documents_it() {
    let mut usage = SessionUsage::default();
    usage.note_task_turn(1, task_id("t1"));
    let report = UsageReport {
        context: Some(ContextWindow { used: 5, size: 50 }),
        cost: Cost::new(0.5, Currency::new("USD").unwrap()),
    };
    usage.note_report(&Role::new("a"), Some(1), &report);
    let json = serde_json::to_value(usage.summary()).unwrap();
    let tokens = serde_json::json!({"totalTokens": 0, "inputTokens": 0, "outputTokens": 0,
        "thoughtTokens": 0, "cachedReadTokens": 0, "cachedWriteTokens": 0});
    let cost = serde_json::json!([{"amount": 0.5, "currency": "USD"}]);
    let context = serde_json::json!({"used": 5, "size": 50});
    assert_eq!(
        json,
        serde_json::json!({
            "roles": [{"role": "a", "tokens": tokens, "context": context, "cost": cost}],
            "tasks": [{"task": "t1", "role": "a", "tokens": tokens, "context": context, "cost": cost}],
            "total": {"tokens": tokens, "cost": cost},
        })
    );
}

#[test]
fn the_chat_shows_a_table_per_role_with_the_total_and_one_per_task() {
    let mut usage = SessionUsage::default();
    assert!(describe(&usage.summary()).starts_with("No usage reported yet"));
    usage.note_task_turn(2, task_id("t1"));
    let report = UsageReport {
        context: Some(ContextWindow {
            used: 50,
            size: 200,
        }),
        cost: Cost::new(0.25, Currency::new("USD").unwrap()),
    };
    usage.note_report(&Role::new("backend"), Some(2), &report);
    usage.note_report(&Role::new("test"), None, &cost_report(2.0, "EUR"));
    let text = describe(&usage.summary());
    assert!(
        text.contains("| backend | 0 | 0 | 0 | 0 | 0 | 0 | 50 / 200 (25%) | 0.25 USD |"),
        "{text}"
    );
    assert!(
        text.contains("| test | 0 | 0 | 0 | 0 | 0 | 0 | – | 2.00 EUR |"),
        "{text}"
    );
    assert!(
        text.contains("| **total** | 0 | 0 | 0 | 0 | 0 | 0 | | 2.00 EUR, 0.25 USD |"),
        "{text}"
    );
    assert!(
        text.contains("| t1 | backend | 0 | 0 | 0 | 0 | 0 | 0 | 50 / 200 (25%) | 0.25 USD |"),
        "{text}"
    );
}

#[test]
fn amounts_show_two_to_four_decimals_and_huge_ones_in_scientific_notation() {
    assert_eq!(amount_text(0.25), "0.25");
    assert_eq!(amount_text(1.0), "1.00");
    assert_eq!(amount_text(0.0125), "0.0125");
    assert_eq!(amount_text(0.00001), "0.00");
    assert_eq!(amount_text(f64::MAX), "1.798e308");
}
