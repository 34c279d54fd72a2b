//! Where each role works in a session: the session's directory, or with `worktree =
//! true` the role's git worktree, made off the loop before the role's agent gets a
//! child session there (a role whose worktree cannot be made gets none, and the user
//! is told why). One answer, `role_cwd`, for everything that reads a path of the
//! role's. Git itself is `crate::worktree`'s; `/merge` is `merge`'s.

use std::path::PathBuf;

use super::state::FastMap;
use super::{Core, LocalEvent};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::worktree::Worktree;

/// The roles' worktrees, by session: only roles with `worktree = true` have one.
#[derive(Debug, Default)]
pub struct Workdirs {
    by_session: FastMap<(SessionId, Role), Workdir>,
}

#[derive(Debug, Clone)]
pub enum Workdir {
    /// Git is making it (or finding it) off the loop.
    Preparing,
    Ready(Worktree),
    /// It could not be made: why, as the user reads it.
    Failed(String),
}

/// Work on worktrees finished off the loop.
#[derive(Debug)]
pub enum WorktreeDone {
    Prepared {
        session: SessionId,
        role: Role,
        result: Result<Worktree, String>,
    },
    Merged(super::merge::MergeDone),
}

impl Workdirs {
    pub fn get(&self, session: &SessionId, role: &Role) -> Option<&Workdir> {
        self.by_session.get(&(session.clone(), role.clone()))
    }

    fn set(&mut self, session: &SessionId, role: &Role, workdir: Workdir) {
        self.by_session
            .insert((session.clone(), role.clone()), workdir);
    }

    /// Whether one of `role`'s worktrees is still being made.
    fn preparing(&self, role: &Role) -> bool {
        self.by_session
            .iter()
            .any(|((_, r), w)| r == role && matches!(w, Workdir::Preparing))
    }

    /// The session is gone; its roles' worktrees stay on disk for the next one.
    pub fn forget_session(&mut self, session: &SessionId) {
        self.by_session.retain(|(s, _), _| s != session);
    }

    /// Worktrees of `role` that could not be made are tried again on its next start.
    fn forget_failures(&mut self, role: &Role) {
        self.by_session
            .retain(|(_, r), w| r != role || !matches!(w, Workdir::Failed(_)));
    }
}

impl Core {
    /// Whether `role` works in a worktree of its own.
    pub(super) fn uses_worktree(&self, role: &Role) -> bool {
        self.agents
            .get(role)
            .is_some_and(|slot| slot.spec.worktree.enabled)
    }

    /// The directory `role` works in within `session`: its child session's `cwd`,
    /// what its `directories` and paths are relative to, where its terminals start.
    pub(super) fn role_cwd(&self, session: &SessionId, role: &Role) -> Result<PathBuf, RpcError> {
        let session_cwd = self.session_cwd(session)?;
        if !self.uses_worktree(role) {
            return Ok(session_cwd);
        }
        match self.workdirs.get(session, role) {
            Some(Workdir::Ready(worktree)) => Ok(worktree.cwd.clone()),
            Some(Workdir::Failed(why)) => Err(RpcError::internal(why.clone())),
            Some(Workdir::Preparing) | None => Err(RpcError::internal(format!(
                "{role}'s worktree is not ready yet"
            ))),
        }
    }

    /// The directories `role` works in across the sessions (for its sandbox): a
    /// worktree role's only where its worktree is ready.
    pub(super) fn role_cwds(&self, role: &Role) -> Vec<PathBuf> {
        let mut cwds: Vec<PathBuf> = self
            .sessions
            .keys()
            .filter_map(|session| self.role_cwd(session, role).ok())
            .collect();
        cwds.sort();
        cwds.dedup();
        cwds
    }

    /// Whether `role` may go on in `session` (its worktree, if it has one, is ready).
    /// Otherwise the worktree is started, or waited for, or the child session fails
    /// with why it could not be made.
    pub(super) fn worktree_ready(&mut self, session: &SessionId, role: &Role) -> bool {
        if !self.uses_worktree(role) {
            return true;
        }
        match self.workdirs.get(session, role) {
            Some(Workdir::Ready(_)) => true,
            Some(Workdir::Preparing) => false,
            Some(Workdir::Failed(why)) => {
                let why = why.clone();
                self.fail_child_session(session, role, why);
                false
            }
            None => {
                self.prepare_worktree(session, role);
                false
            }
        }
    }

    /// Whether `role`'s agent should wait before starting: a worktree it will work
    /// in is being made, and its sandbox must include it.
    pub(super) fn start_waits_for_worktree(&self, role: &Role) -> bool {
        self.workdirs.preparing(role)
    }

    /// `/restart`: worktrees that could not be made are tried again. True when the
    /// agent's start must wait for them.
    pub(super) fn retry_worktrees(&mut self, role: &Role) -> bool {
        if !self.uses_worktree(role) {
            return false;
        }
        self.workdirs.forget_failures(role);
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        for session in sessions {
            if self.workdirs.get(&session, role).is_none() {
                self.prepare_worktree(&session, role);
            }
        }
        self.workdirs.preparing(role)
    }

    /// Runs git off the loop; the answer comes back as `WorktreeDone::Prepared`.
    fn prepare_worktree(&mut self, session: &SessionId, role: &Role) {
        let (Some(slot), Some(state)) = (self.agents.get(role), self.sessions.get(session)) else {
            return;
        };
        let base = slot.spec.worktree.dir.clone();
        let cwd = state.cwd.clone();
        self.workdirs.set(session, role, Workdir::Preparing);
        tracing::info!(role = %role, session = %session, "preparing the role's worktree");
        let events = self.local_tx.clone();
        let (session, role) = (session.clone(), role.clone());
        tokio::task::spawn_blocking(move || {
            let result = crate::worktree::prepare(&cwd, role.as_str(), &base)
                .map_err(|e| format!("worktree = true for role {role}, but {e}"));
            let done = WorktreeDone::Prepared {
                session,
                role,
                result,
            };
            let _ = events.send(LocalEvent::Worktree(done));
        });
    }

    pub(super) fn handle_worktree_done(&mut self, done: WorktreeDone) {
        match done {
            WorktreeDone::Prepared {
                session,
                role,
                result,
            } => self.on_worktree_prepared(&session, &role, result),
            WorktreeDone::Merged(merged) => self.on_merged(merged),
        }
    }

    fn on_worktree_prepared(
        &mut self,
        session: &SessionId,
        role: &Role,
        result: Result<Worktree, String>,
    ) {
        if !self.sessions.contains_key(session) || !self.uses_worktree(role) {
            return;
        }
        let workdir = match result {
            Ok(worktree) => {
                self.say_worktree(session, role, &worktree);
                Workdir::Ready(worktree)
            }
            Err(why) => {
                tracing::warn!(role = %role, session = %session, why = %why, "no worktree");
                Workdir::Failed(why)
            }
        };
        self.workdirs.set(session, role, workdir);
        self.open_role_in_session(session, role);
    }

    fn say_worktree(&mut self, session: &SessionId, role: &Role, worktree: &Worktree) {
        let title = format!("{role} works in its own worktree");
        let how = if worktree.reused {
            "kept from an earlier session"
        } else {
            "made from HEAD"
        };
        let description = format!(
            "{} on branch {} ({how}); `/merge {role}` merges it back.",
            worktree.root.display(),
            worktree.branch
        );
        let severity = super::output::Severity::Info;
        self.notify(session, Some(role), severity, &title, Some(&description));
    }

    /// The worktree `role` has ready in `session`, for `/merge`.
    pub(super) fn ready_worktree(
        &self,
        session: &SessionId,
        role: &Role,
    ) -> Result<&Worktree, RpcError> {
        if !self.uses_worktree(role) {
            return Err(RpcError::invalid_params(format!(
                "{role} has no worktree: it works in the session's directory \
                 (`worktree = true` gives it one)"
            )));
        }
        match self.workdirs.get(session, role) {
            Some(Workdir::Ready(worktree)) => Ok(worktree),
            Some(Workdir::Failed(why)) => Err(RpcError::invalid_params(why.clone())),
            Some(Workdir::Preparing) | None => Err(RpcError::invalid_params(format!(
                "{role}'s worktree is not ready yet"
            ))),
        }
    }
}
