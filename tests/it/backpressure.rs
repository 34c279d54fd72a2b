//! A stalled or slow editor: the proxy stops taking agent output instead of
//! queueing it, so its memory stays bounded however much the agents write; once the
//! editor reads again every chunk of every role arrives exactly once and in order
//! per role, and no role is starved while the editor drains slowly.
//!
//! The stall test's volume is for a release build (what CI runs): 8 agents x 128
//! MiB. A debug build streams 8 MiB per agent instead (`cfg!(debug_assertions)`):
//! the bounds are the same, the run just proves less. The output is read with a
//! line scanner, not a JSON parser: parsing a gigabyte would measure the test, not
//! the proxy.

use std::time::{Duration, Instant};

use memchr::memmem;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use crate::procs;
use crate::raw_editor::RawEditor;
use crate::support::{Peer as _, WAIT, bounded, fake_team};

const ROLES: [&str; 8] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
];
const MIB: u64 = 1024 * 1024;
/// Each chunk line the agents write is this long.
const CHUNK_BYTES: u64 = 1000;
/// What each agent streams in the stall test.
const STALL_BYTES_PER_ROLE: u64 = if cfg!(debug_assertions) {
    8 * MIB
} else {
    128 * MIB
};
/// The proxy's peak resident memory may not pass this.
const PEAK_LIMIT_KIB: u64 = 64 * 1024;
/// How long the editor stops reading.
const STALL: Duration = Duration::from_secs(3);

/// One numbered chunk line seen in the proxy's output: the role's index in `ROLES`
/// and the chunk's number.
struct ChunkLine {
    role: usize,
    number: u64,
}

const ROLE_KEY: &[u8] = br#""ourocodus":{"role":""#;
const NUMBERED_TEXT: &[u8] = br##""text":"#"##;

/// Finds the role and the number of a chunk line without parsing the JSON.
struct Scanner {
    role_key: memmem::Finder<'static>,
    numbered_text: memmem::Finder<'static>,
    chunk_kind: memmem::Finder<'static>,
}

impl Scanner {
    fn new() -> Scanner {
        Scanner {
            role_key: memmem::Finder::new(ROLE_KEY),
            numbered_text: memmem::Finder::new(NUMBERED_TEXT),
            chunk_kind: memmem::Finder::new(br#""sessionUpdate":"agent_message_chunk""#),
        }
    }

    fn chunk(&self, line: &[u8]) -> Option<ChunkLine> {
        self.chunk_kind.find(line)?;
        let text = self.numbered_text.find(line)? + NUMBERED_TEXT.len();
        let digits = &line[text..];
        let end = digits.iter().position(|&b| b == b' ')?;
        let number = std::str::from_utf8(&digits[..end]).ok()?.parse().ok()?;
        let role_at = self.role_key.find(line)? + ROLE_KEY.len();
        let name_len = line[role_at..].iter().position(|&b| b == b'"')?;
        let name = &line[role_at..role_at + name_len];
        let role = ROLES.iter().position(|r| r.as_bytes() == name)?;
        Some(ChunkLine { role, number })
    }
}

/// Per-role progress through the output, checking each chunk is the next one.
struct Tally {
    next: [u64; ROLES.len()],
    /// Role of every chunk, in arrival order.
    arrivals: Vec<u8>,
    /// Lines that were neither a numbered chunk nor the answer (labels, notices).
    other_lines: Vec<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            next: [1; ROLES.len()],
            arrivals: Vec::new(),
            other_lines: Vec::new(),
        }
    }

    fn count(&mut self, chunk: ChunkLine) {
        let role = ROLES[chunk.role];
        let expected = self.next[chunk.role];
        assert_eq!(
            chunk.number, expected,
            "{role}: chunk #{} arrived where #{expected} was due (lost, doubled or reordered)",
            chunk.number
        );
        self.next[chunk.role] += 1;
        self.arrivals.push(chunk.role as u8);
    }

    fn received(&self, role: usize) -> u64 {
        self.next[role] - 1
    }
}

/// Reads the proxy's output to the answer of `prompt`, tallying every chunk line;
/// `pause` is awaited after each read of the pipe (a slow editor) and gets the bytes
/// read so far.
async fn read_turn(
    editor: &mut RawEditor,
    prompt: i64,
    mut pause: impl AsyncFnMut(u64),
) -> (Tally, Value) {
    let scanner = Scanner::new();
    let answer_prefix = format!(r#"{{"jsonrpc":"2.0","id":{prompt},"#);
    let mut tally = Tally::new();
    let mut line = Vec::with_capacity(4096);
    let mut bytes = 0u64;
    loop {
        line.clear();
        let read = tokio::time::timeout(WAIT, editor.stdout.read_until(b'\n', &mut line)).await;
        let n = read.expect("the proxy kept writing").expect("read");
        assert!(n > 0, "the proxy closed its output before answering");
        let before = bytes;
        bytes += n as u64;
        if let Some(chunk) = scanner.chunk(&line) {
            tally.count(chunk);
        } else if line.starts_with(answer_prefix.as_bytes()) {
            let answer = serde_json::from_slice(&line).expect("the answer is JSON");
            return (tally, answer);
        } else if tally.other_lines.len() < 1000 {
            tally
                .other_lines
                .push(String::from_utf8_lossy(&line).into_owned());
        }
        if before / 65536 != bytes / 65536 {
            pause(bytes).await;
        }
    }
}

/// The proxy's VmRSS and VmHWM (KiB), sampled while the editor does not read.
struct Stall {
    peak_rss_kib: u64,
    samples: usize,
}

/// A session whose agents have all started and answered once, so that a prompt
/// reaches every role at the same moment.
async fn warm_session(editor: &mut RawEditor) -> String {
    let session = editor.plain_session().await;
    let id = editor.prompt_id(&session, "@all say ready\\n").await;
    let (_, answer) = editor.until_response(id, |_| None).await;
    assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
    session
}

async fn stall(pid: u32, length: Duration) -> Stall {
    let until = Instant::now() + length;
    let mut stall = Stall {
        peak_rss_kib: 0,
        samples: 0,
    };
    while Instant::now() < until {
        let rss = procs::status_kib(pid, "VmRSS").expect("VmRSS");
        stall.peak_rss_kib = stall.peak_rss_kib.max(rss);
        stall.samples += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stall
}

#[tokio::test]
async fn a_stalled_editor_keeps_the_proxy_under_64_mib_then_gets_every_chunk_once_and_in_order() {
    bounded(WAIT * 8, async {
        let mut editor = RawEditor::start(&fake_team(&ROLES)).await;
        let session = warm_session(&mut editor).await;
        let pid = editor.pid();
        let chunks = STALL_BYTES_PER_ROLE / CHUNK_BYTES;
        let script = format!("@all stream {chunks} chunks of {CHUNK_BYTES} bytes");
        let started = Instant::now();
        let prompt = editor.prompt_id(&session, &script).await;
        let stalled = stall(pid, STALL).await;
        let peak_in_stall = procs::status_kib(pid, "VmHWM").expect("VmHWM");
        let (tally, answer) = read_turn(&mut editor, prompt, async |_| {}).await;
        let peak = procs::status_kib(pid, "VmHWM").expect("VmHWM");
        eprintln!(
            "{} roles x {} MiB: VmRSS peak in the {STALL:?} stall {} KiB ({} samples), \
             VmHWM {peak_in_stall} KiB after the stall and {peak} KiB at the end; {:?} in all",
            ROLES.len(),
            STALL_BYTES_PER_ROLE / MIB,
            stalled.peak_rss_kib,
            stalled.samples,
            started.elapsed()
        );
        assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
        for (index, role) in ROLES.iter().enumerate() {
            assert_eq!(
                tally.received(index),
                chunks,
                "every chunk of {role} arrived"
            );
        }
        assert!(
            peak <= PEAK_LIMIT_KIB,
            "the proxy's peak RSS was {peak} KiB; lines other than chunks: {:?}",
            &tally.other_lines[..tally.other_lines.len().min(5)]
        );
    })
    .await;
}

/// What each agent streams in the fairness tests: the same in a debug build, where
/// the slow editor still sets the pace.
const FAIR_CHUNKS_PER_ROLE: u64 = 16_000;

/// The roles of every chunk, in arrival order, when 8 agents stream to an editor
/// that stopped reading for a second and then reads slowly.
async fn slow_editor_arrivals() -> Vec<u8> {
    let mut editor = RawEditor::start(&fake_team(&ROLES)).await;
    let session = warm_session(&mut editor).await;
    let script = format!("@all stream {FAIR_CHUNKS_PER_ROLE} chunks of {CHUNK_BYTES} bytes");
    let prompt = editor.prompt_id(&session, &script).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A slow editor: a pause after every 64 KiB it takes.
    let (tally, answer) = read_turn(&mut editor, prompt, async |_| {
        tokio::time::sleep(Duration::from_millis(2)).await;
    })
    .await;
    assert_eq!(answer["result"]["stopReason"], "end_turn", "{answer}");
    for (index, role) in ROLES.iter().enumerate() {
        assert_eq!(tally.received(index), FAIR_CHUNKS_PER_ROLE, "all of {role}");
    }
    tally.arrivals
}

#[tokio::test]
async fn a_slow_editor_after_a_stall_starves_no_role() {
    bounded(WAIT * 8, async {
        let arrivals = slow_editor_arrivals().await;
        let tenth = arrivals.len() / 10;
        let mut counts = [0u64; ROLES.len()];
        for (window, chunks) in arrivals.chunks(tenth).enumerate() {
            let unfinished: Vec<usize> = (0..ROLES.len())
                .filter(|&r| counts[r] < FAIR_CHUNKS_PER_ROLE)
                .collect();
            for &role in chunks {
                counts[role as usize] += 1;
            }
            for role in unfinished {
                assert!(
                    chunks.contains(&(role as u8)),
                    "{} had chunks to send but none arrived in tenth {} of the output",
                    ROLES[role],
                    window + 1
                );
            }
        }
        eprintln!(
            "largest gap between the most and least advanced role: {} chunks",
            widest_spread(&arrivals)
        );
    })
    .await;
}

#[tokio::test]
async fn a_slow_editor_sees_no_role_further_ahead_than_the_queues_can_hold() {
    bounded(WAIT * 8, async {
        // Twice: how far ahead a role gets varies from run to run.
        for _ in 0..2 {
            let spread = widest_spread(&slow_editor_arrivals().await);
            assert!(spread <= SPREAD_LIMIT, "a role fell {spread} chunks behind");
        }
    })
    .await;
}

/// How far (in chunks) the most advanced role may be ahead of the least advanced:
/// about what the proxy queues for the editor before it stops taking agent output
/// (4 MiB, some 3 800 chunk lines). What was queued when the editor stalled cannot
/// be reordered; taking the agents' output in turns adds little on top of that (the
/// first tenth of the output is within ~1 000 chunks across roles).
const SPREAD_LIMIT: u64 = 4_000;

/// The largest difference, at any point of the arrivals, between the roles with the
/// most and the fewest chunks so far.
fn widest_spread(arrivals: &[u8]) -> u64 {
    let mut counts = [0u64; ROLES.len()];
    let mut widest = 0;
    for &role in arrivals {
        counts[role as usize] += 1;
        let most = counts.iter().max().copied().unwrap_or(0);
        let fewest = counts.iter().min().copied().unwrap_or(0);
        widest = widest.max(most - fewest);
    }
    widest
}
