//! `ourocodus login-link`: a new one-time login link to the hub's web monitor, asked
//! of the running hub (`_ourocodus/loginLink`, with the token like any hub command)
//! and printed alone on stdout. Knows the answer's shape (docs/protocol-extensions.md).

use std::io::Write;
use std::process::ExitCode;

use serde::Deserialize;

use super::connect::{Hub, HubCliError};
use super::{HubArg, block_on, exit};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginLink {
    url: String,
    expires_in_secs: u64,
}

pub fn run_login_link(args: &HubArg) -> Result<ExitCode, HubCliError> {
    block_on(login_link(args))
}

async fn login_link(args: &HubArg) -> Result<u8, HubCliError> {
    let hub = Hub::connect(args.hub.as_deref()).await?;
    let link: LoginLink = hub.root_request("_ourocodus/loginLink").await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", link.url)?;
    out.flush()?;
    let minutes = link.expires_in_secs.div_ceil(60);
    eprintln!("open it in a browser: it works once, within {minutes} minutes");
    Ok(exit::OK)
}
