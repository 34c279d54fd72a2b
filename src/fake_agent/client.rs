//! Requests the fake agent sends to its client (permission, files, terminals,
//! elicitation): ids, the table of calls awaiting an answer, and matching answers
//! to them. Knows nothing of what the calls mean.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use serde_json::Value;
use tokio::sync::oneshot;

use crate::jsonrpc::{self, ErrorObject, RequestId, codes};

/// The client's answer: its `result`, or its `error` object.
pub type Answer = Result<Value, ErrorObject>;

/// Calls awaiting an answer. A std `Mutex` because it is held only to insert or
/// remove one entry; turns and the main loop both touch it, never across `.await`.
#[derive(Default)]
pub struct ClientCalls {
    next_id: AtomicI64,
    pending: Mutex<HashMap<i64, oneshot::Sender<Answer>>>,
    /// Set when no answer can arrive any more (stdin ended).
    closed: AtomicBool,
}

/// One call in flight. Dropping it (say, when the turn is cancelled) forgets the
/// call, so a late answer is only logged.
pub struct PendingCall<'a> {
    id: i64,
    answer: oneshot::Receiver<Answer>,
    calls: &'a ClientCalls,
}

impl ClientCalls {
    /// Registers a call; returns the request line to send and the pending call.
    pub fn start(&self, method: &str, params: &Value) -> (Vec<u8>, PendingCall<'_>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if !self.closed.load(Ordering::Relaxed) {
            self.table().insert(id, tx);
        }
        let line = jsonrpc::request(&RequestId::number(id), method, Some(&params.to_string()));
        (
            line,
            PendingCall {
                id,
                answer: rx,
                calls: self,
            },
        )
    }

    /// Hands a response to the call it answers; false if no call has that id.
    pub fn resolve(&self, id: &RequestId, outcome: Result<&str, &str>) -> bool {
        let waiter = id.as_number().and_then(|n| self.table().remove(&n));
        match waiter {
            Some(tx) => {
                let _ = tx.send(parse_answer(outcome));
                true
            }
            None => false,
        }
    }

    /// Fails every call in flight and every later one: their answers can never come.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.table().clear();
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<i64, oneshot::Sender<Answer>>> {
        // Entries are inserted or removed whole; a poisoned table is still consistent.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PendingCall<'_> {
    /// Waits for the client's answer.
    pub async fn answer(&mut self) -> Answer {
        (&mut self.answer).await.unwrap_or_else(|_| {
            Err(ErrorObject {
                code: codes::INTERNAL_ERROR,
                message: "the client is gone (stdin closed)".into(),
                data: None,
            })
        })
    }
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        self.calls.table().remove(&self.id);
    }
}

fn parse_answer(outcome: Result<&str, &str>) -> Answer {
    match outcome {
        Ok(result) => serde_json::from_str(result).map_err(|e| malformed("result", e)),
        Err(error) => Err(serde_json::from_str(error).unwrap_or_else(|e| malformed("error", e))),
    }
}

fn malformed(part: &str, e: serde_json::Error) -> ErrorObject {
    ErrorObject {
        code: codes::INTERNAL_ERROR,
        message: format!("malformed {part} from the client: {e}"),
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::Message;

    #[tokio::test]
    async fn an_answer_reaches_the_call_with_its_id() {
        let calls = ClientCalls::default();
        let (line, mut pending) =
            calls.start("fs/read_text_file", &serde_json::json!({"path": "/a"}));
        let sent = Message::parse(String::from_utf8(line).unwrap().trim_end()).unwrap();
        assert_eq!(sent.method(), Some("fs/read_text_file"));
        assert!(calls.resolve(sent.id().unwrap(), Ok(r#"{"content":"hi"}"#)));
        assert_eq!(pending.answer().await.unwrap()["content"], "hi");
    }

    #[tokio::test]
    async fn error_answers_keep_code_and_message() {
        let calls = ClientCalls::default();
        let (_, mut pending) = calls.start("x", &Value::Null);
        assert!(calls.resolve(
            &RequestId::number(0),
            Err(r#"{"code":-32002,"message":"nope"}"#)
        ));
        let e = pending.answer().await.unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (-32002, "nope"));
    }

    #[tokio::test]
    async fn closing_fails_calls_in_flight_and_later_calls() {
        let calls = ClientCalls::default();
        let (_, mut before) = calls.start("x", &Value::Null);
        calls.close();
        let (_, mut after) = calls.start("x", &Value::Null);
        assert!(
            before
                .answer()
                .await
                .unwrap_err()
                .message
                .contains("stdin closed")
        );
        assert!(
            after
                .answer()
                .await
                .unwrap_err()
                .message
                .contains("stdin closed")
        );
    }

    #[test]
    fn answers_to_unknown_or_forgotten_calls_are_refused() {
        let calls = ClientCalls::default();
        assert!(!calls.resolve(&RequestId::number(0), Ok("{}")));
        assert!(!calls.resolve(&RequestId::string("0"), Ok("{}")));
        let (_, pending) = calls.start("x", &Value::Null);
        drop(pending);
        assert!(!calls.resolve(&RequestId::number(0), Ok("{}")));
    }
}
