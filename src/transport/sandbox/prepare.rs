//! Getting one child's sandbox ready before it is spawned: its private temporary
//! directory (its `TMPDIR`, writable, removed when the child is done) and the ruleset,
//! or, under `auto` on a kernel without Landlock, the reason there is none.

use std::path::Path;

use tempfile::TempDir;

use std::os::fd::OwnedFd;

use super::{Anchored, Restriction, SandboxPlan, SandboxState};
use crate::beneath::Beneath;

/// A sandbox ready for one spawn.
#[derive(Debug)]
pub struct Prepared {
    /// Applied in the child; `None` when off or unavailable.
    pub restriction: Option<Restriction>,
    /// The child's private temporary directory; removed when this is dropped.
    pub tmp: Option<TempDir>,
    pub state: SandboxState,
}

impl Prepared {
    /// Readies `plan` for an agent of `role`; an error when the plan is required and
    /// cannot be enforced (or no private temporary directory can be made).
    pub fn new(plan: Option<&SandboxPlan>, role: &str) -> Result<Prepared, String> {
        let Some(plan) = plan else {
            return Ok(Prepared {
                restriction: None,
                tmp: None,
                state: SandboxState::Off,
            });
        };
        let tmp = tempfile::Builder::new()
            .prefix(&format!("ourocodus-{role}-"))
            .tempdir()
            .map_err(|e| format!("cannot make the role's temporary directory: {e}"))?;
        for dir in &plan.create {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(role, dir = %dir.display(), error = %e, "cannot make a writable directory");
            }
        }
        let opened: Vec<OwnedFd> = plan.anchored.iter().filter_map(open_anchored).collect();
        let mut plan = plan.clone();
        plan.writable.push(tmp.path().to_path_buf());
        match Restriction::build(&plan, &opened) {
            Ok(restriction) => Ok(Prepared {
                state: restriction.state(),
                restriction: Some(restriction),
                tmp: Some(tmp),
            }),
            Err(reason) if plan.required => Err(reason),
            Err(reason) => Ok(Prepared {
                restriction: None,
                tmp: Some(tmp),
                state: SandboxState::Unavailable { reason },
            }),
        }
    }

    pub fn tmp_path(&self) -> Option<&Path> {
        self.tmp.as_ref().map(TempDir::path)
    }
}

/// The directory of `anchored`, made where missing; none (so nothing writable there)
/// when a symlink lies below its base.
fn open_anchored(anchored: &Anchored) -> Option<OwnedFd> {
    let opened = std::fs::canonicalize(&anchored.base)
        .and_then(|base| Beneath::open(&base))
        .and_then(|base| base.make_dirs(&anchored.below));
    match opened {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::warn!(
                base = %anchored.base.display(),
                below = %anchored.below.display(),
                error = %e,
                "sandbox: a role directory is not writable (a symlink below the session directory?)"
            );
            None
        }
    }
}
