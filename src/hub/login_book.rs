//! The hub's book of browser logins, in memory: one-time login codes (each good
//! once, for minutes) and the browser sessions they were exchanged for (good for
//! hours; each known by two secrets that must come together), both bounded in
//! number, compared in constant time. A session that leaves the book (its time up,
//! pushed out by a newer one, or every login ended) has its `ended` token cancelled.
//! Told the time by its caller; knows nothing of where secrets come from, cookies,
//! HTTP or the token.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::access::same_secret;

/// How long a browser session lasts unless told otherwise.
pub const SESSION_LIFE: Duration = Duration::from_secs(12 * 3600);

/// How long secrets last and how many may be outstanding.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// How long a login code may wait to be used.
    pub code_life: Duration,
    /// How long a browser session lasts after its login.
    pub session_life: Duration,
    /// Codes outstanding at most: a new one beyond ends the oldest.
    pub max_codes: usize,
    /// Browser sessions at most: a new one beyond ends the oldest.
    pub max_sessions: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            code_life: Duration::from_secs(10 * 60),
            session_life: SESSION_LIFE,
            max_codes: 32,
            max_sessions: 64,
        }
    }
}

/// A browser session: the two secrets a browser presents together, and what the
/// connections it let in end with.
struct BrowserSession {
    /// What the browser's HttpOnly cookie holds.
    cookie: String,
    /// What the page keeps in its origin's storage (it came in a URL fragment).
    page_key: String,
    /// Cancelled once the session leaves the book, however it leaves (see `Drop`).
    ended: CancellationToken,
    /// Which session this is, among all of this book's.
    serial: u64,
}

impl Drop for BrowserSession {
    /// A session no longer in the book is over: whatever it let in ends too.
    fn drop(&mut self) {
        self.ended.cancel();
    }
}

/// What a live browser session lets a connection in with.
#[derive(Debug, Clone)]
pub struct SessionLease {
    /// Which session let the connection in (its page key can be renewed by it).
    pub serial: u64,
    /// Cancelled when the session ends before its time.
    pub ended: CancellationToken,
    /// When its time is up.
    pub expires: Instant,
}

/// One secret (or a session's pair) and when it stops being good.
struct Entry<T> {
    held: T,
    expires: Instant,
}

/// Entries oldest first, at most `max` of them, none past its time once pruned.
struct Shelf<T> {
    entries: VecDeque<Entry<T>>,
}

impl<T> Default for Shelf<T> {
    fn default() -> Self {
        Shelf {
            entries: VecDeque::new(),
        }
    }
}

impl<T> Shelf<T> {
    fn prune(&mut self, now: Instant) {
        self.entries.retain(|e| e.expires > now);
    }

    fn add(&mut self, held: T, expires: Instant, max: usize) {
        while self.entries.len() >= max.max(1) {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { held, expires });
    }

    /// Where the first entry `matches` is (each one looked at: the comparisons are
    /// the caller's, in constant time).
    fn find(&self, matches: impl Fn(&T) -> bool) -> Option<usize> {
        self.entries.iter().position(|e| matches(&e.held))
    }
}

/// Outstanding login codes and live browser sessions.
#[derive(Default)]
pub struct LoginBook {
    limits: LoginLimits,
    codes: Shelf<String>,
    sessions: Shelf<BrowserSession>,
    /// The serial the next session gets.
    next_serial: u64,
}

impl LoginBook {
    pub fn new(limits: LoginLimits) -> LoginBook {
        LoginBook {
            limits,
            ..LoginBook::default()
        }
    }

    pub fn limits(&self) -> LoginLimits {
        self.limits
    }

    /// Keeps `code` as a login code until it is used or its time is up.
    pub fn add_code(&mut self, code: String, now: Instant) {
        self.codes.prune(now);
        let expires = now + self.limits.code_life;
        self.codes.add(code, expires, self.limits.max_codes);
    }

    /// Uses up `code`: if it was outstanding and in time, `session` becomes a live
    /// browser session and the answer is true. A code is good once, whatever the answer.
    pub fn redeem(&mut self, code: &str, halves: (String, String), now: Instant) -> bool {
        self.codes.prune(now);
        let Some(at) = self.codes.find(|c| same_secret(c, code)) else {
            return false;
        };
        self.codes.entries.remove(at);
        self.sessions.prune(now);
        let expires = now + self.limits.session_life;
        let (cookie, page_key) = halves;
        let session = BrowserSession {
            cookie,
            page_key,
            ended: CancellationToken::new(),
            serial: self.next_serial,
        };
        self.next_serial += 1;
        self.sessions
            .add(session, expires, self.limits.max_sessions);
        true
    }

    /// Gives the live session `serial` a new page key: the one it had opens nothing
    /// more. False if the session is over.
    pub fn replace_page_key(&mut self, serial: u64, page_key: String, now: Instant) -> bool {
        self.sessions.prune(now);
        match self.sessions.find(|s| s.serial == serial) {
            Some(at) => {
                self.sessions.entries[at].held.page_key = page_key;
                true
            }
            None => false,
        }
    }

    /// The live browser session whose cookie is `cookie` and page key `page_key`
    /// (both of one session: halves of two sessions are no session).
    pub fn session(&mut self, cookie: &str, page_key: &str, now: Instant) -> Option<SessionLease> {
        self.sessions.prune(now);
        // `&`, not `&&`: both halves compared every time, whichever differs.
        let at = self
            .sessions
            .find(|s| same_secret(&s.cookie, cookie) & same_secret(&s.page_key, page_key))?;
        let entry = &self.sessions.entries[at];
        Some(SessionLease {
            serial: entry.held.serial,
            ended: entry.held.ended.clone(),
            expires: entry.expires,
        })
    }

    /// Ends every code and session (the token was rotated).
    pub fn clear(&mut self) {
        self.codes.entries.clear();
        self.sessions.entries.clear();
    }

    /// Codes outstanding and sessions live (some may be past their time).
    pub fn counts(&self) -> (usize, usize) {
        (self.codes.entries.len(), self.sessions.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> LoginBook {
        LoginBook::new(LoginLimits {
            code_life: Duration::from_secs(600),
            session_life: Duration::from_secs(3600),
            max_codes: 3,
            max_sessions: 2,
        })
    }

    /// A session whose cookie is `name` and page key `name` reversed.
    fn session(name: &str) -> (String, String) {
        (name.to_string(), name.chars().rev().collect())
    }

    /// Whether the session made by `session(name)` is live.
    fn has(book: &mut LoginBook, name: &str, now: Instant) -> bool {
        let key: String = name.chars().rev().collect();
        book.session(name, &key, now).is_some()
    }

    #[test]
    fn a_code_is_good_once_and_gives_the_session_asked_for() {
        let (mut book, now) = (book(), Instant::now());
        book.add_code("c1".into(), now);
        assert!(!has(&mut book, "s1", now));
        assert!(!book.redeem("c2", session("s0"), now), "never issued");
        assert!(
            !book.redeem("c", session("s0"), now),
            "a prefix is not the code"
        );
        assert!(!book.redeem("c1x", session("s0"), now));
        assert!(book.redeem("c1", session("s1"), now));
        assert!(has(&mut book, "s1", now));
        assert!(!has(&mut book, "s0", now), "a refused code made no session");
        assert!(
            !book.redeem("c1", session("s2"), now),
            "used: replay refused"
        );
        assert!(!has(&mut book, "s2", now));
    }

    #[test]
    fn a_session_needs_both_its_halves_and_halves_of_two_sessions_are_none() {
        let (mut book, now) = (book(), Instant::now());
        book.add_code("c1".into(), now);
        book.add_code("c2".into(), now);
        assert!(book.redeem("c1", session("s1"), now));
        assert!(book.redeem("c2", session("s2"), now));
        assert!(book.session("s1", "1s", now).is_some());
        assert!(book.session("s1", "", now).is_none(), "the cookie alone");
        assert!(book.session("", "1s", now).is_none(), "the page key alone");
        assert!(
            book.session("s1", "2s", now).is_none(),
            "two sessions' halves"
        );
        assert!(book.session("s2", "1s", now).is_none());
        assert!(book.session("1s", "s1", now).is_none(), "swapped");
    }

    #[test]
    fn codes_and_sessions_expire_and_a_lease_says_when() {
        let (mut book, start) = (book(), Instant::now());
        book.add_code("late".into(), start);
        book.add_code("early".into(), start);
        let in_time = start + Duration::from_secs(599);
        assert!(book.redeem("early", session("s"), in_time));
        let expired = start + Duration::from_secs(600);
        assert!(
            !book.redeem("late", session("t"), expired),
            "ten minutes: over"
        );
        let lease = book.session("s", "s", in_time).unwrap();
        assert_eq!(lease.expires, in_time + Duration::from_secs(3600));
        assert!(has(&mut book, "s", in_time + Duration::from_secs(3599)));
        assert!(!has(&mut book, "s", in_time + Duration::from_secs(3600)));
        assert!(lease.ended.is_cancelled(), "pruned: ended");
        assert_eq!(book.counts(), (0, 0), "pruned as time went by");
    }

    #[test]
    fn the_oldest_goes_when_the_book_is_full_and_its_session_is_ended() {
        let (mut book, now) = (book(), Instant::now());
        for code in ["c1", "c2", "c3", "c4"] {
            book.add_code(code.into(), now);
        }
        assert_eq!(book.counts(), (3, 0));
        assert!(!book.redeem("c1", session("s1"), now), "pushed out by c4");
        assert!(book.redeem("c2", session("s2"), now));
        let oldest = book.session("s2", "2s", now).unwrap();
        for (code, name) in [("c3", "s3"), ("c4", "s4")] {
            assert!(book.redeem(code, session(name), now));
        }
        assert_eq!(book.counts(), (0, 2));
        assert!(!has(&mut book, "s2", now), "pushed out by s4");
        assert!(oldest.ended.is_cancelled(), "and its connections with it");
        assert!(has(&mut book, "s3", now) && has(&mut book, "s4", now));
    }

    #[test]
    fn clearing_ends_codes_and_sessions() {
        let (mut book, now) = (book(), Instant::now());
        book.add_code("c1".into(), now);
        book.add_code("c2".into(), now);
        assert!(book.redeem("c1", session("s1"), now));
        let lease = book.session("s1", "1s", now).unwrap();
        book.clear();
        assert!(lease.ended.is_cancelled());
        assert!(!has(&mut book, "s1", now));
        assert!(!book.redeem("c2", session("s2"), now));
        assert_eq!(book.counts(), (0, 0));
    }
}
