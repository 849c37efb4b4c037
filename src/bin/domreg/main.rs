//! The `domreg` command: the native shell around the core library.
//!
//! Exit codes: 0 success (also when stdout is closed early, as by `head`),
//! 1 when some input file could not be read (the others were processed),
//! 2 for a usage or configuration error.

mod cli;
mod follow;
mod lines;
mod live;
mod parallel;
mod rsyslog;
mod serve;

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::Parser;
use domreg::config::Config;
use domreg::enrich::{Enricher, PassReason, Stats};
use domreg::format::FormatChoice;
use domreg::risk::Rule;
use domreg::snapshot::Snapshot;
use domreg::{Registration, rdap};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cli::{Cli, Command, CommonArgs, EnrichArgs};
use lines::Line;

/// Flush the output buffer when it grows past this.
const FLUSH_AT: usize = 256 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // rsyslog reads the stderr of `enrich --rsyslog` as replies: no logs there.
    let silent = matches!(&cli.command, Command::Enrich(a) if a.rsyslog);
    let writer = if silent {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(io::sink)
    } else {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(io::stderr)
    };
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOMREG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        // Colour only on a terminal: logs redirected to a file or a pipe
        // must not carry escape sequences.
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let result = match cli.command {
        Command::Enrich(args) => enrich(*args),
        Command::Serve(args) => serve::serve(*args),
        Command::Lookup(args) => live::lookup(&args).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }),
        Command::Attack { json } => attack(json).map(|()| ExitCode::SUCCESS),
        Command::Rdap {
            files,
            server,
            fetched,
        } => rdap_files(&files, server.as_deref(), fetched.as_deref()).map(|()| ExitCode::SUCCESS),
        Command::Config => {
            print!("{}", Config::default().to_toml());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("domreg: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// What `enrich` and `serve` build from the shared options.
pub(crate) struct Prepared {
    pub enricher: Enricher,
    pub snapshot: Snapshot,
    pub fixed_now: Option<DateTime<Utc>>,
    /// What the enricher was built from, to build more (`serve --http`).
    pub config: Config,
    pub choice: FormatChoice,
}

/// The enricher, the --registrations records and --now from the options.
pub(crate) fn prepare(args: &CommonArgs) -> Result<Prepared> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config {}", path.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(max) = args.max_line_bytes {
        if max < 64 {
            bail!("--max-line-bytes must be at least 64, not {max}");
        }
        config.input.max_line_bytes = max;
    }
    let fixed_now = args
        .now
        .as_deref()
        .map(|s| rdap::parse_date(s).ok_or_else(|| anyhow!("--now: not a time: {s:?}")))
        .transpose()?;
    let choice = args.format.map_or(FormatChoice::Auto, FormatChoice::Only);
    let enricher = Enricher::new(&config, choice, &args.fields)?;

    let mut snapshot = Snapshot::new();
    for path in &args.registrations {
        load_registrations(&mut snapshot, path)?;
    }
    Ok(Prepared {
        enricher,
        snapshot,
        fixed_now,
        config,
        choice,
    })
}

fn enrich(mut args: EnrichArgs) -> Result<ExitCode> {
    args.common.quiet |= args.rsyslog;
    let Prepared {
        mut enricher,
        mut snapshot,
        fixed_now,
        config,
        choice,
    } = prepare(&args.common)?;
    if args.follow && args.files.len() != 1 {
        bail!("--follow takes exactly one FILE");
    }
    if args.threads > 1 && !args.offline {
        bail!("--threads needs --offline (live lookups run on one thread)");
    }

    refuse_output_over_input(&args)?;

    if args.rsyslog && args.offline {
        rsyslog::run_offline(&mut enricher, &mut snapshot, fixed_now)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.offline {
        let out = open_output(args.output.as_deref())?;
        let inputs = input_paths(&args.files);
        let progress = progress_bar(&inputs, args.quiet);
        let report = live::enrich_live(
            &args,
            &mut enricher,
            snapshot,
            fixed_now,
            Box::new(out),
            &progress,
        )?;
        progress.finish_and_clear();
        if !args.quiet {
            eprint!("{}", summary(enricher.stats(), report.cache_entries));
            eprint!("{}", live_summary(&report));
        }
        return Ok(if report.failed_inputs {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }

    let inputs = input_paths(&args.files);
    let mut out = open_output(args.output.as_deref())?;
    if args.follow
        && let Some(path) = inputs.first()
    {
        follow::run_offline(
            path,
            args.from_start,
            &mut enricher,
            &mut snapshot,
            fixed_now,
            &mut out,
        )?;
        if !args.quiet {
            eprint!("{}", summary(enricher.stats(), snapshot.len()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let progress = progress_bar(&inputs, args.quiet);
    if args.threads > 1 {
        let mut enrichers = vec![enricher];
        for _ in 1..args.threads {
            enrichers.push(Enricher::new(&config, choice, &args.fields)?);
        }
        let failed = enrich_parallel(
            &inputs,
            &mut enrichers,
            &snapshot,
            fixed_now,
            &progress,
            &mut out,
        )?;
        progress.finish_and_clear();
        if !args.quiet {
            let mut stats = Stats::default();
            for e in &enrichers {
                stats.merge(e.stats());
            }
            eprint!("{}", summary(&stats, snapshot.len()));
        }
        // The process ends here: freeing every record (and every name the
        // enrichers keep) one by one would only cost time.
        std::mem::forget(snapshot);
        std::mem::forget(enrichers);
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let mut run = Run {
        enricher: &mut enricher,
        snapshot: &mut snapshot,
        fixed_now,
        progress: &progress,
    };
    let failed = for_each_input(&inputs, |mut r, _| run.stream(&mut r, &mut out))?;
    out.flush().context("writing output")?;
    progress.finish_and_clear();
    if !args.quiet {
        eprint!("{}", summary(enricher.stats(), snapshot.len()));
    }
    // As above: the process ends, the records need not be freed.
    std::mem::forget(snapshot);
    std::mem::forget(enricher);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The offline path on several threads ([`parallel`]); true when an input
/// could not be read.
fn enrich_parallel(
    inputs: &[PathBuf],
    enrichers: &mut [Enricher],
    snapshot: &Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    progress: &ProgressBar,
    out: &mut impl Write,
) -> Result<bool> {
    let failed = for_each_input(inputs, |r, may_wait| {
        parallel::stream(enrichers, snapshot, fixed_now, progress, r, may_wait, out)
    })?;
    out.flush().context("writing output")?;
    Ok(failed)
}

/// An input file or stdin (`Send`: `--threads` reads it on a thread of its
/// own).
type Source = Box<dyn Read + Send>;

/// Run `f` over each input in turn (`-` is stdin), each behind a 256 KiB
/// buffer, with whether a read from it may wait for data (it is not a
/// regular file: a pipe, a terminal, a socket). An input that cannot be
/// opened or read is reported and skipped; the result is true when one was.
/// A write error ends the run.
fn for_each_input(
    inputs: &[PathBuf],
    mut f: impl FnMut(BufReader<Source>, bool) -> Result<(), StreamError>,
) -> Result<bool> {
    let mut failed = false;
    for input in inputs {
        let (reader, may_wait): (Source, bool) = if input == Path::new("-") {
            let may_wait = !stdin_is_a_file();
            if may_wait {
                widen_pipe(io::stdin());
            }
            (Box::new(io::stdin()), may_wait)
        } else {
            match File::open(input) {
                Ok(f) => {
                    let regular = f.metadata().is_ok_and(|m| m.is_file());
                    if !regular {
                        widen_pipe(&f);
                    }
                    (Box::new(f), !regular)
                }
                Err(e) => {
                    eprintln!("domreg: {}: {e}", input.display());
                    failed = true;
                    continue;
                }
            }
        };
        match f(BufReader::with_capacity(256 * 1024, reader), may_wait) {
            Ok(()) => {}
            Err(StreamError::Write(e)) => {
                return Err(anyhow::Error::new(e).context("writing output"));
            }
            Err(StreamError::Read(e)) => {
                eprintln!("domreg: {}: {e}", input.display());
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// The inputs of `enrich`: its FILEs, or stdin (`-`) when there are none.
fn input_paths(files: &[PathBuf]) -> Vec<PathBuf> {
    if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    }
}

/// Refuse an `--output` that is a file domreg reads (an input, the
/// registrations, the config, the bootstrap or the cache file): creating
/// it would empty the file before domreg had read it.
fn refuse_output_over_input(args: &EnrichArgs) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(output) = args.output.as_deref() else {
        return Ok(());
    };
    // An output that does not exist yet is no file domreg reads.
    let Ok(out) = std::fs::metadata(output) else {
        return Ok(());
    };
    let read = args
        .files
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .chain(&args.registrations)
        .chain(&args.config)
        .chain(&args.live.bootstrap)
        .chain(&args.cache.cache);
    for path in read {
        if std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == (out.dev(), out.ino())) {
            bail!(
                "--output {} is {}, which domreg reads: write elsewhere",
                output.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Where `enrich` writes: the file `--output` names (created), or stdout;
/// a pipe made larger ([`widen_pipe`]).
fn open_output(path: Option<&Path>) -> Result<BufWriter<Box<dyn Write + Send>>> {
    let out: Box<dyn Write + Send> = match path {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            widen_pipe(&file);
            Box::new(file)
        }
        None => {
            widen_pipe(io::stdout());
            Box::new(io::stdout())
        }
    };
    Ok(BufWriter::with_capacity(FLUSH_AT, out))
}

/// The buffer asked for on a pipe: 1 MiB, the most an unprivileged
/// process may ask for by default (`/proc/sys/fs/pipe-max-size`).
const PIPE_BYTES: usize = 1 << 20;

/// When `fd` is a pipe (Linux), make its buffer [`PIPE_BYTES`] if it is
/// smaller. With the default 64 KiB, the side that writes fills it in one
/// go, then waits while the other side reads, and each is woken for every
/// 64 KiB; on this project's test machine such a wake-up costs far more
/// than the bytes (docs/performance.md: `cat trace | domreg` 10% faster,
/// `domreg trace | cat` twice as fast). Anything else (not a pipe; refused,
/// as beyond a user's pipe quota) is left as it is.
pub(crate) fn widen_pipe(fd: impl std::os::fd::AsFd) {
    #[cfg(target_os = "linux")]
    {
        use rustix::pipe::{fcntl_getpipe_size, fcntl_setpipe_size};
        match fcntl_getpipe_size(&fd) {
            Ok(size) if size < PIPE_BYTES => match fcntl_setpipe_size(&fd, PIPE_BYTES) {
                Ok(size) => tracing::debug!("pipe buffer: {size} bytes"),
                Err(e) => tracing::debug!("pipe buffer left at {size} bytes: {e}"),
            },
            _ => {}
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// Whether stdin is a regular file (`domreg enrich < file`).
fn stdin_is_a_file() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.is_file())
    }
    #[cfg(not(unix))]
    {
        false
    }
}

fn load_registrations(snapshot: &mut Snapshot, path: &Path) -> Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let mut bad = 0usize;
    while let Some(kind) = lines::next_line(&mut reader, &mut buf, 1 << 20)
        .with_context(|| format!("reading {}", path.display()))?
    {
        line_no += 1;
        let result = match kind {
            Line::TooLong => {
                lines::copy_rest(&mut reader, &mut io::sink())?;
                Err("line longer than 1 MiB".to_string())
            }
            Line::Complete => match std::str::from_utf8(&buf) {
                Ok(text) => snapshot.add_line(text, line_no).map_err(|e| match e {
                    domreg::Error::Snapshot { message, .. } => message,
                    other => other.to_string(),
                }),
                Err(_) => Err("not UTF-8".to_string()),
            },
        };
        if let Err(message) = result {
            bad += 1;
            if bad <= 10 {
                tracing::warn!("{}:{line_no}: {message}", path.display());
            }
        }
    }
    if bad > 0 {
        tracing::warn!(
            "{}: {bad} of {line_no} lines could not be used",
            path.display()
        );
    }
    Ok(())
}

enum StreamError {
    Read(io::Error),
    Write(io::Error),
}

struct Run<'a> {
    enricher: &'a mut Enricher,
    snapshot: &'a mut Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    progress: &'a ProgressBar,
}

impl Run<'_> {
    /// Enrich every line of `r` to `w`. Output is written in blocks, and
    /// flushed whenever the input has nothing more buffered (before a read
    /// that may block), so a consumer reading a pipe (Fluentd's exec_filter)
    /// gets each event at once rather than when the next ones arrive.
    fn stream<R: Read>(
        &mut self,
        r: &mut BufReader<R>,
        w: &mut impl Write,
    ) -> Result<(), StreamError> {
        let cap = self.enricher.max_line_bytes();
        let mut line = Vec::new();
        let mut out = Vec::with_capacity(FLUSH_AT * 2);
        let mut since_tick = 0u64;
        let mut now = Utc::now();
        let mut since_clock = 0u32;
        // No complete line is buffered: the next line is read from the input.
        let mut refill = !lines::line_ready(r);
        loop {
            let kind = match lines::next_line(r, &mut line, cap) {
                Ok(kind) => kind,
                Err(e) => {
                    // The lines before the failed read still go out.
                    w.write_all(&out).map_err(StreamError::Write)?;
                    return Err(StreamError::Read(e));
                }
            };
            let Some(kind) = kind else { break };
            since_tick += line.len() as u64 + 1;
            since_clock += 1;
            // The clock is read again after each read from the input (it may
            // have waited) and every 1,024 lines, not for every line.
            if refill || since_clock >= 1024 {
                now = Utc::now();
                since_clock = 0;
            }
            match kind {
                Line::Complete => {
                    let now = self.fixed_now.unwrap_or(now);
                    self.enricher
                        .enrich_line(&line, self.snapshot, now, &mut out);
                }
                Line::TooLong => {
                    // Stream the line through unchanged without buffering it.
                    w.write_all(&out).map_err(StreamError::Write)?;
                    out.clear();
                    w.write_all(&line).map_err(StreamError::Write)?;
                    let rest = lines::copy_rest_to(r, w)?;
                    since_tick += rest;
                    w.write_all(b"\n").map_err(StreamError::Write)?;
                    self.enricher.record_passthrough(PassReason::Oversized);
                }
            }
            let idle = !lines::line_ready(r);
            refill = idle;
            if out.len() >= FLUSH_AT || idle {
                w.write_all(&out).map_err(StreamError::Write)?;
                out.clear();
                if idle {
                    w.flush().map_err(StreamError::Write)?;
                }
                self.progress.inc(since_tick);
                since_tick = 0;
            }
        }
        w.write_all(&out).map_err(StreamError::Write)?;
        self.progress.inc(since_tick);
        Ok(())
    }
}

fn progress_bar(inputs: &[PathBuf], quiet: bool) -> ProgressBar {
    let files: Vec<&PathBuf> = inputs.iter().filter(|p| p.as_os_str() != "-").collect();
    if quiet || files.is_empty() || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The stderr summary.
fn summary(stats: &Stats, records: usize) -> String {
    let mut s = format!(
        "domreg: {} lines in, {} lines out; {} enriched, {} passed through unchanged\n",
        stats.lines_in,
        stats.lines_out,
        stats.formats.total(),
        stats.passed_through.total()
    );
    let line = |s: &mut String, title: &str, counts: &domreg::enrich::Counts| {
        if counts.total() > 0 {
            let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
            s.push_str(&format!("  {title}: {}\n", parts.join(", ")));
        }
    };
    line(&mut s, "by format", &stats.formats);
    line(&mut s, "lookups", &stats.lookups);
    line(&mut s, "skipped", &stats.skipped);
    line(&mut s, "passed through", &stats.passed_through);
    let errors: u64 = stats
        .passed_through
        .iter()
        .filter(|(k, _)| {
            PassReason::ALL
                .iter()
                .any(|r| r.as_str() == *k && r.is_error())
        })
        .map(|(_, v)| v)
        .sum();
    s.push_str(&format!(
        "  errors: {errors}; existing domreg replaced: {}; threat merged: {}; registration records: {records}\n",
        stats.domreg_replaced, stats.threat_merged
    ));
    s
}

/// The stderr summary of live lookups.
fn live_summary(report: &live::LiveReport) -> String {
    let join = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let l = &report.live;
    let p = &report.pipeline;
    let c = &report.cache;
    let mut s = format!(
        "  lookup chains: {} started, {} coalesced, {} overloaded; results: {}\n",
        l.lookups,
        l.coalesced,
        l.overloaded,
        join(&l.results)
    );
    s.push_str(&format!(
        "  referrals: {} followed, {} failed\n",
        l.referrals, l.referral_errors
    ));
    for (host, h) in &l.hosts {
        s.push_str(&format!(
            "  host {host}: {} requests ({}), {} retries, {} breaker trips{}\n",
            h.requests,
            join(&h.outcomes),
            h.retries,
            h.breaker_trips,
            if h.refused.is_empty() {
                String::new()
            } else {
                format!(", refused: {}", join(&h.refused))
            }
        ));
    }
    s.push_str(&format!(
        "  cache: {} hits, {} stale, {} misses, {} evictions, {} entries\n",
        c.hits, c.stale_hits, c.misses, c.evictions, report.cache_entries
    ));
    s.push_str(&format!(
        "  waits: {} events waited ({} coalesced), {} answered in time, {} written pending, {} overload; window peak {}\n",
        p.waited, p.coalesced_waits, p.answered, p.timed_out, p.overloaded, p.window_peak
    ));
    s
}

fn attack(json: bool) -> Result<()> {
    let mut rows = Vec::new();
    for rule in Rule::ALL {
        for t in rule.techniques() {
            rows.push((rule, t));
        }
    }
    let mut out = io::stdout().lock();
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(rule, t)| {
                serde_json::json!({
                    "id": t.full_id(),
                    "name": t.full_name(),
                    "technique": {"id": t.id, "name": t.name, "reference": t.reference},
                    "subtechnique": t.subtechnique.map(|s| serde_json::json!({"id": s.id, "name": s.name, "reference": s.reference})),
                    "tactic": {"id": t.tactic.id, "name": t.tactic.name, "reference": t.tactic.reference},
                    "rule": rule.as_str(),
                    "when": rule.description(),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<10} {:<58} {:<30} RULE",
        "ID", "TECHNIQUE", "TACTIC"
    )?;
    for (rule, t) in &rows {
        writeln!(
            out,
            "{:<10} {:<58} {:<30} {}",
            t.full_id(),
            t.full_name(),
            format!("{} {}", t.tactic.id, t.tactic.name),
            rule.as_str()
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Rules without a technique (they add to the risk score only):"
    )?;
    for rule in Rule::ALL.iter().filter(|r| r.techniques().is_empty()) {
        writeln!(out, "  {:<16} {}", rule.as_str(), rule.description())?;
    }
    Ok(())
}

fn rdap_files(files: &[PathBuf], server: Option<&str>, fetched: Option<&str>) -> Result<()> {
    let fetched = fetched
        .map(|s| rdap::parse_date(s).ok_or_else(|| anyhow!("--fetched: not a time: {s:?}")))
        .transpose()?;
    let mut merged: Vec<Registration> = Vec::new();
    for path in files {
        let mut body = Vec::new();
        File::open(path)
            .and_then(|f| f.take(rdap::MAX_BODY as u64 + 1).read_to_end(&mut body))
            .with_context(|| format!("reading {}", path.display()))?;
        let parsed = rdap::parse_domain(&body, server, fetched)
            .with_context(|| format!("parsing {}", path.display()))?;
        let reg = parsed.registration;
        match merged.iter_mut().find(|m| m.domain == reg.domain) {
            Some(registry) => *registry = rdap::merge(registry, &reg),
            None => merged.push(reg),
        }
    }
    let mut out = io::stdout().lock();
    for reg in &merged {
        serde_json::to_writer(&mut out, reg)?;
        writeln!(out)?;
    }
    if merged.is_empty() {
        bail!("no records");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_counts() {
        let mut stats = Stats::default();
        stats.record(domreg::enrich::Outcome::Passthrough(
            PassReason::InvalidJson,
        ));
        let s = summary(&stats, 3);
        assert!(s.contains("1 lines in, 1 lines out"), "{s}");
        assert!(s.contains("passed through: invalid_json 1"), "{s}");
        assert!(s.contains("errors: 1"), "{s}");
    }
}
