//! The LSP face's stdio, in front of the LSP library: the client's frames are read
//! here (`framing`), and only messages the library can take reach it — anything
//! else (bad headers, over-long bodies, bodies that are not JSON-RPC) is answered
//! with a JSON-RPC error here, since the library ends the connection on the first
//! one. The library's output is copied to stdout frame by frame, so those answers
//! never cut into one of its messages. Knows no LSP method.

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Request, Response};

use super::framing::{Frame, FrameReader, frame};

const IO_CHUNK: usize = 64 * 1024;
/// The pipes between this layer and the library.
const PIPE_BYTES: usize = 256 * 1024;
/// Frames from the library are read with no cap of ours (it wrote them).
const OWN_OUTPUT_CAP: usize = usize::MAX;

/// The library's ends of the two pipes, and the tasks that serve ours.
pub struct Pipes {
    /// Where the library reads the client's messages (only those it can take).
    pub library_input: DuplexStream,
    /// Where the library writes its own.
    pub library_output: DuplexStream,
    /// Ends once everything the library wrote reached stdout.
    pub writer: tokio::task::JoinHandle<()>,
}

/// Starts the reader (stdin → library) and the writer (library → stdout).
pub fn start(
    input: impl AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
    max_message: usize,
) -> Pipes {
    let (library_input, to_library) = tokio::io::duplex(PIPE_BYTES);
    let (library_output, from_library) = tokio::io::duplex(PIPE_BYTES);
    let (errors_tx, errors_rx) = mpsc::unbounded_channel();
    tokio::spawn(read_client(input, to_library, errors_tx, max_message));
    let writer = tokio::spawn(write_client(from_library, errors_rx, output));
    Pipes {
        library_input,
        library_output,
        writer,
    }
}

async fn read_client(
    mut input: impl AsyncRead + Unpin,
    mut library: DuplexStream,
    errors: mpsc::UnboundedSender<Vec<u8>>,
    max_message: usize,
) {
    let mut reader = FrameReader::new(max_message);
    let mut buf = vec![0u8; IO_CHUNK];
    let mut accepted = Vec::new();
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        reader.push(&buf[..n], &mut |f| match admit(f) {
            Ok(body) => accepted.push(frame(&body)),
            Err(error) => {
                let _ = errors.send(error);
            }
        });
        for framed in accepted.drain(..) {
            if library.write_all(&framed).await.is_err() {
                return;
            }
        }
    }
}

/// A frame the library can take, or the error answer for it.
fn admit(read: Frame) -> Result<Vec<u8>, Vec<u8>> {
    let body = match read {
        Frame::Body(body) => body,
        Frame::BadHeader(why) => {
            tracing::warn!(why, "malformed frame from the lsp client; skipped");
            return Err(error_body(
                Value::Null,
                -32700,
                &format!("parse error: {why}"),
            ));
        }
        Frame::TooLong { bytes } => {
            tracing::warn!(bytes, "over-long message from the lsp client; skipped");
            let why = format!("message of {bytes} bytes is over the size limit; skipped");
            return Err(error_body(Value::Null, -32600, &why));
        }
    };
    if serde_json::from_slice::<Request>(&body).is_ok()
        || serde_json::from_slice::<Response>(&body).is_ok()
    {
        return Ok(body);
    }
    tracing::warn!(
        bytes = body.len(),
        "a message from the lsp client is not JSON-RPC; skipped"
    );
    Err(match serde_json::from_slice::<Value>(&body) {
        Err(e) => error_body(Value::Null, -32700, &format!("parse error: {e}")),
        Ok(value) => {
            let id = value
                .get("id")
                .filter(|id| id.is_number() || id.is_string())
                .cloned();
            error_body(
                id.unwrap_or(Value::Null),
                -32600,
                "invalid request: not a JSON-RPC 2.0 message",
            )
        }
    })
}

fn error_body(id: Value, code: i64, message: &str) -> Vec<u8> {
    let error =
        json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } });
    frame(error.to_string().as_bytes())
}

/// Copies the library's frames and this layer's error answers to the client, each
/// whole. Ends when the library's output ends.
async fn write_client(
    mut library: DuplexStream,
    mut errors: mpsc::UnboundedReceiver<Vec<u8>>,
    mut output: impl AsyncWrite + Unpin,
) {
    let mut reader = FrameReader::new(OWN_OUTPUT_CAP);
    let mut buf = vec![0u8; IO_CHUNK];
    let mut frames = Vec::new();
    loop {
        // Both branches are cancel-safe: a read that loses the race read nothing,
        // and an unbounded receiver keeps what it has.
        tokio::select! {
            read = library.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => reader.push(&buf[..n], &mut |f| {
                    if let Frame::Body(body) = f {
                        frames.push(frame(&body));
                    }
                }),
            },
            Some(error) = errors.recv() => frames.push(error),
        }
        for framed in frames.drain(..) {
            if output.write_all(&framed).await.is_err() {
                return;
            }
        }
        if output.flush().await.is_err() {
            return;
        }
    }
}
