//! Builders for outgoing lines: each returns one complete JSON-RPC message
//! followed by `\n`, splicing raw params/results in without re-parsing them.

use serde::{Deserialize, Serialize};

use super::RequestId;

/// The JSON-RPC error object, as sent and as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

const HEAD: &[u8] = br#"{"jsonrpc":"2.0","#;

/// `{"jsonrpc":"2.0","id":ID,"method":M,"params":P}\n`
pub fn request(id: &RequestId, method: &str, params: Option<&str>) -> Vec<u8> {
    let mut out = with_capacity(method.len() + params.map_or(0, str::len));
    out.extend_from_slice(br#""id":"#);
    id.write_json(&mut out);
    out.extend_from_slice(br#","method":"#);
    write_json_string(&mut out, method);
    finish_params(out, params)
}

/// `{"jsonrpc":"2.0","method":M,"params":P}\n`
pub fn notification(method: &str, params: Option<&str>) -> Vec<u8> {
    let mut out = with_capacity(method.len() + params.map_or(0, str::len));
    out.extend_from_slice(br#""method":"#);
    write_json_string(&mut out, method);
    finish_params(out, params)
}

/// `{"jsonrpc":"2.0","id":ID,"result":R}\n` with R spliced in as raw JSON.
pub fn response_raw(id: &RequestId, result: &str) -> Vec<u8> {
    let mut out = with_capacity(result.len());
    out.extend_from_slice(br#""id":"#);
    id.write_json(&mut out);
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result.as_bytes());
    out.extend_from_slice(b"}\n");
    out
}

/// `{"jsonrpc":"2.0","id":ID,"error":{...}}\n`
pub fn error_response(id: &RequestId, error: &ErrorObject) -> Vec<u8> {
    let mut out = with_capacity(error.message.len() + 32);
    out.extend_from_slice(br#""id":"#);
    id.write_json(&mut out);
    out.extend_from_slice(br#","error":"#);
    // Serializing a plain struct of strings and numbers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, error);
    out.extend_from_slice(b"}\n");
    out
}

/// Appends `s` as a JSON string literal (quoted and escaped).
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_json_escaped(out, s);
    out.push(b'"');
}

/// Appends `s` JSON-escaped, without quotes. Runs of plain bytes are copied whole,
/// found eight bytes at a time; this is on the per-message path (rewritten strings
/// and keys go through it).
pub fn write_json_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    loop {
        let at = super::scan::find_quote_backslash_or_control(bytes, plain_from);
        out.extend_from_slice(&bytes[plain_from..at]);
        let Some(&byte) = bytes.get(at) else {
            return;
        };
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => b"",
        };
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        plain_from = at + 1;
    }
}

fn with_capacity(extra: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD.len() + extra + 48);
    out.extend_from_slice(HEAD);
    out
}

fn finish_params(mut out: Vec<u8>, params: Option<&str>) -> Vec<u8> {
    if let Some(params) = params {
        out.extend_from_slice(br#","params":"#);
        out.extend_from_slice(params.as_bytes());
    }
    out.extend_from_slice(b"}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::Message;

    fn reparse(line: Vec<u8>) -> Message {
        assert_eq!(line.last(), Some(&b'\n'));
        let text = String::from_utf8(line).unwrap();
        Message::parse(text.trim_end()).unwrap()
    }

    #[test]
    fn built_messages_parse_back_to_the_same_parts() {
        let m = reparse(request(
            &RequestId::number(7),
            "session/new",
            Some(r#"{"cwd":"/"}"#),
        ));
        assert_eq!(
            (m.method(), m.params()),
            (Some("session/new"), Some(r#"{"cwd":"/"}"#))
        );
        let m = reparse(notification("session/cancel", None));
        assert_eq!(m.params(), None);
        let m = reparse(response_raw(&RequestId::string("x"), "{}"));
        assert_eq!(m.outcome(), Some(Ok("{}")));
        let e = ErrorObject {
            code: -32601,
            message: "nope \"quoted\"".into(),
            data: None,
        };
        let m = reparse(error_response(&RequestId::null(), &e));
        let back: ErrorObject = serde_json::from_str(m.outcome().unwrap().unwrap_err()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn escaping_round_trips_quotes_backslashes_and_control_characters() {
        let tricky = "q\" b\\ n\n t\t r\r c\u{1} \u{1f} é plain";
        let mut escaped = Vec::new();
        write_json_string(&mut escaped, tricky);
        assert_eq!(serde_json::from_slice::<String>(&escaped).unwrap(), tricky);
    }
}
