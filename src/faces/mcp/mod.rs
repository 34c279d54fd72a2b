//! The MCP face: the coordination tools served to every child over a private unix
//! socket. A child starts `ourocodus mcp --socket PATH` (its first MCP server) with a
//! secret naming its session and role in the environment; that bridge sends the secret
//! first, then pipes MCP both ways. A call is always the role its secret was given to.
//! Knows MCP and sockets; the tools' meaning is the core's.

mod bridge;
mod tools;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

pub use bridge::run_bridge;

use crate::core::CoreHandle;
use crate::core::task_tools::ToolServers;
use crate::ids::{Role, SessionId};

/// The environment variable the bridge finds its secret in.
pub const SECRET_ENV: &str = "OUROCODUS_MCP_SECRET";
/// The name children see the tools under (`mcp__ourocodus__delegate`, ...).
pub const SERVER_NAME: &str = "ourocodus";
/// The most read of a connection's first line, its secret.
const SECRET_LINE_BYTES: u64 = 64;
/// How long a connection may take to name itself and to say MCP's hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Who each secret was given to.
type Secrets = Arc<Mutex<HashMap<String, (SessionId, Role)>>>;

/// The listening side: the socket in a directory only this user may enter.
pub struct McpFace {
    _dir: tempfile::TempDir,
    path: PathBuf,
    secrets: Secrets,
}

impl McpFace {
    /// Makes the private directory (0700) and binds the socket (0600) in it.
    pub fn open() -> std::io::Result<(McpFace, UnixListener)> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("ourocodus-mcp-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let path = dir.path().join("tools.sock");
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let face = McpFace {
            _dir: dir,
            path,
            secrets: Arc::default(),
        };
        Ok((face, listener))
    }

    pub fn socket(&self) -> &Path {
        &self.path
    }

    /// What the core gives each child as its first MCP server.
    pub fn entries(&self) -> Box<dyn ToolServers> {
        Box::new(Entries {
            path: self.path.clone(),
            secrets: self.secrets.clone(),
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ourocodus")),
        })
    }

    /// Serves every connection until `stop`, each as the role its secret names.
    pub async fn serve(self, listener: UnixListener, core: CoreHandle, stop: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                // Cancel-safe: accept has no side effects until it returns.
                accepted = listener.accept() => accepted,
                () = stop.cancelled() => return,
            };
            match accepted {
                Ok((stream, _)) => {
                    let (secrets, core) = (self.secrets.clone(), core.clone());
                    tokio::spawn(serve_connection(stream, secrets, core));
                }
                Err(e) => tracing::warn!(error = %e, "mcp socket accept failed"),
            }
        }
    }
}

/// One child's connection: its secret line, then MCP until it hangs up.
async fn serve_connection(stream: UnixStream, secrets: Secrets, core: CoreHandle) {
    let (read, write) = stream.into_split();
    // What the child sent after its secret stays in this buffer for MCP.
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    // A secret is 32 hex digits: nothing longer is read as one.
    let mut limited = (&mut reader).take(SECRET_LINE_BYTES);
    let named = tokio::time::timeout(HELLO_TIMEOUT, limited.read_line(&mut line)).await;
    let owner = match named {
        Ok(Ok(_)) => secrets
            .lock()
            .ok()
            .and_then(|map| map.get(line.trim()).cloned()),
        _ => None,
    };
    let Some((session, role)) = owner else {
        tracing::warn!("mcp connection without a known secret; closed");
        return;
    };
    tracing::info!(role = %role, session = %session, "mcp tools connected");
    tools::serve((reader, write), session, role, core, HELLO_TIMEOUT).await;
}

struct Entries {
    path: PathBuf,
    secrets: Secrets,
    exe: PathBuf,
}

impl ToolServers for Entries {
    /// One secret per session and role, made once: a child restored or restarted in
    /// the same session gets the same one, so the map grows with sessions, not starts.
    fn entry(&self, session: &SessionId, role: &Role) -> Value {
        let owner = (session.clone(), role.clone());
        let secret = self.secrets.lock().ok().map(|mut map| {
            let known = map
                .iter()
                .find(|(_, o)| **o == owner)
                .map(|(s, _)| s.clone());
            known.unwrap_or_else(|| {
                let secret = uuid::Uuid::new_v4().simple().to_string();
                map.insert(secret.clone(), owner);
                secret
            })
        });
        json!({
            "name": SERVER_NAME,
            "command": self.exe,
            "args": ["mcp", "--socket", self.path],
            "env": [{ "name": SECRET_ENV, "value": secret.unwrap_or_default() }],
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::McpFace;

    #[tokio::test]
    async fn the_socket_is_the_users_alone_in_a_directory_only_the_user_may_enter() {
        let (face, _listener) = McpFace::open().expect("open");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(face.socket()), 0o600);
        assert_eq!(mode(face.socket().parent().unwrap()), 0o700);
    }
}
