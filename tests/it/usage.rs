//! What the roles spent: each role's `usage_update`s and the token counts of its prompt
//! answers, totalled per role and per task, said by `/usage` and answered by
//! `_ourocodus/usage` — hostile values kept out, currencies kept apart, and the totals
//! back after the session is loaded in a new proxy.

use serde_json::{Value, json};

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team, text_from};

/// A `usage_update` step for the fake agent.
fn report(used: u64, size: u64, amount: f64, currency: &str) -> String {
    let cost = json!({ "amount": amount, "currency": currency });
    let update =
        json!({ "sessionUpdate": "usage_update", "used": used, "size": size, "cost": cost });
    format!("update {update}")
}

/// A step that makes the prompt's answer carry these token counts.
fn answer_tokens(input: u64, output: u64) -> String {
    let usage =
        json!({ "totalTokens": input + output, "inputTokens": input, "outputTokens": output });
    format!("usage {usage}")
}

fn tokens(input: u64, output: u64) -> Value {
    json!({ "totalTokens": input + output, "inputTokens": input, "outputTokens": output,
        "thoughtTokens": 0, "cachedReadTokens": 0, "cachedWriteTokens": 0 })
}

/// `_ourocodus/usage` of `session`: its result.
async fn usage_of(proxy: &mut Proxy, session: &str) -> Value {
    let params = json!({ "sessionId": session });
    let id = proxy.request("_ourocodus/usage", params).await;
    let (_, answer) = proxy.until_response(id, |_| None).await;
    assert!(answer.get("result").is_some(), "{answer}");
    answer["result"].clone()
}

/// `_ourocodus/usage` of `session` once `ready` holds of it, or as it is after `WAIT`.
async fn usage_once(proxy: &mut Proxy, session: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let usage = usage_of(proxy, session).await;
        if ready(&usage) || tokio::time::Instant::now() > deadline {
            return usage;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// What `/usage` says in the chat.
async fn usage_said(proxy: &mut Proxy, session: &str) -> String {
    let (messages, answer) = proxy.prompt(session, "/usage").await;
    assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
    text_from(&messages, "ourocodus")
}

fn line_of<'a>(usage: &'a Value, list: &str, key: &str, name: &str) -> &'a Value {
    usage[list]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l[key] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}: {usage}"))
}

#[tokio::test]
async fn two_roles_report_usage_and_both_the_chat_and_the_extension_show_each_roles_totals() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let script = format!(
            "@alpha @beta alpha> {}; alpha> {}; beta> {}; beta> {}",
            report(100, 1000, 0.5, "USD"),
            answer_tokens(20, 10),
            report(300, 2000, 0.25, "USD"),
            answer_tokens(50, 20),
        );
        proxy.prompt(&session, &script).await;

        let usage = usage_of(&mut proxy, &session).await;
        let alpha = line_of(&usage, "roles", "role", "alpha");
        assert_eq!(alpha["tokens"], tokens(20, 10));
        assert_eq!(alpha["context"], json!({ "used": 100, "size": 1000 }));
        assert_eq!(alpha["cost"], json!([{ "amount": 0.5, "currency": "USD" }]));
        let beta = line_of(&usage, "roles", "role", "beta");
        assert_eq!(beta["tokens"], tokens(50, 20));
        assert_eq!(usage["total"]["tokens"]["totalTokens"], 100);
        assert_eq!(
            usage["total"]["cost"],
            json!([{ "amount": 0.75, "currency": "USD" }])
        );
        assert_eq!(usage["tasks"], json!([]), "no task was worked on");

        let said = usage_said(&mut proxy, &session).await;
        assert!(
            said.contains("| alpha | 30 | 20 | 10 | 0 | 0 | 0 | 100 / 1000 (10%) | 0.50 USD |"),
            "{said}"
        );
        assert!(
            said.contains("| beta | 70 | 50 | 20 | 0 | 0 | 0 | 300 / 2000 (15%) | 0.25 USD |"),
            "{said}"
        );
        assert!(
            said.contains("| **total** | 100 | 70 | 30 | 0 | 0 | 0 | | 0.75 USD |"),
            "{said}"
        );

        let id = proxy
            .request("_ourocodus/usage", json!({ "sessionId": "ouro-nope" }))
            .await;
        let (_, unknown) = proxy.until_response(id, |_| None).await;
        assert_eq!(unknown["error"]["code"], -32002, "{unknown}");
    })
    .await;
}

#[tokio::test]
async fn costs_in_different_currencies_are_kept_apart_and_a_cumulative_cost_is_not_counted_twice() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha", "beta"])).await;
        let session = proxy.plain_session().await;
        let script = format!(
            "@alpha @beta alpha> {}; alpha> {}; beta> {}; beta> {}",
            report(10, 100, 0.5, "USD"),
            report(20, 100, 1.25, "USD"),
            report(10, 100, 2.0, "EUR"),
            report(10, 100, 10.0, "credits"),
        );
        proxy.prompt(&session, &script).await;

        let usage = usage_of(&mut proxy, &session).await;
        let alpha = line_of(&usage, "roles", "role", "alpha");
        assert_eq!(alpha["cost"], json!([{ "amount": 1.25, "currency": "USD" }]), "the session's cost so far, once");
        let beta = line_of(&usage, "roles", "role", "beta");
        assert_eq!(beta["cost"], json!([{ "amount": 2.0, "currency": "EUR" }, { "amount": 10.0, "currency": "credits" }]));
        assert_eq!(
            usage["total"]["cost"],
            json!([{ "amount": 2.0, "currency": "EUR" }, { "amount": 1.25, "currency": "USD" }, { "amount": 10.0, "currency": "credits" }])
        );
        let said = usage_said(&mut proxy, &session).await;
        assert!(said.contains("| 2.00 EUR, 1.25 USD, 10.00 credits |"), "{said}");
    })
    .await;
}

#[tokio::test]
async fn hostile_usage_values_neither_stop_the_proxy_nor_corrupt_the_totals() {
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["alpha"])).await;
        let session = proxy.plain_session().await;
        let hostile_tokens = r#"usage {"totalTokens":18446744073709551615,"inputTokens":-5,"outputTokens":"many","thoughtTokens":1.5}"#;
        let mut steps = vec![
            report(u64::MAX, 0, -3.0, "USD"),
            report(1, 2, 1e308, "USD"),
            report(1, 2, 0.0, "USD"),
            report(1, 2, 1e308, "USD"),
            report(1, 2, 5.0, "USD | **forged**"),
            hostile_tokens.to_string(),
        ];
        steps.extend((0..12).map(|n| report(1, 2, 1.0, &format!("C{n:02}"))));
        proxy.prompt(&session, &steps.join("; ")).await;
        proxy.prompt(&session, hostile_tokens).await;
        proxy.prompt(&session, r#"usage "lots""#).await;

        let usage = usage_of(&mut proxy, &session).await;
        let alpha = line_of(&usage, "roles", "role", "alpha");
        let most = json!({ "totalTokens": u64::MAX, "inputTokens": 0, "outputTokens": 0,
            "thoughtTokens": 0, "cachedReadTokens": 0, "cachedWriteTokens": 0 });
        assert_eq!(alpha["tokens"], most, "saturated, and the unreadable counts left out");
        assert_eq!(alpha["context"], json!({ "used": 1, "size": 2 }));
        let costs = alpha["cost"].as_array().unwrap();
        assert_eq!(costs.len(), 8, "eight currencies followed, no more: {costs:?}");
        let usd = costs.iter().find(|c| c["currency"] == "USD").unwrap();
        assert_eq!(usd["amount"].as_f64(), Some(f64::MAX), "saturated, never infinite");
        assert!(!alpha.to_string().contains("forged"));

        let said = usage_said(&mut proxy, &session).await;
        assert!(said.contains("1.798e308 USD"), "{said}");
        let (messages, _) = proxy.prompt(&session, "say still here").await;
        assert_eq!(text_from(&messages, "alpha"), "still here");
    })
    .await;
}

#[tokio::test]
async fn the_totals_come_back_when_a_new_proxy_loads_the_session_and_go_on_from_there() {
    bounded(WAIT * 3, async {
        let team = fake_team(&["alpha", "beta"]);
        let mut first = Proxy::start(&team).await;
        let session = first.plain_session().await;
        let script = format!(
            "@alpha @beta alpha> {}; alpha> {}; beta> {}",
            report(100, 1000, 0.5, "USD"),
            answer_tokens(20, 10),
            answer_tokens(5, 5),
        );
        first.prompt(&session, &script).await;
        let before = usage_of(&mut first, &session).await;
        let dir = first.kill9().await;

        let mut second = Proxy::start_in(dir, &team, &[]).await;
        second
            .initialize(json!({ "fs": { "readTextFile": false, "writeTextFile": false } }))
            .await;
        let cwd = second.cwd().to_string_lossy().to_string();
        let params = json!({ "sessionId": session, "cwd": cwd, "mcpServers": [] });
        let id = second.request("session/load", params).await;
        let (_, loaded) = second.until_response(id, |_| None).await;
        assert!(loaded.get("result").is_some(), "{loaded}");
        assert_eq!(usage_of(&mut second, &session).await, before);

        // alpha's agent is a new one: its session's cost starts from nothing again.
        let more = format!(
            "@alpha {}; {}",
            report(50, 1000, 0.25, "USD"),
            answer_tokens(1, 1)
        );
        second.prompt(&session, &more).await;
        let after = usage_of(&mut second, &session).await;
        let alpha = line_of(&after, "roles", "role", "alpha");
        assert_eq!(alpha["tokens"], tokens(21, 11));
        assert_eq!(
            alpha["cost"],
            json!([{ "amount": 0.75, "currency": "USD" }])
        );
    })
    .await;
}

#[tokio::test]
async fn what_a_role_reports_while_working_on_a_delegated_task_counts_under_that_task() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        // The task's description is the backend's script.
        let script = format!(
            r#"{}; {}; mcp complete_task {{"id": "t1", "summary": "metered"}}"#,
            report(10, 100, 0.5, "USD"),
            answer_tokens(20, 10),
        );
        let delegate = json!({ "role": "backend", "title": "metered work", "description": script });
        let delegate = delegate.to_string().replace(';', "\\;");
        proxy
            .prompt(&session, &format!("@architect mcp delegate {delegate}"))
            .await;

        // The task's turn runs and ends on its own: asked until its answer is in.
        let answered = |usage: &Value| usage["tasks"][0]["tokens"]["totalTokens"] == 30;
        let usage = usage_once(&mut proxy, &session, answered).await;
        let task = line_of(&usage, "tasks", "task", "t1");
        assert_eq!(task["role"], "backend");
        assert_eq!(task["tokens"], tokens(20, 10));
        assert_eq!(task["context"], json!({ "used": 10, "size": 100 }));
        assert_eq!(task["cost"], json!([{ "amount": 0.5, "currency": "USD" }]));
        assert_eq!(
            line_of(&usage, "roles", "role", "backend")["tokens"],
            tokens(20, 10)
        );
        let said = usage_said(&mut proxy, &session).await;
        assert!(said.contains("| t1 | backend | 30 | 20 | 10 |"), "{said}");
    })
    .await;
}
