//! `domreg enrich --offline --threads N`: the input is cut into batches of
//! whole lines and enriched on N threads, each with its own [`Enricher`] and
//! the registration records shared read-only: the calling thread and N - 1
//! workers. The calling thread also reads and writes. It hands a batch to a
//! worker while the workers have fewer than two batches each in flight, and
//! otherwise enriches the batch itself, so that every thread stays busy on
//! N cores (no thread only waits on I/O) and a slow worker gets less work.
//! Results are written in input order. An over-long line is streamed
//! through by the calling thread once the batches before it are written,
//! as on one thread. `--threads 1` is the serial path.

use std::collections::VecDeque;
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

/// Enrich every line of `r` into `w`: the first enricher on this thread,
/// each other one on a worker thread.
pub fn stream(
    enrichers: &mut [Enricher],
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    progress: &ProgressBar,
    r: &mut impl BufRead,
    w: &mut impl Write,
) -> Result<(), StreamError> {
    let Some((local, remote)) = enrichers.split_first_mut() else {
        return Ok(());
    };
    let cap = local.max_line_bytes();
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(remote.len());
        for enricher in remote.iter_mut() {
            let (tx, rx) = mpsc::channel::<(Batch, Vec<u8>)>();
            let (done_tx, done_rx) = mpsc::channel::<(Batch, Vec<u8>)>();
            scope.spawn(move || {
                // The batch and the output buffer come back with the result
                // and are sent out again: no allocation per batch once the
                // buffers have grown.
                for (batch, mut out) in rx {
                    enrich_batch(enricher, snapshot, fixed_now, &batch, &mut out);
                    if done_tx.send((batch, out)).is_err() {
                        break;
                    }
                }
            });
            workers.push(Worker {
                to: tx,
                from: done_rx,
                pending: VecDeque::new(),
            });
        }
        let mut pipe = Pipe {
            local,
            snapshot,
            fixed_now,
            workers,
            next_worker: 0,
            in_order: VecDeque::new(),
            next_seq: 0,
            spare_batches: Vec::new(),
            spare_outs: Vec::new(),
        };
        let result = pipe.run(cap, progress, r, w);
        // Closing the channels ends the workers; the scope joins them.
        drop(pipe);
        result
    })
}

/// Enrich every line of `batch` into `out` (cleared first).
fn enrich_batch(
    enricher: &mut Enricher,
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    batch: &Batch,
    out: &mut Vec<u8>,
) {
    let mut lookup = Shared(snapshot);
    out.clear();
    out.reserve(batch.buf.len() + batch.buf.len() / 2);
    // The clock is read once per batch: its lines were read together.
    let now = fixed_now.unwrap_or_else(Utc::now);
    let mut start = 0;
    for &end in &batch.ends {
        let line = batch.buf.get(start..end).unwrap_or(&[]);
        enricher.enrich_line(line, &mut lookup, now, out);
        start = end;
    }
}

/// A worker thread's channels, and the batches it holds (by sequence
/// number, oldest first: it answers in the order it was sent).
struct Worker {
    to: mpsc::Sender<(Batch, Vec<u8>)>,
    from: mpsc::Receiver<(Batch, Vec<u8>)>,
    pending: VecDeque<u64>,
}

/// Batches an enricher holds at most, per worker, before this thread
/// enriches the next batch itself.
const IN_FLIGHT: usize = 2;

/// Batches read and not yet written, at most, per thread.
const MAX_UNWRITTEN: usize = 4;

/// A batch not yet written, in input order.
enum Slot {
    /// Being enriched by a worker.
    Away,
    /// Enriched: its output.
    Done(Batch, Vec<u8>),
}

struct Pipe<'a, 'e> {
    local: &'e mut Enricher,
    snapshot: &'a Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    workers: Vec<Worker>,
    next_worker: usize,
    /// Every batch read and not yet written; the first has sequence number
    /// `next_seq - in_order.len()`.
    in_order: VecDeque<Slot>,
    next_seq: u64,
    /// Buffers back from the workers and the writes, for the next batches.
    spare_batches: Vec<Batch>,
    spare_outs: Vec<Vec<u8>>,
}

impl Pipe<'_, '_> {
    fn run(
        &mut self,
        cap: usize,
        progress: &ProgressBar,
        r: &mut impl BufRead,
        w: &mut impl Write,
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
                        self.dispatch(full, w)?;
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
                        self.dispatch(before, w)?;
                    }
                    self.drain(w)?;
                    w.write_all(&line).map_err(StreamError::Write)?;
                    let rest = lines::copy_rest(r, w).map_err(|e| match e.kind() {
                        std::io::ErrorKind::BrokenPipe => StreamError::Write(e),
                        _ => StreamError::Read(e),
                    })?;
                    w.write_all(b"\n").map_err(StreamError::Write)?;
                    progress.inc(line.len() as u64 + rest + 1);
                    self.local.record_passthrough(PassReason::Oversized);
                }
            }
        }
        if !batch.ends.is_empty() {
            progress.inc((batch.buf.len() + batch.ends.len()) as u64);
            self.dispatch(batch, w)?;
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

    /// Hand `batch` to the next worker that has room, or enrich it here when
    /// none has; then write whatever is ready in order.
    fn dispatch(&mut self, batch: Batch, w: &mut impl Write) -> Result<(), StreamError> {
        self.collect(false)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        let n = self.workers.len();
        let free = (0..n)
            .map(|i| (self.next_worker + i) % n.max(1))
            .find(|&i| {
                self.workers
                    .get(i)
                    .is_some_and(|wk| wk.pending.len() < IN_FLIGHT)
            });
        match free.and_then(|i| self.workers.get_mut(i).map(|wk| (i, wk))) {
            Some((i, worker)) => {
                let out = self.spare_outs.pop().unwrap_or_default();
                worker.to.send((batch, out)).map_err(|_| worker_gone())?;
                worker.pending.push_back(seq);
                self.in_order.push_back(Slot::Away);
                self.next_worker = (i + 1) % n;
            }
            None => {
                let mut out = self.spare_outs.pop().unwrap_or_default();
                enrich_batch(self.local, self.snapshot, self.fixed_now, &batch, &mut out);
                self.in_order.push_back(Slot::Done(batch, out));
            }
        }
        self.collect(false)?;
        if self.in_order.len() > MAX_UNWRITTEN * (n + 1) {
            // A worker has fallen far behind: wait for it rather than hold
            // ever more output.
            self.collect(true)?;
        }
        self.write_ready(w)
    }

    /// Take the results the workers have finished (waiting for them when
    /// `wait`) into their slots.
    fn collect(&mut self, wait: bool) -> Result<(), StreamError> {
        let first = self.next_seq - self.in_order.len() as u64;
        for worker in &mut self.workers {
            while let Some(&seq) = worker.pending.front() {
                let result = if wait {
                    worker.from.recv().map_err(|_| worker_gone())?
                } else {
                    match worker.from.try_recv() {
                        Ok(r) => r,
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => return Err(worker_gone()),
                    }
                };
                worker.pending.pop_front();
                let index = usize::try_from(seq - first).unwrap_or(usize::MAX);
                if let Some(slot) = self.in_order.get_mut(index) {
                    *slot = Slot::Done(result.0, result.1);
                }
            }
        }
        Ok(())
    }

    /// Write the finished batches at the front, in order.
    fn write_ready(&mut self, w: &mut impl Write) -> Result<(), StreamError> {
        while let Some(Slot::Done(..)) = self.in_order.front() {
            if let Some(Slot::Done(batch, out)) = self.in_order.pop_front() {
                w.write_all(&out).map_err(StreamError::Write)?;
                self.spare_batches.push(batch);
                self.spare_outs.push(out);
            }
        }
        Ok(())
    }

    /// Write every batch read so far.
    fn drain(&mut self, w: &mut impl Write) -> Result<(), StreamError> {
        self.collect(true)?;
        self.write_ready(w)
    }
}

fn worker_gone() -> StreamError {
    StreamError::Write(std::io::Error::other("an enrichment worker stopped"))
}
