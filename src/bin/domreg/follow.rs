//! `domreg enrich --follow FILE`: a reader that never ends, like `tail -F`.
//!
//! [`Follower`] reads FILE from its end (or its start), waits for more when
//! it reaches the end, and notices rotation by polling the path: a new file
//! at the path (rename and create: the rest of the old file is read first,
//! then the new one from its start), or the file shrinking below the read
//! position (copytruncate: reading starts again at 0). A last line of the
//! old file without its `\n` ends there: it is a line of its own, not the
//! start of the new file's first line. It reports the end of input only
//! once told to stop ([`Follower::stop_on`]), after reading the file to the
//! end it has then.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domreg::enrich::{Enricher, PassReason};
use domreg::snapshot::Snapshot;

use crate::lines::{self, Line};

/// How often the file is checked for new data and rotation when idle.
const POLL: Duration = Duration::from_millis(100);

/// A `Read` over a followed file.
pub struct Follower {
    path: PathBuf,
    file: File,
    /// Device and inode of `file`.
    id: (u64, u64),
    /// Bytes of `file` read so far.
    pos: u64,
    /// The last byte read ended a line (or nothing has been read).
    at_line_start: bool,
    /// The file was switched or rewound after a last line without `\n`:
    /// the next read gives that line its `\n`.
    end_line: bool,
    /// Set when reading should end ([`Follower::stop_on`]).
    stop: Option<Arc<AtomicBool>>,
    /// Once stopping: the file's length then, where the input ends.
    stop_at: Option<u64>,
}

impl Follower {
    /// Open `path`, positioned at its end unless `from_start`.
    pub fn open(path: &Path, from_start: bool) -> io::Result<Follower> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let pos = if from_start {
            0
        } else {
            file.seek(SeekFrom::End(0))?
        };
        Ok(Follower {
            path: path.to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
            pos,
            at_line_start: true,
            end_line: false,
            stop: None,
            stop_at: None,
        })
    }

    /// Once `stop` is set, read the file to the end it has at that moment
    /// (not what is written after), then report the end of input.
    pub fn stop_on(mut self, stop: Arc<AtomicBool>) -> Follower {
        self.stop = Some(stop);
        self
    }

    /// Read from the open file, keeping count.
    fn read_file(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        if let Some(last) = n.checked_sub(1).and_then(|i| buf.get(i)) {
            self.at_line_start = *last == b'\n';
        }
        Ok(n)
    }

    /// At the end of the open file: switch files or rewind if the path was
    /// rotated. True if there may be more to read now.
    fn check_rotation(&mut self) -> io::Result<bool> {
        // Truncated in place (copytruncate): read again from the start.
        let len = self.file.metadata()?.len();
        if len < self.pos {
            tracing::info!("{}: truncated; reading from its start", self.path.display());
            self.file.seek(SeekFrom::Start(0))?;
            self.pos = 0;
            self.end_line = !self.at_line_start;
            return Ok(true);
        }
        let Ok(meta) = std::fs::metadata(&self.path) else {
            // Renamed, and the new file is not there yet.
            return Ok(false);
        };
        if (meta.dev(), meta.ino()) == self.id {
            return Ok(false);
        }
        // A new file at the path. The old one was read to its end just now;
        // a writer may still have appended to it since, so read it once more.
        let mut rest = Vec::new();
        self.file.read_to_end(&mut rest)?;
        if !rest.is_empty() {
            // Give the rest of the old file back first: seek back over it.
            let back = i64::try_from(rest.len()).unwrap_or(i64::MAX);
            self.file.seek(SeekFrom::Current(-back))?;
            return Ok(true);
        }
        match File::open(&self.path) {
            Ok(file) => {
                let meta = file.metadata()?;
                tracing::info!("{}: rotated; reading the new file", self.path.display());
                self.file = file;
                self.id = (meta.dev(), meta.ino());
                self.pos = 0;
                self.end_line = !self.at_line_start;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Read for Follower {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.end_line
                && let Some(first) = buf.first_mut()
            {
                *first = b'\n';
                self.end_line = false;
                self.at_line_start = true;
                return Ok(1);
            }
            if self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                let end = match self.stop_at {
                    Some(end) => end,
                    None => *self.stop_at.insert(self.file.metadata()?.len()),
                };
                let left = usize::try_from(end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
                let room = left.min(buf.len());
                return match buf.get_mut(..room) {
                    Some(part) if room > 0 => self.read_file(part),
                    _ => Ok(0),
                };
            }
            let n = self.read_file(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if !self.check_rotation()? {
                std::thread::sleep(POLL);
            }
        }
    }
}

/// `enrich --follow --offline`: enrich the lines of `path` as they come,
/// flushing `out` whenever no more input is waiting.
pub fn run_offline(
    path: &Path,
    from_start: bool,
    enricher: &mut Enricher,
    snapshot: &mut Snapshot,
    fixed_now: Option<DateTime<Utc>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || stop_on_signal(&stop));
    }
    let follower = Follower::open(path, from_start)?.stop_on(stop);
    let mut r = BufReader::with_capacity(256 * 1024, follower);
    let cap = enricher.max_line_bytes();
    let mut line = Vec::new();
    let mut buf = Vec::new();
    while let Some(kind) = lines::next_line(&mut r, &mut line, cap)? {
        match kind {
            Line::Complete => {
                let now = fixed_now.unwrap_or_else(Utc::now);
                enricher.enrich_line(&line, snapshot, now, &mut buf);
            }
            Line::TooLong => {
                out.write_all(&buf)?;
                buf.clear();
                out.write_all(&line)?;
                lines::copy_rest(&mut r, out)?;
                out.write_all(b"\n")?;
                enricher.record_passthrough(PassReason::Oversized);
            }
        }
        let idle = !lines::line_ready(&r);
        if idle || buf.len() >= 64 * 1024 {
            out.write_all(&buf)?;
            buf.clear();
            if idle {
                out.flush()?;
            }
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(())
}

/// Set `stop` on SIGTERM or SIGINT; exit at once on a second one.
fn stop_on_signal(stop: &AtomicBool) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(crate::live::wait_for_signal());
    stop.store(true, Ordering::SeqCst);
    runtime.block_on(crate::live::wait_for_signal());
    eprintln!("domreg: second signal: exiting now");
    std::process::exit(1);
}
