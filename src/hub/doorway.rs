//! How many connections the hub holds, and where: a small pool for those still at
//! the door (their TLS handshake, request head and upgrade, before any token or
//! cookie is shown), a cap per peer address among them, and the pool of those let
//! in. Someone who never shows a token can fill only the door, never the room.
//! Knows nothing of credentials, protocols or what a connection does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections at the door at once, from everyone.
pub const AT_THE_DOOR: usize = 64;
/// Connections at the door at once from one address (one IPv6 /64). A browser
/// loading the monitor opens a handful; 16 leaves room.
pub const AT_THE_DOOR_PER_PEER: usize = 16;

/// Why a new connection is turned away at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turned {
    /// Every place at the door is taken.
    DoorFull,
    /// This address already has its share of places at the door.
    PeerAtItsShare,
}

/// The hub's connection pools. Shared by the accept loop and the connections; its
/// one lock is held for a map update at a connection's arrival and departure,
/// never on the per-message path.
pub struct Doorway {
    door: Arc<Semaphore>,
    per_peer: usize,
    by_peer: Mutex<HashMap<IpAddr, usize>>,
    room: Arc<Semaphore>,
}

/// A place at the door: given back when dropped (let in, refused or gone).
pub struct AtTheDoor {
    _place: OwnedSemaphorePermit,
    peer: IpAddr,
    doorway: Arc<Doorway>,
}

/// A place in the room, held for a connection's life.
pub type InTheRoom = OwnedSemaphorePermit;

impl Doorway {
    pub fn new(door: usize, per_peer: usize, room: usize) -> Arc<Doorway> {
        Arc::new(Doorway {
            door: Arc::new(Semaphore::new(door)),
            per_peer,
            by_peer: Mutex::new(HashMap::new()),
            room: Arc::new(Semaphore::new(room)),
        })
    }

    /// A new connection from `peer` takes a place at the door, if there is one.
    pub fn arrive(self: &Arc<Doorway>, peer: IpAddr) -> Result<AtTheDoor, Turned> {
        let peer = peer_key(peer);
        let place = self
            .door
            .clone()
            .try_acquire_owned()
            .map_err(|_| Turned::DoorFull)?;
        let mut by_peer = self.by_peer.lock().unwrap_or_else(PoisonError::into_inner);
        let count = by_peer.entry(peer).or_insert(0);
        if *count >= self.per_peer {
            return Err(Turned::PeerAtItsShare);
        }
        *count += 1;
        Ok(AtTheDoor {
            _place: place,
            peer,
            doorway: self.clone(),
        })
    }

    /// A connection that showed its credentials takes a place in the room, if
    /// there is one; its place at the door goes back either way.
    pub fn let_in(&self, at_the_door: AtTheDoor) -> Option<InTheRoom> {
        drop(at_the_door);
        self.room.clone().try_acquire_owned().ok()
    }

    fn leave_door(&self, peer: IpAddr) {
        let mut by_peer = self.by_peer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = by_peer.get_mut(&peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                by_peer.remove(&peer);
            }
        }
    }
}

impl Drop for AtTheDoor {
    fn drop(&mut self) {
        self.doorway.leave_door(self.peer);
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
    fn one_address_gets_its_share_of_the_door_and_no_more_while_others_still_get_in() {
        let doorway = Doorway::new(8, 2, 8);
        let a = [
            doorway.arrive(ip("10.0.0.1")),
            doorway.arrive(ip("10.0.0.1")),
        ];
        assert!(a.iter().all(Result::is_ok));
        assert_eq!(
            doorway.arrive(ip("10.0.0.1")).err(),
            Some(Turned::PeerAtItsShare)
        );
        assert!(doorway.arrive(ip("10.0.0.2")).is_ok());
        drop(a);
        assert!(doorway.arrive(ip("10.0.0.1")).is_ok(), "places come back");
    }

    #[test]
    fn the_door_fills_from_many_addresses_and_empties_as_they_go() {
        let doorway = Doorway::new(3, 2, 8);
        let held: Vec<_> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|a| doorway.arrive(ip(a)).unwrap())
            .collect();
        assert_eq!(doorway.arrive(ip("10.0.0.4")).err(), Some(Turned::DoorFull));
        drop(held);
        assert!(doorway.arrive(ip("10.0.0.4")).is_ok());
        assert!(
            doorway.by_peer.lock().unwrap().len() <= 1,
            "no address kept"
        );
    }

    #[test]
    fn being_let_in_frees_the_door_and_takes_the_room_which_can_be_full() {
        let doorway = Doorway::new(1, 1, 1);
        let first = doorway.arrive(ip("127.0.0.1")).unwrap();
        let inside = doorway.let_in(first);
        assert!(inside.is_some());
        let second = doorway.arrive(ip("127.0.0.1")).unwrap();
        assert!(doorway.let_in(second).is_none(), "the room is full");
        drop(inside);
        let third = doorway.arrive(ip("127.0.0.1")).unwrap();
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
}
