//! What a running hub accepts as proof right now: its token, as the token file holds
//! it (looked at with a `stat` at each use and read again only when the file
//! changed, so `ourocodus token --rotate` takes effect without a restart), and the
//! browser logins of its `LoginBook`, all ended when the token changes, and the
//! `Lease` a connection is let in on: the *era* (cancelled by that change) and, for
//! a browser session, the session's own end and expiry, so the connection ends with
//! what let it in. Knows files, secrets and time; nothing of HTTP, cookies or
//! WebSockets.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::access::{self, AccessError, Token};
use super::login_book::{LoginBook, LoginLimits, SessionLease};

/// Random bytes in a login code or either half of a browser session (hex: twice as
/// many digits).
const SECRET_BYTES: usize = 32;

/// The two halves of a new browser session, for the browser: one for its cookie, one
/// for its page. Never logged (`Debug` hides them).
pub struct SessionSecrets {
    pub cookie: String,
    pub page_key: String,
}

impl std::fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecrets(…)")
    }
}

/// What a connection was let in on, and so what ends it.
#[derive(Debug, Clone, Default)]
pub struct Lease {
    /// Cancelled when the hub's token changes.
    pub era: CancellationToken,
    /// A browser session's end and expiry; `None` for the token.
    pub session: Option<SessionLease>,
}

/// Why a lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEnd {
    /// The hub's token changed.
    TokenChanged,
    /// The browser session ended before its time (a newer one pushed it out).
    SessionEnded,
    /// The browser session's time is up.
    SessionExpired,
}

impl Lease {
    /// Resolves when the lease ends, saying why. Cancel-safe: it only waits.
    pub async fn ended(&self) -> LeaseEnd {
        let Some(session) = &self.session else {
            self.era.cancelled().await;
            return LeaseEnd::TokenChanged;
        };
        let expiry = tokio::time::sleep_until(session.expires.into());
        tokio::select! {
            // The era first: a rotation ends the sessions too, and is the reason; an
            // expired session may also have been pruned: its time is the reason.
            biased;
            () = self.era.cancelled() => LeaseEnd::TokenChanged,
            () = expiry => LeaseEnd::SessionExpired,
            () = session.ended.cancelled() => LeaseEnd::SessionEnded,
        }
    }
}

/// Which version of the token file was read: a rotation (a new file renamed into
/// place) changes the inode, an edit in place the time or the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    /// The file's stamp; `None` when there is no file to look at.
    fn of(path: &Path) -> Option<FileStamp> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }
}

struct KeyState {
    /// `None` while the file holds no token the hub takes: every token is refused.
    token: Option<Token>,
    /// The file as it was before the token was read from it: a change made while
    /// reading shows as a different stamp next time, and is read then.
    seen: Option<FileStamp>,
    book: LoginBook,
    /// Cancelled when the token changes: what was let in under it ends.
    era: CancellationToken,
}

/// The hub's credentials, shared by every connection.
pub struct Keys {
    path: PathBuf,
    /// A std Mutex: held for a `stat` (and, after a rotation, one small read) and a
    /// few comparisons, never across an await.
    state: Mutex<KeyState>,
    /// Whether the hub serves TLS: its cookies are `Secure`, its links `https://`,
    /// and a page at `https://HOST` is its own.
    pub tls: bool,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("path", &self.path)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// The hub's keys: the token in `path` (made there if there is none), no logins yet.
    pub fn load(path: &Path, limits: LoginLimits) -> Result<Keys, AccessError> {
        let seen = FileStamp::of(path);
        let token = access::load_or_create_token(path)?;
        // Made just now: the stamp is the new file's.
        let seen = seen.or_else(|| FileStamp::of(path));
        let state = KeyState {
            token: Some(token),
            seen,
            book: LoginBook::new(limits),
            era: CancellationToken::new(),
        };
        Ok(Keys {
            path: path.to_path_buf(),
            state: Mutex::new(state),
            tls: false,
        })
    }

    /// The token as the file holds it now, if the hub takes it.
    pub fn token(&self) -> Option<Token> {
        self.fresh().token.clone()
    }

    /// Whether `presented` is the token the file holds now.
    #[cfg(test)]
    pub fn token_matches(&self, presented: &str) -> bool {
        self.token_era(presented).is_some()
    }

    /// The era `presented` lets a connection in under, if it is the token now.
    pub fn token_era(&self, presented: &str) -> Option<CancellationToken> {
        let state = self.fresh();
        let matches = state.token.as_ref().is_some_and(|t| t.matches(presented));
        matches.then(|| state.era.clone())
    }

    /// Whether `cookie` and `page_key` are the halves of one live browser session.
    #[cfg(test)]
    pub fn session_matches(&self, cookie: &str, page_key: &str) -> bool {
        self.session_lease(cookie, page_key).is_some()
    }

    /// The lease a browser session lets a connection in on, if `cookie` and
    /// `page_key` are the halves of one live session.
    pub fn session_lease(&self, cookie: &str, page_key: &str) -> Option<Lease> {
        let mut state = self.fresh();
        let session = state.book.session(cookie, page_key, Instant::now())?;
        Some(Lease {
            era: state.era.clone(),
            session: Some(session),
        })
    }

    /// A fresh page key for the live browser session `serial`, in place of the one it
    /// had (which came in a URL fragment, and browser history may keep it); `None`
    /// if the session is over.
    pub fn renew_page_key(&self, serial: u64) -> Result<Option<String>, AccessError> {
        let key = access::random_hex(SECRET_BYTES)?;
        let replaced = self
            .fresh()
            .book
            .replace_page_key(serial, key.clone(), Instant::now());
        Ok(replaced.then_some(key))
    }

    /// A new one-time login code.
    pub fn issue_code(&self) -> Result<String, AccessError> {
        let code = access::random_hex(SECRET_BYTES)?;
        self.fresh().book.add_code(code.clone(), Instant::now());
        Ok(code)
    }

    /// A new one-time login code for a connection let in under `era`; `None` when
    /// the token changed since (what it was let in with no longer counts).
    pub fn issue_code_in(&self, era: &CancellationToken) -> Result<Option<String>, AccessError> {
        let code = access::random_hex(SECRET_BYTES)?;
        let mut state = self.fresh();
        if era.is_cancelled() {
            return Ok(None);
        }
        state.book.add_code(code.clone(), Instant::now());
        Ok(Some(code))
    }

    /// Looks at the token file now (a `stat`), ending the era if it changed.
    pub fn look(&self) {
        drop(self.fresh());
    }

    /// Uses up `code`: the new browser session's secrets if it was good, `None` if not.
    pub fn redeem(&self, code: &str) -> Result<Option<SessionSecrets>, AccessError> {
        let secrets = SessionSecrets {
            cookie: access::random_hex(SECRET_BYTES)?,
            page_key: access::random_hex(SECRET_BYTES)?,
        };
        let halves = (secrets.cookie.clone(), secrets.page_key.clone());
        let redeemed = self.fresh().book.redeem(code, halves, Instant::now());
        Ok(redeemed.then_some(secrets))
    }

    /// How long a login code lasts, in seconds.
    pub fn code_life_secs(&self) -> u64 {
        self.lock().book.limits().code_life.as_secs()
    }

    fn lock(&self) -> MutexGuard<'_, KeyState> {
        // A panic elsewhere while holding it left nothing half done worth refusing for.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, after reading the token file again if it changed since last read.
    fn fresh(&self) -> MutexGuard<'_, KeyState> {
        let mut state = self.lock();
        let now = FileStamp::of(&self.path);
        if now != state.seen {
            state.seen = now;
            state.token = match access::read_token(&self.path) {
                Ok(token) => Some(token),
                Err(e) => {
                    tracing::warn!(error = %e, "hub token file unusable: every token refused until it is fixed");
                    None
                }
            };
            // The era before the sessions: what watches both sees the rotation first.
            state.era.cancel();
            state.book.clear();
            state.era = CancellationToken::new();
            tracing::info!("hub token file changed: token read again, browser logins ended");
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    /// Keys over a new token file in a directory of their own (kept while in use).
    fn fresh_keys() -> (tempfile::TempDir, PathBuf, Keys) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let keys = Keys::load(&path, LoginLimits::default()).unwrap();
        (dir, path, keys)
    }

    #[test]
    fn a_rotated_token_is_taken_at_once_and_ends_every_login() {
        let (_dir, path, keys) = fresh_keys();
        let old = keys.token().unwrap();
        assert!(keys.token_matches(old.as_str()));
        let code = keys.issue_code().unwrap();
        let waiting = keys.issue_code().unwrap();
        assert_eq!(code.len(), 64);
        let session = keys.redeem(&code).unwrap().unwrap();
        assert_eq!((session.cookie.len(), session.page_key.len()), (64, 64));
        assert_ne!(session.cookie, session.page_key, "two secrets");
        assert!(keys.session_matches(&session.cookie, &session.page_key));
        assert!(keys.redeem(&code).unwrap().is_none(), "once only");
        assert!(!format!("{session:?}").contains(&session.cookie));

        let new = access::rotate_token(&path).unwrap();
        assert!(
            !keys.token_matches(old.as_str()),
            "the old token is refused"
        );
        assert!(keys.token_matches(new.as_str()));
        assert!(
            !keys.session_matches(&session.cookie, &session.page_key),
            "sessions ended"
        );
        assert!(keys.redeem(&waiting).unwrap().is_none(), "codes ended");
        let after = keys.issue_code().unwrap();
        assert!(keys.redeem(&after).unwrap().is_some(), "new logins work");
    }

    #[tokio::test]
    async fn a_rotation_ends_the_era_the_old_token_and_its_sessions_let_connections_in_under() {
        let (_dir, path, keys) = fresh_keys();
        let old = keys.token().unwrap();
        let by_token = keys.token_era(old.as_str()).unwrap();
        let code = keys.issue_code().unwrap();
        let session = keys.redeem(&code).unwrap().unwrap();
        let by_cookie = keys
            .session_lease(&session.cookie, &session.page_key)
            .unwrap();
        assert!(keys.issue_code_in(&by_token).unwrap().is_some());
        assert!(keys.token_era("0").is_none());

        access::rotate_token(&path).unwrap();
        keys.look();
        assert!(by_token.is_cancelled() && by_cookie.era.is_cancelled());
        assert_eq!(
            by_cookie.ended().await,
            LeaseEnd::TokenChanged,
            "the rotation is the reason, though the session ended too"
        );
        assert_eq!(
            keys.issue_code_in(&by_token).unwrap(),
            None,
            "no links for it"
        );
        let new = keys.token().unwrap();
        assert!(!keys.token_era(new.as_str()).unwrap().is_cancelled());
    }

    #[test]
    fn a_token_file_gone_or_spoiled_refuses_every_token_until_it_is_back() {
        let (_dir, path, keys) = fresh_keys();
        let token = keys.token().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(!keys.token_matches(token.as_str()));
        std::fs::write(&path, "not a token\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!keys.token_matches(token.as_str()));
        let back = access::rotate_token(&path).unwrap();
        assert!(keys.token_matches(back.as_str()));
        assert!(!format!("{keys:?}").contains(back.as_str()));
    }

    #[tokio::test]
    async fn a_browser_sessions_lease_ends_when_its_time_is_up_or_a_newer_one_pushes_it_out() {
        let dir = tempfile::tempdir().unwrap();
        let limits = LoginLimits {
            session_life: Duration::from_millis(300),
            max_sessions: 1,
            ..LoginLimits::default()
        };
        let keys = Keys::load(&dir.path().join("token"), limits).unwrap();
        let log_in = || keys.redeem(&keys.issue_code().unwrap()).unwrap().unwrap();
        let first = log_in();
        let lease = keys.session_lease(&first.cookie, &first.page_key).unwrap();
        let begun = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(5), lease.ended()).await;
        assert_eq!(ended, Ok(LeaseEnd::SessionExpired));
        assert!(begun.elapsed() >= Duration::from_millis(250), "not before");
        assert!(!keys.session_matches(&first.cookie, &first.page_key));

        let second = log_in();
        let lease = keys
            .session_lease(&second.cookie, &second.page_key)
            .unwrap();
        log_in();
        assert_eq!(lease.ended().await, LeaseEnd::SessionEnded, "pushed out");
        let token = keys.token().unwrap();
        let by_token = Lease {
            era: keys.token_era(token.as_str()).unwrap(),
            session: None,
        };
        let still = tokio::time::timeout(Duration::from_millis(400), by_token.ended()).await;
        assert!(still.is_err(), "the token's lease has no time limit");
    }
}
