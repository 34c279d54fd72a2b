//! A validating JSON scanner for the per-message path: one pass over a line checks it
//! by the grammar serde_json's skipping reader uses (the one behind `RawValue`), reads
//! the JSON-RPC envelope and notes where the fields of `params` are. It gives up
//! (`Unusual`) on whatever it does not read itself — escaped envelope keys, methods or
//! string ids, ids that are not plain integers, strings or null, a field given twice,
//! any syntax error — and the caller then parses the line the thorough way, so what a
//! line means never depends on which path read it.

use std::ops::Range;

use smallvec::SmallVec;

use super::RequestId;
use super::fields::FieldSpan;
use super::repeated::repeated_key;

/// The scan cannot read this line by itself; the thorough parse decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unusual;

type Scan<T> = Result<T, Unusual>;

/// What the scan read from a line: the envelope fields, with spans of the line.
#[derive(Debug, Default)]
pub(super) struct Envelope {
    pub id: Option<RequestId>,
    pub method: Option<Range<usize>>,
    pub params: Option<Range<usize>>,
    pub result: Option<Range<usize>>,
    pub error: Option<Range<usize>>,
    /// Where the index of `params` (when it is an object) lies in the spans given to
    /// `envelope` (offsets from the start of the params).
    pub params_index: Option<Range<usize>>,
}

/// Reads the envelope of `line` in one pass, indexing an object `params` on the way
/// into `spans`. On `Unusual`, `spans` may hold a partial index past its old length.
pub(super) fn envelope(line: &str, spans: &mut Vec<FieldSpan>) -> Scan<Envelope> {
    let mut scanner = Scanner::new(line);
    let mut envelope = Envelope::default();
    let mut jsonrpc_seen = false;
    scanner.skip_ws();
    scanner.object(|s, key| {
        if key.escaped {
            return Err(Unusual);
        }
        match &line.as_bytes()[key.span()] {
            b"jsonrpc" if !jsonrpc_seen => {
                jsonrpc_seen = true;
                s.exact(b"\"2.0\"")
            }
            b"id" if envelope.id.is_none() => {
                envelope.id = Some(s.request_id()?);
                Ok(())
            }
            b"method" if envelope.method.is_none() => {
                let method = s.string()?;
                if method.escaped {
                    return Err(Unusual);
                }
                envelope.method = Some(method.span());
                Ok(())
            }
            b"params" if envelope.params.is_none() => {
                let start = s.at;
                if s.peek() == Some(b'{') {
                    let first = spans.len();
                    s.indexed_object(start, spans)?;
                    envelope.params_index = Some(first..spans.len());
                } else {
                    s.value()?;
                }
                envelope.params = Some(start..s.at);
                Ok(())
            }
            b"result" if envelope.result.is_none() => {
                envelope.result = Some(s.spanned_value()?);
                Ok(())
            }
            b"error" if envelope.error.is_none() => {
                envelope.error = Some(s.spanned_value()?);
                Ok(())
            }
            b"jsonrpc" | b"id" | b"method" | b"params" | b"result" | b"error" => Err(Unusual),
            _ => s.value().map(drop),
        }
    })?;
    scanner.skip_ws();
    if !jsonrpc_seen || scanner.at != line.len() {
        return Err(Unusual);
    }
    Ok(envelope)
}

/// Indexes the object `text` (params read apart from their line) into `spans`,
/// offsets from the start of `text`; `None` when it is not one JSON object.
pub(super) fn index_object(text: &str, spans: &mut Vec<FieldSpan>) -> Option<()> {
    let mut scanner = Scanner::new(text);
    scanner.skip_ws();
    scanner.indexed_object(0, spans).ok()?;
    scanner.skip_ws();
    (scanner.at == text.len()).then_some(())
}

/// A key that `text`, one JSON object, gives twice at either of the two levels the
/// index reads (its own fields, and the fields of an object among their values).
pub(super) fn duplicate_key(text: &str) -> Option<String> {
    let mut scanner = Scanner::new(text);
    scanner.skip_ws();
    let _ = scanner.indexed_object(0, &mut Vec::new());
    scanner.duplicate
}

/// A string's contents (between its quotes) and whether it has escapes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Str {
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

impl Str {
    pub(super) fn span(self) -> Range<usize> {
        self.start..self.end
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// A key an indexed object gave twice (unescaped), when that stopped the scan.
    duplicate: Option<String>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            bytes: text.as_bytes(),
            at: 0,
            duplicate: None,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next_byte(&mut self) -> Scan<u8> {
        let byte = self.peek().ok_or(Unusual)?;
        self.at += 1;
        Ok(byte)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Scan<()> {
        if self.eat(byte) { Ok(()) } else { Err(Unusual) }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Exactly these bytes (a literal), followed by no more of a token.
    fn exact(&mut self, expected: &[u8]) -> Scan<()> {
        if !self.bytes[self.at..].starts_with(expected) {
            return Err(Unusual);
        }
        self.at += expected.len();
        Ok(())
    }

    /// The fields of the object starting here: `field` gets each key with the scanner
    /// at the value, which it must read.
    fn object(&mut self, mut field: impl FnMut(&mut Self, Str) -> Scan<()>) -> Scan<()> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            field(self, key)?;
            self.skip_ws();
            match self.next_byte()? {
                b',' => self.skip_ws(),
                b'}' => return Ok(()),
                _ => return Err(Unusual),
            }
        }
    }

    /// The object starting here, its fields indexed, and the fields of every object
    /// among their values too (one level down); offsets from `base`. A key given twice
    /// in either is `Unusual` (and `duplicate` names it): what the proxy reads of an
    /// object must be what every later reader of it reads.
    fn indexed_object(&mut self, base: usize, index: &mut Vec<FieldSpan>) -> Scan<()> {
        let offset = |at: usize| u32::try_from(at - base).map_err(|_| Unusual);
        let mut keys: SmallVec<[Str; 8]> = SmallVec::new();
        self.object(|s, key| {
            s.check_key(key)?;
            keys.push(key);
            let entry = index.len();
            index.push(FieldSpan::default());
            let value_start = s.at;
            let (value_escaped, is_object) = match s.peek() {
                Some(b'{') => {
                    let mut nested_keys: SmallVec<[Str; 8]> = SmallVec::new();
                    s.object(|s, key| {
                        s.check_key(key)?;
                        nested_keys.push(key);
                        let start = s.at;
                        let escaped = s.value()?;
                        let span = FieldSpan::new(
                            offset(key.start)?..offset(key.end)?,
                            key.escaped,
                            offset(start)?..offset(s.at)?,
                            escaped,
                        );
                        index.push(span);
                        Ok(())
                    })?;
                    s.unique(&nested_keys)?;
                    (false, true)
                }
                _ => (s.value()?, false),
            };
            let mut span = FieldSpan::new(
                offset(key.start)?..offset(key.end)?,
                key.escaped,
                offset(value_start)?..offset(s.at)?,
                value_escaped,
            );
            if is_object {
                let nested = u32::try_from(index.len() - entry - 1).map_err(|_| Unusual)?;
                span = span.with_nested(nested).ok_or(Unusual)?;
            }
            index[entry] = span;
            Ok(())
        })?;
        self.unique(&keys)
    }

    /// `Unusual` when two of one object's keys are the same once unescaped (noted in
    /// `duplicate`).
    fn unique(&mut self, keys: &[Str]) -> Scan<()> {
        match repeated_key(self.text, keys) {
            Some(name) => {
                self.duplicate = Some(name.into_owned());
                Err(Unusual)
            }
            None => Ok(()),
        }
    }

    /// An indexed key must unescape to a string (an escaped lone surrogate does not),
    /// as it must for serde_json to read it as a map key.
    fn check_key(&self, key: Str) -> Scan<()> {
        if !key.escaped {
            return Ok(());
        }
        let literal = &self.text[key.start - 1..key.end + 1];
        match serde_json::from_str::<String>(literal) {
            Ok(_) => Ok(()),
            Err(_) => Err(Unusual),
        }
    }

    /// Any value, skipped and checked; its span.
    fn spanned_value(&mut self) -> Scan<Range<usize>> {
        let start = self.at;
        self.value()?;
        Ok(start..self.at)
    }

    /// Skips one value of any depth (without recursion, as serde_json does), checking
    /// it. For a string, whether it had escapes.
    fn value(&mut self) -> Scan<bool> {
        if self.peek() == Some(b'"') {
            return Ok(self.string()?.escaped);
        }
        // The open containers: `{` or `[`.
        let mut open: SmallVec<[u8; 16]> = SmallVec::new();
        loop {
            match self.peek().ok_or(Unusual)? {
                container @ (b'{' | b'[') => {
                    self.at += 1;
                    self.skip_ws();
                    let close = if container == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        open.push(container);
                        if container == b'{' {
                            self.key_and_colon()?;
                        }
                        continue;
                    }
                }
                b'"' => drop(self.string()?),
                b't' => self.exact(b"true")?,
                b'f' => self.exact(b"false")?,
                b'n' => self.exact(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(Unusual),
            }
            // A value ended: close containers until one goes on with a comma.
            loop {
                let Some(&container) = open.last() else {
                    return Ok(false);
                };
                self.skip_ws();
                match (self.next_byte()?, container) {
                    (b',', b'{') => {
                        self.skip_ws();
                        self.key_and_colon()?;
                        break;
                    }
                    (b',', _) => {
                        self.skip_ws();
                        break;
                    }
                    (b'}', b'{') | (b']', b'[') => drop(open.pop()),
                    _ => return Err(Unusual),
                }
            }
        }
    }

    fn key_and_colon(&mut self) -> Scan<()> {
        self.string()?;
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        Ok(())
    }

    /// A string starting here: checked (escapes well formed, no control characters;
    /// the line is already known to be UTF-8).
    fn string(&mut self) -> Scan<Str> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        let mut at = start;
        loop {
            at = find_quote_backslash_or_control(self.bytes, at);
            match self.bytes.get(at) {
                Some(b'"') => {
                    self.at = at + 1;
                    return Ok(Str {
                        start,
                        end: at,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    at = escape_end(self.bytes, at + 1)?;
                }
                _ => return Err(Unusual),
            }
        }
    }

    /// A number by the JSON grammar (no range check, as when serde_json skips one).
    fn number(&mut self) -> Scan<()> {
        self.eat(b'-');
        match self.next_byte()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err(Unusual),
        }
        if self.eat(b'.') {
            self.at_least_one_digit()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.at_least_one_digit()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Scan<()> {
        let start = self.at;
        self.digits();
        if self.at == start {
            Err(Unusual)
        } else {
            Ok(())
        }
    }

    /// An id the scan reads itself: null, a string without escapes, or an integer of
    /// at most 18 digits (so it fits an i64 without checking); anything else is left
    /// to the thorough parse, which knows every rule of ids.
    fn request_id(&mut self) -> Scan<RequestId> {
        let line = self.text;
        match self.peek() {
            Some(b'n') => {
                self.exact(b"null")?;
                Ok(RequestId::null())
            }
            Some(b'"') => {
                let id = self.string()?;
                if id.escaped {
                    return Err(Unusual);
                }
                Ok(RequestId::string(&line[id.span()]))
            }
            _ => {
                let start = self.at;
                let negative = self.eat(b'-');
                let digits_start = self.at;
                self.digits();
                let digits = &line[digits_start..self.at];
                let plain = match digits.as_bytes() {
                    [b'0'] => !negative,
                    [b'1'..=b'9', ..] => digits.len() <= 18,
                    _ => false,
                };
                if !plain || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
                    return Err(Unusual);
                }
                let n: i64 = line[start..self.at].parse().map_err(|_| Unusual)?;
                Ok(RequestId::number(n))
            }
        }
    }
}

/// Where the escape that starts at `at` (just after its backslash) ends.
fn escape_end(bytes: &[u8], at: usize) -> Scan<usize> {
    match bytes.get(at) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(at + 1),
        Some(b'u') => {
            let hex = bytes.get(at + 1..at + 5).ok_or(Unusual)?;
            if hex.iter().all(u8::is_ascii_hexdigit) {
                Ok(at + 5)
            } else {
                Err(Unusual)
            }
        }
        _ => Err(Unusual),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The first `"`, `\` or control character at or after `at`, or the end. Eight bytes
/// at a time: the lowest flagged byte of each test below is exact (a borrow can only
/// flag bytes above a true one), so the lowest of all three is too.
pub(super) fn find_quote_backslash_or_control(bytes: &[u8], mut at: usize) -> usize {
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    const SPACES: u64 = ONES * b' ' as u64;
    while let Some(word) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let flagged = zero_bytes(word ^ QUOTES)
            | zero_bytes(word ^ BACKSLASHES)
            | (word.wrapping_sub(SPACES) & !word & HIGH_BITS);
        if flagged != 0 {
            return at + (flagged.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&byte) = bytes.get(at) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

/// The high bit of each zero byte of `x` set (and perhaps of bytes above one).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH_BITS
}

#[cfg(test)]
mod tests;
