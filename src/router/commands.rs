//! Session state the proxy merges across roles: slash commands (its own plus each
//! role's, namespaced `role:command`), plans, notices for editors without them, and
//! who touched which file. Also runs the proxy's own slash commands.

use serde_json::{Value, json};

use super::Router;
use super::emit::{PROXY_SPEAKER, Severity};
use super::floor::{Item, ItemKind};
use super::team::parse_spawn;
use crate::acp::{method, role_meta, text_of_block};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::jsonrpc::{self, RequestId};

impl Router {
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
                "mode",
                "Set a role's mode: /mode ROLE MODE (no arguments lists them)",
                Some("ROLE MODE"),
            ),
        ]
    }

    /// Sends the merged command list for a session.
    pub(super) fn announce_commands(&self, session_id: &SessionId) {
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
        let update =
            json!({ "sessionUpdate": "available_commands_update", "availableCommands": commands });
        self.send_update(session_id.as_str(), update);
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

    /// Runs `/mode` typed as a prompt; returns false for anything else.
    pub(super) fn run_local_command(
        &mut self,
        id: &RequestId,
        session_id: &SessionId,
        prompt: &[Value],
    ) -> bool {
        let Some(text) = prompt.first().and_then(text_of_block) else {
            return false;
        };
        let mut words = text.split_whitespace();
        let command = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let outcome = match command {
            "/mode" => match self.mode_command(id, session_id, &args) {
                Some(outcome) => outcome,
                None => return true,
            },
            "/agents" => Ok(self.describe_agents()),
            "/spawn" => parse_spawn(&args)
                .and_then(|request| self.spawn_role(request))
                .map(|summary| {
                    format!(
                        "spawned {} ({})\n",
                        summary["role"].as_str().unwrap_or("?"),
                        summary["status"].as_str().unwrap_or("?")
                    )
                }),
            "/kill" | "/restart" => self.lifecycle_command(command, &args),
            _ => return false,
        };
        match outcome {
            Ok(text) => {
                self.say_as_proxy(session_id, &text);
                self.respond(id, &json!({ "stopReason": "end_turn" }));
            }
            Err(e) => {
                self.notify_user(session_id, None, Severity::Warning, &e.message, None);
                self.respond(id, &json!({ "stopReason": "end_turn" }));
            }
        }
        true
    }

    /// `/mode [ROLE MODE]`: None when the answer comes later (from the agent).
    fn mode_command(
        &mut self,
        id: &RequestId,
        session_id: &SessionId,
        args: &[&str],
    ) -> Option<Result<String, RpcError>> {
        match args {
            [] => Some(Ok(self.describe_modes(session_id))),
            [role, mode] => {
                let reply = Some(super::state::Reply {
                    id: id.clone(),
                    as_prompt: true,
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
    pub(super) fn say_as_proxy(&mut self, session_id: &SessionId, text: &str) {
        let speaker = Role::new(PROXY_SPEAKER);
        let item = self.text_item(session_id, &speaker, text);
        self.emit_via_floor(session_id, &speaker, item);
    }

    /// Plain editors show one plan: each role's entries, labelled, in team order.
    pub(super) fn on_child_plan(&mut self, session_id: &SessionId, role: &Role, update: Value) {
        let entries = update
            .get("entries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        session.plans.insert(role.clone(), entries);
        // Entries are prefixed with their role only when several roles have a plan.
        let several = session.plans.values().filter(|e| !e.is_empty()).count() > 1;
        let merged: Vec<Value> = session
            .plans
            .iter()
            .flat_map(|(r, entries)| {
                entries.iter().map(move |e| {
                    if several {
                        labelled_entry(r, e)
                    } else {
                        e.clone()
                    }
                })
            })
            .collect();
        let mut plan = json!({ "sessionUpdate": "plan", "entries": merged, "_meta": role_meta(role.as_str()) });
        if let Some(meta) = update.get("_meta").and_then(Value::as_object) {
            for (key, value) in meta.iter().filter(|(k, _)| *k != "ourocodus") {
                plan["_meta"][key] = value.clone();
            }
        }
        let item = self.update_item(session_id, plan);
        self.emit_via_floor(session_id, role, item);
    }

    /// A child's `notice` for an editor that cannot show notices.
    pub(super) fn on_child_notice(&mut self, session_id: &SessionId, role: &Role, update: Value) {
        let severity = match update.get("severity").and_then(Value::as_str) {
            Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            _ => Severity::Info,
        };
        let title = update
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("notice");
        let description = update.get("description").and_then(Value::as_str);
        self.notify_user(session_id, Some(role), severity, title, description);
    }

    /// Notes that `role` wrote or is editing `path`; warns when another role did too.
    pub(super) fn note_file_touched(&mut self, session_id: &SessionId, role: &Role, path: &str) {
        let resolved = crate::policy::resolve(std::path::Path::new(path));
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        let previous = session.file_owners.insert(resolved.clone(), role.clone());
        if let Some(other) = previous.filter(|other| other != role) {
            let shown = resolved
                .strip_prefix(&session.cwd)
                .unwrap_or(&resolved)
                .display()
                .to_string();
            let title = format!("{role} and {other} are both working on {shown}");
            let description = format!(
                "{other} wrote or edited it earlier in this session; {role} is changing it now."
            );
            self.notify_user(
                session_id,
                Some(role),
                Severity::Warning,
                &title,
                Some(&description),
            );
        }
    }

    /// A proxy-built update on the parent session, as a floor item.
    fn update_item(&self, session_id: &SessionId, update: Value) -> Item {
        let params = json!({ "sessionId": session_id.as_str(), "update": update });
        Item {
            line: jsonrpc::notification(method::SESSION_UPDATE, Some(&params.to_string())),
            kind: ItemKind::Other,
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

fn labelled_entry(role: &Role, entry: &Value) -> Value {
    let mut entry = entry.clone();
    let content = entry
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    entry["content"] = json!(format!("[{role}] {content}"));
    entry
}
