//! The team at runtime: spawn, kill and restart roles (from the chat's slash commands
//! or a client's team commands), and each role's summary.

use super::Core;
use super::command::SpawnRequest;
use super::output::AgentSummary;
use super::state::{AgentSlot, AgentState, ChildSession, ExitPlan, TurnId};
use super::timers::human;
use crate::config::{RoleSpec, role_name_problem};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};

impl Core {
    /// Adds a role at runtime, with the defaults' agent unless a command is given.
    pub(super) fn spawn_role(&mut self, request: SpawnRequest) -> Result<AgentSummary, RpcError> {
        if let Some(problem) = role_name_problem(&request.role) {
            return Err(RpcError::invalid_params(problem));
        }
        let role = Role::new(&request.role);
        if self.agents.contains_key(&role) {
            return Err(RpcError::invalid_params(format!(
                "there is already a role named {role}"
            )));
        }
        let mut spec: RoleSpec = self.team.defaults.clone();
        spec.role = role.clone();
        spec.persona = request.persona.unwrap_or_default();
        if let Some(command) = request.command {
            spec.command = command;
            spec.args = request.args;
        }
        tracing::info!(role = %role, command = %spec.command, "role spawned");
        self.agents.insert(role.clone(), AgentSlot::new(spec));
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for session in &sessions {
            if let Some(s) = self.sessions.get_mut(session) {
                s.roles.insert(role.clone(), Default::default());
            }
        }
        for session in &sessions {
            self.open_role_in_session(session, &role);
            self.announce_config_options(session);
            self.announce_commands(session);
        }
        Ok(self.agent_summary(&role))
    }

    /// Ends a role's agent; the role stays, stopped, until `/restart`.
    pub(super) fn kill_role(&mut self, role: &Role) -> Result<AgentSummary, RpcError> {
        let slot = self
            .agents
            .get_mut(role)
            .ok_or_else(|| unknown_role(role))?;
        match &slot.link {
            Some(link) => {
                slot.on_exit = Some(ExitPlan::Stay);
                link.shutdown();
            }
            None => {
                slot.on_exit = Some(ExitPlan::Stay);
                self.agent_gone(role, "stopped by hand".to_string(), Vec::new());
            }
        }
        Ok(self.agent_summary(role))
    }

    /// Starts a role's agent afresh, whatever state it is in (failed and stopped too).
    pub(super) fn restart_role(&mut self, role: &Role) -> Result<AgentSummary, RpcError> {
        let slot = self
            .agents
            .get_mut(role)
            .ok_or_else(|| unknown_role(role))?;
        slot.failures_in_a_row = 0;
        if let Some(link) = &slot.link {
            slot.on_exit = Some(ExitPlan::StartAgain);
            link.shutdown();
            return Ok(self.agent_summary(role));
        }
        slot.restarts += u32::from(!matches!(slot.state, AgentState::Idle));
        for session in self.sessions.values_mut() {
            if let Some(rs) = session.roles.get_mut(role)
                && matches!(rs.child, ChildSession::Failed(_))
            {
                rs.child = ChildSession::Pending;
            }
        }
        if self.retry_worktrees(role) {
            // It starts once its worktrees are made (`open_role_in_session`).
            if let Some(slot) = self.agents.get_mut(role) {
                slot.state = AgentState::Idle;
            }
            return Ok(self.agent_summary(role));
        }
        self.start_agent(role);
        // Its tasks waited while it was stopped or failed.
        let sessions: Vec<_> = self.sessions.keys().cloned().collect();
        for session in &sessions {
            self.dispatch_tasks(session);
        }
        Ok(self.agent_summary(role))
    }

    pub(super) fn all_agent_summaries(&self) -> Vec<AgentSummary> {
        self.agents
            .keys()
            .map(|role| self.agent_summary(role))
            .collect()
    }

    /// One role's state for `/agents`, team commands and status announcements.
    pub(super) fn agent_summary(&self, role: &Role) -> AgentSummary {
        let slot = self.agents.get(role);
        let running = slot.and_then(|s| s.link.as_ref().map(|link| (link, s.started_at)));
        AgentSummary {
            role: role.clone(),
            status: self.agent_status(role),
            restarts: slot.map_or(0, |s| s.restarts),
            command: slot.map(|s| s.spec.command.clone()).unwrap_or_default(),
            pid: running.and_then(|(link, _)| link.pid()),
            uptime_secs: running.and_then(|(_, started)| Some(started?.elapsed().as_secs())),
            reason: match slot.map(|s| &s.state) {
                Some(AgentState::Failed(why)) => Some(why.clone()),
                _ => None,
            },
            prompt: self.current_prompt_of(role),
            sandbox: slot.map(sandbox_text).unwrap_or_default(),
        }
    }

    /// A short summary of the prompt `role` is working on, if any.
    fn current_prompt_of(&self, role: &Role) -> Option<String> {
        let turn: TurnId = self
            .sessions
            .values()
            .find_map(|s| s.roles.get(role)?.turns.back().copied())?;
        self.turns.get(&turn).map(|t| t.summary.clone())
    }

    /// `/agents` as text for the chat.
    pub(super) fn describe_agents(&self) -> String {
        let mut text = format!("Agents ({}):\n", self.agents.len());
        for role in self.agents.keys() {
            let summary = self.agent_summary(role);
            let mut line = format!("- **{role}**: {}", summary.status.wire_name());
            if let Some(pid) = summary.pid {
                line.push_str(&format!(" · pid {pid}"));
            }
            if let Some(up) = summary.uptime_secs {
                let up = human(std::time::Duration::from_secs(up));
                line.push_str(&format!(" · up {up}"));
            }
            line.push_str(&format!(" · restarts {}", summary.restarts));
            line.push_str(&format!(" · sandbox {}", summary.sandbox));
            if let Some(reason) = &summary.reason {
                line.push_str(&format!(" · {reason}"));
            }
            if let Some(prompt) = &summary.prompt {
                line.push_str(&format!(" · “{prompt}”"));
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

fn unknown_role(role: &Role) -> RpcError {
    RpcError::invalid_params(format!("no role named {role:?}"))
}

/// Parses `/spawn ROLE [persona...] [--command CMD ARGS...]`.
pub fn parse_spawn(args: &[&str]) -> Result<SpawnRequest, RpcError> {
    let usage =
        || RpcError::invalid_params("usage: /spawn ROLE [persona...] [--command CMD ARGS...]");
    let (role, rest) = args.split_first().ok_or_else(usage)?;
    let split = rest.iter().position(|w| *w == "--command");
    let (persona, command) = match split {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    if split.is_some() && command.is_empty() {
        return Err(usage());
    }
    Ok(SpawnRequest {
        role: role.to_string(),
        persona: (!persona.is_empty()).then(|| persona.join(" ")),
        command: command.first().map(|c| c.to_string()),
        args: command.iter().skip(1).map(|a| a.to_string()).collect(),
    })
}

/// The sandbox a role's agent runs in, or before it ever ran, what its config asks.
fn sandbox_text(slot: &AgentSlot) -> String {
    match &slot.sandbox {
        Some(state) => state.to_string(),
        None => format!("{} (not started)", slot.spec.sandbox.mode.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_takes_a_persona_and_an_optional_command_line() {
        let request = parse_spawn(&[
            "reviewer",
            "Reviews",
            "diffs",
            "--command",
            "ourocodus",
            "fake-agent",
        ])
        .unwrap();
        assert_eq!(request.role, "reviewer");
        assert_eq!(request.persona.as_deref(), Some("Reviews diffs"));
        assert_eq!(request.command.as_deref(), Some("ourocodus"));
        assert_eq!(request.args, vec!["fake-agent"]);
        let bare = parse_spawn(&["docs"]).unwrap();
        assert_eq!((bare.persona, bare.command), (None, None));
        assert!(parse_spawn(&[]).is_err());
        assert!(parse_spawn(&["x", "--command"]).is_err());
    }
}
