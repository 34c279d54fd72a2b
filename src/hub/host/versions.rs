//! Which AHP protocol version introduced each action type the hub could send, and
//! the version type that says it: three numbers, ordered, parsed from what
//! `initialize` agreed. Owns the rule "an action older clients do not know is held
//! back from them"; knows nothing of clients, channels or the actions' contents.
//! The table is the AHP project's registry as of 1.0.0; a type it does not know
//! counts as the hub's own version, the newest it speaks.

use std::fmt;

/// An AHP protocol version: `MAJOR.MINOR.PATCH`, compared number by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// The hub's own version (`ahp_types::PROTOCOL_VERSION`): what it assumes of a
    /// client that never said, and what an action type it does not know needs.
    pub const HUB: Version = Version::new(1, 0, 0);

    /// The dialect VS Code's current builds speak; a `reconnect` without a
    /// `channel` as a first message is taken for it.
    pub const VS_CODE_DIALECT: Version = Version::new(0, 9, 0);

    /// The oldest version: what every client knows.
    const FIRST: Version = Version::new(0, 1, 0);

    /// Parses `MAJOR.MINOR.PATCH` as negotiation accepts it: three decimal numbers,
    /// no leading zeros, nothing else.
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.').map(number);
        let version = Version::new(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(version)
    }

    /// Whether a client of this version knows what `introduced` brought.
    pub fn knows(self, introduced: Version) -> bool {
        self >= introduced
    }
}

fn number(part: &str) -> Option<u64> {
    let digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = part.len() > 1 && part.starts_with('0');
    if !digits || leading_zero {
        return None;
    }
    part.parse().ok()
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The protocol version that introduced this action type (its wire `type`); an
/// unknown type counts as the hub's own version, so no older client gets it.
///
/// Where the registry only says "0.1.0 to 0.3.0", 0.3.0 is given: a type is held
/// back from too many clients rather than sent to one that cannot read it.
pub fn introduced_in(action_type: &str) -> Version {
    match action_type {
        "chat/canvasesChanged" | "canvas/stateChanged" => Version::new(0, 10, 0),
        "session/chatsReordered"
        | "session/mcpServerBackgroundRequested"
        | "chat/turnResume"
        | "chat/backgroundWorkSet"
        | "chat/backgroundWorkRemoved"
        | "chat/movableChanged"
        | "chat/changesetsChanged"
        | "chat/isReadChanged"
        | "chat/isArchivedChanged" => Version::new(0, 9, 0),
        "session/workingDirectoryReplaced" => Version::new(0, 8, 0),
        automation if is_automation(automation) => Version::new(0, 8, 0),
        "session/workingDirectorySet"
        | "session/workingDirectoryRemoved"
        | "chat/workingDirectorySet"
        | "chat/workingDirectoryRemoved" => Version::new(0, 7, 0),
        "chat/toolCallAuthRequired"
        | "chat/toolCallAuthResolved"
        | "changeset/filesReviewChanged" => Version::new(0, 6, 0),
        "session/mcpServerStartRequested" | "session/mcpServerStopRequested" => {
            Version::new(0, 5, 2)
        }
        "session/inputNeededSet" | "session/inputNeededRemoved" | "chat/turnsLoaded" => {
            Version::new(0, 5, 1)
        }
        "session/activeClientSet"
        | "session/activeClientRemoved"
        | "chat/activityChanged"
        | "chat/draftChanged" => Version::new(0, 5, 0),
        chat if CHATS.contains(&chat) => Version::new(0, 4, 0),
        early if EARLY.contains(&early) => Version::new(0, 3, 0),
        _ => Version::HUB,
    }
}

/// The automation actions. `automationRun/*` is put with `automation/*` (the
/// runs came with automations); the registry names only the latter.
fn is_automation(action_type: &str) -> bool {
    const AUTOMATIONS: &[&str] = &[
        "automation/createRequested",
        "automation/updateRequested",
        "automation/set",
        "automation/removed",
        "automationRun/lifecycleChanged",
        "automationRun/sessionSet",
        "automationRun/sessionRemoved",
        "automationRun/primarySessionChanged",
        "automationRun/cancelRequested",
    ];
    AUTOMATIONS.contains(&action_type)
}

/// Introduced with chats (0.4.0): the session's chat list and the chat actions not
/// named above.
const CHATS: &[&str] = &[
    "session/chatAdded",
    "session/chatRemoved",
    "session/chatUpdated",
    "session/defaultChatChanged",
    "chat/turnStarted",
    "chat/delta",
    "chat/responsePart",
    "chat/toolCallStart",
    "chat/toolCallDelta",
    "chat/toolCallReady",
    "chat/toolCallConfirmed",
    "chat/toolCallComplete",
    "chat/toolCallResultConfirmed",
    "chat/toolCallContentChanged",
    "chat/turnComplete",
    "chat/turnCancelled",
    "chat/error",
    "chat/usage",
    "chat/reasoning",
    "chat/pendingMessageSet",
    "chat/pendingMessageRemoved",
    "chat/queuedMessagesReordered",
    "chat/inputRequested",
    "chat/inputAnswerChanged",
    "chat/inputCompleted",
    "chat/truncated",
];

/// From the protocol's first versions (0.1.0 to 0.3.0).
const EARLY: &[&str] = &[
    "root/agentsChanged",
    "root/activeSessionsChanged",
    "root/configChanged",
    "root/terminalsChanged",
    "session/ready",
    "session/creationFailed",
    "session/titleChanged",
    "session/isReadChanged",
    "session/isArchivedChanged",
    "session/activityChanged",
    "session/changesetsChanged",
    "session/serverToolsChanged",
    "session/customizationsChanged",
    "session/customizationToggled",
    "session/customizationUpdated",
    "session/customizationRemoved",
    "session/mcpServerStateChanged",
    "session/configChanged",
    "session/metaChanged",
    "changeset/statusChanged",
    "changeset/fileSet",
    "changeset/fileRemoved",
    "changeset/contentChanged",
    "changeset/operationsChanged",
    "changeset/operationStatusChanged",
    "changeset/cleared",
    "annotations/set",
    "annotations/updated",
    "annotations/removed",
    "annotations/entrySet",
    "annotations/entryRemoved",
    "terminal/data",
    "terminal/input",
    "terminal/resized",
    "terminal/claimed",
    "terminal/titleChanged",
    "terminal/cwdChanged",
    "terminal/exited",
    "terminal/cleared",
    "terminal/commandDetectionAvailable",
    "terminal/commandExecuted",
    "terminal/commandFinished",
    "resourceWatch/changed",
];

/// The protocol version that introduced a notification method: `channel/*` and
/// `tcp/*` came with 1.1.0; the rest the hub sends (`root/*`, `_ourocodus/*`) every
/// version it negotiates knows.
pub fn notification_introduced_in(method: &str) -> Version {
    if method.starts_with("channel/") || method.starts_with("tcp/") {
        return Version::new(1, 1, 0);
    }
    Version::FIRST
}

/// The action's `type`, read off the front of an `ActionEnvelope` as serde writes
/// it: `{"channel":"…","action":{"type":"…"`, fields in their declared order and the
/// enum's tag first. `None` if the layout is other (the action then counts as
/// unknown: newest).
pub fn action_type_of_envelope(json: &str) -> Option<&str> {
    let rest = json.strip_prefix(r#"{"channel":""#)?;
    let after_channel = &rest[end_of_string(rest)? + 1..];
    let tagged = after_channel.strip_prefix(r#","action":{"type":""#)?;
    Some(&tagged[..end_of_string(tagged)?])
}

/// Where the JSON string whose contents start `text` ends: the index of its closing
/// quote (an escaped quote does not close it).
fn end_of_string(text: &str) -> Option<usize> {
    let mut bytes = text.bytes().enumerate();
    while let Some((at, byte)) = bytes.next() {
        match byte {
            b'\\' => {
                bytes.next();
            }
            b'"' => return Some(at),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ahp_types::actions::{ActionEnvelope, ActionOrigin, StateAction};

    #[test]
    fn versions_parse_as_negotiation_accepts_them_and_compare_number_by_number() {
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(v("0.9.0"), Version::VS_CODE_DIALECT);
        assert!(v("0.10.0") > v("0.9.12"), "numbers, not text");
        assert!(v("1.0.0") > v("0.10.0"));
        assert!(v("0.5.2") > v("0.5.1"));
        assert_eq!(v("1.2.3").to_string(), "1.2.3");
        for bad in [
            "",
            "1",
            "1.0",
            "1.0.0.0",
            "1.0.x",
            "01.0.0",
            "1.-1.0",
            "1.0.0-beta",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_hubs_own_version_is_the_protocol_version_of_its_ahp_types() {
        assert_eq!(
            Version::parse(ahp_types::PROTOCOL_VERSION),
            Some(Version::HUB)
        );
    }

    #[test]
    fn each_action_type_has_the_version_that_introduced_it() {
        let v = Version::new;
        assert_eq!(introduced_in("chat/canvasesChanged"), v(0, 10, 0));
        assert_eq!(introduced_in("canvas/stateChanged"), v(0, 10, 0));
        assert_eq!(introduced_in("chat/turnResume"), v(0, 9, 0));
        assert_eq!(introduced_in("automation/set"), v(0, 8, 0));
        assert_eq!(introduced_in("chat/workingDirectorySet"), v(0, 7, 0));
        assert_eq!(introduced_in("chat/toolCallAuthRequired"), v(0, 6, 0));
        assert_eq!(introduced_in("session/mcpServerStopRequested"), v(0, 5, 2));
        assert_eq!(introduced_in("chat/turnsLoaded"), v(0, 5, 1));
        assert_eq!(introduced_in("chat/draftChanged"), v(0, 5, 0));
        assert_eq!(introduced_in("chat/delta"), v(0, 4, 0));
        assert_eq!(introduced_in("session/chatAdded"), v(0, 4, 0));
        assert_eq!(introduced_in("session/ready"), v(0, 3, 0));
        let vs_code = Version::VS_CODE_DIALECT;
        assert!(!vs_code.knows(introduced_in("chat/canvasesChanged")));
        assert!(vs_code.knows(introduced_in("chat/responsePart")));
        assert!(vs_code.knows(introduced_in("chat/isArchivedChanged")));
    }

    #[test]
    fn an_action_type_the_table_does_not_know_counts_as_the_hubs_newest() {
        for unknown in [
            "chat/somethingNew",
            "session/",
            "",
            "CHAT/DELTA",
            "chat/delta ",
        ] {
            assert_eq!(introduced_in(unknown), Version::HUB, "{unknown:?}");
        }
        assert!(!Version::VS_CODE_DIALECT.knows(introduced_in("chat/somethingNew")));
        assert!(Version::HUB.knows(introduced_in("chat/somethingNew")));
    }

    #[test]
    fn only_channel_and_tcp_notifications_are_newer_than_every_negotiable_version() {
        let vs_code = Version::VS_CODE_DIALECT;
        assert!(!vs_code.knows(notification_introduced_in("channel/opened")));
        assert!(!Version::HUB.knows(notification_introduced_in("tcp/data")));
        assert!(vs_code.knows(notification_introduced_in("root/sessionAdded")));
        assert!(vs_code.knows(notification_introduced_in("_ourocodus/agentStatus")));
    }

    /// Through a channel that needs escaping too, and with an origin after it.
    #[test]
    fn the_type_is_read_off_an_envelope_as_serde_writes_it() {
        let action: StateAction = serde_json::from_value(serde_json::json!({
            "type": "chat/canvasesChanged", "canvases": []
        }))
        .unwrap();
        for channel in ["ahp-chat:/s/lead", r#"odd:/"quoted"\,"action":{"type":"x"#] {
            let envelope = ActionEnvelope {
                channel: channel.to_string(),
                action: action.clone(),
                server_seq: 7,
                origin: Some(ActionOrigin {
                    client_id: "c".to_string(),
                    client_seq: 1,
                }),
                rejection_reason: None,
            };
            let json = serde_json::to_string(&envelope).unwrap();
            assert_eq!(
                action_type_of_envelope(&json),
                Some("chat/canvasesChanged"),
                "{json}"
            );
        }
        assert_eq!(action_type_of_envelope(r#"{"action":{}}"#), None);
        assert_eq!(action_type_of_envelope(r#"{"channel":"unterminated"#), None);
    }
}
