//! The hub's book of browser logins, in memory: one-time login codes (each good
//! once, for minutes) and the browser sessions they were exchanged for (good for
//! hours), both bounded in number, compared in constant time. Told the time by its
//! caller; knows nothing of where secrets come from, cookies, HTTP or the token.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::access::same_secret;

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
            session_life: Duration::from_secs(12 * 3600),
            max_codes: 32,
            max_sessions: 64,
        }
    }
}

/// One secret and when it stops being good.
struct Entry {
    secret: String,
    expires: Instant,
}

/// Secrets oldest first, at most `max` of them, none past its time once pruned.
#[derive(Default)]
struct Shelf {
    entries: VecDeque<Entry>,
}

impl Shelf {
    fn prune(&mut self, now: Instant) {
        self.entries.retain(|e| e.expires > now);
    }

    fn add(&mut self, secret: String, expires: Instant, max: usize) {
        while self.entries.len() >= max.max(1) {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { secret, expires });
    }

    /// Where `presented` is, each entry compared in constant time.
    fn find(&self, presented: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| same_secret(&e.secret, presented))
    }
}

/// Outstanding login codes and live browser sessions.
#[derive(Default)]
pub struct LoginBook {
    limits: LoginLimits,
    codes: Shelf,
    sessions: Shelf,
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
    pub fn redeem(&mut self, code: &str, session: String, now: Instant) -> bool {
        self.codes.prune(now);
        let Some(at) = self.codes.find(code) else {
            return false;
        };
        self.codes.entries.remove(at);
        self.sessions.prune(now);
        let expires = now + self.limits.session_life;
        self.sessions
            .add(session, expires, self.limits.max_sessions);
        true
    }

    /// Whether `session` is a live browser session.
    pub fn has_session(&mut self, session: &str, now: Instant) -> bool {
        self.sessions.prune(now);
        self.sessions.find(session).is_some()
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

    #[test]
    fn a_code_is_good_once_and_gives_the_session_asked_for() {
        let (mut book, now) = (book(), Instant::now());
        book.add_code("c1".into(), now);
        assert!(!book.has_session("s1", now));
        assert!(!book.redeem("c2", "s0".into(), now), "never issued");
        assert!(
            !book.redeem("c", "s0".into(), now),
            "a prefix is not the code"
        );
        assert!(!book.redeem("c1x", "s0".into(), now));
        assert!(book.redeem("c1", "s1".into(), now));
        assert!(book.has_session("s1", now));
        assert!(
            !book.has_session("s0", now),
            "a refused code made no session"
        );
        assert!(!book.redeem("c1", "s2".into(), now), "used: replay refused");
        assert!(!book.has_session("s2", now));
    }

    #[test]
    fn codes_and_sessions_expire() {
        let (mut book, start) = (book(), Instant::now());
        book.add_code("late".into(), start);
        book.add_code("early".into(), start);
        let in_time = start + Duration::from_secs(599);
        assert!(book.redeem("early", "s".into(), in_time));
        let expired = start + Duration::from_secs(600);
        assert!(
            !book.redeem("late", "t".into(), expired),
            "ten minutes: over"
        );
        assert!(book.has_session("s", in_time + Duration::from_secs(3599)));
        assert!(!book.has_session("s", in_time + Duration::from_secs(3600)));
        assert_eq!(book.counts(), (0, 0), "pruned as time went by");
    }

    #[test]
    fn the_oldest_goes_when_the_book_is_full() {
        let (mut book, now) = (book(), Instant::now());
        for code in ["c1", "c2", "c3", "c4"] {
            book.add_code(code.into(), now);
        }
        assert_eq!(book.counts(), (3, 0));
        assert!(!book.redeem("c1", "s1".into(), now), "pushed out by c4");
        for (code, session) in [("c2", "s2"), ("c3", "s3"), ("c4", "s4")] {
            assert!(book.redeem(code, session.into(), now));
        }
        assert_eq!(book.counts(), (0, 2));
        assert!(!book.has_session("s2", now), "pushed out by s4");
        assert!(book.has_session("s3", now) && book.has_session("s4", now));
    }

    #[test]
    fn clearing_ends_codes_and_sessions() {
        let (mut book, now) = (book(), Instant::now());
        book.add_code("c1".into(), now);
        book.add_code("c2".into(), now);
        assert!(book.redeem("c1", "s1".into(), now));
        book.clear();
        assert!(!book.has_session("s1", now));
        assert!(!book.redeem("c2", "s2".into(), now));
        assert_eq!(book.counts(), (0, 0));
    }
}
