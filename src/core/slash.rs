//! What the proxy itself says and offers in the chat: its slash commands (its own,
//! run here, plus each role's, namespaced `role:command`), its notices and words,
//! and who touched which file.

use serde_json::{Value, json};

use super::Core;
use super::api::Origin;
use super::output::{Reply, SessionState, Severity, StopReason, TeamEvent};
use super::team::parse_spawn;
use crate::acp::text_of_block;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};

/// How a slash command typed as a prompt ends.
pub(super) enum LocalOutcome {
    /// Its output, said in the chat.
    Say(String),
    /// It could not run: a warning in the chat.
    Warn(String),
    /// The agent refused: the prompt's answer is this error.
    Fail(RpcError),
}

impl Core {
    /// The proxy's own commands.
    fn own_commands(&self) -> Vec<Value> {
        let command = |name: &str, description: &str, hint: Option<&str>| {
            let mut command = json!({ "name": name, "description": description });
            if let Some(hint) = hint {
                command["input"] = json!({ "hint": hint });
            }
            command
        };
        vec![
            command(
                "agents",
                "List the team's agents: status, pid, uptime, restarts, current prompt",
                None,
            ),
            command(
                "spawn",
                "Add a role now: /spawn ROLE [persona...] [--command CMD ARGS...]",
                Some("ROLE [persona...]"),
            ),
            command(
                "kill",
                "Stop a role's agent (it stays listed; /restart starts it again)",
                Some("ROLE"),
            ),
            command("restart", "Start a role's agent afresh", Some("ROLE")),
            command(
                "merge",
                "Merge a role's worktree branch (ourocodus/ROLE) into the session's branch; \
                 conflicts are reported, never resolved",
                Some("ROLE"),
            ),
            command(
                "tasks",
                "List the session's tasks: id, role, status, priority, title, what they wait for",
                None,
            ),
            command(
                "approve",
                "Approve a task waiting for review: /approve tN",
                Some("tN"),
            ),
            command(
                "reject",
                "Send a task in review back to its role: /reject tN WHY",
                Some("tN WHY"),
            ),
            command(
                "retry",
                "Hand a blocked or failed task out again: /retry tN",
                Some("tN"),
            ),
            command(
                "answer",
                "Answer a role's question: /answer qN YOUR ANSWER",
                Some("qN ANSWER"),
            ),
            command(
                "usage",
                "Tokens, context and cost per role and per task, with the session's total",
                None,
            ),
            command(
                "mode",
                "Set a role's mode: /mode ROLE MODE (no arguments lists them)",
                Some("ROLE MODE"),
            ),
        ]
    }

    /// Tells a session's connections its merged command list.
    pub(super) fn announce_commands(&mut self, session_id: &SessionId) {
        let mut commands = self.own_commands();
        if let Some(session) = self.sessions.get(session_id) {
            for (role, rs) in &session.roles {
                commands.extend(
                    rs.commands
                        .iter()
                        .filter_map(|c| namespaced_command(role, c)),
                );
            }
        }
        let commands = Value::Array(commands);
        self.show_state(session_id, SessionState::Commands(&commands));
    }

    pub(super) fn on_child_commands(&mut self, session_id: &SessionId, role: &Role, update: Value) {
        let commands = update
            .get("availableCommands")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(rs) = self.role_session_mut(session_id, role) {
            rs.commands = commands;
        }
        self.announce_commands(session_id);
    }

    /// Runs the proxy's own slash commands typed as a prompt (recorded as a turn);
    /// returns false for anything else.
    pub(super) fn run_local_command(
        &mut self,
        origin: &Origin,
        session_id: &SessionId,
        prompt: &[Value],
    ) -> bool {
        let Some(text) = prompt.first().and_then(text_of_block) else {
            return false;
        };
        let mut words = text.split_whitespace();
        let command = words.next().unwrap_or_default();
        if !matches!(
            command,
            "/mode"
                | "/agents"
                | "/spawn"
                | "/kill"
                | "/restart"
                | "/tasks"
                | "/approve"
                | "/reject"
                | "/answer"
                | "/retry"
                | "/usage"
                | "/merge"
        ) {
            return false;
        }
        let args: Vec<&str> = words.collect();
        let turn = self.next_turn_seq(session_id);
        let event = TeamEvent::Prompt {
            turn,
            origin: Some(origin),
            roles: &[],
            blocks: prompt,
            summary: text,
        };
        self.emit(session_id, &event);
        let outcome = match command {
            "/mode" => match self.mode_command(origin, session_id, turn, &args) {
                Some(outcome) => outcome,
                None => return true,
            },
            "/merge" => match self.merge_command(origin, session_id, turn, &args) {
                Some(outcome) => outcome,
                None => return true,
            },
            "/agents" => Ok(self.describe_agents()),
            "/tasks" => Ok(self.describe_tasks(session_id)),
            "/approve" | "/reject" | "/answer" | "/retry" => {
                self.gate_command(session_id, command, &args)
            }
            "/usage" => Ok(self.describe_usage(session_id)),
            "/spawn" => parse_spawn(&args)
                .and_then(|request| self.spawn_role(request))
                .map(|summary| {
                    format!(
                        "spawned {} ({})\n",
                        summary.role,
                        summary.status.wire_name()
                    )
                }),
            _ => self.lifecycle_command(command, &args),
        };
        let outcome = match outcome {
            Ok(text) => LocalOutcome::Say(text),
            Err(e) => LocalOutcome::Warn(e.message),
        };
        self.finish_local_command(origin, session_id, turn, outcome);
        true
    }

    /// Ends a slash command's turn: its words or warning in the chat, then the answer.
    pub(super) fn finish_local_command(
        &mut self,
        origin: &Origin,
        session_id: &SessionId,
        turn: u64,
        outcome: LocalOutcome,
    ) {
        let ended = match outcome {
            LocalOutcome::Say(text) => {
                self.say(session_id, &text);
                Ok(StopReason::EndTurn)
            }
            LocalOutcome::Warn(why) => {
                self.notify(session_id, None, Severity::Warning, &why, None);
                Ok(StopReason::EndTurn)
            }
            LocalOutcome::Fail(error) => Err(error),
        };
        let event = TeamEvent::TurnEnded {
            turn,
            outcome: &ended,
        };
        let recorded = self.emit(session_id, &event);
        self.reply_when_committed(session_id, origin, ended.map(Reply::TurnEnded), recorded);
    }

    /// `/mode [ROLE MODE]`: None when the answer comes later (from the agent).
    fn mode_command(
        &mut self,
        origin: &Origin,
        session_id: &SessionId,
        turn: u64,
        args: &[&str],
    ) -> Option<Result<String, RpcError>> {
        match args {
            [] => Some(Ok(self.describe_modes(session_id))),
            [role, mode] => {
                let reply = Some(super::state::Reply {
                    origin: origin.clone(),
                    as_prompt: Some(turn),
                });
                match self
                    .known_role(role)
                    .and_then(|role| self.set_child_mode(session_id, &role, mode, reply))
                {
                    Ok(()) => None,
                    Err(e) => Some(Err(e)),
                }
            }
            _ => Some(Err(RpcError::invalid_params("usage: /mode ROLE MODE"))),
        }
    }

    /// `/kill ROLE` and `/restart ROLE`.
    fn lifecycle_command(&mut self, command: &str, args: &[&str]) -> Result<String, RpcError> {
        let [name] = args else {
            return Err(RpcError::invalid_params(format!("usage: {command} ROLE")));
        };
        let role = self.known_role(name)?;
        if command == "/kill" {
            self.kill_role(&role)?;
            Ok(format!("stopping {role}\n"))
        } else {
            self.restart_role(&role)?;
            Ok(format!("restarting {role}\n"))
        }
    }

    fn describe_modes(&self, session_id: &SessionId) -> String {
        let mut text = String::from("Modes per role (change with `/mode ROLE MODE`):\n");
        for option in self
            .config_options(session_id)
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = option.get("id").and_then(Value::as_str).unwrap_or_default();
            if let Some(role) = id.strip_suffix("/mode") {
                let current = option
                    .get("currentValue")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                text.push_str(&format!("- {role}: {current}\n"));
            }
        }
        text
    }

    /// Text from the proxy itself in the chat.
    pub(super) fn say(&mut self, session_id: &SessionId, text: &str) {
        self.emit(session_id, &TeamEvent::Say { text });
    }

    /// Tells the user something about a role (or the team when `role` is None).
    pub(super) fn notify(
        &mut self,
        session_id: &SessionId,
        role: Option<&Role>,
        severity: Severity,
        title: &str,
        description: Option<&str>,
    ) {
        let speaker = role.map_or("ourocodus", Role::as_str);
        tracing::info!(session = %session_id, role = speaker, title, "notice");
        let event = TeamEvent::Notice {
            role,
            severity,
            title,
            description,
        };
        self.emit(session_id, &event);
    }

    /// The same notice in every session (an agent-wide event such as a crash).
    pub(super) fn notify_every_session(
        &mut self,
        role: &Role,
        severity: Severity,
        title: &str,
        description: Option<&str>,
    ) {
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for session in sessions {
            self.notify(&session, Some(role), severity, title, description);
        }
    }

    /// Notes that `role` wrote or is editing `path`; warns when another role did too.
    pub(super) fn note_file_touched(&mut self, session_id: &SessionId, role: &Role, path: &str) {
        let resolved = crate::policy::resolve(std::path::Path::new(path));
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let previous = session.file_owners.insert(resolved.clone(), role.clone());
        if let Some(other) = previous.filter(|other| other != role) {
            let relative = resolved.strip_prefix(&session.cwd).unwrap_or(&resolved);
            let shown =
                super::quote::agent_text(&relative.display().to_string(), super::quote::PATH_CHARS);
            let title = format!("{role} and {other} are both working on {shown}");
            let description = format!(
                "{other} wrote or edited it earlier in this session; {role} is changing it now."
            );
            self.notify(
                session_id,
                Some(role),
                Severity::Warning,
                &title,
                Some(&description),
            );
        }
    }
}

fn namespaced_command(role: &Role, command: &Value) -> Option<Value> {
    let name = command.get("name")?.as_str()?;
    let mut command = command.clone();
    command["name"] = json!(format!("{role}:{name}"));
    let description = command
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    command["description"] = json!(format!("[{role}] {description}"));
    Some(command)
}
