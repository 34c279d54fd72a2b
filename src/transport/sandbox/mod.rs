//! The kernel's half of a role's policy: a Linux Landlock ruleset that lets an agent and
//! every process it starts write only where the plan says. The ruleset is built in the
//! proxy and applied in the child between fork and exec, so the proxy itself is never
//! restricted. Knows Landlock and paths; nothing of roles, config files or the wire.

mod prepare;
mod rules;

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use landlock::{
    ABI, Access as _, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr, Scope,
};
use landlock::{RulesetCreatedAttr, RulesetError};

pub use prepare::Prepared;
pub use rules::{DEVICE_DIRECTORIES, DEVICE_FILES, system_readable};

/// Set to `unavailable` in the proxy's environment, the kernel counts as having no
/// Landlock: how tests show what `auto` and `require` do on such a kernel.
pub const SIMULATE_ENV: &str = "OUROCODUS_SANDBOX_SIMULATE";

/// Where an agent may write (and, when `readable` is set, read), as resolved paths.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SandboxPlan {
    /// Refuse to start the agent when the kernel cannot enforce the plan.
    pub required: bool,
    /// Directories (or files) the agent may write beneath.
    pub writable: Vec<PathBuf>,
    /// Directories the agent may write beneath, found (and made where missing) from a
    /// base without following any symlink below it: the role's directories inside a
    /// session's directory, where an agent might have planted a link before a restart.
    pub anchored: Vec<Anchored>,
    /// Those of `writable` made (as directories) when missing, since Landlock can only
    /// grant what exists: the adapter's state directories.
    pub create: Vec<PathBuf>,
    /// When set, the only places it may read besides `writable` and what programs
    /// need to run (`system_readable`).
    pub readable: Option<Vec<PathBuf>>,
    /// Whether it may make symlinks where it may write.
    pub symlinks: bool,
}

/// A directory `below` (plain names only) a `base` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    pub base: PathBuf,
    pub below: PathBuf,
}

/// What a started agent actually runs under, for `/agents` and the notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxState {
    /// The plan is enforced by the kernel (Landlock ABI version).
    Enforced { abi: i32 },
    /// The role's config turned it off.
    Off,
    /// `auto` on a kernel that cannot: the agent runs without it.
    Unavailable { reason: String },
}

impl fmt::Display for SandboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxState::Enforced { abi } => write!(f, "enforced (Landlock ABI {abi})"),
            SandboxState::Off => write!(f, "off"),
            SandboxState::Unavailable { reason } => write!(f, "unavailable: {reason}"),
        }
    }
}

/// A ruleset ready to be applied in a child; closed when dropped.
#[derive(Debug)]
pub struct Restriction {
    ruleset: OwnedFd,
    abi: i32,
}

impl Restriction {
    /// Builds the ruleset for `plan`; an error says why the kernel cannot enforce it.
    pub fn build(plan: &SandboxPlan, opened: &[OwnedFd]) -> Result<Restriction, String> {
        let version = kernel_abi()?;
        let abi = abi_of(version);
        let ruleset = build_ruleset(plan, opened, abi)
            .map_err(|e| format!("the Landlock ruleset could not be built: {e}"))?
            .ok_or_else(|| "the kernel enforces none of the ruleset".to_string())?;
        Ok(Restriction {
            ruleset,
            abi: version,
        })
    }

    pub fn state(&self) -> SandboxState {
        SandboxState::Enforced { abi: self.abi }
    }

    /// The ruleset's descriptor, for `apply_in_child` (valid while `self` lives).
    pub fn raw_fd(&self) -> RawFd {
        self.ruleset.as_raw_fd()
    }
}

/// What the child runs between fork and exec (only system calls, no allocation): a
/// session of its own (no controlling terminal to type into; its process group is its
/// pid), no-new-privileges, the ruleset `fd` on it and so on everything it will start,
/// and close-on-exec on every descriptor above stderr it got from the proxy (Landlock
/// does not check writes through a descriptor already open).
#[allow(unsafe_code)]
pub fn apply_in_child(fd: RawFd) -> io::Result<()> {
    // SAFETY: setsid, prctl, landlock_restrict_self and close_range take plain integers
    // and touch no memory of ours; all are safe to call between fork and exec.
    unsafe {
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::geteuid() == 0 {
            drop_root_powers();
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::syscall(libc::SYS_landlock_restrict_self, fd, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        // A kernel without close_range leaves them as they are.
        let _ = libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
    }
    Ok(())
}

/// Run as root, an agent would keep every capability across its exec (loading kernel
/// modules, mounting, typing into any terminal: past what Landlock decides). Emptying
/// the bounding and ambient sets leaves it root by name only. Unknown capability
/// numbers are refused by the kernel and skipped.
#[allow(unsafe_code)]
fn drop_root_powers() {
    const PR_CAPBSET_DROP: libc::c_int = 24;
    const PR_CAP_AMBIENT: libc::c_int = 47;
    const PR_CAP_AMBIENT_CLEAR_ALL: libc::c_ulong = 4;
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        for capability in 0..64 as libc::c_ulong {
            libc::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0);
        }
    }
}

/// `close_range` flag: mark close-on-exec rather than close.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// The kernel's Landlock ABI version, or why there is none.
#[allow(unsafe_code)]
pub fn kernel_abi() -> Result<i32, String> {
    if std::env::var(SIMULATE_ENV).is_ok_and(|v| v == "unavailable") {
        return Err(format!(
            "Landlock is unavailable ({SIMULATE_ENV}=unavailable)"
        ));
    }
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and size 0, this call only reports the version.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if version < 1 {
        let error = io::Error::last_os_error();
        return Err(format!("this kernel has no Landlock ({error})"));
    }
    i32::try_from(version).map_err(|_| format!("unexpected Landlock version {version}"))
}

/// The newest ABI this build knows that the kernel has.
fn abi_of(version: i32) -> ABI {
    match version {
        ..=1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        6 => ABI::V6,
        _ => ABI::V7,
    }
}

/// The ruleset for `plan`, with the directories in `opened` writable too.
fn build_ruleset(
    plan: &SandboxPlan,
    opened: &[OwnedFd],
    abi: ABI,
) -> Result<Option<OwnedFd>, RulesetError> {
    let access = rules::Access::new(abi, plan);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(access.handled())?;
    if abi >= ABI::V6 {
        // No signals to processes outside the sandbox (the proxy, the editor, other
        // roles) and no connecting to abstract unix sockets made outside it.
        ruleset = ruleset.scope(Scope::from_all(abi))?;
    }
    let mut ruleset = ruleset.create()?;
    for (path, rights) in rules::rules(plan, &access) {
        // A path that does not exist (yet) gets no rule: nothing can be written there.
        let Ok(fd) = PathFd::new(&path) else {
            tracing::debug!(path = %path.display(), "sandbox: no such path; no rule");
            continue;
        };
        ruleset = ruleset.add_rule(PathBeneath::new(fd, rights))?;
    }
    for dir in opened {
        ruleset = ruleset.add_rule(PathBeneath::new(dir, access.writable()))?;
    }
    Ok(ruleset.into())
}

#[cfg(test)]
mod tests;
