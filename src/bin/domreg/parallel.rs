//! `domreg enrich --offline --threads N`: the input is cut into batches of
//! whole lines; batch `i` goes to worker `i % N`, each worker with its own
//! [`Enricher`] and the registration records shared read-only; the main
//! thread reads, hands out batches and writes the results back in input
//! order (batch `i` is taken from worker `i % N` in turn). At most two
//! batches per worker are in flight. An over-long line is streamed through
//! by the main thread once the batches before it are written, as on one
//! thread.

use std::io::{BufRead, Write};
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use domreg::enrich::{Enricher, Lookup, LookupResult, PassReason};
use domreg::output::RegistrationTemplate;
use domreg::snapshot::Snapshot;
use indicatif::ProgressBar;

use crate::StreamError;
use crate::lines::{self, Line};

/// Bytes of input per batch (whole lines; a batch holds at least one).
const BATCH_BYTES: usize = 256 * 1024;

/// The records, read-only, for one worker.
struct Shared<'a>(&'a Snapshot);

impl Lookup for Shared<'_> {
    fn lookup(&mut self, domain: &str) -> LookupResult<'_> {
        match self.0.get(domain) {
            Some(reg) => LookupResult::Found(reg),
            None => LookupResult::Miss,
        }
    }

    fn lookup_rendered(
        &mut self,
        domain: &str,
    ) -> (LookupResult<'_>, Option<&RegistrationTemplate>) {
        domreg::snapshot::rendered(self.0, domain)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.0.generation())
    }
}

/// Lines of input: `buf` holds them back to back, `ends[i]` is where line
/// `i` ends.
#[derive(Default)]
struct Batch {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

/// Enrich every line of `r` into `w` with one worker per enricher.
pub fn stream(
    enrichers: &mut [Enricher],
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    progress: &ProgressBar,
    r: &mut impl BufRead,
    w: &mut impl Write,
) -> Result<(), StreamError> {
    let Some(cap) = enrichers.first().map(Enricher::max_line_bytes) else {
        return Ok(());
    };
    let n = enrichers.len();
    let outcome = std::thread::scope(|scope| {
        let mut to_workers = Vec::with_capacity(n);
        let mut from_workers = Vec::with_capacity(n);
        for enricher in enrichers.iter_mut() {
            let (tx, rx) = mpsc::channel::<(Batch, Vec<u8>)>();
            let (done_tx, done_rx) = mpsc::channel::<(Batch, Vec<u8>)>();
            scope.spawn(move || {
                let mut lookup = Shared(snapshot);
                // The batch and the output buffer come back to the main
                // thread with the result, and are sent out again: no
                // allocation per batch once the buffers have grown.
                for (batch, mut out) in rx {
                    out.clear();
                    out.reserve(batch.buf.len() + batch.buf.len() / 2);
                    let mut start = 0;
                    for &end in &batch.ends {
                        let line = batch.buf.get(start..end).unwrap_or(&[]);
                        let now = fixed_now.unwrap_or_else(Utc::now);
                        enricher.enrich_line(line, &mut lookup, now, &mut out);
                        start = end;
                    }
                    if done_tx.send((batch, out)).is_err() {
                        break;
                    }
                }
            });
            to_workers.push(tx);
            from_workers.push(done_rx);
        }
        let mut pipe = Pipe {
            to_workers,
            from_workers,
            sent: 0,
            written: 0,
            spare_batches: Vec::new(),
            spare_outs: Vec::new(),
        };
        let mut oversized = 0u64;
        let result = pipe.run(cap, progress, r, w, &mut oversized);
        // Closing the channels ends the workers; the scope joins them.
        drop(pipe);
        (result, oversized)
    });
    let (result, oversized) = outcome;
    if let Some(first) = enrichers.first_mut() {
        for _ in 0..oversized {
            first.record_passthrough(PassReason::Oversized);
        }
    }
    result
}

struct Pipe {
    to_workers: Vec<mpsc::Sender<(Batch, Vec<u8>)>>,
    from_workers: Vec<mpsc::Receiver<(Batch, Vec<u8>)>>,
    sent: usize,
    written: usize,
    /// Buffers back from the workers, for the next batches.
    spare_batches: Vec<Batch>,
    spare_outs: Vec<Vec<u8>>,
}

impl Pipe {
    fn run(
        &mut self,
        cap: usize,
        progress: &ProgressBar,
        r: &mut impl BufRead,
        w: &mut impl Write,
        oversized: &mut u64,
    ) -> Result<(), StreamError> {
        let mut line = Vec::new();
        let mut batch = self.fresh();
        loop {
            // Each line is read straight into the batch.
            let start = batch.buf.len();
            let kind = lines::append_line(r, &mut batch.buf, cap).map_err(StreamError::Read)?;
            match kind {
                None => break,
                Some(Line::Complete) => {
                    batch.ends.push(batch.buf.len());
                    if batch.buf.len() >= BATCH_BYTES {
                        let full = std::mem::replace(&mut batch, self.fresh());
                        progress.inc((full.buf.len() + full.ends.len()) as u64);
                        self.send(full, w)?;
                    }
                }
                Some(Line::TooLong) => {
                    // Everything before it goes out first, then the line,
                    // streamed without buffering.
                    line.clear();
                    line.extend_from_slice(batch.buf.get(start..).unwrap_or(&[]));
                    batch.buf.truncate(start);
                    let before = std::mem::replace(&mut batch, self.fresh());
                    if !before.ends.is_empty() {
                        progress.inc((before.buf.len() + before.ends.len()) as u64);
                        self.send(before, w)?;
                    }
                    self.drain(w)?;
                    w.write_all(&line).map_err(StreamError::Write)?;
                    let rest = lines::copy_rest(r, w).map_err(|e| match e.kind() {
                        std::io::ErrorKind::BrokenPipe => StreamError::Write(e),
                        _ => StreamError::Read(e),
                    })?;
                    w.write_all(b"\n").map_err(StreamError::Write)?;
                    progress.inc(line.len() as u64 + rest + 1);
                    *oversized += 1;
                }
            }
        }
        if !batch.ends.is_empty() {
            progress.inc((batch.buf.len() + batch.ends.len()) as u64);
            self.send(batch, w)?;
        }
        self.drain(w)
    }

    /// An empty batch, reusing a returned one's buffers when there is one.
    fn fresh(&mut self) -> Batch {
        let mut batch = self.spare_batches.pop().unwrap_or_default();
        batch.buf.clear();
        batch.ends.clear();
        batch.buf.reserve(BATCH_BYTES + 4096);
        batch
    }

    /// Hand `batch` to the next worker, first writing the oldest result
    /// when enough batches are in flight.
    fn send(&mut self, batch: Batch, w: &mut impl Write) -> Result<(), StreamError> {
        let n = self.to_workers.len();
        if self.sent - self.written >= 2 * n {
            self.write_next(w)?;
        }
        let worker = self.sent % n;
        let out = self.spare_outs.pop().unwrap_or_default();
        if let Some(tx) = self.to_workers.get(worker) {
            tx.send((batch, out)).map_err(|_| worker_gone())?;
        }
        self.sent += 1;
        Ok(())
    }

    fn write_next(&mut self, w: &mut impl Write) -> Result<(), StreamError> {
        let worker = self.written % self.from_workers.len();
        let (batch, out) = self
            .from_workers
            .get(worker)
            .and_then(|rx| rx.recv().ok())
            .ok_or_else(worker_gone)?;
        w.write_all(&out).map_err(StreamError::Write)?;
        self.spare_batches.push(batch);
        self.spare_outs.push(out);
        self.written += 1;
        Ok(())
    }

    fn drain(&mut self, w: &mut impl Write) -> Result<(), StreamError> {
        while self.written < self.sent {
            self.write_next(w)?;
        }
        Ok(())
    }
}

fn worker_gone() -> StreamError {
    StreamError::Write(std::io::Error::other("an enrichment worker stopped"))
}
