//! The last actions the host sent, by `serverSeq`, for `reconnect` to replay
//! exactly what a client missed; and the dispatches already taken, by
//! `(clientId, clientSeq)`, so one sent again is not applied twice. Both bounded.
//! Knows nothing of what the actions mean.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::versions::Version;

/// Actions kept for replay.
pub const RING_ACTIONS: usize = 65_536;
/// Bytes of actions kept for replay (the oldest go first past either bound).
pub const RING_BYTES: usize = 64 * 1024 * 1024;
/// Client ids whose last dispatch is remembered.
const CLIENTS_REMEMBERED: usize = 4096;

/// One action as sent: its channel, its envelope's JSON and the protocol version
/// that introduced its type (a replay leaves it out for older clients).
pub struct Sent {
    pub seq: u64,
    pub channel: Arc<str>,
    pub envelope: Arc<str>,
    pub introduced: Version,
}

#[derive(Default)]
pub struct Ring {
    sent: VecDeque<Sent>,
    bytes: usize,
}

impl Ring {
    pub fn push(&mut self, sent: Sent) {
        self.bytes += sent.envelope.len();
        self.sent.push_back(sent);
        while self.sent.len() > RING_ACTIONS || self.bytes > RING_BYTES {
            match self.sent.pop_front() {
                Some(old) => self.bytes -= old.envelope.len(),
                None => break,
            }
        }
    }

    /// The envelopes after `seen` on these channels that a client of `version`
    /// knows, if the ring still holds every action after `seen` (`None`: too old,
    /// or from before this hub started).
    pub fn after<'a>(
        &'a self,
        seen: u64,
        last: u64,
        channels: &'a [String],
        version: Version,
    ) -> Option<impl Iterator<Item = &'a Sent> + 'a> {
        if seen > last {
            return None;
        }
        let oldest = self.sent.front().map_or(last + 1, |s| s.seq);
        if seen + 1 < oldest {
            return None;
        }
        let start = self.sent.partition_point(|s| s.seq <= seen);
        let wanted = move |s: &&Sent| {
            version.knows(s.introduced) && channels.iter().any(|c| **c == *s.channel)
        };
        Some(self.sent.range(start..).filter(wanted))
    }
}

/// The highest `clientSeq` taken from each client id.
#[derive(Default)]
pub struct Dispatches {
    last: HashMap<String, (i64, u64)>,
    /// Counts insertions, to forget the least recently used id first.
    clock: u64,
}

impl Dispatches {
    /// True the first time this (client, seq) comes, or for a seq above the last one
    /// taken; false for one already taken (sent again after a reconnect).
    pub fn take(&mut self, client: &str, seq: i64) -> bool {
        self.clock += 1;
        let clock = self.clock;
        if let Some((last, used)) = self.last.get_mut(client) {
            *used = clock;
            if seq <= *last {
                return false;
            }
            *last = seq;
            return true;
        }
        if self.last.len() >= CLIENTS_REMEMBERED {
            let oldest = self
                .last
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                self.last.remove(&oldest);
            }
        }
        self.last.insert(client.to_string(), (seq, clock));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u64, channel: &str) -> Sent {
        Sent {
            seq,
            channel: channel.into(),
            envelope: format!("{{\"serverSeq\":{seq}}}").into(),
            introduced: Version::new(0, 4, 0),
        }
    }

    #[test]
    fn a_replay_holds_exactly_the_actions_after_the_seen_one_on_the_asked_channels() {
        let mut ring = Ring::default();
        for seq in 1..=10 {
            ring.push(sent(seq, if seq % 2 == 0 { "a" } else { "b" }));
        }
        let channels = vec!["a".to_string()];
        let seqs: Vec<u64> = ring
            .after(4, 10, &channels, Version::HUB)
            .unwrap()
            .map(|s| s.seq)
            .collect();
        assert_eq!(seqs, vec![6, 8, 10]);
        let none: Vec<u64> = ring
            .after(10, 10, &channels, Version::HUB)
            .unwrap()
            .map(|s| s.seq)
            .collect();
        assert!(none.is_empty());
        assert!(
            ring.after(11, 10, &channels, Version::HUB).is_none(),
            "from the future"
        );
    }

    #[test]
    fn a_replay_from_before_the_oldest_kept_action_is_refused() {
        let mut ring = Ring::default();
        for seq in 1..=(RING_ACTIONS as u64 + 5) {
            ring.push(sent(seq, "a"));
        }
        let channels = vec!["a".to_string()];
        assert!(
            ring.after(3, RING_ACTIONS as u64 + 5, &channels, Version::HUB)
                .is_none()
        );
        assert!(
            ring.after(5, RING_ACTIONS as u64 + 5, &channels, Version::HUB)
                .is_some()
        );
    }

    #[test]
    fn a_replay_leaves_out_the_actions_newer_than_the_clients_version() {
        let mut ring = Ring::default();
        for seq in 1..=4 {
            let mut action = sent(seq, "a");
            if seq % 2 == 0 {
                action.introduced = Version::new(0, 10, 0);
            }
            ring.push(action);
        }
        let channels = vec!["a".to_string()];
        let replayed = |version| -> Vec<u64> {
            let after = ring.after(0, 4, &channels, version).unwrap();
            after.map(|s| s.seq).collect()
        };
        assert_eq!(replayed(Version::VS_CODE_DIALECT), vec![1, 3]);
        assert_eq!(replayed(Version::HUB), vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_dispatch_sent_again_is_taken_once() {
        let mut taken = Dispatches::default();
        assert!(taken.take("vs", 1));
        assert!(taken.take("vs", 2));
        assert!(!taken.take("vs", 2));
        assert!(!taken.take("vs", 1));
        assert!(taken.take("other", 1));
        assert!(taken.take("vs", 3));
    }
}
