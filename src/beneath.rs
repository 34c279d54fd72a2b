//! Opening files beneath a directory so that nothing swapped in after a policy check
//! (a symlink, a directory moved away) can lead the open outside it: resolution and
//! open are one step (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or a walk
//! of `O_NOFOLLOW` opens from a directory fd where `openat2` is missing), and only
//! regular files are opened, without blocking, and none is written through a second
//! hard link. Knows nothing of roles or policy.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, SFlag, fstat, mkdirat};

/// An open directory that files are opened beneath.
#[derive(Debug)]
pub struct Beneath {
    dir: OwnedFd,
}

impl Beneath {
    /// Opens `root`, an absolute path that must contain no symlink now (a resolved
    /// one): a symlink swapped in anywhere along it since it was resolved fails.
    pub fn open(root: &Path) -> io::Result<Beneath> {
        let relative = root
            .strip_prefix("/")
            .map_err(|_| invalid("the root must be an absolute path"))?;
        let slash = OwnedFd::from(File::open("/")?);
        let dir = if relative.as_os_str().is_empty() {
            slash
        } else {
            open_beneath(&slash, relative, dir_flags(), Mode::empty())?
        };
        Ok(Beneath { dir })
    }

    /// The directory at `relative`, made (each part beneath the last) where missing;
    /// a symlink anywhere along it fails rather than being followed.
    pub fn make_dirs(&self, relative: &Path) -> io::Result<OwnedFd> {
        check_relative(relative)?;
        let mut dir: Option<OwnedFd> = None;
        for part in relative.components() {
            let parent = dir.as_ref().unwrap_or(&self.dir);
            match mkdirat(parent, part.as_os_str(), Mode::from_bits_truncate(0o777)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
            let name = Path::new(part.as_os_str());
            dir = Some(open_beneath(parent, name, dir_flags(), Mode::empty())?);
        }
        dir.ok_or_else(|| invalid("no directory"))
    }

    /// Opens the regular file at `relative` for reading.
    pub fn open_file(&self, relative: &Path) -> io::Result<File> {
        check_relative(relative)?;
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        regular(open_beneath(&self.dir, relative, flags, Mode::empty())?)
    }

    /// Creates or truncates the regular file at `relative` for writing, making its
    /// missing parent directories on the way (each one beneath the last).
    pub fn create_file(&self, relative: &Path) -> io::Result<File> {
        check_relative(relative)?;
        let name = relative
            .file_name()
            .ok_or_else(|| invalid("no file name"))?;
        let dir = relative
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| self.make_dirs(p))
            .transpose()?;
        let flags = OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC;
        let parent = dir.as_ref().unwrap_or(&self.dir);
        let mode = Mode::from_bits_truncate(0o666);
        let file = match open_beneath(parent, Path::new(name), flags, mode) {
            Ok(fd) => regular(fd)?,
            // A FIFO without a reader (or a device without a driver), not waited for.
            Err(e) if e.raw_os_error() == Some(Errno::ENXIO as i32) => {
                return Err(invalid("not a regular file"));
            }
            Err(e) => return Err(e),
        };
        // A second name for a file elsewhere (a hard link made by whoever can write
        // here) would carry the write out of the directory.
        if file.metadata()?.nlink() > 1 {
            return Err(invalid("the file has other hard links"));
        }
        // Truncated only once known to be a regular file of its own.
        file.set_len(0)?;
        Ok(file)
    }
}

fn dir_flags() -> OFlag {
    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC
}

/// Only plain names: the caller hands over what lies beneath the root.
fn check_relative(relative: &Path) -> io::Result<()> {
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if plain && !relative.as_os_str().is_empty() {
        Ok(())
    } else {
        Err(invalid("not a plain relative path"))
    }
}

/// Resolves and opens in one step; where `openat2` is missing (old kernels, seccomp
/// filters that refuse it), walks the components with `O_NOFOLLOW` instead.
fn open_beneath(dir: &impl AsFd, relative: &Path, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_NOFOLLOW)
        .mode(mode)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    match openat2(dir, relative, how) {
        Err(Errno::ENOSYS | Errno::EPERM) => walk_open(dir, relative, flags, mode),
        opened => Ok(opened?),
    }
}

fn walk_open(dir: &impl AsFd, relative: &Path, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
    check_relative(relative)?;
    let mut parts: Vec<_> = relative.components().collect();
    let last = parts.pop().ok_or_else(|| invalid("no file name"))?;
    let mut at: Option<OwnedFd> = None;
    for part in parts {
        let parent = at.as_ref().map_or(dir.as_fd(), |fd| fd.as_fd());
        at = Some(openat(
            parent,
            part.as_os_str(),
            dir_flags() | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )?);
    }
    let parent = at.as_ref().map_or(dir.as_fd(), |fd| fd.as_fd());
    Ok(openat(
        parent,
        last.as_os_str(),
        flags | OFlag::O_NOFOLLOW,
        mode,
    )?)
}

/// The file, if it is a regular one (not a FIFO, a device, a socket or a directory).
fn regular(fd: OwnedFd) -> io::Result<File> {
    let stat = fstat(&fd)?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(invalid("not a regular file"));
    }
    Ok(File::from(fd))
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn files_are_written_and_read_beneath_the_root_with_their_parents_made() {
        let dir = tempfile::tempdir().unwrap();
        let root = Beneath::open(&crate::policy::resolve(dir.path())).unwrap();
        root.create_file(Path::new("a/b/c.txt"))
            .unwrap()
            .write_all(b"hi")
            .unwrap();
        let mut text = String::new();
        root.open_file(Path::new("a/b/c.txt"))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hi");
        assert!(root.open_file(Path::new("a/../a/b/c.txt")).is_err());
    }

    #[test]
    fn fifos_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&dir.path().join("pipe"), Mode::from_bits_truncate(0o600)).unwrap();
        let root = Beneath::open(&crate::policy::resolve(dir.path())).unwrap();
        let error = root.open_file(Path::new("pipe")).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        // With no reader, a non-blocking open for writing fails at once (ENXIO).
        let error = root.create_file(Path::new("pipe")).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }

    #[test]
    fn a_hard_link_to_a_file_outside_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let base = crate::policy::resolve(dir.path());
        std::fs::create_dir_all(base.join("allowed")).unwrap();
        std::fs::write(base.join("precious"), "keep").unwrap();
        std::fs::hard_link(base.join("precious"), base.join("allowed/innocent")).unwrap();
        let root = Beneath::open(&base.join("allowed")).unwrap();
        let error = root.create_file(Path::new("innocent")).unwrap_err();
        assert!(error.to_string().contains("hard links"), "{error}");
        assert_eq!(
            std::fs::read_to_string(base.join("precious")).unwrap(),
            "keep"
        );
    }

    #[test]
    fn the_fallback_walk_refuses_symlinks_too() {
        let dir = tempfile::tempdir().unwrap();
        let base = crate::policy::resolve(dir.path());
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), base.join("link")).unwrap();
        let slash = OwnedFd::from(File::open(&base).unwrap());
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT;
        let mode = Mode::from_bits_truncate(0o600);
        assert!(walk_open(&slash, Path::new("link/x"), flags, mode).is_err());
        assert!(!base.join("outside/x").exists());
    }
}
