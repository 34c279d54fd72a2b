//! How many connections the hub holds, and where: a small pool for those still at
//! the door (their TLS handshake, request head and upgrade, before any token or
//! cookie is shown), a share of it per peer address, and the pool of those let in.
//! A newcomer is never turned away at the door: past the peer's share (or the whole
//! door) the oldest waiting connection is pushed out for it, so sockets that sit
//! idle lose their place to any client that goes on to show a token, and none can
//! fill the room. Knows nothing of credentials, protocols or what a connection does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Connections at the door at once, from everyone.
pub const AT_THE_DOOR: usize = 64;
/// Connections at the door at once from one address (one IPv6 /64). A browser
/// loading the monitor opens a handful; 16 leaves room.
pub const AT_THE_DOOR_PER_PEER: usize = 16;

/// Why a waiting connection was pushed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushedOut {
    /// Its address had its share at the door, and a newer one of its came.
    PeerAtItsShare,
    /// The whole door was taken, and a newer connection came.
    DoorFull,
}

/// The hub's connection pools. Shared by the accept loop and the connections; its
/// one lock is held for a map update at a connection's arrival and departure,
/// never on the per-message path.
pub struct Doorway {
    door: Mutex<Door>,
    capacity: usize,
    per_peer: usize,
    room: Arc<Semaphore>,
}

#[derive(Default)]
struct Door {
    next: u64,
    /// Who waits, by arrival: the first is the oldest.
    waiting: BTreeMap<u64, Waiter>,
    /// Each peer's waiting connections, oldest first.
    by_peer: HashMap<IpAddr, VecDeque<u64>>,
}

struct Waiter {
    peer: IpAddr,
    pushed_out: CancellationToken,
}

/// A place at the door: given back when dropped (let in, refused or gone).
pub struct AtTheDoor {
    id: u64,
    pushed_out: CancellationToken,
    doorway: Arc<Doorway>,
}

/// A place in the room, held for a connection's life.
pub type InTheRoom = OwnedSemaphorePermit;

impl Doorway {
    pub fn new(door: usize, per_peer: usize, room: usize) -> Arc<Doorway> {
        Arc::new(Doorway {
            door: Mutex::new(Door::default()),
            capacity: door.max(1),
            per_peer: per_peer.max(1),
            room: Arc::new(Semaphore::new(room)),
        })
    }

    /// A new connection from `peer` takes a place at the door, pushing out the
    /// oldest waiting one of its address (past its share) or of all (past the door).
    pub fn arrive(self: &Arc<Doorway>, peer: IpAddr) -> (AtTheDoor, Option<PushedOut>) {
        let peer = peer_key(peer);
        let mut door = self.lock();
        let share = door.by_peer.get(&peer).map_or(0, VecDeque::len);
        let pushed = if share >= self.per_peer {
            let oldest = door.by_peer.get(&peer).and_then(|q| q.front().copied());
            oldest.map(|id| door.push_out(id, PushedOut::PeerAtItsShare))
        } else if door.waiting.len() >= self.capacity {
            let oldest = door.waiting.keys().next().copied();
            oldest.map(|id| door.push_out(id, PushedOut::DoorFull))
        } else {
            None
        };
        let id = door.next;
        door.next += 1;
        let pushed_out = CancellationToken::new();
        let waiter = Waiter {
            peer,
            pushed_out: pushed_out.clone(),
        };
        door.waiting.insert(id, waiter);
        door.by_peer.entry(peer).or_default().push_back(id);
        let place = AtTheDoor {
            id,
            pushed_out,
            doorway: self.clone(),
        };
        (place, pushed)
    }

    /// A connection that showed its credentials takes a place in the room, if
    /// there is one; its place at the door goes back either way.
    pub fn let_in(&self, at_the_door: AtTheDoor) -> Option<InTheRoom> {
        drop(at_the_door);
        self.room.clone().try_acquire_owned().ok()
    }

    fn lock(&self) -> MutexGuard<'_, Door> {
        self.door.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn waiting(&self) -> (usize, usize) {
        let door = self.lock();
        (door.waiting.len(), door.by_peer.len())
    }
}

impl Door {
    /// Takes `id` off the door (if it is still there) and tells it so.
    fn push_out(&mut self, id: u64, why: PushedOut) -> PushedOut {
        if let Some(waiter) = self.leave(id) {
            waiter.pushed_out.cancel();
        }
        why
    }

    fn leave(&mut self, id: u64) -> Option<Waiter> {
        let waiter = self.waiting.remove(&id)?;
        if let Some(queue) = self.by_peer.get_mut(&waiter.peer) {
            queue.retain(|&other| other != id);
            if queue.is_empty() {
                self.by_peer.remove(&waiter.peer);
            }
        }
        Some(waiter)
    }
}

impl AtTheDoor {
    /// Cancelled when a newer connection pushes this one out of the door.
    pub fn pushed_out(&self) -> CancellationToken {
        self.pushed_out.clone()
    }
}

impl Drop for AtTheDoor {
    fn drop(&mut self) {
        self.doorway.lock().leave(self.id);
    }
}

/// Counts what happens too often to log each time: the first is logged at once,
/// then at most one line per interval with how many there were.
pub struct Tally {
    every: Duration,
    last: Option<Instant>,
    unlogged: u64,
}

impl Tally {
    pub fn new(every: Duration) -> Tally {
        Tally {
            every,
            last: None,
            unlogged: 0,
        }
    }

    /// Counts one; `Some(n)` when a line is due, for the `n` since the last one.
    pub fn count(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        let due = self.last.is_none_or(|last| now >= last + self.every);
        due.then(|| {
            self.last = Some(now);
            std::mem::take(&mut self.unlogged)
        })
    }
}

/// One key per peer: an IPv4 address (also when mapped into IPv6), or an IPv6
/// address's /64, which one subscriber usually holds whole.
fn peer_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn past_its_share_an_address_loses_its_oldest_waiting_connection_not_the_newest() {
        let doorway = Doorway::new(8, 2, 8);
        let (first, none) = doorway.arrive(ip("10.0.0.1"));
        let (second, _) = doorway.arrive(ip("10.0.0.1"));
        assert_eq!(none, None);
        let (third, pushed) = doorway.arrive(ip("10.0.0.1"));
        assert_eq!(pushed, Some(PushedOut::PeerAtItsShare));
        assert!(first.pushed_out().is_cancelled(), "the oldest goes");
        assert!(!second.pushed_out().is_cancelled() && !third.pushed_out().is_cancelled());
        let (other, pushed) = doorway.arrive(ip("10.0.0.2"));
        assert_eq!(pushed, None, "another address has its own share");
        drop((first, second, third, other));
        assert_eq!(doorway.waiting(), (0, 0), "every place came back");
    }

    #[test]
    fn a_full_door_pushes_out_its_oldest_whoever_it_is_and_empties_as_they_go() {
        let doorway = Doorway::new(3, 2, 8);
        let held: Vec<_> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|a| doorway.arrive(ip(a)).0)
            .collect();
        let (newest, pushed) = doorway.arrive(ip("10.0.0.4"));
        assert_eq!(pushed, Some(PushedOut::DoorFull));
        assert!(held[0].pushed_out().is_cancelled());
        assert!(!held[1].pushed_out().is_cancelled());
        assert_eq!(doorway.waiting(), (3, 3));
        drop(held);
        drop(newest);
        assert_eq!(doorway.waiting(), (0, 0));
    }

    #[test]
    fn being_let_in_frees_the_door_and_takes_the_room_which_can_be_full() {
        let doorway = Doorway::new(1, 1, 1);
        let (first, _) = doorway.arrive(ip("127.0.0.1"));
        let inside = doorway.let_in(first);
        assert!(inside.is_some());
        let (second, pushed) = doorway.arrive(ip("127.0.0.1"));
        assert_eq!(pushed, None, "the first left the door when let in");
        assert!(doorway.let_in(second).is_none(), "the room is full");
        drop(inside);
        let (third, _) = doorway.arrive(ip("127.0.0.1"));
        assert!(doorway.let_in(third).is_some());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_peer_and_a_mapped_ipv4_is_its_ipv4() {
        assert_eq!(peer_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            peer_key(ip("2001:db8:1:2:ffff::9")),
            peer_key(ip("2001:db8:1:2::7"))
        );
        assert_ne!(
            peer_key(ip("2001:db8:1:3::1")),
            peer_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(peer_key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
    }

    #[test]
    fn a_tally_logs_the_first_at_once_then_one_line_an_interval_with_the_count() {
        let mut tally = Tally::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(tally.count(t0), Some(1));
        assert_eq!(tally.count(t0 + Duration::from_secs(1)), None);
        assert_eq!(tally.count(t0 + Duration::from_secs(2)), None);
        assert_eq!(tally.count(t0 + Duration::from_secs(10)), Some(3));
        assert_eq!(tally.count(t0 + Duration::from_secs(11)), None);
    }
}
