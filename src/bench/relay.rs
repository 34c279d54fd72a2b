//! The baseline relay: the cheapest honest parse-and-forward hop, the physical limit
//! the benchmarks hold the proxy against.
//!
//! `ourocodus bench-relay -- CMD ARGS...` starts CMD and copies stdin to CMD's stdin and
//! CMD's stdout to stdout, line by line, checking that each line is a JSON-RPC envelope
//! (parsed into `&RawValue` fields, params kept opaque) and skipping the ones that are
//! not. One current-thread tokio runtime, stdio and the child's pipes driven as
//! non-blocking pipes (not `tokio::io::stdin`, which hands every read to a blocking
//! thread), 64 KiB buffers, and a write only when the output buffer is full or no more
//! input is ready.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, ExitCode, Stdio};

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;

use crate::error::{Error, Result};

/// The size of every read and of the output buffer.
const BUFFER_BYTES: usize = 64 * 1024;

/// Runs the relay until CMD's output ends; exits with CMD's exit code.
pub fn run(command: &[String]) -> Result<ExitCode> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::Other("bench-relay needs a command to run".into()))?;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            command: program.clone(),
            source,
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let relayed = runtime.block_on(relay_both_ways(&mut child));
    drop(runtime);
    if relayed.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    relayed?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// Copies both directions; done when the child's output ends (the editor's input
/// ending only closes the child's input, and the child then finishes its output).
async fn relay_both_ways(child: &mut Child) -> Result<()> {
    let (Some(child_stdin), Some(child_stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Error::Other("child stdio was not piped".into()));
    };
    let to_child = pipe::Sender::from_owned_fd(OwnedFd::from(child_stdin))?;
    let from_child = pipe::Receiver::from_owned_fd(OwnedFd::from(child_stdout))?;
    let stdin = pipe::Receiver::from_owned_fd(duplicate(io::stdin().as_fd(), "stdin")?)?;
    let stdout = pipe::Sender::from_owned_fd(duplicate(io::stdout().as_fd(), "stdout")?)?;
    let upstream = copy_lines(stdin, to_child);
    let downstream = copy_lines(from_child, stdout);
    tokio::pin!(upstream, downstream);
    // Both futures are polled to completion by this function: nothing is cancelled.
    tokio::select! {
        done = &mut downstream => Ok(done?),
        done = &mut upstream => {
            done?;
            Ok(downstream.await?)
        }
    }
}

fn duplicate(fd: std::os::fd::BorrowedFd<'_>, name: &str) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|e| Error::Other(format!("bench-relay cannot use its {name}: {e}")))
}

/// Copies lines from `from` to `to` until `from` ends, then closes `to` (by dropping it).
async fn copy_lines(from: pipe::Receiver, mut to: pipe::Sender) -> io::Result<()> {
    let mut copier = LineCopier::default();
    let mut read_buffer = vec![0u8; BUFFER_BYTES];
    loop {
        match from.try_read(&mut read_buffer) {
            Ok(0) => break,
            Ok(n) => copier.take(&read_buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                write_out(&mut to, &mut copier.output).await?;
                from.readable().await?;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if copier.output.len() >= BUFFER_BYTES {
            write_out(&mut to, &mut copier.output).await?;
        }
    }
    copier.finish();
    write_out(&mut to, &mut copier.output).await
}

async fn write_out(to: &mut pipe::Sender, output: &mut Vec<u8>) -> io::Result<()> {
    if !output.is_empty() {
        to.write_all(output).await?;
        output.clear();
    }
    Ok(())
}

/// Splits input into lines and keeps the envelopes, ready to write.
#[derive(Default)]
struct LineCopier {
    /// The start of a line whose newline has not arrived yet.
    partial: Vec<u8>,
    /// Checked lines, each with its newline, not yet written.
    output: Vec<u8>,
}

impl LineCopier {
    fn take(&mut self, mut chunk: &[u8]) {
        while let Some(end) = memchr::memchr(b'\n', chunk) {
            if self.partial.is_empty() {
                forward_line(&chunk[..end], &mut self.output);
            } else {
                self.partial.extend_from_slice(&chunk[..end]);
                forward_line(&self.partial, &mut self.output);
                self.partial.clear();
            }
            chunk = &chunk[end + 1..];
        }
        self.partial.extend_from_slice(chunk);
    }

    /// At the end of input, a last line without a newline still counts.
    fn finish(&mut self) {
        let line = std::mem::take(&mut self.partial);
        forward_line(&line, &mut self.output);
    }
}

fn forward_line(line: &[u8], output: &mut Vec<u8>) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    if is_envelope(line) {
        output.extend_from_slice(line);
        output.push(b'\n');
    } else {
        eprintln!("bench-relay: skipped a line that is not a JSON-RPC message");
    }
}

/// The top level of a JSON-RPC message; every value stays unparsed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: &'a RawValue,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// A field that is there, even as `null` (which `Option` alone would read as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A request, a notification or a response of JSON-RPC 2.0.
fn is_envelope(line: &[u8]) -> bool {
    let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(line) else {
        return false;
    };
    let call = envelope.method.is_some() && envelope.result.is_none() && envelope.error.is_none();
    let answer = envelope.method.is_none()
        && envelope.params.is_none()
        && envelope.id.is_some()
        && (envelope.result.is_some() != envelope.error.is_some());
    envelope.jsonrpc.get() == "\"2.0\"" && (call || answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(chunks: &[&[u8]]) -> Vec<u8> {
        let mut copier = LineCopier::default();
        for chunk in chunks {
            copier.take(chunk);
        }
        copier.finish();
        copier.output
    }

    #[test]
    fn requests_notifications_and_responses_are_envelopes() {
        assert!(is_envelope(
            br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{}}"#
        ));
        assert!(is_envelope(
            br#"{"jsonrpc":"2.0","method":"n","params":[1]}"#
        ));
        assert!(is_envelope(br#"{"jsonrpc":"2.0","id":"x","result":null}"#));
        assert!(is_envelope(
            br#"{"jsonrpc":"2.0","id":2,"error":{"code":1}}"#
        ));
    }

    #[test]
    fn other_json_and_non_json_are_not_envelopes() {
        assert!(!is_envelope(b"not json"));
        assert!(!is_envelope(br#"{"jsonrpc":"1.0","method":"a"}"#));
        assert!(!is_envelope(br#"{"jsonrpc":"2.0"}"#));
        assert!(!is_envelope(
            br#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#
        ));
        assert!(!is_envelope(br#"[1,2]"#));
    }

    #[test]
    fn lines_split_across_reads_are_joined_and_bad_lines_skipped() {
        let out = copy(&[
            br#"{"jsonrpc":"2.0","me"#,
            b"thod\":\"a\"}\ngarbage\n\n",
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        ]);
        assert_eq!(
            out,
            b"{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"
        );
    }
}
