//! Which rights a sandbox handles and which it grants where: write rights beneath the
//! plan's writable paths (no symlinks unless asked), the usual device files, and, when
//! reading is narrowed, read rights beneath what programs need to run. Knows Landlock's
//! access rights; nothing of processes.

use std::path::{Path, PathBuf};

use landlock::{ABI, AccessFs, BitFlags};

use super::SandboxPlan;

/// Device files any program may write (`> /dev/null`, a terminal).
pub const DEVICE_FILES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
];

/// Device directories whose files may be written: pseudo-terminals. (Not `/dev/shm`:
/// creating files there is refused anyway, and writing could corrupt another
/// program's shared memory.)
pub const DEVICE_DIRECTORIES: &[&str] = &["/dev/pts"];

/// What a program needs to read to run at all, when reading is narrowed.
pub fn system_readable() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/proc", "/sys",
        "/dev", "/run", "/nix",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // Wherever the programs on PATH live (a node under the home directory, say).
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path).filter(|p| p.is_absolute()));
    }
    paths
}

/// The rights one sandbox handles, and those it grants to each kind of place.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    abi: ABI,
    write: BitFlags<AccessFs>,
    read: BitFlags<AccessFs>,
    symlinks: bool,
}

impl Access {
    pub fn new(abi: ABI, plan: &SandboxPlan) -> Access {
        // Ioctls on devices are left alone: a terminal needs them, and they write no file.
        let write = AccessFs::from_write(abi) & !AccessFs::IoctlDev;
        let read = if plan.readable.is_some() {
            AccessFs::from_read(abi)
        } else {
            BitFlags::EMPTY
        };
        Access {
            abi,
            write,
            read,
            symlinks: plan.symlinks,
        }
    }

    /// Everything the ruleset restricts; what no rule grants is refused.
    pub fn handled(&self) -> BitFlags<AccessFs> {
        self.write | self.read
    }

    /// Beneath a writable path: every handled right, but making symlinks only if asked.
    pub fn writable(&self) -> BitFlags<AccessFs> {
        let all = self.write | self.read;
        if self.symlinks {
            all
        } else {
            all & !AccessFs::MakeSym
        }
    }

    /// A device file: write it and truncate it (`>` opens with O_TRUNC), nothing more.
    fn device(&self) -> BitFlags<AccessFs> {
        self.read | ((AccessFs::WriteFile | AccessFs::Truncate) & self.write)
    }

    /// Rights narrowed to what applies to `path`: a file takes no directory rights.
    fn for_path(&self, path: &Path, rights: BitFlags<AccessFs>) -> BitFlags<AccessFs> {
        if path.is_dir() {
            rights
        } else {
            rights & AccessFs::from_file(self.abi)
        }
    }
}

/// Every rule of the plan: a path and the rights granted beneath it.
pub fn rules(plan: &SandboxPlan, access: &Access) -> Vec<(PathBuf, BitFlags<AccessFs>)> {
    let mut rules = Vec::new();
    let mut add = |path: PathBuf, rights: BitFlags<AccessFs>| {
        let rights = access.for_path(&path, rights);
        if !rights.is_empty() {
            rules.push((path, rights));
        }
    };
    for path in &plan.writable {
        add(path.clone(), access.writable());
    }
    for path in DEVICE_FILES.iter().chain(DEVICE_DIRECTORIES) {
        add(PathBuf::from(path), access.device());
    }
    if let Some(readable) = &plan.readable {
        for path in readable.iter().cloned().chain(system_readable()) {
            add(path, access.read);
        }
    }
    rules
}
