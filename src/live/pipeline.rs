//! The live enrichment stream: events wait for their lookups at most
//! `max_wait`, in a bounded reorder window, and never stall the stream.
//!
//! Each line is enriched at once from the cache. A line whose domain is not
//! cached starts (or joins) a lookup chain and waits; when the chain ends,
//! or its `max_wait` passes, it is enriched again (then `lookup: pending`)
//! and written. In ordered mode (the default) lines leave in input order: a
//! finished line waits behind an unfinished one, but never longer than that
//! one's deadline. When the window is full, reading pauses; the front frees
//! it within `max_wait`.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::batch::Lines;
use crate::cache::CacheLookup;
use crate::enrich::{Enricher, Lookup, LookupResult, Outcome, PassReason, Stats};
use crate::live::service::{Ensure, LookupService};
use crate::output::LookupKind;

/// Pipeline settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Longest an event waits for its lookup.
    pub max_wait: Duration,
    /// Keep input order (true) or write each event when it is ready.
    pub ordered: bool,
    /// Events held in the window at most (waiting, or ready behind a waiting one).
    pub window_events: usize,
    /// Bytes held in the window at most.
    pub window_bytes: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_wait: Duration::from_millis(1500),
            ordered: true,
            window_events: 10_000,
            window_bytes: 64 << 20,
        }
    }
}

/// Input to the pipeline, in order.
#[derive(Debug)]
pub enum Input {
    /// Complete lines, without terminators.
    Lines(Lines),
    /// A piece of a line longer than the cap; more pieces follow, then
    /// [`Input::LongEnd`]. Written unchanged, in order.
    LongPart(Vec<u8>),
    /// The end of a long line.
    LongEnd,
}

/// Counters of the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PipelineStats {
    /// Events that waited for a lookup.
    pub waited: u64,
    /// Waiting events that got their answer in time.
    pub answered: u64,
    /// Waiting events written as `pending` when `max_wait` passed.
    pub timed_out: u64,
    /// Events that joined a lookup another event had started (coalesced waits).
    pub coalesced_waits: u64,
    /// Events written with `skip_reason: overload`.
    pub overloaded: u64,
    /// Times reading paused because the window was full.
    pub window_full: u64,
    /// Most events held in the window at once.
    pub window_peak: usize,
}

enum Slot {
    Ready(Vec<u8>),
    Waiting { line: Vec<u8>, domain: String },
    Written,
}

struct Window {
    slots: VecDeque<Slot>,
    /// Sequence number of `slots[0]`.
    base: u64,
    /// Waiting slots by domain.
    by_domain: HashMap<String, Vec<u64>>,
    /// Waiting slots' deadlines in input order (entries of slots no longer
    /// waiting are dropped lazily).
    deadlines: VecDeque<(u64, Instant)>,
    bytes: usize,
    waiting: usize,
}

/// What to do with a freshly rendered line.
enum Next {
    /// Write it as rendered.
    Write,
    /// Wait for the lookup of this domain (coalesced with another event's).
    Wait(String, bool),
    /// No lookup could start: write it as `overload`.
    Overload,
    /// The answer is in the cache now: render it again.
    Again,
}

/// A lookup that answers `Overloaded` (no chain could start).
struct Overload;

impl Lookup for Overload {
    fn lookup(&mut self, _: &str) -> LookupResult<'_> {
        LookupResult::Overloaded
    }
}

/// How the pipeline turns a line into the bytes it writes (with the
/// line's `\n`): [`Enricher::render_line`] by default; see
/// [`Pipeline::with_render`]. Must not count ([`Enricher::record`] does).
pub type Render = fn(&mut Enricher, &[u8], &mut dyn Lookup, DateTime<Utc>, &mut Vec<u8>) -> Outcome;

/// Runs the stream.
pub struct Pipeline<'a, W: Write> {
    enricher: &'a mut Enricher,
    render: Render,
    service: Arc<LookupService>,
    out: W,
    config: PipelineConfig,
    clock: Box<dyn Fn() -> DateTime<Utc> + Send + 'a>,
    window: Window,
    stats: PipelineStats,
    scratch: Vec<u8>,
    observer: Option<Observer<'a>>,
}

/// Called with the counters now and then (see [`Pipeline::observe`]).
pub type Observer<'a> = Box<dyn FnMut(&Stats, &PipelineStats) + Send + 'a>;

impl<'a, W: Write> Pipeline<'a, W> {
    /// A pipeline writing to `out`. `clock` gives the processing time for
    /// events without their own timestamp (`--now` fixes it); cache
    /// freshness is always judged at the real time.
    pub fn new(
        enricher: &'a mut Enricher,
        service: Arc<LookupService>,
        out: W,
        config: PipelineConfig,
        clock: Box<dyn Fn() -> DateTime<Utc> + Send + 'a>,
    ) -> Self {
        Pipeline {
            enricher,
            render: Enricher::render_line,
            service,
            out,
            config,
            clock,
            window: Window {
                slots: VecDeque::new(),
                base: 0,
                by_domain: HashMap::new(),
                deadlines: VecDeque::new(),
                bytes: 0,
                waiting: 0,
            },
            stats: PipelineStats::default(),
            scratch: Vec::new(),
            observer: None,
        }
    }

    /// Call `f` with the enricher's and the pipeline's counters whenever
    /// the output is flushed (when no input is waiting) and at the end: for
    /// a caller that reports them while the stream runs (metrics).
    pub fn observe(mut self, f: Observer<'a>) -> Self {
        self.observer = Some(f);
        self
    }

    fn report(&mut self) {
        if let Some(f) = &mut self.observer {
            f(self.enricher.stats(), &self.stats);
        }
    }

    /// Write each line as `render` renders it instead of the enriched
    /// event: one output line per input line still, in the same order and
    /// with the same waits (e.g. rsyslog's replies, `domreg enrich --rsyslog`).
    pub fn with_render(mut self, render: Render) -> Self {
        self.render = render;
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// Run until `input` ends and every event is written, or until
    /// `shutdown` turns true (then waiting events are written as `pending`
    /// at once). Returns the writer.
    pub async fn run(
        mut self,
        mut input: mpsc::Receiver<Input>,
        mut shutdown: watch::Receiver<bool>,
    ) -> io::Result<(W, PipelineStats)> {
        let mut done = self.service.subscribe();
        let mut eof = false;
        let mut in_long_line = false;
        loop {
            let full = self.window.slots.len() >= self.config.window_events
                || self.window.bytes >= self.config.window_bytes;
            if full && !eof {
                self.stats.window_full += 1;
            }
            let front_deadline = self.front_deadline();
            let stopping = *shutdown.borrow();
            if stopping {
                eof = true;
                input.close();
                self.expire(None)?;
            }
            if eof && self.window.slots.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some(domain) = done.recv() => self.answered(&domain)?,
                () = sleep_until(front_deadline), if front_deadline.is_some() => {
                    self.expire(Some(Instant::now()))?;
                }
                changed = shutdown.changed(), if !stopping => {
                    if changed.is_err() {
                        // The sender is gone: treat as no shutdown request.
                        shutdown = watch::channel(false).1;
                    }
                }
                msg = input.recv(), if !eof && (!full || in_long_line) => match msg {
                    None => eof = true,
                    Some(Input::Lines(lines)) => {
                        // The clocks are read once per batch: its lines
                        // were read together.
                        let times = ((self.clock)(), Utc::now());
                        for line in lines.iter() {
                            self.line(line, times)?;
                        }
                    }
                    Some(Input::LongPart(part)) => {
                        if !in_long_line {
                            // Everything before the long line goes first.
                            self.drain_window(&mut done).await?;
                            in_long_line = true;
                        }
                        self.out.write_all(&part)?;
                    }
                    Some(Input::LongEnd) => {
                        if !in_long_line {
                            self.drain_window(&mut done).await?;
                        }
                        in_long_line = false;
                        self.out.write_all(b"\n")?;
                        self.enricher.record_passthrough(PassReason::Oversized);
                    }
                },
            }
            self.stats.window_peak = self.stats.window_peak.max(self.window.slots.len());
            if input.is_empty() {
                self.out.flush()?;
                self.report();
            }
        }
        self.out.flush()?;
        self.report();
        Ok((self.out, self.stats))
    }

    /// Enrich one new line; `now` is the processing time (for events
    /// without their own), `cache_now` the time cache freshness is judged
    /// at.
    fn line(
        &mut self,
        line: &[u8],
        (now, cache_now): (DateTime<Utc>, DateTime<Utc>),
    ) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let (outcome, wanted) = render_cached(
            self.render,
            self.enricher,
            &self.service,
            (line, now, cache_now),
            &mut buf,
        );
        let pending = outcome.lookup() == Some(LookupKind::Pending);
        let mut next = Next::Write;
        for domain in wanted {
            match self.service.ensure(&domain) {
                _ if !pending => {} // a stale entry being refreshed: the event used the old data
                Ensure::Overloaded => next = Next::Overload,
                Ensure::Started => next = Next::Wait(domain, false),
                Ensure::Coalesced => next = Next::Wait(domain, true),
                Ensure::Ready => next = Next::Again,
            }
        }
        match next {
            Next::Overload => {
                buf.clear();
                let outcome = (self.render)(self.enricher, line, &mut Overload, now, &mut buf);
                self.stats.overloaded += 1;
                self.ready(buf, outcome)?;
            }
            Next::Again => {
                // The answer arrived between the cache check and `ensure`.
                buf.clear();
                let (outcome, _) = render_cached(
                    self.render,
                    self.enricher,
                    &self.service,
                    (line, now, Utc::now()),
                    &mut buf,
                );
                self.ready(buf, outcome)?;
            }
            Next::Wait(domain, coalesced) if !self.config.max_wait.is_zero() => {
                self.stats.waited += 1;
                self.stats.coalesced_waits += u64::from(coalesced);
                self.scratch = buf;
                let seq = self.window.base + self.window.slots.len() as u64;
                self.window.bytes += line.len();
                self.window.waiting += 1;
                self.window
                    .by_domain
                    .entry(domain.clone())
                    .or_default()
                    .push(seq);
                let deadline = Instant::now() + self.config.max_wait;
                self.window.deadlines.push_back((seq, deadline));
                self.window.slots.push_back(Slot::Waiting {
                    line: line.to_vec(),
                    domain,
                });
            }
            Next::Wait(..) | Next::Write => self.ready(buf, outcome)?,
        }
        Ok(())
    }

    /// A finished line: write it, or queue it behind waiting ones.
    fn ready(&mut self, bytes: Vec<u8>, outcome: Outcome) -> io::Result<()> {
        self.enricher.record(outcome);
        if !self.config.ordered || self.window.slots.is_empty() {
            self.out.write_all(&bytes)?;
            self.scratch = bytes;
            return Ok(());
        }
        self.window.bytes += bytes.len();
        self.window.slots.push_back(Slot::Ready(bytes));
        Ok(())
    }

    /// A lookup chain finished: enrich the lines waiting on it.
    fn answered(&mut self, domain: &str) -> io::Result<()> {
        let Some(seqs) = self.window.by_domain.remove(domain) else {
            return Ok(());
        };
        for seq in seqs {
            if self.finish(seq)? {
                self.stats.answered += 1;
            }
        }
        self.flush_front()
    }

    /// Write as `pending` the waiting lines whose deadline passed (all of
    /// them when `now` is None).
    fn expire(&mut self, now: Option<Instant>) -> io::Result<()> {
        while let Some(&(seq, deadline)) = self.window.deadlines.front() {
            if now.is_some_and(|n| deadline > n) {
                break;
            }
            self.window.deadlines.pop_front();
            if self.finish(seq)? {
                self.stats.timed_out += 1;
            }
        }
        self.flush_front()
    }

    /// Enrich waiting line `seq` again from the cache; true if it was waiting.
    fn finish(&mut self, seq: u64) -> io::Result<bool> {
        let Some(index) = seq.checked_sub(self.window.base) else {
            return Ok(false);
        };
        let Some(slot) = self.window.slots.get_mut(index as usize) else {
            return Ok(false);
        };
        if !matches!(slot, Slot::Waiting { .. }) {
            return Ok(false);
        }
        let Slot::Waiting { line, domain } = std::mem::replace(slot, Slot::Written) else {
            return Ok(false);
        };
        if let Some(list) = self.window.by_domain.get_mut(&domain) {
            list.retain(|s| *s != seq);
            if list.is_empty() {
                self.window.by_domain.remove(&domain);
            }
        }
        self.window.waiting -= 1;
        self.window.bytes -= line.len();
        let now = (self.clock)();
        let mut buf = Vec::with_capacity(line.len() + 512);
        let (outcome, _) = render_cached(
            self.render,
            self.enricher,
            &self.service,
            (&line, now, Utc::now()),
            &mut buf,
        );
        self.enricher.record(outcome);
        if self.config.ordered {
            self.window.bytes += buf.len();
            if let Some(slot) = self.window.slots.get_mut(index as usize) {
                *slot = Slot::Ready(buf);
            }
        } else {
            self.out.write_all(&buf)?;
        }
        Ok(true)
    }

    /// Write the ready lines at the front of the window.
    fn flush_front(&mut self) -> io::Result<()> {
        while let Some(front) = self.window.slots.front() {
            match front {
                Slot::Waiting { .. } => break,
                Slot::Ready(bytes) => {
                    self.out.write_all(bytes)?;
                    self.window.bytes -= bytes.len();
                }
                Slot::Written => {}
            }
            self.window.slots.pop_front();
            self.window.base += 1;
        }
        Ok(())
    }

    /// Wait until every waiting line is written (answers or deadlines).
    async fn drain_window(&mut self, done: &mut mpsc::UnboundedReceiver<String>) -> io::Result<()> {
        while self.window.waiting > 0 {
            let deadline = self.front_deadline();
            tokio::select! {
                biased;
                Some(domain) = done.recv() => self.answered(&domain)?,
                () = sleep_until(deadline) => self.expire(Some(Instant::now()))?,
            }
        }
        self.flush_front()
    }

    /// The earliest deadline of a waiting line (deadlines grow with input
    /// order, so it is the first waiting one).
    fn front_deadline(&mut self) -> Option<Instant> {
        while let Some(&(seq, deadline)) = self.window.deadlines.front() {
            let waiting = seq
                .checked_sub(self.window.base)
                .and_then(|i| self.window.slots.get(i as usize))
                .is_some_and(|slot| matches!(slot, Slot::Waiting { .. }));
            if waiting {
                return Some(deadline);
            }
            self.window.deadlines.pop_front();
        }
        None
    }
}

/// Render `line` into `out` from the live cache: at `now` (the processing
/// time), with freshness judged at `cache_now`; a name not cached renders
/// as `pending`. Returns the outcome and the domains to fetch (missing or
/// stale).
fn render_cached(
    render: Render,
    enricher: &mut Enricher,
    service: &LookupService,
    (line, now, cache_now): (&[u8], DateTime<Utc>, DateTime<Utc>),
    out: &mut Vec<u8>,
) -> (Outcome, Vec<String>) {
    let mut cache = service.cache();
    let mut lookup = CacheLookup::new(&mut cache, cache_now).pending_on_miss();
    let outcome = render(enricher, line, &mut lookup, now, out);
    (outcome, lookup.into_wanted())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
