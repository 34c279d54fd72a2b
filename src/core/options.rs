//! Modes and config options: the team's `route` (as ACP modes and a `route` option,
//! which gives editors a role picker) and each role's own modes and options,
//! exposed as `role/<id>` and forwarded to that role's child session.

use serde_json::{Value, json};

use super::Core;
use super::api::Origin;
use super::commands::unknown_session;
use super::output::{Reply as Answer, SessionState, TeamEvent};
use super::slash::LocalOutcome;
use super::state::{ChildSession, Reply, RoleSession, ToAgent};
use crate::acp::method;
use crate::error::RpcError;
use crate::ids::{Role, SessionId};

const TEAM_MODE: &str = "team";
const ROUTE_OPTION: &str = "route";

impl Core {
    /// `modes` for the editor: `team` (the configured route) plus one per role.
    pub(super) fn session_modes(&self, session_id: &SessionId) -> Value {
        let current = self.current_route_id(session_id);
        let mut modes = vec![json!({
            "id": TEAM_MODE,
            "name": "Team",
            "description": format!("Prompts without @mentions go to {}", self.route_label()),
        })];
        for (role, slot) in &self.agents {
            let mut mode = json!({ "id": role.as_str(), "name": role.as_str() });
            if !slot.spec.persona.is_empty() {
                mode["description"] = json!(slot.spec.persona);
            }
            modes.push(mode);
        }
        json!({ "currentModeId": current, "availableModes": modes })
    }

    /// Every config option of the session: `route`, then each role's own.
    pub(super) fn config_options(&self, session_id: &SessionId) -> Value {
        let mut route_choices =
            vec![json!({ "value": TEAM_MODE, "name": format!("Team ({})", self.route_label()) })];
        route_choices.extend(
            self.agents
                .keys()
                .map(|r| json!({ "value": r.as_str(), "name": r.as_str() })),
        );
        let mut options = vec![json!({
            "id": ROUTE_OPTION,
            "name": "Route",
            "description": "Who answers prompts that name no role",
            "category": "mode",
            "type": "select",
            "currentValue": self.current_route_id(session_id),
            "options": route_choices,
        })];
        if let Some(session) = self.sessions.get(session_id) {
            for (role, rs) in &session.roles {
                options.extend(role_options(role, rs));
            }
        }
        Value::Array(options)
    }

    fn current_route_id(&self, session_id: &SessionId) -> String {
        self.sessions
            .get(session_id)
            .and_then(|s| s.route.as_ref())
            .map_or_else(|| TEAM_MODE.to_string(), |r| r.to_string())
    }

    fn route_label(&self) -> String {
        let names: Vec<&str> = self.team.route.iter().map(Role::as_str).collect();
        names.join(", ")
    }

    /// Tells the session's connections the full, current set of options.
    pub(super) fn announce_config_options(&mut self, session_id: &SessionId) {
        let options = self.config_options(session_id);
        self.show_state(session_id, SessionState::ConfigOptions(&options));
    }

    pub(super) fn handle_set_mode(&mut self, origin: &Origin, session_id: &SessionId, mode: &str) {
        match self.set_route(session_id, mode) {
            Ok(()) => {
                self.reply(origin, Ok(Answer::Empty));
                self.announce_config_options(session_id);
            }
            Err(e) => self.reply(origin, Err(e)),
        }
    }

    /// `team` or a role name becomes the session's route.
    fn set_route(&mut self, session_id: &SessionId, choice: &str) -> Result<(), RpcError> {
        let route = match choice {
            TEAM_MODE => None,
            role => Some(
                self.agents
                    .get_key_value(role)
                    .map(|(r, _)| r.clone())
                    .ok_or_else(|| {
                        RpcError::invalid_params(format!("no mode or role named {role:?}"))
                    })?,
            ),
        };
        let session = self
            .sessions
            .get_mut(session_id)
            .ok_or_else(|| unknown_session(session_id))?;
        session.route = route;
        let value = json!(choice);
        let event = TeamEvent::Mode {
            role: None,
            option: ROUTE_OPTION,
            value: &value,
        };
        self.emit(session_id, &event);
        Ok(())
    }

    pub(super) fn handle_set_config_option(
        &mut self,
        origin: Origin,
        session_id: &SessionId,
        option: &str,
        value: Value,
        kind: Option<String>,
    ) {
        let result = match option.split_once('/') {
            None if option == ROUTE_OPTION => self.set_route_option(&origin, session_id, &value),
            Some((role, option)) => {
                self.set_role_option(origin.clone(), session_id, role, option, value, kind)
            }
            None => Err(RpcError::invalid_params(format!(
                "no config option {option:?}"
            ))),
        };
        if let Err(e) = result {
            self.reply(&origin, Err(e));
        }
    }

    fn set_route_option(
        &mut self,
        origin: &Origin,
        session_id: &SessionId,
        value: &Value,
    ) -> Result<(), RpcError> {
        let choice = value
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("route takes a string value"))?;
        self.set_route(session_id, choice)?;
        let options = self.config_options(session_id);
        self.reply(origin, Ok(Answer::ConfigOptions(options)));
        self.show_state(session_id, SessionState::CurrentMode(choice));
        Ok(())
    }

    fn set_role_option(
        &mut self,
        origin: Origin,
        session_id: &SessionId,
        role: &str,
        option: &str,
        value: Value,
        kind: Option<String>,
    ) -> Result<(), RpcError> {
        let role = self.known_role(role)?;
        let rs = self.role_session(session_id, &role)?;
        let reply = Some(Reply {
            origin,
            as_prompt: None,
        });
        let native = rs
            .config_options
            .iter()
            .any(|o| o.get("id").and_then(Value::as_str) == Some(option));
        if !native && option == "mode" {
            let mode = value
                .as_str()
                .ok_or_else(|| RpcError::invalid_params("mode takes a string value"))?;
            return self.set_child_mode(session_id, &role, mode, reply);
        }
        if !native {
            return Err(RpcError::invalid_params(format!(
                "{role} has no config option {option:?}"
            )));
        }
        let ChildSession::Ready(child) = rs.child.clone() else {
            return Err(RpcError::internal(format!("{role} is not ready yet")));
        };
        let mut forward =
            json!({ "sessionId": child.as_str(), "configId": option, "value": value });
        if let Some(kind) = &kind {
            forward["type"] = json!(kind);
        }
        let purpose = ToAgent::SetConfigOption {
            session: session_id.clone(),
            option: option.to_string(),
            value: forward["value"].clone(),
            reply_to: reply,
        };
        self.request_agent(
            &role,
            method::SESSION_SET_CONFIG_OPTION,
            &forward.to_string(),
            purpose,
        )
    }

    /// Sets a role's mode on its child session: `session/set_mode` when the child has
    /// modes, else its `mode` config option.
    pub(super) fn set_child_mode(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        mode: &str,
        reply_to: Option<Reply>,
    ) -> Result<(), RpcError> {
        let rs = self.role_session(session_id, role)?;
        let ChildSession::Ready(child) = rs.child.clone() else {
            return Err(RpcError::internal(format!("{role} is not ready yet")));
        };
        let offered = mode_ids(rs);
        if offered.iter().any(|m| m == mode) {
            let params = json!({ "sessionId": child.as_str(), "modeId": mode });
            let purpose = ToAgent::SetMode {
                session: session_id.clone(),
                mode: mode.to_string(),
                reply_to,
            };
            return self.request_agent(
                role,
                method::SESSION_SET_MODE,
                &params.to_string(),
                purpose,
            );
        }
        if let Some(option) = mode_option(rs).filter(|o| select_values(o).iter().any(|v| v == mode))
        {
            let config_id = option.get("id").cloned().unwrap_or(Value::Null);
            let params =
                json!({ "sessionId": child.as_str(), "configId": config_id, "value": mode });
            let purpose = ToAgent::SetConfigOption {
                session: session_id.clone(),
                option: config_id.as_str().unwrap_or("mode").to_string(),
                value: json!(mode),
                reply_to,
            };
            return self.request_agent(
                role,
                method::SESSION_SET_CONFIG_OPTION,
                &params.to_string(),
                purpose,
            );
        }
        let mut known = offered;
        known.extend(mode_option(rs).map(select_values).unwrap_or_default());
        Err(RpcError::invalid_params(format!(
            "{role} has no mode {mode:?} (modes: {})",
            known.join(", ")
        )))
    }

    pub(super) fn on_child_mode_set(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        mode: &str,
        reply_to: Option<Reply>,
        outcome: Result<(), RpcError>,
    ) {
        if outcome.is_ok() {
            if let Some(rs) = self.role_session_mut(session_id, role) {
                set_current_mode(rs, json!(mode));
            }
            let value = json!(mode);
            let event = TeamEvent::Mode {
                role: Some(role),
                option: "mode",
                value: &value,
            };
            self.emit(session_id, &event);
        }
        self.finish_option_change(
            session_id,
            role,
            reply_to,
            outcome.map(|()| format!("{role} is now in {mode} mode")),
        );
    }

    pub(super) fn on_child_config_set(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        (option, value): (&str, &Value),
        reply_to: Option<Reply>,
        outcome: Result<&str, RpcError>,
    ) {
        if outcome.is_ok() {
            let event = TeamEvent::Mode {
                role: Some(role),
                option,
                value,
            };
            self.emit(session_id, &event);
        }
        let outcome = outcome.map(|result| {
            let result: Value = serde_json::from_str(result).unwrap_or(Value::Null);
            if let (Some(options), Some(rs)) = (
                result.get("configOptions").and_then(Value::as_array),
                self.role_session_mut(session_id, role),
            ) {
                rs.config_options = options.clone();
            }
            format!("{role}'s options updated")
        });
        self.finish_option_change(session_id, role, reply_to, outcome);
    }

    /// Answers whoever asked for an option change (a client's request or `/mode`).
    fn finish_option_change(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        reply_to: Option<Reply>,
        outcome: Result<String, RpcError>,
    ) {
        match (reply_to, outcome) {
            (None, Ok(_)) => self.announce_config_options(session_id),
            (None, Err(e)) => {
                tracing::info!(role = %role, error = %e.message, "mode change refused")
            }
            (
                Some(Reply {
                    origin,
                    as_prompt: Some(turn),
                }),
                outcome,
            ) => {
                let succeeded = outcome.is_ok();
                let outcome = match outcome {
                    Ok(summary) => LocalOutcome::Say(format!("{summary}\n")),
                    Err(e) => LocalOutcome::Fail(e),
                };
                self.finish_local_command(&origin, session_id, turn, outcome);
                if succeeded {
                    self.announce_config_options(session_id);
                }
            }
            (Some(reply), Ok(_)) => {
                let options = self.config_options(session_id);
                self.reply(&reply.origin, Ok(Answer::ConfigOptions(options)));
            }
            (Some(reply), Err(e)) => self.reply(&reply.origin, Err(e)),
        }
    }

    /// A child changed its own mode: mirror it in the role's options.
    pub(super) fn on_child_mode_update(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        update: Value,
    ) {
        let Some(mode) = update.get("currentModeId").cloned() else {
            return;
        };
        if let Some(rs) = self.role_session_mut(session_id, role) {
            set_current_mode(rs, mode);
        }
        self.announce_config_options(session_id);
    }

    pub(super) fn on_child_config_update(
        &mut self,
        session_id: &SessionId,
        role: &Role,
        update: Value,
    ) {
        if let (Some(options), Some(rs)) = (
            update.get("configOptions").and_then(Value::as_array),
            self.role_session_mut(session_id, role),
        ) {
            rs.config_options = options.clone();
        }
        self.announce_config_options(session_id);
    }

    pub(super) fn known_role(&self, name: &str) -> Result<Role, RpcError> {
        self.agents
            .get_key_value(name)
            .map(|(r, _)| r.clone())
            .ok_or_else(|| RpcError::invalid_params(format!("no role named {name:?}")))
    }

    fn role_session(&self, session_id: &SessionId, role: &Role) -> Result<&RoleSession, RpcError> {
        self.sessions
            .get(session_id)
            .ok_or_else(|| unknown_session(session_id))?
            .roles
            .get(role)
            .ok_or_else(|| RpcError::invalid_params(format!("{role} is not in this session")))
    }

    pub(super) fn role_session_mut(
        &mut self,
        session_id: &SessionId,
        role: &Role,
    ) -> Option<&mut RoleSession> {
        self.sessions.get_mut(session_id)?.roles.get_mut(role)
    }
}

/// A role's options as the editor sees them: the child's own, renamed `role/<id>`,
/// plus a `role/mode` select made from its modes when it has no mode option.
fn role_options(role: &Role, rs: &RoleSession) -> Vec<Value> {
    let mut options: Vec<Value> = rs
        .config_options
        .iter()
        .filter_map(|option| {
            let mut option = option.clone();
            let id = option.get("id")?.as_str()?.to_string();
            let name = option
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string();
            option["id"] = json!(format!("{role}/{id}"));
            option["name"] = json!(format!("{role}: {name}"));
            Some(option)
        })
        .collect();
    if mode_option(rs).is_none()
        && let Some(modes) = &rs.modes
    {
        options.push(mode_select(role, modes));
    }
    options
}

fn mode_select(role: &Role, modes: &Value) -> Value {
    let choices: Vec<Value> = modes
        .get("availableModes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let id = m.get("id")?.as_str()?;
            let name = m.get("name").and_then(Value::as_str).unwrap_or(id);
            Some(json!({ "value": id, "name": name }))
        })
        .collect();
    json!({
        "id": format!("{role}/mode"),
        "name": format!("{role}: mode"),
        "type": "select",
        "currentValue": modes.get("currentModeId").cloned().unwrap_or(Value::Null),
        "options": choices,
    })
}

/// Records a role's current mode in both places it may show: its modes and its own
/// mode option.
fn set_current_mode(rs: &mut RoleSession, mode: Value) {
    if let Some(modes) = rs.modes.as_mut() {
        modes["currentModeId"] = mode.clone();
    }
    let option = rs.config_options.iter_mut().find(|o| is_mode_option(o));
    if let Some(option) = option {
        option["currentValue"] = mode;
    }
}

fn is_mode_option(option: &Value) -> bool {
    option.get("id").and_then(Value::as_str) == Some("mode")
        || option.get("category").and_then(Value::as_str) == Some("mode")
}

/// The child's own mode option (`id` "mode" or category "mode"), if it has one.
fn mode_option(rs: &RoleSession) -> Option<&Value> {
    rs.config_options.iter().find(|o| is_mode_option(o))
}

fn mode_ids(rs: &RoleSession) -> Vec<String> {
    rs.modes
        .as_ref()
        .and_then(|m| m.get("availableModes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("id")?.as_str().map(str::to_string))
        .collect()
}

/// The values of a select option (flat or grouped).
fn select_values(option: &Value) -> Vec<String> {
    let mut values = Vec::new();
    for entry in option
        .get("options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(value) = entry.get("value").and_then(Value::as_str) {
            values.push(value.to_string());
        }
        for grouped in entry
            .get("options")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(value) = grouped.get("value").and_then(Value::as_str) {
                values.push(value.to_string());
            }
        }
    }
    values
}
