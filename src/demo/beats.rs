//! The scripted session, beat by beat: what each prompt shows and the prompt itself.
//! The fake agents read each prompt as a script (`ourocodus fake-agent --help`);
//! `NAME> step` runs a step only on the role of that name.

/// One prompt of the session and what it demonstrates.
#[derive(Debug)]
pub struct Beat {
    pub title: &'static str,
    /// One or two sentences on what to look for.
    pub explanation: &'static str,
    /// Sent as the prompt's text, exactly.
    pub prompt: &'static str,
    /// The stopReason the proxy must answer with; anything else fails the demo.
    pub expected_stop: &'static str,
    /// The editor sends `session/cancel` once the first text of the turn arrives.
    pub cancel_once_text_arrives: bool,
}

pub const BEATS: &[Beat] = &[
    Beat {
        title: "No @mention: the prompt goes to the route",
        explanation: "The team's `route` says who answers a prompt that names no role; here, architect.",
        prompt: "plan Read the order code | Design the /orders API | Split the work; \
                 say Plan ready: backend builds the endpoint, test covers it.",
        expected_stop: "end_turn",
        cancel_once_text_arrives: false,
    },
    Beat {
        title: "Two roles at once",
        explanation: "backend and test stream at the same time. test speaks while backend is \
                      mid-line, so the proxy holds test's line until backend ends its own: \
                      lines never mix, and every change of speaker is labelled.",
        prompt: "@backend @test backend> echo Adding the orders handler; backend> sleep 500ms; \
                 backend> echo , with input validation.\\n; \
                 test> sleep 150ms; test> echo Writing a failing test for /orders first.\\n; \
                 backend> sleep 400ms; backend> echo Documented it in docs/api.md.\\n; \
                 test> sleep 1200ms; test> echo The test passes against the new handler.\\n",
        expected_stop: "end_turn",
        cancel_once_text_arrives: false,
    },
    Beat {
        title: "A role asks permission",
        explanation: "backend wants to edit a file. The proxy relays the request with the role \
                      attached; the editor picks an option by its kind, never by position.",
        prompt: "@backend tool call read Reading src/orders.rs; \
                 tool call then ask permission edit Edit src/orders.rs; \
                 say Saved src/orders.rs.",
        expected_stop: "end_turn",
        cancel_once_text_arrives: false,
    },
    Beat {
        title: "Cancel mid-turn",
        explanation: "test starts a long run; the editor sends session/cancel and the prompt \
                      ends at once with stopReason `cancelled`.",
        prompt: "@test say Running the whole test suite, this takes a while...; \
                 sleep 30s; say All tests passed.",
        expected_stop: "cancelled",
        cancel_once_text_arrives: true,
    },
    Beat {
        title: "An @mention that names no role",
        explanation: "The proxy says so in the conversation, and the prompt goes to the route.",
        prompt: "@nobody please review the orders endpoint",
        expected_stop: "end_turn",
        cancel_once_text_arrives: false,
    },
];
