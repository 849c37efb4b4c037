//! `domreg enrich --rsyslog`: rsyslog's `mmexternal` protocol.
//!
//! rsyslog starts the program (one per action worker), writes each message
//! to its stdin as one line, here the whole message object as JSON
//! (`interface.input="fulljson"`, rsyslog's `jsonmesg` property), and then
//! reads exactly one line from its stdout before it sends the next message:
//! a JSON object of the properties to change, `{}` for none
//! (plugins/external/INTERFACE.md in rsyslog's sources). domreg enriches the
//! message's `msg` and answers `{"$!":{"domreg":{...},"threat":{...}}}`,
//! which sets the message variables `$!domreg` and `$!threat`, with the
//! same bytes `domreg enrich` would splice into the event
//! ([`Enricher::render_members`]). Every message gets exactly one reply, in
//! order, flushed at once; a message domreg cannot enrich gets `{}`.
//!
//! rsyslog runs the program with an empty environment and reads its stderr
//! through the same pipe as its stdout, so in this mode domreg writes
//! nothing but replies (no summary, no log messages).

use std::io::{self, BufReader, Write};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use domreg::enrich::{Enricher, Lookup, Outcome};
use domreg::live::pipeline::Input;
use domreg::snapshot::Snapshot;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::lines::{self, Line};

/// The part of rsyslog's message object domreg reads.
#[derive(Deserialize)]
struct Message {
    msg: Option<String>,
}

/// The line to enrich for one rsyslog message (a `fulljson` line): its
/// `msg`, without the leading space syslog puts after the tag. A line that
/// is not a JSON object gives `{` (passed through as `invalid_json`); one
/// without a `msg` string, an empty line (`unrecognised`). Either way the
/// reply is `{}`.
pub fn message_line(line: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Message>(line) {
        Ok(Message { msg: Some(msg) }) => msg.trim().as_bytes().to_vec(),
        Ok(Message { msg: None }) => Vec::new(),
        Err(_) => b"{".to_vec(),
    }
}

/// The reply to one message, with its `\n`: the members domreg adds, as
/// rsyslog message variables, or `{}`. Does not count (a
/// [`domreg::live::pipeline::Render`]).
pub fn render_reply(
    enricher: &mut Enricher,
    line: &[u8],
    lookup: &mut dyn Lookup,
    now: DateTime<Utc>,
    out: &mut Vec<u8>,
) -> Outcome {
    let start = out.len();
    out.extend_from_slice(b"{\"$!\":{");
    let outcome = enricher.render_members(line, lookup, now, out);
    match outcome {
        Outcome::Enriched(_) => out.extend_from_slice(b"}}\n"),
        Outcome::Passthrough(_) => {
            out.truncate(start);
            out.extend_from_slice(b"{}\n");
        }
    }
    outcome
}

/// Read the next message from `r` and give the line to enrich; `None` at
/// the end of input. An oversized message is skipped and gives a line
/// over the cap (so it is passed through, counted as `oversized`).
fn next_message(
    r: &mut impl io::BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<Vec<u8>>> {
    match lines::next_line(r, buf, cap)? {
        None => Ok(None),
        Some(Line::Complete) => Ok(Some(message_line(buf))),
        Some(Line::TooLong) => {
            lines::copy_rest(r, &mut io::sink())?;
            Ok(Some(std::mem::take(buf)))
        }
    }
}

/// Offline: answer each message on stdin from `snapshot`, flushing each reply.
pub fn run_offline(
    enricher: &mut Enricher,
    snapshot: &mut Snapshot,
    fixed_now: Option<DateTime<Utc>>,
) -> Result<()> {
    let cap = enricher.max_line_bytes();
    let mut r = BufReader::new(io::stdin().lock());
    let mut out = io::stdout().lock();
    let mut buf = Vec::new();
    let mut reply = Vec::new();
    while let Some(line) = next_message(&mut r, &mut buf, cap).context("reading stdin")? {
        reply.clear();
        let now = fixed_now.unwrap_or_else(Utc::now);
        let outcome = render_reply(enricher, &line, snapshot, now, &mut reply);
        enricher.record(outcome);
        out.write_all(&reply).context("writing output")?;
        out.flush().context("writing output")?;
    }
    Ok(())
}

/// Live: feed the pipeline one message at a time (rsyslog sends the next
/// only after the reply). Ends at the end of stdin, or when the pipeline
/// is gone; a read error ends the input like the end of stdin.
pub fn read_stdin(cap: usize, tx: &mpsc::Sender<Input>) {
    let mut r = BufReader::new(io::stdin().lock());
    let mut buf = Vec::new();
    while let Ok(Some(line)) = next_message(&mut r, &mut buf, cap) {
        let mut lines = domreg::batch::Lines::new();
        lines.push(&line);
        if tx.blocking_send(Input::Lines(lines)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_lines() {
        assert_eq!(
            message_line(br#"{"msg":" client 1.2.3.4#5 (a.b): query: a.b IN A +","rawmsg":"x"}"#),
            b"client 1.2.3.4#5 (a.b): query: a.b IN A +"
        );
        assert_eq!(
            message_line(br#"{"msg":"{\"query\":\"a.b\"}"}"#),
            br#"{"query":"a.b"}"#
        );
        assert_eq!(message_line(br#"{"rawmsg":"x"}"#), b"");
        assert_eq!(message_line(br#"{"msg":1}"#), b"{");
        assert_eq!(message_line(b"not json"), b"{");
    }
}
