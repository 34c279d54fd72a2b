//! The `mcp` step: the fake agent as an MCP client of a server its session was given
//! (the proxy's `ourocodus` tools, first). It starts the server's command, says hello,
//! calls one tool and says the structured result or the tool's error. Runs on a thread
//! of its own with its own runtime (the agent's has no process driver).

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value};

use super::{StepResult, Turn};

/// How long one call may take, server start included.
const CALL_LIMIT: Duration = Duration::from_secs(10);

impl Turn {
    /// `times` calls on one connection; past one, says the median round trip instead.
    pub(super) async fn mcp_call(&self, tool: &str, arguments: &str, times: u32) -> StepResult {
        let server = self.session.mcp_servers.first().cloned();
        let (tool, arguments) = (tool.to_string(), arguments.to_string());
        let run = tokio::task::spawn_blocking(move || {
            call_blocking(server, &tool, &arguments, times.max(1))
        });
        let said = match self.interruptible(run).await? {
            Ok(text) => text,
            Err(e) => format!("mcp failed: {e}"),
        };
        self.say(&said).await
    }
}

fn call_blocking(server: Option<Value>, tool: &str, arguments: &str, times: u32) -> String {
    let Some(server) = server else {
        return "mcp failed: the session has no MCP server".to_string();
    };
    let arguments: Map<String, Value> = match serde_json::from_str(arguments) {
        Ok(Value::Object(map)) => map,
        _ => return format!("mcp failed: arguments are not a JSON object: {arguments}"),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return format!("mcp failed: {e}"),
    };
    let call = call(&server, tool, arguments, times);
    match runtime.block_on(async { tokio::time::timeout(CALL_LIMIT, call).await }) {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => format!("mcp failed: {e}"),
        Err(_) => "mcp failed: no answer in time".to_string(),
    }
}

async fn call(
    server: &Value,
    tool: &str,
    arguments: Map<String, Value>,
    times: u32,
) -> Result<String, String> {
    let command = server["command"]
        .as_str()
        .ok_or("the server has no command")?;
    let mut child = tokio::process::Command::new(command);
    for arg in server["args"].as_array().into_iter().flatten() {
        child.arg(arg.as_str().unwrap_or_default());
    }
    for pair in server["env"].as_array().into_iter().flatten() {
        if let (Some(name), Some(value)) = (pair["name"].as_str(), pair["value"].as_str()) {
            child.env(name, value);
        }
    }
    let mut child = child
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {command}: {e}"))?;
    let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
        return Err("no pipes to the server".into());
    };
    let client = ().serve((stdout, stdin)).await.map_err(|e| e.to_string())?;
    let mut took = Vec::new();
    let mut result = None;
    for _ in 0..times {
        let request =
            CallToolRequestParams::new(tool.to_string()).with_arguments(arguments.clone());
        let started = std::time::Instant::now();
        result = Some(client.call_tool(request).await.map_err(|e| e.to_string())?);
        took.push(started.elapsed());
    }
    let _ = client.cancel().await;
    let result = result.ok_or("no call")?;
    if times > 1 {
        took.sort();
        let median = took[took.len() / 2].as_micros();
        return Ok(format!("mcp {tool}: {times} calls, median {median} us"));
    }
    if result.is_error == Some(true) {
        let text: Vec<String> = serde_json::to_value(&result.content)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c["text"].as_str().map(str::to_string))
            .collect();
        return Ok(format!("mcp {tool} error: {}", text.join(" ")));
    }
    let structured = result.structured_content.unwrap_or(Value::Null);
    Ok(format!("mcp {tool}: {structured}"))
}
