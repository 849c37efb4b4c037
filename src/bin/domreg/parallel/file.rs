//! `--threads N` on a regular file: every thread reads its own batches.
//!
//! The calling thread and N - 1 workers, each with its own [`Enricher`],
//! take turns reading a batch of whole lines from the file (one at a time,
//! under a lock) and enrich it. So the lines are read into the cache of the
//! core that parses them; fed by a reader thread, as a pipe is, `--threads
//! 2` took 6% longer. Between its batches the calling thread writes the
//! finished ones in input order. A read from a regular file never waits for
//! data, so the calling thread can read without holding up the output; a
//! pipe's reads can, and go through the reader thread of [`super`].
//!
//! Each thread has [`OUTS_PER_THREAD`] output buffers, and a buffer goes
//! back to the thread that filled it (a common pool took 3% longer: a
//! buffer filled on one core was refilled on the other). So when the output
//! is slow the workers wait rather than hold ever more output.
//!
//! An over-long line is streamed through by the calling thread once the
//! batches before it are written, as on one thread: its first bytes come
//! after the batch before it, and the rest is copied from the file while no
//! thread reads. After a read error the lines before it are written, then
//! the error is returned.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, mpsc};

use chrono::{DateTime, Utc};
use domreg::enrich::{Enricher, PassReason};
use domreg::snapshot::Snapshot;
use indicatif::ProgressBar;

use super::{BATCH_BYTES, Batch, enrich_batch, input_bytes, worker_gone};
use crate::StreamError;
use crate::lines::{self, Line};

/// Output buffers per thread: one being filled, the others enriched and
/// waiting for the batches before them to be written.
const OUTS_PER_THREAD: usize = 3;

/// Enrich every line of the regular file `r` into `w`: the first enricher
/// on this thread, each other one on a worker thread.
pub fn stream<R: Read + Send>(
    enrichers: &mut [Enricher],
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    progress: &ProgressBar,
    r: BufReader<R>,
    w: &mut impl Write,
) -> Result<(), StreamError> {
    let Some((local, remote)) = enrichers.split_first_mut() else {
        return Ok(());
    };
    let shared = Shared {
        input: Mutex::new(Input {
            reader: r,
            next_seq: 0,
            state: State::Open,
        }),
        input_ready: Condvar::new(),
        spare_outs: Mutex::new(vec![vec![Vec::new(); OUTS_PER_THREAD]; remote.len() + 1]),
        spare_ready: Condvar::new(),
        stop: AtomicBool::new(false),
        cap: local.max_line_bytes(),
    };
    let (tx, rx) = mpsc::channel();
    let (result, long_lines) = std::thread::scope(|scope| {
        for (i, enricher) in remote.iter_mut().enumerate() {
            let (shared, tx) = (&shared, tx.clone());
            // Thread 0 is this one.
            scope.spawn(move || work(i + 1, shared, enricher, snapshot, fixed_now, &tx));
        }
        drop(tx);
        let mut writer = Writer {
            shared: &shared,
            progress,
            waiting: VecDeque::new(),
            next_seq: 0,
            long_lines: 0,
        };
        let result = writer.run(local, snapshot, fixed_now, &rx, w);
        // After an error the workers end at their next step; the scope
        // waits for them (a read from a regular file does not wait long).
        shared.stop();
        (result, writer.long_lines)
    });
    for _ in 0..long_lines {
        local.record_passthrough(PassReason::Oversized);
    }
    result
}

/// The file, read by one thread at a time.
struct Input<R> {
    reader: BufReader<R>,
    /// The sequence number of the next message to the writer.
    next_seq: u64,
    state: State,
}

impl<R> Input<R> {
    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Lines are read from it.
    Open,
    /// The first bytes of an over-long line have been read; until the
    /// calling thread has copied the rest, nobody reads.
    InLongLine,
    /// At its end, or after a read error: nothing more is read.
    Closed,
}

/// What the threads share.
struct Shared<R> {
    input: Mutex<Input<R>>,
    /// Signalled when the input leaves [`State::InLongLine`], and on stop.
    input_ready: Condvar,
    /// Output buffers not in use, by the thread they belong to.
    spare_outs: Mutex<Vec<Vec<Vec<u8>>>>,
    /// Signalled when an output buffer comes back, and on stop.
    spare_ready: Condvar,
    /// The calling thread has stopped (after an error): the workers end.
    stop: AtomicBool,
    /// The line length cap.
    cap: usize,
}

/// What a worker sends the calling thread, with a sequence number: they
/// are handled in that order.
enum Msg {
    /// The enriched lines of a batch, the bytes of input they came from,
    /// and the thread whose output buffer it is.
    Lines(Vec<u8>, u64, usize),
    /// The first bytes of an over-long line; the calling thread copies the
    /// rest.
    Long(Vec<u8>),
    /// Reading failed; nothing follows.
    Failed(io::Error),
}

/// What one read of a batch gave.
enum Got {
    /// The sequence number of its lines (when it has any), then what ended
    /// it when that was not the batch size.
    Batch(Option<u64>, Option<(u64, Msg)>),
    /// The input is closed, or the calling thread has stopped.
    Closed,
    /// An over-long line is being copied (only when not waiting for it).
    Busy,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<R: Read> Shared<R> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// One of `thread`'s spare output buffers: waits for one when `wait`,
    /// else `None` when it has none. `None` once stopped.
    fn take_out(&self, thread: usize, wait: bool) -> Option<Vec<u8>> {
        let mut spares = lock(&self.spare_outs);
        loop {
            if self.stopped() {
                return None;
            }
            if let Some(out) = spares.get_mut(thread).and_then(Vec::pop) {
                return Some(out);
            }
            if !wait {
                return None;
            }
            spares = self
                .spare_ready
                .wait(spares)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Return an output buffer to `thread`'s spares.
    fn give_back(&self, thread: usize, out: Vec<u8>) {
        if let Some(spares) = lock(&self.spare_outs).get_mut(thread) {
            spares.push(out);
        }
        self.spare_ready.notify_all();
    }

    /// Read the next batch into `batch`. While an over-long line is being
    /// copied, wait for that when `wait`, or else return [`Got::Busy`].
    fn read(&self, batch: &mut Batch, wait: bool) -> Got {
        batch.clear();
        let mut input = lock(&self.input);
        while input.state == State::InLongLine && !self.stopped() {
            if !wait {
                return Got::Busy;
            }
            input = self
                .input_ready
                .wait(input)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if input.state != State::Open || self.stopped() {
            return Got::Closed;
        }
        let mut tail = None;
        loop {
            match lines::read_into(&mut input.reader, batch, self.cap) {
                Ok(Some(Line::Complete)) => {
                    if batch.bytes() >= BATCH_BYTES {
                        break;
                    }
                }
                Ok(Some(Line::TooLong)) => {
                    tail = Some(Msg::Long(batch.take_open()));
                    input.state = State::InLongLine;
                    break;
                }
                Ok(None) => {
                    input.state = State::Closed;
                    break;
                }
                Err(e) => {
                    // The lines before the failed one still go out.
                    batch.drop_open();
                    tail = Some(Msg::Failed(e));
                    input.state = State::Closed;
                    break;
                }
            }
        }
        let lines = (!batch.is_empty()).then(|| input.take_seq());
        Got::Batch(lines, tail.map(|msg| (input.take_seq(), msg)))
    }

    /// Copy the rest of an over-long line from the file to `w`, unchanged
    /// and without holding it; then let the threads read on. Returns the
    /// bytes copied.
    fn copy_long_line(&self, w: &mut impl Write) -> Result<u64, StreamError> {
        let mut input = lock(&self.input);
        let copied = lines::copy_rest_to(&mut input.reader, w);
        input.state = match copied {
            Ok(_) => State::Open,
            Err(_) => State::Closed,
        };
        drop(input);
        self.input_ready.notify_all();
        copied
    }

    /// Tell the workers to end.
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Taking each lock after setting the flag means that a worker which
        // saw the flag unset is now waiting, and so is woken.
        drop(lock(&self.spare_outs));
        self.spare_ready.notify_all();
        drop(lock(&self.input));
        self.input_ready.notify_all();
    }
}

/// A worker thread: read a batch, enrich it, send it on, until the input
/// is closed or the calling thread stops.
fn work<R: Read>(
    thread: usize,
    shared: &Shared<R>,
    enricher: &mut Enricher,
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    tx: &mpsc::Sender<(u64, Msg)>,
) {
    let mut batch = Batch::default();
    while let Some(mut out) = shared.take_out(thread, true) {
        let Got::Batch(lines, tail) = shared.read(&mut batch, true) else {
            shared.give_back(thread, out);
            return;
        };
        match lines {
            Some(seq) => {
                enrich_batch(enricher, snapshot, fixed_now, &batch, &mut out);
                let read = input_bytes(&batch);
                if tx.send((seq, Msg::Lines(out, read, thread))).is_err() {
                    return;
                }
            }
            None => shared.give_back(thread, out),
        }
        if let Some(tail) = tail
            && tx.send(tail).is_err()
        {
            return;
        }
    }
}

/// The calling thread: enriches batches and writes every thread's in order.
struct Writer<'a, R> {
    shared: &'a Shared<R>,
    progress: &'a ProgressBar,
    /// Messages not yet handled; the first has sequence number `next_seq`
    /// (`None` while it has not come).
    waiting: VecDeque<Option<Msg>>,
    next_seq: u64,
    /// Over-long lines streamed through.
    long_lines: u64,
}

impl<R: Read> Writer<'_, R> {
    /// Between batches of its own, write what is ready; at the end of the
    /// input, write the rest as it comes.
    fn run(
        &mut self,
        enricher: &mut Enricher,
        snapshot: &Snapshot,
        fixed_now: Option<DateTime<Utc>>,
        rx: &mpsc::Receiver<(u64, Msg)>,
        w: &mut impl Write,
    ) -> Result<(), StreamError> {
        let mut batch = Batch::default();
        loop {
            while let Ok((seq, msg)) = rx.try_recv() {
                self.put(seq, msg);
            }
            self.write_ready(w)?;
            // Without a spare output buffer, or while this thread owes the
            // copy of an over-long line, wait for what comes before instead.
            let got = match self.shared.take_out(0, false) {
                None => Got::Busy,
                Some(mut out) => match self.shared.read(&mut batch, false) {
                    Got::Batch(lines, tail) => {
                        match lines {
                            Some(seq) => {
                                enrich_batch(enricher, snapshot, fixed_now, &batch, &mut out);
                                let read = input_bytes(&batch);
                                self.put(seq, Msg::Lines(out, read, 0));
                            }
                            None => self.shared.give_back(0, out),
                        }
                        if let Some((seq, msg)) = tail {
                            self.put(seq, msg);
                        }
                        continue;
                    }
                    other => {
                        self.shared.give_back(0, out);
                        other
                    }
                },
            };
            if let Got::Closed = got {
                break;
            }
            match rx.recv() {
                Ok((seq, msg)) => self.put(seq, msg),
                // Every worker has ended, and something before is missing.
                Err(_) => return Err(worker_gone()),
            }
        }
        while let Ok((seq, msg)) = rx.recv() {
            self.put(seq, msg);
            self.write_ready(w)?;
        }
        self.write_ready(w)?;
        // A worker that ended without sending what it had read (it
        // panicked) leaves a gap.
        match self.waiting.is_empty() {
            true => Ok(()),
            false => Err(worker_gone()),
        }
    }

    /// File message `seq`.
    fn put(&mut self, seq: u64, msg: Msg) {
        let index = usize::try_from(seq.saturating_sub(self.next_seq)).unwrap_or(usize::MAX);
        if self.waiting.len() <= index {
            self.waiting.resize_with(index.saturating_add(1), || None);
        }
        if let Some(slot) = self.waiting.get_mut(index) {
            *slot = Some(msg);
        }
    }

    /// Handle the messages at the front that have come, in order.
    fn write_ready(&mut self, w: &mut impl Write) -> Result<(), StreamError> {
        while let Some(Some(_)) = self.waiting.front() {
            let Some(Some(msg)) = self.waiting.pop_front() else {
                break;
            };
            self.next_seq += 1;
            match msg {
                Msg::Lines(out, read, thread) => {
                    let written = w.write_all(&out);
                    self.shared.give_back(thread, out);
                    written.map_err(StreamError::Write)?;
                    self.progress.inc(read);
                }
                Msg::Long(head) => {
                    w.write_all(&head).map_err(StreamError::Write)?;
                    let rest = self.shared.copy_long_line(w)?;
                    w.write_all(b"\n").map_err(StreamError::Write)?;
                    self.progress.inc(head.len() as u64 + rest + 1);
                    self.long_lines += 1;
                }
                Msg::Failed(e) => return Err(StreamError::Read(e)),
            }
        }
        Ok(())
    }
}
