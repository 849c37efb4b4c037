//! Helpers for the CLI tests: run the built `domreg` binary, build the
//! registrations file from the real RDAP fixtures, split and check lines.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value};
use tempfile::TempDir;

/// The fixed time every `enrich` run measures ages at (for events whose
/// format carries no time of its own).
pub const NOW: &str = "2026-11-24T00:00:00Z";

/// The RDAP fixtures, in the order `domreg rdap` gets them: the registry's
/// and then the registrar's answer for google.com (merged into one record),
/// then one file per other domain.
pub const RDAP_FILES: [&str; 7] = [
    "verisign-google.com.json",
    "markmonitor-registrar-google.com.json",
    "pir-wicar.org.json",
    "nominet-bbc.co.uk.json",
    "centralnic-nic.xyz.json",
    "click-microsoft.click.json",
    "cznic-example.cz.json",
];

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// stdout as UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }
}

/// Run `domreg` with `args`, feeding `stdin`.
pub fn domreg<I, S>(args: I, stdin: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    domreg_env(args, stdin, &[])
}

/// Run `domreg` with `args` and extra environment variables.
pub fn domreg_env<I, S>(args: I, stdin: &[u8], env: &[(&str, &str)]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    // These tests exercise the offline data path: `enrich` runs get
    // `--offline` (live lookups have their own tests, against a loopback
    // RDAP server).
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_domreg"));
    if args.first().is_some_and(|a| a == "enrich") {
        cmd.arg("enrich").arg("--offline").args(&args[1..]);
    } else {
        cmd.args(&args);
    }
    cmd.env_remove("DOMREG_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn domreg");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    // Write from a thread so a large input cannot deadlock against stdout.
    let writer = std::thread::spawn(move || {
        // The child may exit without reading everything (e.g. on a usage error).
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for domreg");
    writer.join().expect("stdin writer");
    Output {
        code: out
            .status
            .code()
            .expect("exit code (not killed by a signal)"),
        stdout: out.stdout,
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A file from `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A sample log from `tests/fixtures/samples/`.
pub fn sample(name: &str) -> PathBuf {
    fixture(&format!("samples/{name}"))
}

/// A temporary directory holding `regs.jsonl`, built by `domreg rdap` from
/// the real RDAP fixtures.
pub struct Env {
    pub dir: TempDir,
    pub regs: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let files: Vec<PathBuf> = RDAP_FILES
            .iter()
            .map(|f| fixture(&format!("rdap/{f}")))
            .collect();
        let mut args: Vec<&OsStr> = vec![OsStr::new("rdap")];
        args.extend(files.iter().map(|p| p.as_os_str()));
        let out = domreg(args, b"");
        assert_eq!(out.code, 0, "domreg rdap failed: {}", out.stderr);
        assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), 6);
        let regs = dir.path().join("regs.jsonl");
        std::fs::write(&regs, &out.stdout).expect("write regs.jsonl");
        Env { dir, regs }
    }

    /// Write `bytes` to a file in the temporary directory.
    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }

    /// `domreg enrich --now NOW --registrations regs.jsonl ARGS`, `stdin` on stdin.
    pub fn enrich<S: AsRef<OsStr>>(&self, args: &[S], stdin: &[u8]) -> Output {
        let mut all: Vec<&OsStr> = vec![
            OsStr::new("enrich"),
            OsStr::new("--now"),
            OsStr::new(NOW),
            OsStr::new("--registrations"),
            self.regs.as_os_str(),
        ];
        all.extend(args.iter().map(AsRef::as_ref));
        domreg(all, stdin)
    }

    /// `domreg enrich --offline --now NOW --registrations regs.jsonl ARGS`,
    /// not started, without `DOMREG_LOG`: for a test that talks to the
    /// running process.
    pub fn enrich_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_domreg"));
        command
            .args(["enrich", "--offline", "--now", NOW, "--registrations"])
            .arg(&self.regs)
            .args(args)
            .env_remove("DOMREG_LOG");
        command
    }

    /// Enrich `stdin` alone and return its single output line as JSON.
    pub fn enrich_one(&self, line: &str) -> Value {
        let out = self.enrich(&["-q"], format!("{line}\n").as_bytes());
        assert_eq!(out.code, 0, "{}", out.stderr);
        let lines = output_lines(&out.stdout);
        assert_eq!(lines.len(), 1, "{}", out.text());
        json(lines[0])
    }
}

/// The lines of an input file: split at `\n`; a last line without `\n`
/// is still a line.
pub fn input_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.ends_with(b"\n") || bytes.is_empty() {
        lines.pop();
    }
    lines
}

/// The lines of domreg's output, which always ends every line with `\n`.
pub fn output_lines(bytes: &[u8]) -> Vec<&[u8]> {
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "output does not end with a newline"
    );
    input_lines(bytes)
}

/// Parse one line as JSON.
pub fn json(line: &[u8]) -> Value {
    serde_json::from_slice(line).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&line[..line.len().min(300)])
        )
    })
}

/// Check that `output` is the JSON event `input` with members added just
/// before its closing brace and nothing else changed, and return the added
/// members (`domreg`, and `threat` when there is one) as an object.
pub fn added_members(input: &[u8], output: &[u8]) -> Map<String, Value> {
    let brace = input
        .iter()
        .rposition(|&b| b == b'}')
        .expect("a JSON event ends with }");
    let (head, tail) = input.split_at(brace);
    assert!(
        output.starts_with(head) && output.ends_with(tail) && output.len() > input.len(),
        "original bytes not kept:\n in: {}\nout: {}",
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(output)
    );
    let middle = &output[head.len()..output.len() - tail.len()];
    assert!(
        middle.starts_with(b",\"domreg\":{"),
        "suffix: {}",
        String::from_utf8_lossy(middle)
    );
    let mut wrapped = b"{".to_vec();
    wrapped.extend_from_slice(&middle[1..]);
    wrapped.push(b'}');
    let Value::Object(added) = json(&wrapped) else {
        panic!("the added members are not an object")
    };
    let keys: Vec<&str> = added.keys().map(String::as_str).collect();
    assert!(
        keys == ["domreg"] || keys == ["domreg", "threat"],
        "added members {keys:?}"
    );
    // The whole output line is valid JSON too.
    json(output);
    added
}

/// The ECS `threat` object domreg writes for a set of techniques, built
/// here by hand: (tactic id, tactic name), (technique id, name), optional
/// (sub-technique id, name), each with its attack.mitre.org reference.
pub fn threat(
    tactics: &[(&str, &str)],
    techniques: &[(&str, &str)],
    subtechniques: &[(&str, &str)],
) -> Value {
    let tactic_ref = |id: &str| format!("https://attack.mitre.org/tactics/{id}/");
    let technique_ref = |id: &str| format!("https://attack.mitre.org/techniques/{id}/");
    let sub_ref = |id: &str| {
        let (parent, sub) = id.split_once('.').expect("T1234.001");
        format!("https://attack.mitre.org/techniques/{parent}/{sub}/")
    };
    let mut technique = serde_json::json!({
        "id": techniques.iter().map(|t| t.0).collect::<Vec<_>>(),
        "name": techniques.iter().map(|t| t.1).collect::<Vec<_>>(),
        "reference": techniques.iter().map(|t| technique_ref(t.0)).collect::<Vec<_>>(),
    });
    if !subtechniques.is_empty() {
        technique["subtechnique"] = serde_json::json!({
            "id": subtechniques.iter().map(|t| t.0).collect::<Vec<_>>(),
            "name": subtechniques.iter().map(|t| t.1).collect::<Vec<_>>(),
            "reference": subtechniques.iter().map(|t| sub_ref(t.0)).collect::<Vec<_>>(),
        });
    }
    serde_json::json!({
        "framework": "MITRE ATT&CK",
        "tactic": {
            "id": tactics.iter().map(|t| t.0).collect::<Vec<_>>(),
            "name": tactics.iter().map(|t| t.1).collect::<Vec<_>>(),
            "reference": tactics.iter().map(|t| tactic_ref(t.0)).collect::<Vec<_>>(),
        },
        "technique": technique,
    })
}

/// The summary line for lines in/out and enriched/passed through.
pub fn totals_line(lines: usize, enriched: usize, passed: usize) -> String {
    format!(
        "domreg: {lines} lines in, {lines} lines out; {enriched} enriched, {passed} passed through unchanged\n"
    )
}

/// What one sample line must become.
#[derive(Clone, Copy)]
pub enum Exp {
    /// Written back byte for byte.
    Pass,
    /// Enriched, with the name found in this field.
    Field(&'static str),
    /// Enriched: field, normalised name, and "LOOKUP DOMAIN" (for hit, miss)
    /// or "skipped REASON".
    Full(&'static str, &'static str, &'static str),
}

/// The summary's last line with `records` registration records.
pub fn errors_line(errors: u64, replaced: u64, merged: u64, records: u64) -> String {
    format!(
        "  errors: {errors}; existing domreg replaced: {replaced}; threat merged: {merged}; registration records: {records}\n"
    )
}

/// Run a sample through `enrich` and check every line against `expected`
/// and stderr against `summary`. Returns the output.
pub fn check_sample(env: &Env, name: &str, expected: &[Exp], summary: &str) -> Vec<u8> {
    let path = sample(name);
    let input = std::fs::read(&path).expect("sample");
    let out = env.enrich(&[path.as_os_str()], b"");
    assert_eq!(out.code, 0, "{name}: {}", out.stderr);
    assert_eq!(out.stderr, summary, "{name}: summary");
    let ins = input_lines(&input);
    let outs = output_lines(&out.stdout);
    assert_eq!(ins.len(), expected.len(), "{name}: lines in the sample");
    assert_eq!(
        outs.len(),
        ins.len(),
        "{name}: one output line per input line"
    );
    for (i, ((inp, outp), exp)) in ins.iter().zip(&outs).zip(expected).enumerate() {
        let n = i + 1;
        let is_json = inp.trim_ascii_start().starts_with(b"{");
        let (field, name_and_outcome) = match *exp {
            Exp::Pass => {
                assert_eq!(inp, outp, "{name}:{n}: passed through unchanged");
                if is_json {
                    json(outp);
                }
                continue;
            }
            Exp::Field(field) => (field, None),
            Exp::Full(field, nm, outcome) => (field, Some((nm, outcome))),
        };
        let domreg = if is_json {
            added_members(inp, outp)
                .remove("domreg")
                .expect("domreg member")
        } else {
            // A text event: {"message": "<line without \r>", "domreg": ..., ["threat": ...]}.
            let Value::Object(event) = json(outp) else {
                panic!("{name}:{n}: not an object")
            };
            let keys: Vec<&str> = event.keys().map(String::as_str).collect();
            assert!(
                keys == ["domreg", "message"] || keys == ["domreg", "message", "threat"],
                "{name}:{n}: {keys:?}"
            );
            let line = std::str::from_utf8(inp).expect("UTF-8 sample");
            let message = line.strip_suffix('\r').unwrap_or(line);
            assert_eq!(event["message"], message, "{name}:{n}");
            let prefix = format!("{{\"message\":{},\"domreg\":{{", serde_json::json!(message));
            assert!(outp.starts_with(prefix.as_bytes()), "{name}:{n}");
            event["domreg"].clone()
        };
        assert_eq!(domreg["field"], field, "{name}:{n}: field");
        if let Some((nm, outcome)) = name_and_outcome {
            assert_eq!(domreg["name"], nm, "{name}:{n}: name");
            let (lookup, what) = outcome.split_once(' ').expect("LOOKUP WHAT");
            assert_eq!(domreg["lookup"], lookup, "{name}:{n}: lookup");
            if lookup == "skipped" {
                assert_eq!(domreg["skip_reason"], what, "{name}:{n}");
                assert!(domreg.get("domain").is_none(), "{name}:{n}");
            } else {
                assert_eq!(domreg["domain"], what, "{name}:{n}: domain");
                assert!(domreg.get("skip_reason").is_none(), "{name}:{n}");
            }
            assert_eq!(
                domreg.get("registration").is_some(),
                lookup == "hit",
                "{name}:{n}"
            );
        }
    }
    out.stdout
}
