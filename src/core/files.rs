//! Files the proxy serves itself when no client can: written and read beneath the
//! allowed directory that passed the policy check (so nothing swapped in since can
//! redirect them), regular files only, reads bounded by the message cap and cut to
//! the requested lines, and a few at a time per role so one role cannot hold the
//! blocking pool. Knows nothing of the wire beyond the answer's JSON.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::state::FastMap;
use crate::beneath::Beneath;
use crate::error::RpcError;
use crate::ids::Role;
use crate::jsonrpc;

/// File requests of one role served at once, at most; more are refused, not queued.
pub(super) const FILE_WORK_PER_ROLE: usize = 4;

/// The default bound on what one read returns (the default message cap).
const DEFAULT_MAX_READ_BYTES: usize = 64 * 1024 * 1024;

/// How many file requests each role has in progress, and how much one read may return.
#[derive(Debug)]
pub(super) struct FileWork {
    in_progress: FastMap<Role, usize>,
    pub max_read_bytes: usize,
}

impl Default for FileWork {
    fn default() -> Self {
        FileWork {
            in_progress: FastMap::default(),
            max_read_bytes: DEFAULT_MAX_READ_BYTES,
        }
    }
}

impl FileWork {
    /// Counts one more request of `role` in progress, unless it has its fill.
    pub fn start(&mut self, role: &Role) -> Result<(), RpcError> {
        let count = self.in_progress.entry(role.clone()).or_default();
        if *count >= FILE_WORK_PER_ROLE {
            return Err(RpcError::internal(format!(
                "{role} has {FILE_WORK_PER_ROLE} file requests in progress already; try again when one is answered"
            )));
        }
        *count += 1;
        Ok(())
    }

    pub fn done(&mut self, role: &Role) {
        if let Some(count) = self.in_progress.get_mut(role) {
            *count = count.saturating_sub(1);
        }
    }
}

/// Where a checked path lies: the allowed root and the resolved path beneath it.
#[derive(Debug, Clone)]
pub(super) struct Checked {
    pub root: PathBuf,
    pub resolved: PathBuf,
}

impl Checked {
    /// Opens the deepest part of the root that exists (the rest of the root is made
    /// by a write, beneath it); where the resolved path lies relative to that.
    fn open_root(&self, what: &str) -> Result<(Beneath, &Path), RpcError> {
        if !self.resolved.starts_with(&self.root) {
            return Err(RpcError::internal("the path left its directory"));
        }
        for base in self.root.ancestors() {
            match Beneath::open(base) {
                Ok(opened) => {
                    let relative = self.resolved.strip_prefix(base).unwrap_or(&self.resolved);
                    return Ok((opened, relative));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(what, &self.root, e)),
            }
        }
        Err(RpcError::internal(
            "no part of the directory could be opened",
        ))
    }
}

pub(super) fn write_file(target: &Checked, content: &str) -> Result<String, RpcError> {
    let (root, relative) = target.open_root("write")?;
    let mut file = root
        .create_file(relative)
        .map_err(|e| io_error("write", &target.resolved, e))?;
    file.write_all(content.as_bytes())
        .map_err(|e| io_error("write", &target.resolved, e))?;
    Ok("{}".to_string())
}

/// Reads lines `line..line+limit` (counted from 1; all by default), refusing more
/// than `max_bytes` of them.
pub(super) fn read_file(
    target: &Checked,
    line: Option<u64>,
    limit: Option<u64>,
    max_bytes: usize,
) -> Result<String, RpcError> {
    let (root, relative) = target.open_root("read")?;
    let file = root
        .open_file(relative)
        .map_err(|e| io_error("read", &target.resolved, e))?;
    let skip = line.unwrap_or(1).saturating_sub(1);
    let take = limit.unwrap_or(u64::MAX);
    let mut reader = BufReader::new(file);
    let bytes = read_lines(&mut reader, skip, take, max_bytes)
        .map_err(|e| io_error("read", &target.resolved, e))?
        .ok_or_else(|| too_large(&target.resolved, max_bytes))?;
    let content = String::from_utf8(bytes).map_err(|_| {
        RpcError::invalid_params(format!("{} is not UTF-8 text", target.resolved.display()))
    })?;
    Ok(json!({ "content": content }).to_string())
}

/// Skips `skip` lines, then collects up to `take` lines; `None` past `max_bytes`.
/// Streams: neither a skipped line nor the file is ever held whole.
fn read_lines(
    reader: &mut impl BufRead,
    mut skip: u64,
    mut take: u64,
    max_bytes: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    while take > 0 {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        let mut used = 0;
        while used < buffer.len() && take > 0 {
            let rest = &buffer[used..];
            let newline = rest.iter().position(|b| *b == b'\n');
            let end = newline.map_or(rest.len(), |at| at + 1);
            if skip > 0 {
                skip -= u64::from(newline.is_some());
            } else {
                if out.len() + end > max_bytes {
                    return Ok(None);
                }
                out.extend_from_slice(&rest[..end]);
                take -= u64::from(newline.is_some());
            }
            used += end;
        }
        reader.consume(used);
    }
    Ok(Some(out))
}

fn too_large(path: &Path, max_bytes: usize) -> RpcError {
    RpcError::invalid_params(format!(
        "{} is larger than the message cap ({max_bytes} bytes); read it in parts with `line` and `limit`",
        path.display()
    ))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> RpcError {
    let code = match e.kind() {
        std::io::ErrorKind::NotFound => jsonrpc::codes::RESOURCE_NOT_FOUND,
        std::io::ErrorKind::InvalidInput => jsonrpc::codes::INVALID_PARAMS,
        _ => jsonrpc::codes::INTERNAL_ERROR,
    };
    RpcError::new(code, format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn checked(dir: &Path, name: &str) -> Checked {
        let root = crate::policy::resolve(dir);
        Checked {
            resolved: root.join(name),
            root,
        }
    }

    fn content(answer: Result<String, RpcError>) -> String {
        let v: Value = serde_json::from_str(&answer.unwrap()).unwrap();
        v["content"].as_str().unwrap().to_string()
    }

    #[test]
    fn reading_a_line_range_counts_from_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "a\nb\nc").unwrap();
        let at = checked(dir.path(), "f");
        assert_eq!(content(read_file(&at, Some(2), Some(1), 100)), "b\n");
        assert_eq!(content(read_file(&at, Some(3), None, 100)), "c");
        assert_eq!(content(read_file(&at, None, None, 100)), "a\nb\nc");
        assert_eq!(content(read_file(&at, Some(9), Some(2), 100)), "");
    }

    #[test]
    fn a_read_past_the_cap_is_refused_but_a_small_range_of_the_same_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let long_line = "x".repeat(10_000);
        std::fs::write(dir.path().join("f"), format!("{long_line}\nshort\n")).unwrap();
        let at = checked(dir.path(), "f");
        let refused = read_file(&at, None, None, 1000).unwrap_err();
        assert!(
            refused.message.contains("larger than the message cap"),
            "{refused:?}"
        );
        assert_eq!(content(read_file(&at, Some(2), Some(1), 1000)), "short\n");
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_after_the_check_does_not_carry_the_write_out() {
        let dir = tempfile::tempdir().unwrap();
        let base = crate::policy::resolve(dir.path());
        std::fs::create_dir_all(base.join("allowed/race")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        let check = crate::policy::check_write("allowed/race/x", &base, &["allowed".into()]);
        assert_eq!(check.refusal, None);
        let target = Checked {
            root: check.root.unwrap(),
            resolved: check.resolved,
        };
        // The agent swaps the directory after the check, before the write.
        std::fs::remove_dir(base.join("allowed/race")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), base.join("allowed/race")).unwrap();
        assert!(write_file(&target, "escaped").is_err());
        // And the allowed directory itself.
        std::fs::rename(base.join("allowed"), base.join("moved")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), base.join("allowed")).unwrap();
        assert!(write_file(&target, "escaped").is_err());
        assert!(read_file(&target, None, None, 100).is_err());
        assert_eq!(std::fs::read_dir(base.join("outside")).unwrap().count(), 0);
    }

    #[test]
    fn a_write_into_a_directory_not_made_yet_makes_it() {
        let dir = tempfile::tempdir().unwrap();
        let base = crate::policy::resolve(dir.path());
        let target = Checked {
            root: base.join("src"),
            resolved: base.join("src/a/b.txt"),
        };
        write_file(&target, "ok").unwrap();
        assert_eq!(
            std::fs::read_to_string(base.join("src/a/b.txt")).unwrap(),
            "ok"
        );
    }

    #[test]
    fn a_role_holds_only_a_few_file_requests_at_once() {
        let mut work = FileWork::default();
        let (alpha, beta) = (Role::new("alpha"), Role::new("beta"));
        for _ in 0..FILE_WORK_PER_ROLE {
            work.start(&alpha).unwrap();
        }
        assert!(work.start(&alpha).is_err());
        work.start(&beta).unwrap();
        work.done(&alpha);
        work.start(&alpha).unwrap();
    }
}
