//! Per-role policy decisions: where a role's file writes may land and which tools it
//! may use without asking. Pure functions over paths and names; the router applies
//! them before anything reaches the editor or the disk.

mod resolve;

use std::path::{Path, PathBuf};

pub use resolve::{MAX_PATH_BYTES, refuse_path_text, resolve};

/// What the proxy does with a permission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolDecision {
    /// Answer `reject_once` without asking; `pattern` is the `tools_deny` entry.
    Deny { pattern: String },
    /// Answer `allow_once` without asking; `pattern` is the `tools_allow` entry.
    Allow { pattern: String },
    /// Ask the user.
    Ask,
}

/// Matches a tool call's kind and Claude tool name against the role's lists; deny
/// wins over allow, and `*` in `tools_allow` means "ask about the rest".
pub fn decide_tool(
    allow: &[String],
    deny: &[String],
    kind: Option<&str>,
    tool_name: Option<&str>,
) -> ToolDecision {
    let matches = |pattern: &String| {
        kind.is_some_and(|k| glob_match(pattern, k))
            || tool_name.is_some_and(|t| glob_match(pattern, t))
    };
    if let Some(pattern) = deny.iter().find(|p| matches(p)) {
        return ToolDecision::Deny {
            pattern: pattern.clone(),
        };
    }
    match allow
        .iter()
        .filter(|p| p.as_str() != "*")
        .find(|p| matches(p))
    {
        Some(pattern) => ToolDecision::Allow {
            pattern: pattern.clone(),
        },
        None => ToolDecision::Ask,
    }
}

/// Decides on everything a tool call ever claimed to be: each kind and Claude tool
/// name it was given is matched, and the strictest outcome wins (deny, then ask,
/// then allow), so re-declaring a denied call as an allowed kind changes nothing.
pub fn decide_tool_call(
    allow: &[String],
    deny: &[String],
    kinds: &[String],
    tool_names: &[String],
) -> ToolDecision {
    let kinds: Vec<Option<&str>> = options_or_none(kinds);
    let names: Vec<Option<&str>> = options_or_none(tool_names);
    let decisions = kinds.iter().flat_map(|kind| {
        names
            .iter()
            .map(move |name| decide_tool(allow, deny, *kind, *name))
    });
    // The first of the strictest, so the pattern named is the first that matched.
    decisions
        .reduce(|a, b| {
            if strictness(&b) > strictness(&a) {
                b
            } else {
                a
            }
        })
        .unwrap_or(ToolDecision::Ask)
}

/// Each item, or one `None` when there are none (a call without a kind still has
/// its tool name matched).
fn options_or_none(items: &[String]) -> Vec<Option<&str>> {
    match items {
        [] => vec![None],
        items => items.iter().map(|i| Some(i.as_str())).collect(),
    }
}

/// Orders decisions from the most permissive to the strictest.
fn strictness(decision: &ToolDecision) -> u8 {
    match decision {
        ToolDecision::Allow { .. } => 0,
        ToolDecision::Ask => 1,
        ToolDecision::Deny { .. } => 2,
    }
}

/// Case-insensitive glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(c) if *c == '?' || *c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    n = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Where a file operation resolves to, and whether the role may write there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCheck {
    pub resolved: PathBuf,
    /// The allowed directory (resolved) that `resolved` lies under: what the proxy's
    /// own file work opens beneath, so the path cannot leave it after the check.
    pub root: Option<PathBuf>,
    /// `None` when allowed; otherwise why not, for the error the agent receives.
    pub refusal: Option<String>,
}

/// Checks a write of `path` (relative paths count from `cwd`) against the role's
/// `directories` (relative entries count from `cwd`), after resolving `..`, absolute
/// paths and symlinks, including symlinks in parts that exist and dangling ones.
pub fn check_write(path: &str, cwd: &Path, directories: &[PathBuf]) -> WriteCheck {
    check_under(path, cwd, directories, |resolved, allowed| {
        format!(
            "write to {} refused by ourocodus policy: outside this role's directories ({})",
            resolved.display(),
            display_list(allowed)
        )
    })
}

/// Checks that `path` lies under one of `roots` (each resolved from `cwd`).
pub fn check_read(path: &str, cwd: &Path, roots: &[PathBuf]) -> WriteCheck {
    check_under(path, cwd, roots, |resolved, allowed| {
        format!(
            "read of {} refused by ourocodus policy: outside the session's directories ({})",
            resolved.display(),
            display_list(allowed)
        )
    })
}

/// Resolves `path` and finds the root it lies under; `outside` says why not. A path
/// that resolves to a name that is not UTF-8 (a symlink's target can be any bytes)
/// is refused too: it could not be passed on as it is.
fn check_under(
    path: &str,
    cwd: &Path,
    roots: &[PathBuf],
    outside: impl FnOnce(&Path, &[PathBuf]) -> String,
) -> WriteCheck {
    let resolved = resolve(&cwd.join(path));
    let allowed = resolved_roots(cwd, roots);
    let root = allowed
        .iter()
        .find(|root| resolved.starts_with(root))
        .cloned();
    let refusal = match (&root, resolved.to_str()) {
        (_, None) => Some(format!(
            "{} refused by ourocodus policy: it resolves to a name that is not UTF-8",
            resolved.display()
        )),
        (None, Some(_)) => Some(outside(&resolved, &allowed)),
        (Some(_), Some(_)) => None,
    };
    WriteCheck {
        resolved,
        root: root.filter(|_| refusal.is_none()),
        refusal,
    }
}

fn resolved_roots(cwd: &Path, directories: &[PathBuf]) -> Vec<PathBuf> {
    directories.iter().map(|d| resolve(&cwd.join(d))).collect()
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn deny_beats_allow_and_matches_kind_or_claude_tool_name() {
        let allow = strings(&["*", "read", "mcp__*"]);
        let deny = strings(&["execute", "WebFetch"]);
        let d = |kind, tool| decide_tool(&allow, &deny, kind, tool);
        assert_eq!(
            d(Some("execute"), Some("Bash")),
            ToolDecision::Deny {
                pattern: "execute".into()
            }
        );
        assert_eq!(
            d(Some("fetch"), Some("webfetch")),
            ToolDecision::Deny {
                pattern: "WebFetch".into()
            }
        );
        assert_eq!(
            d(Some("read"), None),
            ToolDecision::Allow {
                pattern: "read".into()
            }
        );
        assert_eq!(
            d(None, Some("mcp__db__query")),
            ToolDecision::Allow {
                pattern: "mcp__*".into()
            }
        );
        assert_eq!(d(Some("edit"), Some("Write")), ToolDecision::Ask);
    }

    #[test]
    fn a_tool_call_is_decided_on_the_strictest_kind_it_ever_had() {
        let allow = strings(&["edit", "read"]);
        let deny = strings(&["execute"]);
        let d = |kinds: &[&str], names: &[&str]| {
            decide_tool_call(&allow, &deny, &strings(kinds), &strings(names))
        };
        let denied = ToolDecision::Deny {
            pattern: "execute".into(),
        };
        assert_eq!(d(&["execute", "edit"], &[]), denied);
        assert_eq!(d(&["EDIT", "Execute"], &["Write"]), denied);
        assert_eq!(d(&["edit", "fetch"], &[]), ToolDecision::Ask);
        assert_eq!(
            d(&["Edit", "read"], &[]),
            ToolDecision::Allow {
                pattern: "edit".into()
            }
        );
        assert_eq!(d(&[], &[]), ToolDecision::Ask);
    }

    #[test]
    fn glob_handles_stars_and_question_marks() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("mcp__*__query", "mcp__db__query"));
        assert!(glob_match("ba?h", "BASH"));
        assert!(!glob_match("bash", "bash2"));
        assert!(!glob_match("*x", "abc"));
    }

    #[test]
    fn writes_inside_the_role_directories_are_allowed() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("src/backend")).unwrap();
        let dirs = vec![PathBuf::from("src/backend")];
        let ok = check_write("src/backend/new/file.rs", &dir, &dirs);
        assert_eq!(ok.refusal, None);
        let abs = dir.join("src/backend/x.rs");
        assert_eq!(
            check_write(abs.to_str().unwrap(), &dir, &dirs).refusal,
            None
        );
    }

    #[test]
    fn dot_dot_absolute_paths_and_symlinks_cannot_escape() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("api")).unwrap();
        std::fs::create_dir_all(dir.join("secret")).unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), dir.join("api/link")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd-not-there", dir.join("api/dangling")).unwrap();
        let dirs = vec![PathBuf::from("api")];
        for path in [
            "api/../secret/x",
            "/etc/passwd",
            "api/link/x",
            "api/dangling",
            "api/link/../../secret/y",
        ] {
            let check = check_write(path, &dir, &dirs);
            assert!(
                check.refusal.is_some(),
                "{path} resolved to {:?}",
                check.resolved
            );
        }
    }

    #[test]
    fn symlink_loops_do_not_hang_or_escape() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("api")).unwrap();
        std::os::unix::fs::symlink(dir.join("api/b"), dir.join("api/a")).unwrap();
        std::os::unix::fs::symlink(dir.join("api/a"), dir.join("api/b")).unwrap();
        let check = check_write("api/a/x", &dir, &[PathBuf::from("api")]);
        assert!(check.resolved.starts_with(resolve(&dir.join("api"))));
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ourocodus-policy-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        resolve(&dir)
    }
}
