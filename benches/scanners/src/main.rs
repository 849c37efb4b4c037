//! How fast is domreg's JSON field scanner against the libraries one would
//! reach for instead? Each contender validates every line of a trace in
//! full and (but for the validation-only baselines) finds the event's name.
//! Times are per line, the median of several rounds; each round runs every
//! contender once, in turn, so that a change in the machine's speed during
//! the run hits them all alike. Ratios are against serde_json validating
//! into `IgnoredAny`, measured in the same rounds (the floor program of
//! benches/floor does that per line).
//!
//! Usage: domreg-scanners TRACE [ROUNDS]   (see benches/scanners.sh)

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::process::ExitCode;
use std::time::Instant;

use domreg::format::{Detector, FormatChoice, LineKind};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// A Zeek dns event as serde_json would read it with borrowed fields: only
/// the name is kept, every other member is skipped (but validated).
#[derive(Deserialize)]
struct ZeekEvent<'a> {
    #[serde(borrow)]
    query: Option<Cow<'a, str>>,
    #[allow(dead_code)]
    ts: Option<IgnoredAny>,
}

/// The paths domreg looks at in every JSON event (src/format.rs: each
/// format's name field, its marker and its timestamp), for sonic-rs.
const PATHS: &[&[&str]] = &[
    &["winlog", "event_data", "QueryName"],
    &["dns", "question", "name"],
    &["dns", "rrname"],
    &["query"],
    &["query_name"],
    &["tls", "client", "server_name"],
    &["tls", "sni"],
    &["server_name"],
    &["http", "hostname"],
    &["host"],
    &["url", "domain"],
    &["destination", "domain"],
    &["event_type"],
    &["uid"],
    &["ts"],
    &["timestamp"],
    &["@timestamp"],
    &["query_timestamp"],
];

/// Runs over every line; returns how many lines it accepted and a
/// checksum of what it found (so nothing is optimised away).
type Run = Box<dyn FnMut(&[&str]) -> (usize, usize)>;

struct Contender {
    name: &'static str,
    does: &'static str,
    run: Run,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), rounds) = (args.next(), args.next()) else {
        eprintln!("usage: domreg-scanners TRACE [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds: usize = rounds.and_then(|r| r.parse().ok()).unwrap_or(7).max(1);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("domreg-scanners: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();

    let mut detector = match Detector::new(FormatChoice::Auto, &[]) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("domreg-scanners: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut tree = sonic_rs::PointerTree::new();
    for p in PATHS {
        tree.add_path(p.iter());
    }
    let mut buffer = Vec::new();
    let mut buffers = simd_json::Buffers::default();

    let mut contenders = [
        Contender {
            name: "serde_json IgnoredAny",
            does: "validates (the baseline)",
            run: Box::new(|lines| {
                let ok = lines
                    .iter()
                    .filter(|l| serde_json::from_str::<IgnoredAny>(l).is_ok())
                    .count();
                (ok, 0)
            }),
        },
        Contender {
            name: "domreg Detector::detect",
            does: "validates, finds the name among every format's paths",
            run: Box::new(move |lines| {
                let (mut ok, mut sum) = (0, 0);
                for l in lines {
                    if let LineKind::Json(d) = detector.detect(l) {
                        ok += 1;
                        sum += d.name.len();
                    }
                }
                (ok, sum)
            }),
        },
        Contender {
            name: "serde_json borrowed struct",
            does: "validates, reads Zeek's `query` only",
            run: Box::new(|lines| {
                let (mut ok, mut sum) = (0, 0);
                for l in lines {
                    if let Ok(e) = serde_json::from_str::<ZeekEvent>(l) {
                        ok += 1;
                        sum += e.query.map_or(0, |q| q.len());
                    }
                }
                (ok, sum)
            }),
        },
        Contender {
            name: "sonic-rs get_many",
            does: "validates, reads the same paths as domreg",
            run: Box::new(move |lines| {
                let (mut ok, mut sum) = (0, 0);
                for l in lines {
                    if let Ok(found) = sonic_rs::get_many(*l, &tree) {
                        ok += 1;
                        sum += found.iter().flatten().count();
                    }
                }
                (ok, sum)
            }),
        },
        Contender {
            name: "sonic-rs IgnoredAny",
            does: "validates",
            run: Box::new(|lines| {
                let ok = lines
                    .iter()
                    .filter(|l| sonic_rs::from_str::<IgnoredAny>(l).is_ok())
                    .count();
                (ok, 0)
            }),
        },
        Contender {
            name: "simd-json tape",
            does: "validates, builds its tape (in a copy of the line: it parses in place)",
            run: Box::new(move |lines| {
                let (mut ok, mut sum) = (0, 0);
                for l in lines {
                    buffer.clear();
                    buffer.extend_from_slice(l.as_bytes());
                    if let Ok(tape) = simd_json::to_tape_with_buffers(&mut buffer, &mut buffers) {
                        ok += 1;
                        sum += tape.0.len();
                    }
                }
                (ok, sum)
            }),
        },
    ];

    let mut times: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let mut accepted = vec![0; contenders.len()];
    for _ in 0..rounds {
        for (i, c) in contenders.iter_mut().enumerate() {
            let start = Instant::now();
            let (ok, sum) = (c.run)(&lines);
            let ns = start.elapsed().as_nanos() as f64 / lines.len().max(1) as f64;
            std::hint::black_box(sum);
            times[i].push(ns);
            accepted[i] = ok;
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let medians: Vec<f64> = times.iter_mut().map(median).collect();
    let base = medians.first().copied().unwrap_or(f64::NAN);
    println!(
        "{path}: {} lines, {} bytes a line on average; median of {rounds} rounds",
        lines.len(),
        bytes / lines.len().max(1)
    );
    println!();
    println!(
        "| scanner | what it does per line | ns per line | × serde_json IgnoredAny | lines accepted |"
    );
    println!("|---|---|---|---|---|");
    for ((c, m), ok) in contenders.iter().zip(&medians).zip(&accepted) {
        println!(
            "| {} | {} | {:.0} | {:.2}× | {} |",
            c.name,
            c.does,
            m,
            m / base,
            ok
        );
    }
    ExitCode::SUCCESS
}
