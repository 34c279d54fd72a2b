//! `/merge ROLE` and `_ourocodus/merge`: the role's branch merged into the branch
//! checked out in the session's directory, run off the loop, and the outcome said in
//! the chat (or answered to the plugin that asked). A conflict is reported, never
//! resolved. Git itself is `crate::worktree`'s.

use super::api::Origin;
use super::output::Reply;
use super::slash::LocalOutcome;
use super::worktrees::WorktreeDone;
use super::{Core, LocalEvent};
use crate::error::RpcError;
use crate::ids::{Role, SessionId};
use crate::worktree::{MergeOutcome, MergeReport};

/// A merge that ran off the loop, and who waits for its outcome.
#[derive(Debug)]
pub struct MergeDone {
    session: SessionId,
    role: Role,
    origin: Origin,
    /// The turn of `/merge` typed in the chat; `None` for the extension method.
    turn: Option<u64>,
    result: Result<MergeReport, String>,
}

impl Core {
    /// `/merge ROLE` typed as a prompt: `None` once the merge runs (the turn ends
    /// when it is done).
    pub(super) fn merge_command(
        &mut self,
        origin: &Origin,
        session: &SessionId,
        turn: u64,
        args: &[&str],
    ) -> Option<Result<String, RpcError>> {
        let [name] = args else {
            return Some(Err(RpcError::invalid_params("usage: /merge ROLE")));
        };
        let started = self
            .known_role(name)
            .and_then(|role| self.start_merge(origin, session, &role, Some(turn)));
        started.err().map(Err)
    }

    /// `_ourocodus/merge { sessionId, role }`: answered once the merge is done.
    pub(super) fn handle_merge_request(
        &mut self,
        origin: &Origin,
        session: &SessionId,
        role: &str,
    ) {
        let started = self
            .known_session(session)
            .and_then(|()| self.known_role(role))
            .and_then(|role| self.start_merge(origin, session, &role, None));
        if let Err(error) = started {
            self.reply(origin, Err(error));
        }
    }

    /// Starts the merge off the loop, unless the role has no worktree here or is
    /// still working in it.
    fn start_merge(
        &mut self,
        origin: &Origin,
        session: &SessionId,
        role: &Role,
        turn: Option<u64>,
    ) -> Result<(), RpcError> {
        let root = self.ready_worktree(session, role)?.root.clone();
        if self.merging.contains(role) {
            return Err(RpcError::invalid_params(format!(
                "{role}'s branch is being merged already"
            )));
        }
        // Its worktree is the role's in every session: a turn in any of them writes there.
        let working = self
            .sessions
            .values()
            .any(|s| s.roles.get(role).is_some_and(|rs| !rs.turns.is_empty()));
        if working {
            return Err(RpcError::invalid_params(format!(
                "{role} is working: `/merge {role}` once its turn is over (or cancel it)"
            )));
        }
        let cwd = self.session_cwd(session)?;
        tracing::info!(role = %role, session = %session, "merging the role's branch");
        // Until it is done, prompts and tasks for the role wait (queued as for a busy role).
        self.merging.insert(role.clone());
        let events = self.local_tx.clone();
        let mut done = MergeDone {
            session: session.clone(),
            role: role.clone(),
            origin: origin.clone(),
            turn,
            result: Err(String::new()),
        };
        let role = role.clone();
        // The outcome always comes back, a panic in the merge included: the role's mark
        // is cleared only by it.
        tokio::spawn(async move {
            let merged = tokio::task::spawn_blocking(move || {
                crate::worktree::merge(&cwd, &root, role.as_str()).map_err(|e| e.to_string())
            })
            .await;
            done.result = merged.unwrap_or_else(|e| Err(format!("the merge stopped: {e}")));
            let _ = events.send(LocalEvent::Worktree(WorktreeDone::Merged(done)));
        });
        Ok(())
    }

    pub(super) fn on_merged(&mut self, done: MergeDone) {
        let MergeDone {
            session,
            role,
            origin,
            turn,
            result,
        } = done;
        match &result {
            Ok(report) => tracing::info!(role = %role, outcome = ?report.outcome, "merge done"),
            Err(why) => tracing::warn!(role = %role, why = %why, "merge not done"),
        }
        self.merging.remove(&role);
        let Some(turn) = turn else {
            let reply = result
                .map(|report| Reply::Merged {
                    role: role.clone(),
                    report,
                })
                .map_err(RpcError::internal);
            self.reply(&origin, reply);
            // After the answer, so nothing the role says next comes before it.
            return self.resume_after_merge(&role);
        };
        let outcome = match result {
            Ok(report) => {
                let text = describe_merge(&role, &report);
                match report.outcome {
                    // A notice's title is one line.
                    MergeOutcome::Conflict { .. } => LocalOutcome::Warn(one_line(&text)),
                    _ => LocalOutcome::Say(text),
                }
            }
            Err(why) => LocalOutcome::Warn(format!("/merge {role}: {why}")),
        };
        self.finish_local_command(&origin, &session, turn, outcome);
        self.resume_after_merge(&role);
    }
}

impl Core {
    /// What waited for the merge goes on: the role's queued prompts, then its tasks.
    fn resume_after_merge(&mut self, role: &Role) {
        let sessions: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.roles.contains_key(role))
            .map(|(id, _)| id.clone())
            .collect();
        for session in &sessions {
            self.pump_prompts(session, role);
        }
        for session in &sessions {
            self.dispatch_tasks(session);
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What `/merge` says in the chat about a merge that ran.
fn describe_merge(role: &Role, report: &MergeReport) -> String {
    let mut text = String::new();
    if let Some(committed) = &report.committed {
        let files = plural(committed.files, "file");
        text.push_str(&format!(
            "Committed what {role} left uncommitted ({files}) as {} on {}.\n",
            committed.commit, report.branch
        ));
    }
    let (branch, into) = (&report.branch, &report.into);
    match &report.outcome {
        MergeOutcome::Merged {
            commit,
            files,
            summary,
        } => {
            text.push_str(&format!(
                "Merged {branch} into {into} as {commit}: {summary}\n"
            ));
            for file in files {
                text.push_str(&format!("- {file}\n"));
            }
        }
        MergeOutcome::NothingToMerge => {
            text.push_str(&format!(
                "Nothing to merge: {into} already has everything on {branch}.\n"
            ));
        }
        MergeOutcome::Conflict { files } => {
            text.push_str(&format!(
                "CONFLICT: merging {branch} into {into} conflicts in {}. The merge was aborted \
                 and your tree is as it was; merge {into} into {branch} in {role}'s worktree \
                 (or ask {role} to), then `/merge {role}` again.\n",
                files.join(", ")
            ));
        }
    }
    text
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}
