//! `domreg serve`: events in over TCP or Unix sockets, enriched, out to a
//! downstream socket (or stdout); HTTP for `POST /enrich`, `/metrics` and
//! `/healthz`. docs/serve.md is the user's reference.
//!
//! The parts, in the order an event passes them:
//!
//! - one thread per upstream connection reads lines (the `enrich` line
//!   reader, with its length cap) and sends batches into one bounded
//!   channel; a connection's batches go in order, so its events leave in
//!   order;
//! - the processing thread runs the live [`Pipeline`] (or, with
//!   `--offline`, the core enricher over the registrations file) and
//!   writes enriched lines into the [`OutQueue`], a bounded buffer: when it
//!   is full the pipeline blocks, the channel fills, and the connection
//!   threads stop reading (TCP backpressure to the sender);
//! - the forwarder task takes lines from the queue and writes them to
//!   `--forward`, reconnecting with backoff. Every chunk is kept in a resend
//!   buffer (the last `--resend-bytes`) before it is written; after a broken
//!   connection the resend buffer is written again first (at least once).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::{self, BufReader, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use domreg::batch::Lines;
use domreg::config::Config;
use domreg::enrich::{Enricher, PassReason, Stats};
use domreg::format::FormatChoice;
use domreg::live::pipeline::{Input, Pipeline, PipelineStats};
use domreg::live::service::LookupService;
use domreg::snapshot::Snapshot;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};

use crate::cli::{Endpoint, ServeArgs};
use crate::lines::{self, Line};
use crate::live;

/// Batches held in the channel from the connections to the pipeline.
const INPUT_BATCHES: usize = 64;
/// Lines per batch from one connection.
const BATCH_LINES: usize = 512;
/// Bytes of enriched lines gathered before they go into the queue.
const CHUNK_BYTES: usize = 256 * 1024;
/// Most bytes held in the output queue, whatever --buffer-events says.
const QUEUE_BYTES: usize = 256 << 20;
/// Bytes the forwarder takes from the queue at once.
const TAKE_BYTES: usize = 1 << 20;
/// First wait before reconnecting to --forward.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Latency histogram bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A Prometheus histogram (cumulative buckets are summed when rendered).
#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Record `n` observations of `d`.
    fn observe_n(&self, d: Duration, n: u64) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros())
                .unwrap_or(u64::MAX)
                .saturating_mul(n),
            Ordering::Relaxed,
        );
    }

    fn observe(&self, d: Duration) {
        self.observe_n(d, 1);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut total = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            total += c.load(Ordering::Relaxed);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {total}");
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

/// Counters the parts update and `/metrics` renders.
#[derive(Default)]
struct Metrics {
    events_in_tcp: AtomicU64,
    events_in_unix: AtomicU64,
    events_in_http: AtomicU64,
    forwarded: AtomicU64,
    resent: AtomicU64,
    forward_connects: AtomicU64,
    forward_connected: AtomicBool,
    err_connect: AtomicU64,
    err_write: AtomicU64,
    err_closed: AtomicU64,
    err_read: AtomicU64,
    err_http: AtomicU64,
    conns_open: AtomicU64,
    conns_total: AtomicU64,
    queue_full: AtomicU64,
    resend_bytes: AtomicU64,
    http_requests: AtomicU64,
    /// The stream pipeline's counters (copied now and then).
    stream_stats: Mutex<Stats>,
    pipeline_stats: Mutex<PipelineStats>,
    /// POST /enrich counters, summed over requests.
    http_stats: Mutex<Stats>,
    latency: Histogram,
    http_latency: Histogram,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A piece of the enriched stream.
#[derive(Clone)]
struct Chunk {
    bytes: Vec<u8>,
    /// Lines ending in this chunk.
    events: u64,
    /// The chunk starts at a line boundary (false: the rest of a long line).
    starts_line: bool,
    /// Written to --forward once already (its events are counted).
    written: bool,
}

#[derive(Default)]
struct QueueState {
    chunks: VecDeque<Chunk>,
    events: u64,
    bytes: usize,
    closed: bool,
    /// The forwarder gave up: pushes are refused.
    aborted: bool,
}

/// The bounded buffer between the pipeline and the forwarder.
struct OutQueue {
    state: Mutex<QueueState>,
    space: Condvar,
    ready: Notify,
    cap_events: u64,
}

impl OutQueue {
    /// Add a chunk, waiting while the queue is full. False if the
    /// forwarder gave up.
    fn push(&self, chunk: Chunk, metrics: &Metrics) -> bool {
        let mut st = lock(&self.state);
        let mut counted = false;
        // Full: the chunk would pass a bound (a chunk alone may, when the
        // queue is empty, or nothing would ever move).
        while !st.chunks.is_empty()
            && (st.events + chunk.events > self.cap_events
                || st.bytes + chunk.bytes.len() > QUEUE_BYTES)
            && !st.aborted
        {
            if !counted {
                metrics.queue_full.fetch_add(1, Ordering::Relaxed);
                counted = true;
            }
            st = self
                .space
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if st.aborted {
            return false;
        }
        st.events += chunk.events;
        st.bytes += chunk.bytes.len();
        st.chunks.push_back(chunk);
        drop(st);
        self.ready.notify_one();
        true
    }

    /// Take up to [`TAKE_BYTES`]; and whether the queue is closed.
    fn take(&self) -> (Vec<Chunk>, bool) {
        let mut st = lock(&self.state);
        let mut out = Vec::new();
        let mut bytes = 0;
        while bytes < TAKE_BYTES {
            let Some(c) = st.chunks.pop_front() else {
                break;
            };
            st.events -= c.events;
            st.bytes -= c.bytes.len();
            bytes += c.bytes.len();
            out.push(c);
        }
        let closed = st.closed && st.chunks.is_empty();
        drop(st);
        if !out.is_empty() {
            self.space.notify_all();
        }
        (out, closed)
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_one();
    }

    fn abort(&self) -> u64 {
        let mut st = lock(&self.state);
        st.aborted = true;
        let left = st.events;
        drop(st);
        self.space.notify_all();
        left
    }

    fn depth(&self) -> (u64, usize) {
        let st = lock(&self.state);
        (st.events, st.bytes)
    }
}

/// Everything the parts share.
struct Shared {
    metrics: Metrics,
    queue: OutQueue,
    next_conn: AtomicU64,
    /// Set at shutdown: connection readers see the end of their input.
    stopping: AtomicBool,
    /// Held while sending into the pipeline, so that the pieces of a long
    /// line are not interleaved with other connections' lines, and so that
    /// `stamps` are in channel order.
    send: Mutex<SendState>,
    /// (events sent up to and including a batch, its size, when it was
    /// read), for the latency histogram: output line k is input line k (in
    /// ordered mode). Pushed under `send`, so in channel order.
    stamps: Mutex<VecDeque<(u64, u64, Instant)>>,
    /// Events the writer has put into the queue.
    written: AtomicU64,
    service: Option<Arc<LookupService>>,
    /// With --offline: the registration records.
    snapshot: Option<Mutex<Snapshot>>,
    config: Config,
    choice: FormatChoice,
    fields: Vec<String>,
    fixed_now: Option<DateTime<Utc>>,
    pipeline: domreg::live::pipeline::PipelineConfig,
    http_max_body: usize,
}

struct SendState {
    /// Events sent into the pipeline so far.
    sent: u64,
}

impl Shared {
    fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }

    fn new_enricher(&self) -> Result<Enricher> {
        Ok(Enricher::new(&self.config, self.choice, &self.fields)?)
    }
}

/// `domreg serve`.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let crate::Prepared {
        enricher,
        snapshot,
        fixed_now,
        config,
        choice,
    } = crate::prepare(&args.common)?;
    let (env, own_runtime, snapshot) = if args.common.offline {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        (None, Some(rt), Some(Mutex::new(snapshot)))
    } else {
        (Some(live::start_live(&args.common, snapshot)?), None, None)
    };
    let handle = match (&env, &own_runtime) {
        (Some(env), _) => env.runtime.handle().clone(),
        (None, Some(rt)) => rt.handle().clone(),
        (None, None) => bail!("no runtime"),
    };
    let shared = Arc::new(Shared {
        metrics: Metrics::default(),
        queue: OutQueue {
            state: Mutex::new(QueueState::default()),
            space: Condvar::new(),
            ready: Notify::new(),
            cap_events: args.buffer_events.max(1) as u64,
        },
        next_conn: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
        send: Mutex::new(SendState { sent: 0 }),
        stamps: Mutex::new(VecDeque::new()),
        written: AtomicU64::new(0),
        service: env.as_ref().map(|e| Arc::clone(&e.service)),
        snapshot,
        config,
        choice,
        fields: args.common.fields.clone(),
        fixed_now,
        pipeline: live::pipeline_config(&args.common),
        http_max_body: args.http_max_body,
    });

    // Bind everything first, so that a bad address fails at once.
    let _guard = handle.enter();
    let mut listeners = Vec::new();
    for ep in &args.listen {
        listeners.push(handle.block_on(bind(ep))?);
    }
    let http = match args.http {
        Some(addr) => Some(
            handle
                .block_on(tokio::net::TcpListener::bind(addr))
                .with_context(|| format!("--http {addr}"))?,
        ),
        None => None,
    };

    let mut names = Vec::new();
    for l in &listeners {
        names.push(match l {
            Listener::Tcp(t) => t
                .local_addr()
                .map_or_else(|_| "tcp://?".into(), |a| format!("tcp://{a}")),
            Listener::Unix(_) => String::new(),
        });
    }
    for (name, ep) in names.iter_mut().zip(&args.listen) {
        if name.is_empty() {
            *name = ep.to_string();
        }
    }
    let http_name = http
        .as_ref()
        .and_then(|h| h.local_addr().ok())
        .map_or_else(String::new, |a| format!("; http {a}"));
    // One line a supervisor (or a test) can read: the bound addresses
    // (useful with port 0).
    eprintln!(
        "domreg serve: listening on {}{http_name}; forwarding to {}",
        names.join(", "),
        args.forward
            .as_ref()
            .map_or_else(|| "stdout".to_string(), Endpoint::to_string)
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    {
        let shared = Arc::clone(&shared);
        handle.spawn(async move {
            live::wait_for_signal().await;
            tracing::info!("stopping: no new connections; forwarding what was read");
            shared.stopping.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
            live::wait_for_signal().await;
            eprintln!("domreg: second signal: exiting now");
            std::process::exit(1);
        });
    }

    let (tx, rx) = mpsc::channel::<Input>(INPUT_BATCHES);
    let input_depth = tx.clone();
    for listener in listeners {
        handle.spawn(accept_loop(
            listener,
            tx.clone(),
            Arc::clone(&shared),
            stop_rx.clone(),
        ));
    }
    drop(tx);
    if let Some(http) = http {
        handle.spawn(http_server(
            http,
            Arc::clone(&shared),
            input_depth.downgrade(),
        ));
    }
    drop(input_depth);

    let processor = {
        let shared = Arc::clone(&shared);
        let handle = handle.clone();
        std::thread::spawn(move || process(enricher, rx, &shared, &handle))
    };
    let undelivered = handle.block_on(forward(
        args.forward.clone(),
        Arc::clone(&shared),
        stop_rx,
        &args,
    ));
    if undelivered == 0 {
        match processor.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => bail!("the processing thread failed"),
        }
    }
    let entries = match &env {
        Some(env) => {
            env.save_cache();
            env.service.cache().len()
        }
        None => shared.snapshot.as_ref().map_or(0, |s| lock(s).len()),
    };
    for ep in &args.listen {
        if let Endpoint::Unix(path) = ep {
            let _ = std::fs::remove_file(path);
        }
    }
    drop(_guard);
    if let Some(env) = env {
        env.shutdown();
    }
    if let Some(rt) = own_runtime {
        rt.shutdown_background();
    }
    let m = &shared.metrics;
    if !args.common.quiet {
        eprintln!(
            "domreg serve: {} events read ({} tcp, {} unix, {} http), {} forwarded, {} sent again after reconnects, {} connections",
            m.events_in_tcp.load(Ordering::Relaxed)
                + m.events_in_unix.load(Ordering::Relaxed)
                + m.events_in_http.load(Ordering::Relaxed),
            m.events_in_tcp.load(Ordering::Relaxed),
            m.events_in_unix.load(Ordering::Relaxed),
            m.events_in_http.load(Ordering::Relaxed),
            m.forwarded.load(Ordering::Relaxed),
            m.resent.load(Ordering::Relaxed),
            m.conns_total.load(Ordering::Relaxed),
        );
        eprint!("{}", crate::summary(&lock(&m.stream_stats), entries));
    }
    if undelivered > 0 {
        eprintln!(
            "domreg: {undelivered} events read were not forwarded to {} within --drain-timeout",
            args.forward
                .map_or_else(|| "stdout".to_string(), |f| f.to_string())
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

async fn bind(ep: &Endpoint) -> Result<Listener> {
    match ep {
        Endpoint::Tcp(addr) => Ok(Listener::Tcp(
            tokio::net::TcpListener::bind(addr.as_str())
                .await
                .with_context(|| format!("--listen {ep}"))?,
        )),
        Endpoint::Unix(path) => {
            // A socket file left by a previous run that is not served any more.
            if std::os::unix::net::UnixStream::connect(path).is_err() {
                use std::os::unix::fs::FileTypeExt;
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    let _ = std::fs::remove_file(path);
                }
            }
            Ok(Listener::Unix(
                tokio::net::UnixListener::bind(path).with_context(|| format!("--listen {ep}"))?,
            ))
        }
    }
}

/// Accept connections until shutdown; each gets a reading thread.
async fn accept_loop(
    listener: Listener,
    tx: mpsc::Sender<Input>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted: io::Result<(Conn, &'static str)> = tokio::select! {
            _ = stopped(&mut stop) => return,
            r = async {
                match &listener {
                    Listener::Tcp(l) => {
                        let (s, _) = l.accept().await?;
                        Ok((Conn::Tcp(s.into_std()?), "tcp"))
                    }
                    Listener::Unix(l) => {
                        let (s, _) = l.accept().await?;
                        Ok((Conn::Unix(s.into_std()?), "unix"))
                    }
                }
            } => r,
        };
        let (conn, kind) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = conn.prepare() {
            tracing::warn!("connection: {e}");
            continue;
        }
        shared.metrics.conns_open.fetch_add(1, Ordering::Relaxed);
        shared.metrics.conns_total.fetch_add(1, Ordering::Relaxed);
        let tx = tx.clone();
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let counter = if kind == "tcp" {
                &shared.metrics.events_in_tcp
            } else {
                &shared.metrics.events_in_unix
            };
            if let Err(e) = read_conn(conn, &tx, &shared, counter) {
                shared.metrics.err_read.fetch_add(1, Ordering::Relaxed);
                tracing::info!("connection {id}: {e}");
            }
            shared.metrics.conns_open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// An accepted upstream connection, in blocking mode.
enum Conn {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

/// How often a reading thread checks for shutdown while its connection is idle.
const READ_TICK: Duration = Duration::from_millis(200);

impl Conn {
    /// Blocking reads that wake up every [`READ_TICK`].
    fn prepare(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(READ_TICK))
            }
            Conn::Unix(s) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(READ_TICK))
            }
        }
    }
}

/// The connection's bytes, until it ends or, at shutdown, until it has
/// been idle for [`READ_TICK`].
struct ConnReader<'a> {
    conn: Conn,
    stopping: &'a AtomicBool,
}

impl Read for ConnReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let r = match &mut self.conn {
                Conn::Tcp(s) => s.read(buf),
                Conn::Unix(s) => s.read(buf),
            };
            match r {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.stopping.load(Ordering::SeqCst) {
                        return Ok(0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// Read one connection's lines and send them into the pipeline.
fn read_conn(
    conn: Conn,
    tx: &mpsc::Sender<Input>,
    shared: &Shared,
    counter: &AtomicU64,
) -> io::Result<()> {
    let reader = ConnReader {
        conn,
        stopping: &shared.stopping,
    };
    let mut last_round = false;
    let mut r = BufReader::with_capacity(64 * 1024, reader);
    let cap = shared.config.input.max_line_bytes;
    let mut batch = Lines::new();
    let send_batch = |batch: Lines| -> bool {
        let n = batch.len() as u64;
        let mut st = lock(&shared.send);
        st.sent += n;
        let sent = st.sent;
        lock(&shared.stamps).push_back((sent, n, Instant::now()));
        counter.fetch_add(n, Ordering::Relaxed);
        tx.blocking_send(Input::Lines(batch)).is_ok()
    };
    // At shutdown: finish the line being read, then the complete lines
    // already read (`draining`), then stop reading.
    let mut draining = false;
    loop {
        if draining && !lines::line_ready(&r) {
            break;
        }
        // Complete lines are sent before a read may wait (below), so a
        // failed read leaves none behind.
        let Some(kind) = lines::read_into(&mut r, &mut batch, cap)? else {
            break;
        };
        if kind == Line::TooLong {
            let head = batch.take_open();
            if !batch.is_empty() && !send_batch(std::mem::take(&mut batch)) {
                return Ok(());
            }
            // The whole long line goes in one piece of the channel order.
            let mut st = lock(&shared.send);
            if !crate::live::send_long_line(&mut r, head, tx)? {
                return Ok(());
            }
            st.sent += 1;
            let sent = st.sent;
            lock(&shared.stamps).push_back((sent, 1, Instant::now()));
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let flush = batch.len() >= BATCH_LINES || (!batch.is_empty() && !lines::line_ready(&r));
        if flush && !send_batch(std::mem::take(&mut batch)) {
            return Ok(());
        }
        if !draining && shared.stopping.load(Ordering::SeqCst) {
            if last_round || r.buffer().is_empty() {
                draining = true;
            } else if !lines::line_ready(&r) {
                last_round = true;
            }
        }
    }
    if !batch.is_empty() {
        send_batch(batch);
    }
    Ok(())
}

/// Writes the enriched stream into the queue, in chunks.
struct QueueWriter<'a> {
    shared: &'a Shared,
    pending: Vec<u8>,
    /// The last chunk pushed ended a line.
    at_line_start: bool,
}

impl QueueWriter<'_> {
    /// Push the complete lines held (or, `all`, everything held).
    fn push(&mut self, all: bool) -> io::Result<()> {
        let cut = if all {
            self.pending.len()
        } else {
            match memchr::memrchr(b'\n', &self.pending) {
                Some(i) => i + 1,
                None if self.pending.len() >= CHUNK_BYTES => self.pending.len(),
                None => return Ok(()),
            }
        };
        if cut == 0 {
            return Ok(());
        }
        let rest = self.pending.split_off(cut);
        let bytes = std::mem::replace(&mut self.pending, rest);
        let events = memchr::memchr_iter(b'\n', &bytes).count() as u64;
        let chunk = Chunk {
            starts_line: self.at_line_start,
            events,
            bytes,
            written: false,
        };
        self.at_line_start = chunk.bytes.last() == Some(&b'\n');
        if !self.shared.queue.push(chunk, &self.shared.metrics) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the forwarder gave up",
            ));
        }
        let written = self.shared.written.fetch_add(events, Ordering::Relaxed) + events;
        let now = Instant::now();
        let mut stamps = lock(&self.shared.stamps);
        while let Some(&(upto, n, at)) = stamps.front() {
            if upto > written {
                break;
            }
            self.shared
                .metrics
                .latency
                .observe_n(now.duration_since(at), n);
            stamps.pop_front();
        }
        Ok(())
    }
}

impl Write for QueueWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK_BYTES {
            self.push(false)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.push(false)
    }
}

/// The processing thread: enrich everything the connections send, until
/// they have all ended; then close the queue.
fn process(
    mut enricher: Enricher,
    mut rx: mpsc::Receiver<Input>,
    shared: &Shared,
    handle: &tokio::runtime::Handle,
) -> Result<()> {
    let mut out = QueueWriter {
        shared,
        pending: Vec::new(),
        at_line_start: true,
    };
    let result = match &shared.service {
        Some(service) => {
            let fixed = shared.fixed_now;
            let clock: Box<dyn Fn() -> DateTime<Utc> + Send> = match fixed {
                Some(t) => Box::new(move || t),
                None => Box::new(Utc::now),
            };
            let observer = Box::new(|stats: &Stats, p: &PipelineStats| {
                *lock(&shared.metrics.stream_stats) = stats.clone();
                *lock(&shared.metrics.pipeline_stats) = p.clone();
            });
            let pipeline = Pipeline::new(
                &mut enricher,
                Arc::clone(service),
                &mut out,
                shared.pipeline.clone(),
                clock,
            )
            .observe(observer);
            // Never asked to stop early: the input ends when every
            // connection has, and every event read is written.
            let (_never, stop) = watch::channel(false);
            handle.block_on(pipeline.run(rx, stop)).map(|_| ())
        }
        None => process_offline(&mut enricher, &mut rx, shared, &mut out),
    };
    if let Err(e) = result {
        // Only the queue refusing (the forwarder gave up) fails a write.
        tracing::warn!("processing stopped: {e}");
    }
    let _ = out.push(true);
    *lock(&shared.metrics.stream_stats) = enricher.stats().clone();
    shared.queue.close();
    Ok(())
}

/// With --offline: enrich from the registrations file.
fn process_offline(
    enricher: &mut Enricher,
    rx: &mut mpsc::Receiver<Input>,
    shared: &Shared,
    out: &mut QueueWriter<'_>,
) -> io::Result<()> {
    let Some(snapshot) = &shared.snapshot else {
        return Ok(());
    };
    let mut buf = Vec::new();
    while let Some(input) = rx.blocking_recv() {
        match input {
            Input::Lines(lines) => {
                let mut snap = lock(snapshot);
                for line in lines.iter() {
                    enricher.enrich_line(line, &mut *snap, shared.now(), &mut buf);
                }
                drop(snap);
                out.write_all(&buf)?;
                buf.clear();
            }
            Input::LongPart(part) => out.write_all(&part)?,
            Input::LongEnd => {
                out.write_all(b"\n")?;
                enricher.record_passthrough(PassReason::Oversized);
            }
        }
        if rx.is_empty() {
            out.flush()?;
            *lock(&shared.metrics.stream_stats) = enricher.stats().clone();
        }
    }
    out.flush()
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn connect(ep: &Endpoint) -> io::Result<Box<dyn Stream>> {
    Ok(match ep {
        Endpoint::Tcp(addr) => {
            let s = tokio::net::TcpStream::connect(addr.as_str()).await?;
            s.set_nodelay(true)?;
            Box::new(s)
        }
        Endpoint::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
    })
}

/// The forwarder: queue → `--forward` (or stdout) until the queue is closed
/// and empty. Returns the events not forwarded (at shutdown, when the
/// downstream stayed away past --drain-timeout).
async fn forward(
    target: Option<Endpoint>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    args: &ServeArgs,
) -> u64 {
    let Some(target) = target else {
        return forward_stdout(&shared).await;
    };
    let metrics = &shared.metrics;
    let drain = Duration::from_secs(args.drain_timeout);
    let max_backoff = Duration::from_millis(args.max_backoff.max(100));
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut pending: VecDeque<Chunk> = VecDeque::new();
    let mut resend: VecDeque<Chunk> = VecDeque::new();
    let mut resend_bytes: usize;
    let mut backoff = FIRST_BACKOFF;
    let mut warned = false;
    let mut closed = false;
    let mut readbuf = vec![0u8; 4096];
    let give_up = |pending: &VecDeque<Chunk>| {
        let held: u64 = pending.iter().map(|c| c.events).sum();
        held + shared.queue.abort()
    };
    loop {
        if deadline.is_none() && *stop.borrow() {
            deadline = Some(tokio::time::Instant::now() + drain);
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return give_up(&pending);
        }
        let conn = tokio::select! {
            c = connect(&target) => c,
            _ = stopped(&mut stop), if deadline.is_none() => continue,
            () = sleep_until(deadline) => continue,
        };
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                metrics.err_connect.fetch_add(1, Ordering::Relaxed);
                if !warned {
                    tracing::warn!("--forward {target}: {e}; retrying");
                    warned = true;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut stop), if deadline.is_none() => {}
                    () = sleep_until(deadline) => {}
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        if warned {
            tracing::warn!("--forward {target}: connected");
        }
        warned = false;
        backoff = FIRST_BACKOFF;
        metrics.forward_connects.fetch_add(1, Ordering::Relaxed);
        metrics.forward_connected.store(true, Ordering::Relaxed);
        let (mut rd, mut wr) = tokio::io::split(conn);
        // What the broken connection may have lost goes first, from a line
        // boundary.
        while resend.front().is_some_and(|c| !c.starts_line) {
            resend.pop_front();
        }
        let again: u64 = resend.iter().filter(|c| c.written).map(|c| c.events).sum();
        metrics.resent.fetch_add(again, Ordering::Relaxed);
        while let Some(c) = resend.pop_back() {
            pending.push_front(c);
        }
        resend_bytes = 0;
        let broken: bool = loop {
            if pending.is_empty() {
                if closed {
                    break false;
                }
                let (chunks, is_closed) = shared.queue.take();
                closed = is_closed;
                pending.extend(chunks);
                if pending.is_empty() && !closed {
                    // Wait for events, noticing a peer that went away.
                    tokio::select! {
                        () = shared.queue.ready.notified() => {}
                        n = rd.read(&mut readbuf) => match n {
                            Ok(0) | Err(_) => {
                                metrics.err_closed.fetch_add(1, Ordering::Relaxed);
                                break true;
                            }
                            Ok(_) => {}
                        },
                        _ = stopped(&mut stop), if deadline.is_none() => {
                            deadline = Some(tokio::time::Instant::now() + drain);
                        }
                    }
                }
                continue;
            }
            let Some(chunk) = pending.pop_front() else {
                continue;
            };
            resend_bytes += chunk.bytes.len();
            resend.push_back(chunk);
            let Some(chunk) = resend.back() else { continue };
            let written = tokio::select! {
                r = wr.write_all(&chunk.bytes) => r,
                n = rd.read(&mut readbuf) => match n {
                    Ok(0) | Err(_) => Err(io::Error::new(io::ErrorKind::ConnectionReset, "closed by the peer")),
                    // Unexpected bytes from downstream: ignored; the write is redone.
                    Ok(_) => wr.write_all(&chunk.bytes).await,
                },
                () = sleep_until(deadline) => Err(io::Error::new(io::ErrorKind::TimedOut, "drain timeout")),
            };
            if let Err(e) = written {
                metrics.err_write.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("--forward {target}: {e}; reconnecting");
                break true;
            }
            if let Some(c) = resend.back_mut()
                && !c.written
            {
                c.written = true;
                metrics.forwarded.fetch_add(c.events, Ordering::Relaxed);
            }
            // Keep at least --resend-bytes, dropping whole chunks.
            while let Some(front) = resend.front() {
                if resend_bytes - front.bytes.len() < args.resend_bytes {
                    break;
                }
                resend_bytes -= front.bytes.len();
                resend.pop_front();
            }
            metrics
                .resend_bytes
                .store(resend_bytes as u64, Ordering::Relaxed);
        };
        if !broken {
            // Everything is written: end the stream and wait until the peer
            // has read it all (it closes its side after our end).
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
            let wait_end = deadline.unwrap_or_else(|| tokio::time::Instant::now() + drain);
            let confirmed = tokio::time::timeout_at(wait_end, async {
                loop {
                    match rd.read(&mut readbuf).await {
                        Ok(0) => return true,
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
            })
            .await;
            match confirmed {
                Ok(true) => return 0,
                Ok(false) => {
                    metrics.err_closed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("--forward {target}: reset at the end; sending again");
                }
                Err(_) => {
                    tracing::warn!(
                        "--forward {target}: the peer did not close after our end; assuming delivered"
                    );
                    return 0;
                }
            }
        }
        metrics.forward_connected.store(false, Ordering::Relaxed);
    }
}

async fn forward_stdout(shared: &Shared) -> u64 {
    crate::widen_pipe(std::io::stdout());
    let mut out = tokio::io::stdout();
    loop {
        let (chunks, closed) = shared.queue.take();
        if chunks.is_empty() {
            if closed {
                let _ = out.flush().await;
                return 0;
            }
            shared.queue.ready.notified().await;
            continue;
        }
        for c in &chunks {
            if let Err(e) = out.write_all(&c.bytes).await {
                tracing::warn!("stdout: {e}");
                return chunks.iter().map(|c| c.events).sum::<u64>() + shared.queue.abort();
            }
            shared
                .metrics
                .forwarded
                .fetch_add(c.events, Ordering::Relaxed);
        }
        let _ = out.flush().await;
    }
}

/// Resolves when the stop flag is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------- HTTP

type Body = Full<Bytes>;

async fn http_server(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    input: mpsc::WeakSender<Input>,
) {
    let input = Arc::new(input);
    loop {
        // Kept open during shutdown (/healthz says 503, /metrics shows the
        // drain); it ends with the process.
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("--http accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let input = Arc::clone(&input);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                let input = Arc::clone(&input);
                async move { Ok::<_, Infallible>(route(req, &shared, &input).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!("--http connection: {e}");
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

async fn route(
    req: Request<Incoming>,
    shared: &Shared,
    input: &mpsc::WeakSender<Input>,
) -> Response<Body> {
    let started = Instant::now();
    shared.metrics.http_requests.fetch_add(1, Ordering::Relaxed);
    let resp = match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => {
            if shared.stopping.load(Ordering::SeqCst) {
                reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "stopping\n")
            } else {
                reply(StatusCode::OK, "text/plain", "ok\n")
            }
        }
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            render_metrics(shared, input),
        ),
        (&Method::POST, "/enrich") => {
            let body = Limited::new(req.into_body(), shared.http_max_body);
            match body.collect().await {
                Ok(b) => match enrich_body(&b.to_bytes(), shared).await {
                    Ok(out) => reply(StatusCode::OK, "application/x-ndjson", out),
                    Err(e) => {
                        shared.metrics.err_http.fetch_add(1, Ordering::Relaxed);
                        reply(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "text/plain",
                            format!("{e:#}\n"),
                        )
                    }
                },
                Err(e) => {
                    shared.metrics.err_http.fetch_add(1, Ordering::Relaxed);
                    let too_large = e
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some();
                    if too_large {
                        reply(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "text/plain",
                            format!(
                                "body over --http-max-body ({} bytes)\n",
                                shared.http_max_body
                            ),
                        )
                    } else {
                        reply(StatusCode::BAD_REQUEST, "text/plain", format!("{e}\n"))
                    }
                }
            }
        }
        (_, "/healthz" | "/metrics" | "/enrich") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: POST /enrich, GET /metrics, GET /healthz\n",
        ),
    };
    shared.metrics.http_latency.observe(started.elapsed());
    resp
}

/// POST /enrich: the body's lines, enriched, one output line per input line.
async fn enrich_body(body: &[u8], shared: &Shared) -> Result<Vec<u8>> {
    let mut enricher = shared.new_enricher()?;
    let cap = enricher.max_line_bytes();
    let mut inputs: Vec<Input> = Vec::new();
    let mut r = io::Cursor::new(body);
    let mut batch = Lines::new();
    let mut n = 0u64;
    while let Some(kind) = lines::read_into(&mut r, &mut batch, cap)? {
        n += 1;
        if kind == Line::TooLong {
            let mut part = batch.take_open();
            if !batch.is_empty() {
                inputs.push(Input::Lines(std::mem::take(&mut batch)));
            }
            lines::copy_rest(&mut r, &mut part)?;
            inputs.push(Input::LongPart(part));
            inputs.push(Input::LongEnd);
        }
        if batch.len() >= BATCH_LINES {
            inputs.push(Input::Lines(std::mem::take(&mut batch)));
        }
    }
    if !batch.is_empty() {
        inputs.push(Input::Lines(batch));
    }
    shared
        .metrics
        .events_in_http
        .fetch_add(n, Ordering::Relaxed);
    let out = match &shared.service {
        Some(service) => {
            let (tx, rx) = mpsc::channel(inputs.len().max(1));
            for i in inputs {
                let _ = tx.try_send(i);
            }
            drop(tx);
            let fixed = shared.fixed_now;
            let clock: Box<dyn Fn() -> DateTime<Utc> + Send> = match fixed {
                Some(t) => Box::new(move || t),
                None => Box::new(Utc::now),
            };
            let (_never, stop) = watch::channel(false);
            let pipeline = Pipeline::new(
                &mut enricher,
                Arc::clone(service),
                Vec::with_capacity(body.len() * 2),
                shared.pipeline.clone(),
                clock,
            );
            pipeline.run(rx, stop).await?.0
        }
        None => {
            let mut out = Vec::with_capacity(body.len() * 2);
            if let Some(snapshot) = &shared.snapshot {
                let mut snap = lock(snapshot);
                for input in inputs {
                    match input {
                        Input::Lines(lines) => {
                            for line in lines.iter() {
                                enricher.enrich_line(line, &mut *snap, shared.now(), &mut out);
                            }
                        }
                        Input::LongPart(part) => out.extend_from_slice(&part),
                        Input::LongEnd => {
                            out.push(b'\n');
                            enricher.record_passthrough(PassReason::Oversized);
                        }
                    }
                }
            }
            out
        }
    };
    lock(&shared.metrics.http_stats).merge(enricher.stats());
    Ok(out)
}

// ------------------------------------------------------------- metrics

struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn one(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        let _ = writeln!(self.0, "{name} {value}");
    }
    fn labelled<'a>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        self.family(name, kind, help);
        for (k, v) in values {
            let k = k.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(self.0, "{name}{{{label}=\"{k}\"}} {v}");
        }
    }
}

fn render_metrics(shared: &Shared, input: &mpsc::WeakSender<Input>) -> String {
    let m = &shared.metrics;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut stats = lock(&m.stream_stats).clone();
    stats.merge(&lock(&m.http_stats));
    let mut e = Exposition(String::new());
    e.labelled(
        "domreg_events_received_total",
        "counter",
        "Events (lines) read, by listener.",
        "listener",
        [
            ("tcp", load(&m.events_in_tcp)),
            ("unix", load(&m.events_in_unix)),
            ("http", load(&m.events_in_http)),
        ],
    );
    e.one(
        "domreg_events_processed_total",
        "counter",
        "Events written by the enricher (stream and POST /enrich).",
        stats.lines_out,
    );
    e.one(
        "domreg_events_forwarded_total",
        "counter",
        "Events written to --forward (or stdout) for the first time.",
        load(&m.forwarded),
    );
    e.one(
        "domreg_events_resent_total",
        "counter",
        "Events written again after a broken --forward connection.",
        load(&m.resent),
    );
    e.labelled(
        "domreg_events_format_total",
        "counter",
        "Enriched events by input format.",
        "format",
        stats.formats.iter(),
    );
    e.labelled(
        "domreg_events_lookup_total",
        "counter",
        "Enriched events by lookup outcome.",
        "lookup",
        stats.lookups.iter(),
    );
    e.labelled(
        "domreg_events_skipped_total",
        "counter",
        "Names skipped, by reason.",
        "reason",
        stats.skipped.iter(),
    );
    e.labelled(
        "domreg_events_passed_through_total",
        "counter",
        "Events passed through unchanged, by reason.",
        "reason",
        stats.passed_through.iter(),
    );
    if let Some(service) = &shared.service {
        let l = service.stats();
        e.one(
            "domreg_lookups_total",
            "counter",
            "RDAP lookup chains started.",
            l.lookups,
        );
        e.one(
            "domreg_lookups_coalesced_total",
            "counter",
            "Lookup requests joined to a running chain.",
            l.coalesced,
        );
        e.one(
            "domreg_lookups_overloaded_total",
            "counter",
            "Lookup requests refused (--max-inflight).",
            l.overloaded,
        );
        e.labelled(
            "domreg_lookup_results_total",
            "counter",
            "Lookup chain results.",
            "result",
            l.results.iter().map(|(k, v)| (k.as_str(), *v)),
        );
        e.labelled(
            "domreg_rdap_requests_total",
            "counter",
            "RDAP requests sent, by RDAP server host.",
            "host",
            l.hosts.iter().map(|(k, h)| (k.as_str(), h.requests)),
        );
        e.labelled(
            "domreg_rdap_retries_total",
            "counter",
            "RDAP retries sent, by RDAP server host.",
            "host",
            l.hosts.iter().map(|(k, h)| (k.as_str(), h.retries)),
        );
        let (c, entries) = {
            let cache = service.cache();
            (cache.stats(), cache.len())
        };
        e.one(
            "domreg_cache_hits_total",
            "counter",
            "Fresh cache hits.",
            c.hits,
        );
        e.one(
            "domreg_cache_stale_hits_total",
            "counter",
            "Stale cache hits (served, then refreshed).",
            c.stale_hits,
        );
        e.one(
            "domreg_cache_misses_total",
            "counter",
            "Cache misses.",
            c.misses,
        );
        e.one(
            "domreg_cache_evictions_total",
            "counter",
            "Cache entries evicted.",
            c.evictions,
        );
        e.one(
            "domreg_cache_entries",
            "gauge",
            "Cache entries held.",
            entries as u64,
        );
        let p = lock(&m.pipeline_stats).clone();
        e.one(
            "domreg_pipeline_waited_total",
            "counter",
            "Stream events that waited for a lookup.",
            p.waited,
        );
        e.one(
            "domreg_pipeline_answered_total",
            "counter",
            "Waiting stream events answered within --max-wait.",
            p.answered,
        );
        e.one(
            "domreg_pipeline_timed_out_total",
            "counter",
            "Waiting stream events written as pending after --max-wait.",
            p.timed_out,
        );
        e.one(
            "domreg_pipeline_window_peak",
            "gauge",
            "Most stream events held in the reorder window at once.",
            p.window_peak as u64,
        );
    }
    e.labelled(
        "domreg_errors_total",
        "counter",
        "Errors by kind.",
        "kind",
        [
            ("forward_connect", load(&m.err_connect)),
            ("forward_write", load(&m.err_write)),
            ("forward_closed", load(&m.err_closed)),
            ("input_read", load(&m.err_read)),
            ("http", load(&m.err_http)),
        ],
    );
    let (q_events, q_bytes) = shared.queue.depth();
    e.one(
        "domreg_output_queue_events",
        "gauge",
        "Enriched events waiting for --forward.",
        q_events,
    );
    e.one(
        "domreg_output_queue_bytes",
        "gauge",
        "Bytes of enriched events waiting for --forward.",
        q_bytes as u64,
    );
    e.one(
        "domreg_output_queue_capacity",
        "gauge",
        "--buffer-events.",
        shared.queue.cap_events,
    );
    e.one(
        "domreg_output_queue_full_total",
        "counter",
        "Times the enricher waited for room in the output queue (reading paused).",
        load(&m.queue_full),
    );
    let in_flight = input
        .upgrade()
        .map_or(0, |tx| (tx.max_capacity() - tx.capacity()) as u64);
    e.one(
        "domreg_input_queue_batches",
        "gauge",
        "Batches of read lines waiting for the enricher.",
        in_flight,
    );
    e.one(
        "domreg_resend_buffer_bytes",
        "gauge",
        "Bytes kept to send again if the --forward connection breaks.",
        load(&m.resend_bytes),
    );
    e.one(
        "domreg_connections_open",
        "gauge",
        "Upstream connections open.",
        load(&m.conns_open),
    );
    e.one(
        "domreg_connections_accepted_total",
        "counter",
        "Upstream connections accepted.",
        load(&m.conns_total),
    );
    e.one(
        "domreg_forward_connected",
        "gauge",
        "1 while the --forward connection is up.",
        u64::from(m.forward_connected.load(Ordering::Relaxed)),
    );
    e.one(
        "domreg_forward_connects_total",
        "counter",
        "Connections made to --forward.",
        load(&m.forward_connects),
    );
    e.one(
        "domreg_http_requests_total",
        "counter",
        "HTTP requests served.",
        load(&m.http_requests),
    );
    m.latency.render(
        &mut e.0,
        "domreg_event_latency_seconds",
        "Time from reading an event to its enriched line entering the output queue.",
    );
    m.http_latency.render(
        &mut e.0,
        "domreg_http_request_duration_seconds",
        "HTTP request handling time.",
    );
    e.0
}
