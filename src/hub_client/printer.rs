//! Lines to stdout from a thread of their own, behind a queue counted in bytes: the
//! caller never waits on a slow terminal or pipe, so it keeps draining what the hub
//! sends (the client library skips, silently, what a reader falls too far behind
//! on). Past the cap, lines are counted as not printed instead, and the caller is
//! told once the queue has room again. Knows nothing of what the lines say.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Bytes of lines queued at most before new ones are not printed.
pub const QUEUE_CAP: usize = 64 * 1024 * 1024;

pub struct Printer {
    tx: Option<mpsc::Sender<String>>,
    queued: Arc<AtomicUsize>,
    failed: Arc<AtomicBool>,
    writer: Option<JoinHandle<io::Result<()>>>,
    cap: usize,
    /// Lines not printed since the queue was last under the cap.
    dropped: u64,
}

/// What became of a line handed to the printer.
#[derive(Debug, PartialEq, Eq)]
pub enum Queued {
    /// On its way.
    Printed,
    /// On its way, after `n` lines that were not printed (the output was too far behind).
    PrintedAfterGap(u64),
    /// Not printed: the output is more than the cap behind.
    Dropped,
}

impl Printer {
    /// A printer to `out` (stdout in use), holding at most `cap` bytes unwritten.
    pub fn new(out: impl Write + Send + 'static, cap: usize) -> Printer {
        let (tx, rx) = mpsc::channel::<String>();
        let queued = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let writer = {
            let (queued, failed) = (queued.clone(), failed.clone());
            std::thread::spawn(move || {
                let written = write_all(out, &rx, &queued);
                failed.store(written.is_err(), Ordering::Release);
                written
            })
        };
        Printer {
            tx: Some(tx),
            queued,
            failed,
            writer: Some(writer),
            cap,
            dropped: 0,
        }
    }

    /// Queues one line (a newline is added). An error: the output is gone (a closed
    /// pipe, say), and the caller should stop.
    pub fn line(&mut self, line: String) -> io::Result<Queued> {
        if self.failed.load(Ordering::Acquire) {
            return Err(self.finish().err().unwrap_or_else(gone));
        }
        if self.queued.load(Ordering::Acquire) + line.len() > self.cap {
            self.dropped += 1;
            return Ok(Queued::Dropped);
        }
        self.queued.fetch_add(line.len() + 1, Ordering::AcqRel);
        let sent = self.tx.as_ref().map(|tx| tx.send(line));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.finish().err().unwrap_or_else(gone));
        }
        Ok(match std::mem::take(&mut self.dropped) {
            0 => Queued::Printed,
            gap => Queued::PrintedAfterGap(gap),
        })
    }

    /// Writes out what is queued and ends the writer: its error, if it had one.
    pub fn finish(&mut self) -> io::Result<()> {
        drop(self.tx.take());
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(written)) => written,
            Some(Err(_)) => Err(io::Error::other("the output's writer panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn gone() -> io::Error {
    io::Error::from(io::ErrorKind::BrokenPipe)
}

/// The writer's loop: what is queued, written and flushed in batches; a batch's
/// bytes leave the count once flushed, so a stalled output is seen as one.
fn write_all(out: impl Write, rx: &mpsc::Receiver<String>, queued: &AtomicUsize) -> io::Result<()> {
    const BATCH: usize = 64 * 1024;
    let mut out = io::BufWriter::new(out);
    while let Ok(first) = rx.recv() {
        let mut batch = 0;
        let mut next = Some(first);
        while let Some(line) = next.take() {
            writeln!(out, "{line}")?;
            batch += line.len() + 1;
            if batch < BATCH {
                next = rx.try_recv().ok();
            }
        }
        out.flush()?;
        queued.fetch_sub(batch, Ordering::AcqRel);
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An output that takes nothing until told, then everything.
    #[derive(Clone, Default)]
    struct Gated {
        open: Arc<(Mutex<bool>, std::sync::Condvar)>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (lock, opened) = &*self.open;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = opened.wait(open).unwrap();
            }
            self.got.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_never_holds_the_caller_up_and_what_overflows_is_counted_then_told() {
        let out = Gated::default();
        // Room for three 9-byte lines (and their newlines), not a fourth.
        let mut printer = Printer::new(out.clone(), 30);
        for i in 0..3 {
            assert_eq!(
                printer.line(format!("line {i:04}")).unwrap(),
                Queued::Printed
            );
        }
        assert_eq!(printer.line("line 0003".into()).unwrap(), Queued::Dropped);
        assert_eq!(printer.line("line 0004".into()).unwrap(), Queued::Dropped);
        let (lock, opened) = &*out.open;
        *lock.lock().unwrap() = true;
        opened.notify_all();
        while printer.queued.load(Ordering::Acquire) > 0 {
            std::thread::yield_now();
        }
        assert_eq!(
            printer.line("line 0005".into()).unwrap(),
            Queued::PrintedAfterGap(2)
        );
        printer.finish().unwrap();
        let got = String::from_utf8(out.got.lock().unwrap().clone()).unwrap();
        assert_eq!(got, "line 0000\nline 0001\nline 0002\nline 0005\n");
    }

    #[test]
    fn a_closed_output_is_an_error_for_the_caller() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(gone())
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(gone())
            }
        }
        let mut printer = Printer::new(Closed, 1024);
        let mut outcome = Ok(Queued::Printed);
        for _ in 0..1000 {
            outcome = printer.line("x".into());
            if outcome.is_err() {
                break;
            }
            std::thread::yield_now();
        }
        let error = outcome.expect_err("the closed output is seen");
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }
}
