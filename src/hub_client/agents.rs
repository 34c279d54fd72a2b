//! `ourocodus agents`: the team's agents as the hub reports them
//! (`_ourocodus/agents`), a table for a person or one JSON object per agent. Knows
//! the `AgentSummary` fields it shows (docs/protocol-extensions.md).

use std::io::{self, Write};
use std::process::ExitCode;

use serde::Deserialize;
use serde_json::Value;

use super::connect::{Hub, HubCliError};
use super::render::{Colour, role_label};
use super::{HubArg, block_on, exit, stdout_colour};
use crate::store::render::escape_controls;

#[derive(clap::Args, Debug, Clone)]
pub struct AgentsArgs {
    #[command(flatten)]
    pub hub: HubArg,
    /// One JSON object per agent, per line.
    #[arg(long)]
    pub json: bool,
}

/// The fields of an `AgentSummary` the table shows.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentRow {
    pub role: String,
    pub status: String,
    pub restarts: u64,
    pub uptime_secs: Option<u64>,
    pub pid: Option<u32>,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct AgentsResult {
    agents: Vec<Value>,
}

pub fn run_agents(args: &AgentsArgs) -> Result<ExitCode, HubCliError> {
    block_on(agents(args))
}

async fn agents(args: &AgentsArgs) -> Result<u8, HubCliError> {
    let hub = Hub::connect(args.hub.hub.as_deref()).await?;
    let result: AgentsResult = hub.root_request("_ourocodus/agents").await?;
    let colour = if stdout_colour() {
        Colour::On
    } else {
        Colour::Off
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        for agent in &result.agents {
            serde_json::to_writer(&mut out, agent).map_err(io::Error::from)?;
            writeln!(out)?;
        }
    } else {
        let rows: Vec<AgentRow> = result
            .agents
            .iter()
            .map(|a| AgentRow::deserialize(a).unwrap_or_default())
            .collect();
        write!(out, "{}", table(&rows, colour))?;
    }
    out.flush()?;
    Ok(exit::OK)
}

/// `ROLE  STATUS  RESTARTS  UPTIME  PID`, one agent per line (and why it failed).
pub fn table(rows: &[AgentRow], colour: Colour) -> String {
    let width = rows
        .iter()
        .map(|r| r.role.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut text = format!(
        "{:<width$}  {:<14}  {:>8}  {:>7}  {:>7}\n",
        "ROLE", "STATUS", "RESTARTS", "UPTIME", "PID"
    );
    for row in rows {
        let uptime = row.uptime_secs.map_or("-".to_string(), duration);
        let pid = row.pid.map_or("-".to_string(), |p| p.to_string());
        let mut line = format!(
            "{}  {:<14}  {:>8}  {uptime:>7}  {pid:>7}",
            role_label(&escape_controls(&row.role), width, colour),
            escape_controls(&row.status),
            row.restarts
        );
        if let Some(reason) = &row.reason {
            line.push_str(&format!("  {}", escape_controls(reason)));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `45s`, `12m05s`, `3h07m`, `2d04h`.
fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_has_a_row_per_agent_with_dashes_for_what_is_unknown() {
        let rows: Vec<AgentRow> = [
            json!({ "role": "backend", "status": "working", "pid": 4242, "uptimeSecs": 73,
                "restarts": 1, "sandbox": "off" }),
            json!({ "role": "test", "status": "failed", "restarts": 5, "reason": "exit 3" }),
        ]
        .iter()
        .map(|v| AgentRow::deserialize(v).unwrap())
        .collect();
        let text = table(&rows, Colour::Off);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "ROLE     STATUS          RESTARTS   UPTIME      PID",
                "backend  working                1    1m13s     4242",
                "test     failed                 5        -        -  exit 3",
            ]
        );
    }

    #[test]
    fn uptimes_read_at_a_glance() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(725), "12m05s");
        assert_eq!(duration(3 * 3600 + 7 * 60), "3h07m");
        assert_eq!(duration(2 * 86_400 + 4 * 3600), "2d04h");
    }
}
