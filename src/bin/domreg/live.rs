//! The live side of the binary: building the lookup service from flags,
//! the bootstrap and its refresh, the cache file, the reader thread, and
//! the `lookup` command.

use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use domreg::batch::Lines;
use domreg::bootstrap::Bootstrap;
use domreg::cache::{CacheConfig, Cached};
use domreg::domain::{self, Analysis};
use domreg::enrich::Enricher;
use domreg::live::gate::GateConfig;
use domreg::live::http::{HttpConfig, RdapHttp, Response};
use domreg::live::pipeline::{Input, Pipeline, PipelineConfig, PipelineStats};
use domreg::live::service::{LiveConfig, LiveStats, LookupService};
use domreg::snapshot::Snapshot;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::cli::{CacheArgs, CommonArgs, EnrichArgs, LiveArgs, LookupArgs};
use crate::lines::{self, Line};

/// Lines per batch sent to the pipeline.
const BATCH_LINES: usize = 512;

/// The service settings from the flags.
pub fn live_config(live: &LiveArgs, cache: Option<&CacheArgs>) -> LiveConfig {
    let mut config = LiveConfig {
        http: HttpConfig {
            allow_insecure: live.allow_insecure_rdap,
            ..HttpConfig::default()
        },
        gate: GateConfig {
            max_concurrent: live.rdap_concurrency.max(1),
            rate: live.rdap_rate,
            max_retry_after: Duration::from_secs(live.max_retry_after),
            breaker_failures: live.breaker_failures.max(1),
            breaker_cooldown: Duration::from_secs(live.breaker_cooldown),
            ..GateConfig::default()
        },
        host_rates: live.host_rates.iter().cloned().collect(),
        referral_depth: live.referral_depth,
        max_inflight: live.max_inflight.max(1),
        ..LiveConfig::default()
    };
    if let Some(c) = cache {
        config.cache = CacheConfig {
            max_entries: c.cache_entries,
            max_bytes: c.cache_memory.saturating_mul(1 << 20),
            ttl_found: chrono::Duration::seconds(c.ttl_found.max(0)),
            ttl_not_found: chrono::Duration::seconds(c.ttl_not_found.max(0)),
            ttl_error: chrono::Duration::seconds(c.ttl_error.max(0)),
        };
    }
    config
}

/// Where domreg keeps its files: `$XDG_CACHE_HOME/domreg` or `~/.cache/domreg`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("domreg"))
}

/// The bootstrap at start, and whether it should be refreshed from IANA.
fn start_bootstrap(live: &LiveArgs, dir: Option<&Path>) -> Result<(Bootstrap, Option<PathBuf>)> {
    if let Some(path) = &live.bootstrap {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let bootstrap =
            Bootstrap::parse(&bytes).with_context(|| format!("in {}", path.display()))?;
        return Ok((bootstrap, None));
    }
    let Some(dir) = dir else {
        return Ok((Bootstrap::builtin(), None));
    };
    let disk = dir.join("bootstrap-dns.json");
    let bootstrap = fs::read(&disk)
        .ok()
        .and_then(|bytes| Bootstrap::parse(&bytes).ok())
        .map(Bootstrap::with_overrides)
        .unwrap_or_else(Bootstrap::builtin);
    Ok((bootstrap, Some(disk)))
}

#[derive(Debug, Serialize, Deserialize)]
struct BootstrapMeta {
    fetched: DateTime<Utc>,
    max_age_secs: u64,
}

/// Refresh the bootstrap from `url` when the disk copy is older than its
/// max-age (default a day), then check again daily. Runs forever.
async fn refresh_bootstrap(
    service: Arc<LookupService>,
    url: String,
    disk: PathBuf,
    allow_insecure: bool,
    saving: Arc<tokio::sync::Mutex<()>>,
) {
    let meta_path = disk.with_extension("meta.json");
    let http = match RdapHttp::new(HttpConfig {
        allow_insecure,
        ..HttpConfig::default()
    }) {
        Ok(h) => h,
        Err(e) => {
            tracing::info!("bootstrap refresh disabled: {e}");
            return;
        }
    };
    loop {
        let meta: Option<BootstrapMeta> = fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let due = meta.as_ref().is_none_or(|m| {
            let age = Utc::now().signed_duration_since(m.fetched).num_seconds();
            age < 0 || age as u64 >= m.max_age_secs
        });
        if due {
            match http.get_with_max_age(&url).await {
                Ok((Response::Ok(body), max_age)) => match Bootstrap::parse(&body) {
                    Ok(fresh) => {
                        tracing::info!(
                            "bootstrap refreshed: {} TLDs, publication {}",
                            fresh.len(),
                            fresh.publication().unwrap_or("?")
                        );
                        service.set_bootstrap(fresh.with_overrides());
                        let meta = BootstrapMeta {
                            fetched: Utc::now(),
                            max_age_secs: max_age
                                .map_or(86_400, |d| d.as_secs())
                                .clamp(3600, 7 * 86_400),
                        };
                        // Off the async workers (fsync blocks), and under the
                        // lock that `LiveEnv::shutdown` waits for: a run that
                        // ends mid-save still leaves both files written.
                        let held = Arc::clone(&saving).lock_owned().await;
                        let (to, meta_to) = (disk.clone(), meta_path.clone());
                        let saved = tokio::task::spawn_blocking(move || {
                            let _held = held;
                            write_atomic(&to, &body).and_then(|()| {
                                write_atomic(
                                    &meta_to,
                                    &serde_json::to_vec(&meta).unwrap_or_default(),
                                )
                            })
                        })
                        .await
                        .unwrap_or_else(|e| Err(io::Error::other(e)));
                        if let Err(e) = saved {
                            tracing::info!("bootstrap not saved to {}: {e}", disk.display());
                        }
                    }
                    Err(e) => tracing::info!("bootstrap refresh: unusable file: {e}"),
                },
                Ok((other, _)) => tracing::info!("bootstrap refresh: {other:?}"),
                Err(e) => tracing::info!("bootstrap refresh failed: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_secs(86_400)).await;
    }
}

/// Write `bytes` to `path` atomically: a temporary file beside it, fsync,
/// rename, fsync of the directory. A crash leaves the old file or the new
/// one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("cache");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            // Not every filesystem lets a directory be synced; the rename
            // is still atomic.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Load the cache file; a file that cannot be used at all is set aside
/// (renamed `*.corrupt`) and reported, never fatal.
fn load_cache_file(service: &LookupService, path: &Path) {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!("cache {}: {e}; starting empty", path.display());
            return;
        }
    };
    let Ok(text) = String::from_utf8(text) else {
        set_aside(path, "not UTF-8");
        return;
    };
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    let errors = service.cache().load_jsonl(&text, Utc::now());
    if !errors.is_empty() && errors.len() == lines {
        set_aside(path, "no usable line");
    } else if !errors.is_empty() {
        tracing::warn!(
            "cache {}: {} of {lines} lines could not be used (first: {})",
            path.display(),
            errors.len(),
            errors.first().map(|e| e.to_string()).unwrap_or_default()
        );
    }
}

fn set_aside(path: &Path, why: &str) {
    let aside = path.with_extension("jsonl.corrupt");
    match fs::rename(path, &aside) {
        Ok(()) => tracing::warn!(
            "cache {}: {why}; moved to {} and starting empty",
            path.display(),
            aside.display()
        ),
        Err(e) => tracing::warn!("cache {}: {why}; starting empty ({e})", path.display()),
    }
}

fn save_cache_file(service: &LookupService, path: &Path) -> io::Result<()> {
    let text = service.cache().export_jsonl();
    write_atomic(path, text.as_bytes())
}

/// Everything the live run reports at the end.
pub struct LiveReport {
    pub live: LiveStats,
    pub pipeline: PipelineStats,
    pub cache: domreg::cache::CacheStats,
    pub cache_entries: usize,
    pub failed_inputs: bool,
}

/// The lookup service and what runs around it: the async runtime, the
/// bootstrap refresh, the periodic cache saves.
pub struct LiveEnv {
    pub runtime: tokio::runtime::Runtime,
    pub service: Arc<LookupService>,
    pub cache_path: Option<PathBuf>,
    /// Held while the refreshed bootstrap is written to disk.
    saving: Arc<tokio::sync::Mutex<()>>,
}

impl LiveEnv {
    /// Stop the runtime. Lookups still running are abandoned (their events
    /// were written as pending), but a bootstrap save under way finishes
    /// first.
    pub fn shutdown(self) {
        // Called outside the runtime, so blocking here is allowed.
        let _saving = self.saving.blocking_lock();
        self.runtime.shutdown_background();
    }

    /// Save the cache file (a warning when it fails).
    pub fn save_cache(&self) {
        if let Some(path) = &self.cache_path
            && let Err(e) = save_cache_file(&self.service, path)
        {
            tracing::warn!("cache not saved to {}: {e}", path.display());
        }
    }
}

/// Start the lookup service from the options: load the cache file and the
/// --registrations records, start the bootstrap refresh and cache saves.
pub fn start_live(args: &CommonArgs, snapshot: Snapshot) -> Result<LiveEnv> {
    let cache_path = if args.cache.no_cache {
        None
    } else {
        args.cache
            .cache
            .clone()
            .or_else(|| default_cache_dir().map(|d| d.join("cache.jsonl")))
    };
    let dir = cache_path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(default_cache_dir);
    let (bootstrap, refresh) = start_bootstrap(&args.live, dir.as_deref())?;
    let config = live_config(&args.live, Some(&args.cache));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let _guard = runtime.enter();
    let service = LookupService::new(config, bootstrap).context("starting the RDAP client")?;
    if let Some(path) = &cache_path {
        load_cache_file(&service, path);
    }
    if !snapshot.is_empty() {
        service.cache().load_snapshot(snapshot, Utc::now());
    }
    let saving = Arc::new(tokio::sync::Mutex::new(()));
    if let Some(disk) = refresh {
        runtime.spawn(refresh_bootstrap(
            Arc::clone(&service),
            args.live.bootstrap_url.clone(),
            disk,
            args.live.allow_insecure_rdap,
            Arc::clone(&saving),
        ));
    }
    if let Some(path) = cache_path.clone() {
        let service = Arc::clone(&service);
        let every = Duration::from_secs(args.cache.cache_save_interval.max(1));
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let service = Arc::clone(&service);
                let path = path.clone();
                let saved =
                    tokio::task::spawn_blocking(move || save_cache_file(&service, &path)).await;
                if let Ok(Err(e)) = saved {
                    tracing::warn!("cache not saved: {e}");
                }
            }
        });
    }
    drop(_guard);
    Ok(LiveEnv {
        runtime,
        service,
        cache_path,
        saving,
    })
}

/// The pipeline settings from the options.
pub fn pipeline_config(args: &CommonArgs) -> PipelineConfig {
    PipelineConfig {
        max_wait: Duration::from_millis(args.max_wait),
        ordered: !args.unordered,
        window_events: args.window.max(1),
        ..PipelineConfig::default()
    }
}

/// `domreg enrich` with live lookups.
pub fn enrich_live(
    args: &EnrichArgs,
    enricher: &mut Enricher,
    snapshot: Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    out: Box<dyn Write + Send>,
    progress: &ProgressBar,
) -> Result<LiveReport> {
    let env = start_live(&args.common, snapshot)?;
    let LiveEnv {
        runtime, service, ..
    } = &env;

    let (tx, rx) = mpsc::channel::<Input>(64);
    let failed = Arc::new(AtomicBool::new(false));
    let inputs: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    let cap = enricher.max_line_bytes();
    {
        let failed = Arc::clone(&failed);
        // A plain thread: reading stdin blocks, and must not hold up the runtime.
        let progress = progress.clone();
        let rsyslog = args.rsyslog;
        let follow = args.follow.then_some(args.from_start);
        std::thread::spawn(move || match (rsyslog, follow, inputs.first()) {
            (true, _, _) => crate::rsyslog::read_stdin(cap, &tx),
            (false, Some(from_start), Some(path)) => {
                let result = crate::follow::Follower::open(path, from_start)
                    .and_then(|f| read_one(&mut BufReader::with_capacity(256 * 1024, f), cap, &tx));
                if let Err(e) = result {
                    eprintln!("domreg: {}: {e}", path.display());
                    failed.store(true, Ordering::Relaxed);
                }
            }
            _ => read_inputs(&inputs, cap, &tx, &failed, &progress),
        });
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    runtime.spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });

    let pipeline_config = pipeline_config(&args.common);
    let clock: Box<dyn Fn() -> DateTime<Utc> + Send> = match fixed_now {
        Some(t) => Box::new(move || t),
        None => Box::new(Utc::now),
    };
    let mut pipeline = Pipeline::new(enricher, Arc::clone(service), out, pipeline_config, clock);
    if args.rsyslog {
        pipeline = pipeline.with_render(crate::rsyslog::render_reply);
    }
    let result = runtime.block_on(pipeline.run(rx, stop_rx));
    let (mut out, pipeline_stats) = result.context("writing output")?;
    out.flush().context("writing output")?;

    env.save_cache();
    let (cache_stats, cache_entries) = {
        let cache = service.cache();
        (cache.stats(), cache.len())
    };
    let report = LiveReport {
        live: service.stats(),
        pipeline: pipeline_stats,
        cache: cache_stats,
        cache_entries,
        failed_inputs: failed.load(Ordering::Relaxed),
    };
    env.shutdown();
    Ok(report)
}

pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Read every input in order and feed the pipeline: batches of lines, and
/// long lines in pieces.
fn read_inputs(
    inputs: &[PathBuf],
    cap: usize,
    tx: &mpsc::Sender<Input>,
    failed: &AtomicBool,
    progress: &ProgressBar,
) {
    for input in inputs {
        let result = if input == Path::new("-") {
            crate::widen_pipe(io::stdin());
            read_one(
                &mut BufReader::with_capacity(256 * 1024, io::stdin()),
                cap,
                tx,
            )
        } else {
            match File::open(input) {
                Ok(f) => {
                    if f.metadata().is_ok_and(|m| !m.is_file()) {
                        crate::widen_pipe(&f);
                    }
                    let counted = Counted {
                        inner: f,
                        progress: progress.clone(),
                    };
                    read_one(&mut BufReader::with_capacity(256 * 1024, counted), cap, tx)
                }
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(true) => {}
            // The pipeline stopped (shutdown): stop reading.
            Ok(false) => return,
            Err(e) => {
                eprintln!("domreg: {}: {e}", input.display());
                failed.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// A reader that moves a progress bar by the bytes it reads.
struct Counted<R> {
    inner: R,
    progress: ProgressBar,
}

impl<R: io::Read> io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// Read one input; false when the pipeline is gone.
pub fn read_one<R: io::Read>(
    r: &mut BufReader<R>,
    cap: usize,
    tx: &mpsc::Sender<Input>,
) -> io::Result<bool> {
    let mut batch = Lines::new();
    // Complete lines are sent before a read from `r` may wait (below), so
    // a failed read leaves none behind.
    while let Some(kind) = lines::read_into(r, &mut batch, cap)? {
        if kind == Line::TooLong {
            let head = batch.take_open();
            if !batch.is_empty()
                && tx
                    .blocking_send(Input::Lines(std::mem::take(&mut batch)))
                    .is_err()
            {
                return Ok(false);
            }
            if !send_long_line(r, head, tx)? {
                return Ok(false);
            }
        }
        // Send when the batch is full, or when no complete line is buffered
        // (so the lines of a slow stream are not held back).
        let flush = batch.len() >= BATCH_LINES || (!batch.is_empty() && !lines::line_ready(r));
        if flush
            && tx
                .blocking_send(Input::Lines(std::mem::take(&mut batch)))
                .is_err()
        {
            return Ok(false);
        }
    }
    if !batch.is_empty() && tx.blocking_send(Input::Lines(batch)).is_err() {
        return Ok(false);
    }
    Ok(true)
}

/// Hand a line longer than the cap to the pipeline (also used by `serve`):
/// `head`, the part already read, then the rest of the line as `r` gives
/// it, in pieces, then its end. False when the pipeline has stopped.
pub(crate) fn send_long_line<R: io::Read>(
    r: &mut BufReader<R>,
    head: Vec<u8>,
    tx: &mpsc::Sender<Input>,
) -> io::Result<bool> {
    if tx.blocking_send(Input::LongPart(head)).is_err() {
        return Ok(false);
    }
    let mut sink = PartSender { tx, failed: false };
    lines::copy_rest(r, &mut sink)?;
    Ok(!sink.failed && tx.blocking_send(Input::LongEnd).is_ok())
}

/// Sends the pieces of a long line to the pipeline.
struct PartSender<'a> {
    tx: &'a mpsc::Sender<Input>,
    failed: bool,
}

impl Write for PartSender<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self
            .tx
            .blocking_send(Input::LongPart(buf.to_vec()))
            .is_err()
        {
            self.failed = true;
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "pipeline stopped",
            ));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `domreg lookup`.
pub fn lookup(args: &LookupArgs) -> Result<bool> {
    let (bootstrap, _) = start_bootstrap(&args.live, None)?;
    let bootstrap = if args.live.bootstrap.is_none() {
        default_cache_dir()
            .and_then(|d| fs::read(d.join("bootstrap-dns.json")).ok())
            .and_then(|b| Bootstrap::parse(&b).ok())
            .map(Bootstrap::with_overrides)
            .unwrap_or(bootstrap)
    } else {
        bootstrap
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let service = {
        let _guard = runtime.enter();
        LookupService::new(live_config(&args.live, None), bootstrap)
            .context("starting the RDAP client")?
    };
    let mut all_ok = true;
    let mut out = io::stdout().lock();
    for name in &args.domains {
        let domain = match domain::analyze(name) {
            Analysis::Lookup(t) => t.domain().to_string(),
            Analysis::Skip { reason, .. } => {
                all_ok = false;
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"name": name, "skip_reason": reason.as_str()})
                )?;
                continue;
            }
        };
        if args.raw {
            let (value, raw) = runtime.block_on(service.lookup_raw(&domain));
            all_ok &= matches!(value, Cached::Registration(_));
            writeln!(
                out,
                "{}",
                serde_json::json!({"domain": domain, "exchanges": raw})
            )?;
            continue;
        }
        match runtime.block_on(service.lookup(&domain)) {
            Cached::Registration(reg) => writeln!(out, "{}", serde_json::to_string(&reg)?)?,
            Cached::Error(code) => {
                all_ok = false;
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"domain": domain, "error": code})
                )?;
            }
        }
    }
    out.flush()?;
    runtime.shutdown_background();
    Ok(all_ok)
}
