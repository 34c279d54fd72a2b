//! The hub's door under a flood: connections that never show a token wait in a
//! small pool of their own (16 from one address), where a newcomer pushes out the
//! oldest, so they cannot keep a token holder out, nor fill the room
//! `--max-connections` sizes; one deadline runs from accept to upgrade, however
//! slowly a peer trickles its request.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, client_async};

use crate::hub::{Hub, raw_ping_works};
use crate::support::bounded;

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);
/// One address's share of the door (the hub's `AT_THE_DOOR_PER_PEER`).
const PER_PEER: usize = 16;

/// A TCP connection to the hub from this loopback address (all of 127/8 is ours).
async fn tcp_from(from: &str, hub: &Hub) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let to: SocketAddr = hub.addr.parse().unwrap();
    socket.connect(to).await.unwrap()
}

/// A WebSocket with the token, from this loopback address.
async fn token_socket_from(
    from: &str,
    hub: &Hub,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, tokio_tungstenite::tungstenite::Error> {
    let tcp = MaybeTlsStream::Plain(tcp_from(from, hub).await);
    client_async(hub.url(), tcp).await.map(|(socket, _)| socket)
}

/// True when the hub closes this connection (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    read.await.is_ok()
}

#[tokio::test]
async fn idle_sockets_at_the_door_give_way_to_a_token_holder_from_their_own_address_and_never_fill_the_room()
 {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--max-connections", "2"]).await;
        let mut idle = Vec::new();
        for _ in 0..PER_PEER {
            idle.push(tcp_from("127.0.0.1", &hub).await);
        }
        // Accepted in order: the idle ones hold all of 127.0.0.1's share first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Every local client shares 127.0.0.1: the newcomer pushes out the oldest
        // idle socket instead of being turned away.
        let mut first = token_socket_from("127.0.0.1", &hub).await.unwrap();
        raw_ping_works(&mut first).await;
        assert!(
            closed_within(&mut idle[0], WAIT).await,
            "the oldest idle socket lost its place"
        );
        assert!(hub.log().contains("hub busy at the door"), "{}", hub.log());
        let mut second = token_socket_from("127.0.0.1", &hub).await.unwrap();
        raw_ping_works(&mut second).await;
        // The room's two places are taken by token holders: a third is let in by
        // the gate, then told the hub is full.
        let deadline = Instant::now() + WAIT;
        while let Ok(mut socket) = token_socket_from("127.0.0.2", &hub).await {
            if let Some(Ok(Message::Close(Some(close)))) = socket.next().await {
                assert_eq!(close.code, CloseCode::Again, "{close:?}");
                break;
            }
            assert!(Instant::now() < deadline, "a third token holder is told the hub is full");
        }
        assert!(hub.log().contains("hub full"), "{}", hub.log());
        drop(first);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut socket) = token_socket_from("127.0.0.1", &hub).await {
                let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"channel":"ahp-root://"}}"#;
                if futures_util::SinkExt::send(&mut socket, Message::text(ping)).await.is_ok()
                    && matches!(socket.next().await, Some(Ok(Message::Text(_))))
                {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "a freed place in the room is taken again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(idle);
    })
    .await;
}

#[tokio::test]
async fn a_peer_trickling_its_request_is_closed_at_one_deadline_from_accept() {
    bounded(LIMIT, async {
        let hub = Hub::start(&["--door-timeout-ms", "500"]).await;
        let mut silent = tcp_from("127.0.0.1", &hub).await;
        let mut trickle = tcp_from("127.0.0.1", &hub).await;
        let started = Instant::now();
        let head = format!("GET /?tkn={} HTTP/1.1\r\nHost: {}\r\n", hub.token, hub.addr);
        // A byte every 50 ms: each read makes progress, only the whole deadline ends it.
        let mut sent = 0;
        let trickled = loop {
            if sent < head.len() {
                let _ = trickle.write_all(&head.as_bytes()[sent..sent + 1]).await;
                sent += 1;
            }
            if closed_within(&mut trickle, Duration::from_millis(50)).await {
                break started.elapsed();
            }
            assert!(started.elapsed() < WAIT, "the trickling peer is closed");
        };
        assert!(trickled < Duration::from_secs(3), "{trickled:?}");
        assert!(
            closed_within(&mut silent, WAIT).await,
            "a silent peer is closed too"
        );
        // The hub is no worse for it.
        let mut socket = token_socket_from("127.0.0.1", &hub).await.unwrap();
        raw_ping_works(&mut socket).await;
    })
    .await;
}
