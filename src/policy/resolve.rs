//! Where a path really leads: `..`, absolute paths and symlinks resolved against the
//! file system as it is now, in time linear in the path (each step works from an open
//! directory, never from the root again). Knows nothing of roles or policy.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::Mode;

/// Symlink hops allowed while resolving one path (as the kernel's limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// The longest path text an agent may send (the kernel's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Why an agent's path text is refused before anything looks at the disk.
pub fn refuse_path_text(path: &str) -> Option<String> {
    if path.as_bytes().contains(&0) {
        return Some("a path may not contain a NUL byte".to_string());
    }
    if path.len() > MAX_PATH_BYTES {
        return Some(format!(
            "a path may not be longer than {MAX_PATH_BYTES} bytes (this one has {})",
            path.len()
        ));
    }
    None
}

/// Like `realpath`, but the tail may not exist yet: follows every symlink it meets
/// (up to the hop limit; past it the path resolves to itself lexically, which then
/// fails the policy check rather than escaping it).
pub fn resolve(path: &Path) -> PathBuf {
    let mut walk = Walk::at_root();
    let mut pending = Vec::new();
    push_components(&mut pending, path, &mut walk);
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            walk.up();
            continue;
        }
        match walk.enter(&name) {
            Some(target) if hops < MAX_SYMLINK_HOPS => {
                hops += 1;
                push_components(&mut pending, Path::new(&target), &mut walk);
            }
            Some(_) => walk.push_lexical(&name),
            None => {}
        }
    }
    walk.resolved
}

/// A resolution in progress: the path so far, with the directory it names open
/// while it exists (`lexical` counts the names past the last directory that does).
struct Walk {
    resolved: PathBuf,
    dir: Option<OwnedFd>,
    lexical: usize,
}

impl Walk {
    fn at_root() -> Walk {
        Walk {
            resolved: PathBuf::from("/"),
            dir: std::fs::File::open("/").ok().map(OwnedFd::from),
            lexical: 0,
        }
    }

    /// Into `name` when it is a directory that exists (one open) or lexically when it
    /// does not; when it is a symlink, its target instead, and nothing is entered.
    fn enter(&mut self, name: &OsStr) -> Option<OsString> {
        if let Some(dir) = self.dir.as_ref().filter(|_| self.lexical == 0) {
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            match openat(dir, name, flags, Mode::empty()) {
                Ok(next) => {
                    self.dir = Some(next);
                    self.resolved.push(name);
                    return None;
                }
                Err(Errno::ENOENT) => {}
                // A symlink, a file, or a directory we may not open.
                Err(_) => {
                    if let Ok(target) = readlinkat(dir, name) {
                        return Some(target);
                    }
                }
            }
        }
        self.push_lexical(name);
        None
    }

    /// Past `name` without looking at the disk (what is beneath something missing,
    /// or not a directory, is not there either).
    fn push_lexical(&mut self, name: &OsStr) {
        self.resolved.push(name);
        self.lexical += 1;
    }

    /// To the parent: the resolved path names a real directory, so its `..` is the
    /// path's parent (and `/..` is `/`).
    fn up(&mut self) {
        self.resolved.pop();
        if self.lexical > 0 {
            self.lexical -= 1;
        } else {
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            let parent = self
                .dir
                .as_ref()
                .map(|dir| openat(dir, "..", flags, Mode::empty()));
            self.dir = parent.and_then(Result::ok);
        }
    }
}

/// Puts `path`'s components on top of `pending` (the next one last); an absolute
/// path restarts the walk at `/`.
fn push_components(pending: &mut Vec<OsString>, path: &Path, walk: &mut Walk) {
    if path.has_root() {
        *walk = Walk::at_root();
    }
    let start = pending.len();
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => pending.push(OsString::from("..")),
            Component::Normal(name) => pending.push(name.to_os_string()),
        }
    }
    pending[start..].reverse();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_bytes_and_paths_past_path_max_are_refused_as_text() {
        assert!(refuse_path_text("a\0b").is_some());
        assert!(refuse_path_text(&"a/".repeat(3000)).is_some());
        assert_eq!(refuse_path_text("src/ok.rs"), None);
    }

    #[test]
    fn dot_dot_after_a_symlink_leaves_the_directory_it_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let root = resolve(dir.path());
        std::fs::create_dir_all(root.join("src/deep/inner")).unwrap();
        std::os::unix::fs::symlink(root.join("src/deep/inner"), root.join("src/link")).unwrap();
        assert_eq!(resolve(&root.join("src/link/../../x")), root.join("src/x"));
        assert_eq!(
            resolve(&root.join("nope/../src/./link")),
            root.join("src/deep/inner")
        );
        assert_eq!(resolve(Path::new("/../..")), PathBuf::from("/"));
    }

    /// Prints what resolving costs at growing numbers of components; run with
    /// `cargo test --lib -- --ignored --nocapture resolving_cost`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn resolving_cost_grows_linearly_with_the_components() {
        let dir = tempfile::tempdir().unwrap();
        let root = resolve(dir.path());
        std::fs::create_dir_all(root.join("d")).unwrap();
        for n in [1_000, 10_000, 100_000, 1_000_000] {
            for (shape, part) in [("missing x/", "x/"), ("existing d/../", "d/../")] {
                let path = root.join(part.repeat(n));
                let started = std::time::Instant::now();
                let resolved = resolve(&path);
                let took = started.elapsed();
                assert!(resolved.starts_with(&root));
                println!("{n:>9} components of {shape:<15} {took:?}");
            }
        }
    }
}
