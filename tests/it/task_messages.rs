//! The tools that are not tasks: a role's message to another (delivered as a
//! prompt labelled with its sender, within limits) and its question to the user
//! (an elicitation form where the editor has one, `/answer` in the chat always).

use serde_json::{Value, json};

use crate::support::{Peer as _, Proxy, WAIT, bounded, fake_team, text_from};
use crate::task_flow::{no_requests, notice_titled, read_until, said};

#[tokio::test]
async fn a_role_messages_another_and_asks_the_user_who_answers_in_the_chat() {
    bounded(WAIT * 3, async {
        let mut proxy = Proxy::start(&fake_team(&["architect", "backend"])).await;
        let session = proxy.plain_session().await;
        let text = said(
            &mut proxy,
            &session,
            "architect",
            r#"mcp send_message {"role": "backend", "text": "say got it"}"#,
        )
        .await;
        assert!(text.contains(r#""delivery":"sent""#), "{text}");
        let got = |proxy: &Proxy| {
            let messages: Vec<Value> = proxy.transcript.iter().map(|(_, m)| m.clone()).collect();
            text_from(&messages, "backend").contains("got it")
        };
        if !got(&proxy) {
            read_until(&mut proxy, no_requests, |m| {
                text_from(std::slice::from_ref(m), "backend").contains("got it")
            })
            .await;
        }
        let refused = said(
            &mut proxy,
            &session,
            "architect",
            r#"mcp send_message {"role": "nobody", "text": "x"}"#,
        )
        .await;
        assert!(refused.contains("no role \"nobody\""), "{refused}");
        let flood = [r#"mcp send_message {"role": "backend", "text": "sleep 1s"}"#; 6].join("; ");
        let flooded = said(&mut proxy, &session, "architect", &flood).await;
        assert!(
            flooded.contains("has not yet read your last 4 messages"),
            "{flooded}"
        );

        let ask = proxy
            .prompt_id(
                &session,
                r#"@backend mcp ask_user {"question": "Which database?"}"#,
            )
            .await;
        read_until(&mut proxy, no_requests, |m| {
            notice_titled(m, "backend asks (q")
        })
        .await;
        let everything: String = proxy
            .transcript
            .iter()
            .map(|(_, m)| m.to_string())
            .collect();
        let number = everything
            .split("backend asks (")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .expect("the question's number")
            .to_string();
        let (answered, _) = proxy
            .prompt(&session, &format!("/answer {number} Postgres, please"))
            .await;
        assert!(
            answered
                .iter()
                .any(|m| m.to_string().contains(&format!("answered {number}")))
        );
        // The question's turn may have ended while `/answer` was read.
        let answered = |proxy: &Proxy| {
            proxy
                .transcript
                .iter()
                .any(|(_, m)| m["id"] == ask && m.get("method").is_none())
        };
        if !answered(&proxy) {
            proxy.until_response(ask, |_| None).await;
        }
        let messages: Vec<Value> = proxy.transcript.iter().map(|(_, m)| m.clone()).collect();
        let text = text_from(&messages, "backend");
        assert!(
            text.contains(r#"mcp ask_user: {"answer":"Postgres, please"}"#),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn ask_user_is_an_elicitation_form_for_an_editor_that_has_them_and_its_answer_is_the_result()
{
    bounded(WAIT * 2, async {
        let mut proxy = Proxy::start(&fake_team(&["architect"])).await;
        proxy
            .initialize(json!({ "elicitation": { "form": {} } }))
            .await;
        let session = proxy.new_session().await;
        let id = proxy
            .prompt_id(&session, r#"mcp ask_user {"question": "Which database?"}"#)
            .await;
        let (messages, _) = proxy
            .until_response(id, |request| {
                (request["method"] == "elicitation/create"
                    && request["params"]["message"] == "Which database?")
                    .then(|| json!({ "action": "accept", "content": { "answer": "SQLite" } }))
            })
            .await;
        let asked = messages
            .iter()
            .find(|m| m["method"] == "elicitation/create")
            .expect("asked in a form");
        assert_eq!(
            asked["params"]["requestedSchema"]["required"],
            json!(["answer"])
        );
        let text = text_from(&messages, "architect");
        assert!(
            text.contains(r#"mcp ask_user: {"answer":"SQLite"}"#),
            "{text}"
        );
    })
    .await;
}
