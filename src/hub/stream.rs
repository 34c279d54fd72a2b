//! One accepted connection of the hub as a byte stream: plain TCP or TLS over it,
//! with the bytes the front door has already read put back in front, so the
//! WebSocket upgrade reads the request head whole. Knows nothing of HTTP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// What carries the bytes.
enum Carrier {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A hub connection's stream.
pub struct HubStream {
    carrier: Carrier,
    /// Bytes read already and handed back (`unread`), served before the carrier's.
    replay: Vec<u8>,
    /// How much of `replay` has been served.
    replayed: usize,
}

impl HubStream {
    pub fn plain(stream: TcpStream) -> HubStream {
        HubStream::over(Carrier::Plain(stream))
    }

    pub fn tls(stream: TlsStream<TcpStream>) -> HubStream {
        HubStream::over(Carrier::Tls(Box::new(stream)))
    }

    fn over(carrier: Carrier) -> HubStream {
        HubStream {
            carrier,
            replay: Vec::new(),
            replayed: 0,
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.carrier, Carrier::Tls(_))
    }

    /// Puts `bytes` (read from this stream) back in front of what is still to come.
    pub fn unread(&mut self, bytes: &[u8]) {
        let mut replay = bytes.to_vec();
        replay.extend_from_slice(&self.replay[self.replayed..]);
        self.replay = replay;
        self.replayed = 0;
    }
}

impl AsyncRead for HubStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let waiting = &this.replay[this.replayed..];
        if !waiting.is_empty() {
            let n = waiting.len().min(buf.remaining());
            buf.put_slice(&waiting[..n]);
            this.replayed += n;
            if this.replayed == this.replay.len() {
                this.replay = Vec::new();
                this.replayed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        match &mut this.carrier {
            Carrier::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for HubStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().carrier {
            Carrier::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().carrier {
            Carrier::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.carrier {
            Carrier::Plain(s) => s.is_write_vectored(),
            Carrier::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().carrier {
            Carrier::Plain(s) => Pin::new(s).poll_flush(cx),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().carrier {
            Carrier::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Carrier::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_put_back_are_read_again_before_the_rest() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"GET / HTTP/1.1\r\n\r\nrest").await.unwrap();
        });
        let (accepted, _) = listener.accept().await.unwrap();
        let mut stream = HubStream::plain(accepted);
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).await.unwrap();
        stream.unread(&head);
        client.await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GET / HTTP/1.1\r\n\r\nrest");
        assert!(!stream.is_tls());
    }
}
