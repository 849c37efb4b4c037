//! `domreg enrich --offline --threads N`: the input is cut into batches of
//! whole lines and enriched on N threads, each with its own [`Enricher`] and
//! the registration records shared read-only: the calling thread and N - 1
//! workers. Results are written in input order, and an over-long line is
//! streamed through once the batches before it are written, as on one
//! thread. `--threads 1` is the serial path.
//!
//! A regular file is read by each thread in turn ([`file`]). Other input
//! (a pipe) is read here, by a reader thread of its own: a read from it may
//! wait, and the output must not wait with it. The calling thread hands a
//! batch to a worker while the workers have fewer than two batches each in
//! flight, and otherwise enriches the batch itself, so that every thread
//! stays busy on N cores and a slow worker gets less work.
//!
//! A batch ends at [`BATCH_BYTES`] or, from a pipe, wherever the bytes read
//! so far end; when no batch has come for [`IDLE_FLUSH`], everything
//! enriched so far is written and flushed. So events on a slow pipe come
//! out at once, not when a whole batch has arrived.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domreg::enrich::{Enricher, PassReason};
use domreg::snapshot::Snapshot;
use indicatif::ProgressBar;

use crate::StreamError;
use crate::lines::{self, Line};

mod file;

/// Bytes of input per batch, at most (whole lines; a batch holds at least
/// one).
const BATCH_BYTES: usize = 256 * 1024;

/// How long the input may be quiet before the output is flushed.
const IDLE_FLUSH: Duration = Duration::from_millis(1);

/// Batches read ahead, at most, that the calling thread has not taken.
const READ_AHEAD: usize = 4;

/// Lines of input, back to back in one buffer.
type Batch = domreg::batch::Lines;

/// The input bytes `batch` was read from, for the progress bar: its lines
/// and a terminator each.
fn input_bytes(batch: &Batch) -> u64 {
    (batch.bytes() + batch.len()) as u64
}

/// What the reader thread sends, in input order.
enum FromReader {
    /// Whole lines.
    Lines(Batch),
    /// An over-long line: the lines before it (maybe none), then the line's
    /// first bytes. Its other bytes follow as `LongPart`s, then `LongEnd`.
    Long(Batch, Vec<u8>),
    LongPart(Vec<u8>),
    LongEnd,
    /// Reading failed; nothing follows.
    Failed(io::Error),
}

/// Enrich every line of `r` into `w`: the first enricher on this thread,
/// each other one on a worker thread. `may_wait`: a read from `r` may wait
/// for data (it is not a regular file).
pub fn stream<R: Read + Send + 'static>(
    enrichers: &mut [Enricher],
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    progress: &ProgressBar,
    r: BufReader<R>,
    may_wait: bool,
    w: &mut impl Write,
) -> Result<(), StreamError> {
    if !may_wait {
        return file::stream(enrichers, snapshot, fixed_now, progress, r, w);
    }
    let Some((local, remote)) = enrichers.split_first_mut() else {
        return Ok(());
    };
    let cap = local.max_line_bytes();
    let (input_tx, input) = mpsc::sync_channel(READ_AHEAD);
    let (spare_tx, spare_rx) = mpsc::channel();
    // Not scoped: after a write error this thread returns at once, while
    // the reader may still wait on a read (from a terminal, say); it ends
    // at its next send, or with the process.
    std::thread::spawn(move || read_batches(r, cap, &input_tx, &spare_rx));
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
            spare_batches: spare_tx,
            spare_outs: Vec::new(),
        };
        let result = pipe.run(&input, progress, w);
        // Closing the channels ends the workers; the scope joins them.
        drop(pipe);
        result
    })
}

/// The reader thread: the lines of `r` to `tx` in batches, reusing the
/// batches that come back on `spare`. A batch also ends where the bytes
/// read so far end (the next read may wait). Returns at the end of the
/// input, after a read error, or when the receiver is gone.
fn read_batches<R: Read>(
    mut r: BufReader<R>,
    cap: usize,
    tx: &mpsc::SyncSender<FromReader>,
    spare: &mpsc::Receiver<Batch>,
) {
    let fresh = || {
        let mut batch = spare.try_recv().unwrap_or_default();
        batch.clear();
        batch.reserve(BATCH_BYTES + 4096);
        batch
    };
    let mut batch = fresh();
    loop {
        match lines::read_into(&mut r, &mut batch, cap) {
            Ok(Some(Line::Complete)) => {
                if batch.bytes() >= BATCH_BYTES || !lines::line_ready(&r) {
                    let full = std::mem::replace(&mut batch, fresh());
                    if tx.send(FromReader::Lines(full)).is_err() {
                        return;
                    }
                }
            }
            Ok(Some(Line::TooLong)) => {
                let head = batch.take_open();
                let before = std::mem::replace(&mut batch, fresh());
                if tx.send(FromReader::Long(before, head)).is_err() {
                    return;
                }
                match lines::copy_rest(&mut r, &mut Parts(tx)) {
                    Ok(_) => {
                        if tx.send(FromReader::LongEnd).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(FromReader::Failed(e));
                        return;
                    }
                }
            }
            Ok(None) => {
                if !batch.is_empty() {
                    let _ = tx.send(FromReader::Lines(batch));
                }
                return;
            }
            Err(e) => {
                // The lines before the failed one still go out.
                batch.drop_open();
                if !batch.is_empty() && tx.send(FromReader::Lines(batch)).is_err() {
                    return;
                }
                let _ = tx.send(FromReader::Failed(e));
                return;
            }
        }
    }
}

/// An over-long line's bytes, sent on as they are read.
struct Parts<'a>(&'a mpsc::SyncSender<FromReader>);

impl Write for Parts<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(FromReader::LongPart(buf.to_vec()))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Enrich every line of `batch` into `out` (cleared first).
fn enrich_batch(
    enricher: &mut Enricher,
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    batch: &Batch,
    out: &mut Vec<u8>,
) {
    let mut lookup = snapshot;
    out.clear();
    out.reserve(batch.bytes() + batch.bytes() / 2);
    // The clock is read once per batch: its lines were read together.
    let now = fixed_now.unwrap_or_else(Utc::now);
    for line in batch.iter() {
        enricher.enrich_line(line, &mut lookup, now, out);
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
    /// Batches written, back to the reader thread for reuse.
    spare_batches: mpsc::Sender<Batch>,
    /// Output buffers back from the writes, for the next batches.
    spare_outs: Vec<Vec<u8>>,
}

impl Pipe<'_, '_> {
    fn run(
        &mut self,
        input: &mpsc::Receiver<FromReader>,
        progress: &ProgressBar,
        w: &mut impl Write,
    ) -> Result<(), StreamError> {
        while let Some(next) = self.next_input(input, w)? {
            match next {
                FromReader::Lines(batch) => {
                    progress.inc(input_bytes(&batch));
                    self.dispatch(batch, w)?;
                }
                FromReader::Long(before, head) => {
                    // Everything before it goes out first, then the line,
                    // streamed through as it is read.
                    if before.is_empty() {
                        let _ = self.spare_batches.send(before);
                    } else {
                        progress.inc(input_bytes(&before));
                        self.dispatch(before, w)?;
                    }
                    self.drain(w)?;
                    w.write_all(&head).map_err(StreamError::Write)?;
                    progress.inc(head.len() as u64);
                }
                FromReader::LongPart(part) => {
                    w.write_all(&part).map_err(StreamError::Write)?;
                    progress.inc(part.len() as u64);
                }
                FromReader::LongEnd => {
                    w.write_all(b"\n").map_err(StreamError::Write)?;
                    progress.inc(1);
                    self.local.record_passthrough(PassReason::Oversized);
                }
                FromReader::Failed(e) => {
                    // Every line read before the error still goes out.
                    self.drain(w)?;
                    return Err(StreamError::Read(e));
                }
            }
        }
        self.drain(w)
    }

    /// The next message from the reader thread; `None` at the end of the
    /// input. When none is ready, what the workers have finished is written
    /// and, once the input has been quiet for [`IDLE_FLUSH`], everything is
    /// written and flushed before waiting on.
    fn next_input(
        &mut self,
        input: &mpsc::Receiver<FromReader>,
        w: &mut impl Write,
    ) -> Result<Option<FromReader>, StreamError> {
        match input.try_recv() {
            Ok(next) => return Ok(Some(next)),
            Err(mpsc::TryRecvError::Disconnected) => return Ok(None),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        self.collect(false)?;
        self.write_ready(w)?;
        match input.recv_timeout(IDLE_FLUSH) {
            Ok(next) => return Ok(Some(next)),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        self.drain(w)?;
        w.flush().map_err(StreamError::Write)?;
        Ok(input.recv().ok())
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
                let _ = self.spare_batches.send(batch);
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
