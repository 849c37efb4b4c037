//! The benchmark floor: read stdin line by line, validate each line as JSON
//! with serde_json (into `IgnoredAny`, so nothing is built), and write it back
//! unchanged, buffered. Invalid lines are written too, and counted on stderr.
//!
//! `domreg enrich` does at least this much work per event (it must know the
//! line is JSON before splicing into it), so its throughput is reported as a
//! ratio against this program's on the same trace (`benches/run.sh`).

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use serde::de::IgnoredAny;

fn main() -> ExitCode {
    match run() {
        Ok((lines, invalid)) => {
            eprintln!("domreg-floor: {lines} lines, {invalid} invalid");
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("domreg-floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<(u64, u64)> {
    let stdin = io::stdin();
    let mut input = io::BufReader::with_capacity(1 << 16, stdin.lock());
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = Vec::with_capacity(4096);
    let (mut lines, mut invalid) = (0u64, 0u64);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        lines += 1;
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if serde_json::from_slice::<IgnoredAny>(body).is_err() {
            invalid += 1;
        }
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok((lines, invalid))
}
