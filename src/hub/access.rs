//! Who may reach the hub: its bearer token (made on first start, kept 0600 in the
//! user's config directory, compared in constant time), the addresses it may listen
//! on (loopback, unless remote access is asked for with TLS), and where clients find
//! it (the browser origins it accepts are `browser`'s). Knows files, addresses and
//! strings; nothing of the protocol spoken once in.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the hub listens and clients look for it unless told otherwise.
pub const DEFAULT_HUB: &str = "127.0.0.1:7420";
/// The token file under the user's config directory.
pub const TOKEN_FILE: &str = "ourocodus/token";
/// Random bytes in a token (shown as twice as many hex digits).
const TOKEN_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("no config directory: set $XDG_CONFIG_HOME or $HOME")]
    NoConfigDir,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} can be read by other users (mode {mode:o}): the hub refuses a token others can see; \
         `chmod 600 {path}` or remove it to make a new one"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{path} belongs to another user (uid {owner}): the hub takes only its own token file")]
    NotOwned { path: PathBuf, owner: u32 },
    #[error("{path} does not hold a token (expected {expected} hex digits)")]
    Malformed { path: PathBuf, expected: usize },
    #[error(
        "{addr} is not a loopback address: listening there needs --allow-remote and TLS material \
         (--tls-cert, --tls-key)"
    )]
    RemoteRefused { addr: SocketAddr },
    #[error("no hub token: set $OUROCODUS_TOKEN, or start `ourocodus serve` once to make {path}")]
    NoToken { path: PathBuf },
}

/// The hub's secret. Shown only by `ourocodus token`; never logged (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token, in time that does not depend on where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        same_secret(&self.0, presented)
    }

    fn parse(text: &str, path: &Path) -> Result<Token, AccessError> {
        let text = text.trim();
        let hex = text.len() == 2 * TOKEN_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(AccessError::Malformed {
                path: path.to_path_buf(),
                expected: 2 * TOKEN_BYTES,
            });
        }
        Ok(Token(text.to_ascii_lowercase()))
    }

    fn random() -> Result<Token, AccessError> {
        random_hex(TOKEN_BYTES).map(Token)
    }
}

/// Whether `presented` is `secret`, in time that depends on neither where they differ
/// nor how much of them agrees (only on `secret`'s length).
pub fn same_secret(secret: &str, presented: &str) -> bool {
    let (a, b) = (secret.as_bytes(), presented.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, byte) in a.iter().enumerate() {
        diff |= usize::from(byte ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// `bytes` random bytes from /dev/urandom, as twice as many lowercase hex digits.
pub fn random_hex(bytes: usize) -> Result<String, AccessError> {
    let mut buffer = vec![0u8; bytes];
    let urandom = Path::new("/dev/urandom");
    std::fs::File::open(urandom)
        .and_then(|mut f| f.read_exact(&mut buffer))
        .map_err(|source| io(urandom, source))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

fn io(path: &Path, source: std::io::Error) -> AccessError {
    AccessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `$XDG_CONFIG_HOME/ourocodus/token` (default `~/.config`), from the real environment.
pub fn token_path() -> Result<PathBuf, AccessError> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty());
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty());
    let dir = match xdg.map(PathBuf::from).filter(|d| d.is_absolute()) {
        Some(dir) => dir,
        None => PathBuf::from(home.ok_or(AccessError::NoConfigDir)?).join(".config"),
    };
    Ok(dir.join(TOKEN_FILE))
}

/// The hub's token from `path`, made there first if there is none (the directory
/// 0700, the file 0600, created exclusively so two starts cannot both write one).
pub fn load_or_create_token(path: &Path) -> Result<Token, AccessError> {
    match read_token(path) {
        Err(AccessError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        other => return other,
    }
    private_dir(path.parent().unwrap_or(Path::new(".")))?;
    let token = Token::random()?;
    match write_new(path, &token) {
        Ok(()) => Ok(token),
        // Another start made it in between: take that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_token(path),
        Err(e) => Err(io(path, e)),
    }
}

/// A new token in `path`, replacing the one there (if any) at once: written 0600 to
/// a file beside it, then renamed over it, so a reader sees the old token or the new
/// one, never half of one. A running hub notices at its next connection.
pub fn rotate_token(path: &Path) -> Result<Token, AccessError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let token = Token::random()?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let aside = dir.join(format!(
        ".{}.{}.new",
        name.as_deref().unwrap_or("token"),
        std::process::id()
    ));
    // One left by a rotation that died half way: ours to replace.
    let _ = std::fs::remove_file(&aside);
    let written = write_new(&aside, &token).and_then(|()| std::fs::rename(&aside, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&aside);
        return Err(io(path, e));
    }
    // The rename itself made durable (best effort: not every filesystem can).
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(token)
}

/// `dir` and its parents, made 0700 where missing.
fn private_dir(dir: &Path) -> Result<(), AccessError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io(dir, e))
}

/// `token` in a file made for it (0600, never through a symlink), synced.
fn write_new(path: &Path, token: &Token) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    writeln!(file, "{}", token.as_str())?;
    file.sync_all()
}

/// The token in `path`, refused if others could read it.
pub fn read_token(path: &Path) -> Result<Token, AccessError> {
    // Not through a symlink, and checked on the file opened: a token planted by another
    // user (one they know) is never taken.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| io(path, e))?;
    let metadata = file.metadata().map_err(|e| io(path, e))?;
    // This process's effective user: the owner of its own /proc entry.
    let me = std::fs::metadata("/proc/self")
        .map_err(|e| io(Path::new("/proc/self"), e))?
        .uid();
    if metadata.uid() != me {
        return Err(AccessError::NotOwned {
            path: path.to_path_buf(),
            owner: metadata.uid(),
        });
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AccessError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut text = String::new();
    file.take(1024)
        .read_to_string(&mut text)
        .map_err(|e| io(path, e))?;
    Token::parse(&text, path)
}

/// What a client presents: `$OUROCODUS_TOKEN`, else the token file (never made here).
pub fn client_token() -> Result<Token, AccessError> {
    if let Some(value) = std::env::var("OUROCODUS_TOKEN")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return Ok(Token(value.trim().to_string()));
    }
    let path = token_path()?;
    match read_token(&path) {
        Err(AccessError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(AccessError::NoToken { path })
        }
        other => other,
    }
}

/// Where a client looks for the hub: `--hub`, else `$OUROCODUS_HUB`, else the default.
pub fn hub_address(flag: Option<&str>) -> String {
    let env = std::env::var("OUROCODUS_HUB").ok();
    pick_hub_address(flag, env.as_deref())
}

fn pick_hub_address(flag: Option<&str>, env: Option<&str>) -> String {
    [flag, env]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|v| !v.is_empty())
        .unwrap_or(DEFAULT_HUB)
        .to_string()
}

/// The port of a hub address given without one.
pub const DEFAULT_PORT: u16 = 7420;

/// `authority` with the default port added if it names none (`[::1]` and `h` get
/// `:7420`; `[::1]:5` and `h:5` are kept).
pub fn with_default_port(authority: &str) -> String {
    let has_port = match authority.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => authority.contains(':'),
    };
    match has_port {
        true => authority.to_string(),
        false => format!("{authority}:{DEFAULT_PORT}"),
    }
}

/// Why a client may not send the token to `authority` without TLS: `None` over TLS
/// or to loopback, where it crosses no network.
pub fn cleartext_refusal(tls: bool, authority: &str) -> Option<&'static str> {
    (!tls && !is_loopback_host(authority)).then_some(
        "the token would cross the network in the clear: use wss:// (the hub serves TLS with \
         --tls-cert/--tls-key), or an SSH tunnel to a local port",
    )
}

/// Whether `authority` (`HOST:PORT`, `[V6]:PORT`, or a bare host) names this
/// machine's loopback: `localhost`, or a loopback address. A token is sent in the
/// clear (`ws://`) only there; anywhere else it would cross a network.
pub fn is_loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the hub may listen on `addr`: loopback always; anything else only when
/// remote access was asked for and TLS material was given.
pub fn check_listen(addr: SocketAddr, allow_remote: bool, tls: bool) -> Result<(), AccessError> {
    if addr.ip().is_loopback() || (allow_remote && tls) {
        Ok(())
    } else {
        Err(AccessError::RemoteRefused { addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_token_is_made_once_0600_in_a_0700_directory_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conf/ourocodus/token");
        let made = load_or_create_token(&path).unwrap();
        assert_eq!(made.as_str().len(), 64);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(
            load_or_create_token(&path).unwrap(),
            made,
            "the same one next time"
        );
        assert_ne!(Token::random().unwrap(), made);
        assert_eq!(format!("{made:?}"), "Token(…)", "never shown by Debug");
    }

    #[test]
    fn a_token_others_can_read_or_a_file_that_is_no_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let made = load_or_create_token(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_or_create_token(&path),
            Err(AccessError::Exposed { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "short\n").unwrap();
        assert!(matches!(
            read_token(&path),
            Err(AccessError::Malformed { .. })
        ));
        std::fs::write(&path, format!("{}\n", made.as_str().to_uppercase())).unwrap();
        assert_eq!(read_token(&path).unwrap(), made, "hex in either case");
        // A symlink in the token's place is not followed.
        let planted = dir.path().join("planted");
        std::fs::rename(&path, &planted).unwrap();
        std::os::unix::fs::symlink(&planted, &path).unwrap();
        assert!(matches!(read_token(&path), Err(AccessError::Io { .. })));
        // Another user's file is refused (needs root to make one; CI runs as root).
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(&planted, &path).unwrap();
        if std::os::unix::fs::chown(&path, Some(65534), None).is_ok() {
            assert!(matches!(
                read_token(&path),
                Err(AccessError::NotOwned { owner: 65534, .. })
            ));
        }
    }

    #[test]
    fn rotating_replaces_the_token_at_once_and_keeps_the_file_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ourocodus/token");
        let first = load_or_create_token(&path).unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        let second = rotate_token(&path).unwrap();
        assert_ne!(first, second);
        assert_eq!(read_token(&path).unwrap(), second);
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        assert_ne!(metadata.ino(), inode, "a new file renamed into place");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["token"], "nothing left aside");
        // With no token yet, rotating makes one.
        let fresh = dir.path().join("other/token");
        assert_eq!(read_token(&fresh).ok(), None);
        let made = rotate_token(&fresh).unwrap();
        assert_eq!(read_token(&fresh).unwrap(), made);
    }

    #[test]
    fn matching_needs_the_whole_token() {
        let token = Token("ab".repeat(32));
        assert!(token.matches(&"ab".repeat(32)));
        assert!(!token.matches(&"ab".repeat(31)));
        assert!(!token.matches(&format!("{}a", "ab".repeat(32))));
        assert!(!token.matches(&format!("{}ac", "ab".repeat(31))));
        assert!(!token.matches(""));
    }

    #[test]
    fn only_loopback_hosts_may_be_sent_a_token_in_the_clear() {
        for near in [
            "127.0.0.1:7420",
            "localhost:1",
            "LOCALHOST",
            "[::1]:7420",
            "127.3.4.5",
        ] {
            assert!(is_loopback_host(near), "{near}");
        }
        for far in [
            "hub.example:7420",
            "10.0.0.1:7420",
            "[2001:db8::1]:1",
            "localhost.example:1",
            "",
        ] {
            assert!(!is_loopback_host(far), "{far}");
        }
    }

    #[test]
    fn loopback_is_always_allowed_and_anything_else_needs_allow_remote_and_tls() {
        for ok in ["127.0.0.1:7420", "[::1]:7420", "127.9.9.9:1"] {
            assert!(check_listen(addr(ok), false, false).is_ok(), "{ok}");
        }
        for remote in ["0.0.0.0:7420", "192.168.1.4:7420", "[::]:7420"] {
            assert!(
                check_listen(addr(remote), false, false).is_err(),
                "{remote}"
            );
            assert!(
                check_listen(addr(remote), true, false).is_err(),
                "{remote}: no TLS"
            );
            assert!(
                check_listen(addr(remote), false, true).is_err(),
                "{remote}: not asked"
            );
            assert!(check_listen(addr(remote), true, true).is_ok(), "{remote}");
        }
    }

    #[test]
    fn clients_find_the_hub_by_flag_then_environment_then_the_default() {
        assert_eq!(
            pick_hub_address(Some("10.0.0.1:1"), Some("h:2")),
            "10.0.0.1:1"
        );
        assert_eq!(pick_hub_address(None, Some("h:2")), "h:2");
        assert_eq!(pick_hub_address(Some(" "), None), DEFAULT_HUB);
        assert_eq!(pick_hub_address(None, None), DEFAULT_HUB);
    }
}
