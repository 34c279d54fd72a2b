//! `ourocodus mcp --socket PATH`: what a child runs as its `ourocodus` MCP server. It
//! names itself with its secret, then copies its stdin to the proxy's socket and the
//! socket to its stdout until either side ends. Knows bytes, not MCP.

use std::path::Path;
use std::process::ExitCode;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use super::SECRET_ENV;

pub fn run_bridge(socket: &Path) -> ExitCode {
    let Ok(secret) = std::env::var(SECRET_ENV) else {
        eprintln!("ourocodus mcp: {SECRET_ENV} is not set (the proxy starts this command itself)");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ourocodus mcp: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(pump(socket, &secret)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ourocodus mcp: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn pump(socket: &Path, secret: &str) -> std::io::Result<()> {
    let stream = UnixStream::connect(socket).await?;
    let (mut from_proxy, mut to_proxy) = stream.into_split();
    to_proxy.write_all(format!("{secret}\n").as_bytes()).await?;
    let (mut stdin, mut stdout) = (tokio::io::stdin(), tokio::io::stdout());
    let upstream = async {
        tokio::io::copy(&mut stdin, &mut to_proxy).await?;
        to_proxy.shutdown().await
    };
    let downstream = async {
        tokio::io::copy(&mut from_proxy, &mut stdout).await?;
        stdout.flush().await
    };
    // Whichever side ends first ends the bridge: the child or the proxy went away.
    tokio::select! {
        result = upstream => result,
        result = downstream => result,
    }
}
