//! Why a demo run failed: the proxy misbehaved (silence, an error, a wrong answer)
//! or the demo could not set itself up. Each message says what was being waited for.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DemoFailure {
    #[error("cannot prepare {path}: {source}")]
    Setup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot find this executable to run the team with: {0}")]
    NoExecutable(#[source] std::io::Error),
    #[error("cannot start `ourocodus acp`: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("cannot write to the proxy: {0}")]
    WriteToProxy(#[source] std::io::Error),
    #[error("cannot print the transcript: {0}")]
    Output(#[source] std::io::Error),
    #[error("the proxy did not answer {waiting_for} within {waited:?}")]
    Timeout {
        waiting_for: String,
        waited: Duration,
    },
    #[error("the proxy closed its output while the demo waited for {waiting_for}")]
    ProxyGone { waiting_for: String },
    #[error("the proxy wrote a line that is not JSON: {line}")]
    NotJson { line: String },
    #[error("the proxy answered {method} with an error: {error}")]
    ErrorReply { method: String, error: String },
    #[error("{step}: expected stopReason `{expected}`, the proxy answered `{actual}`")]
    UnexpectedStop {
        step: String,
        expected: String,
        actual: String,
    },
    #[error("the proxy did not exit within {0:?} after its input closed, so the demo killed it")]
    SlowExit(Duration),
}
