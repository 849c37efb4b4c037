//! One fuzz input through the proxy-wasm filter, and the checks on what it
//! did: shared by the libFuzzer target `fuzz/fuzz_targets/proxy_wasm.rs`
//! (long runs) and the harness test `tests/proxy_fuzz_inputs.rs` (every
//! crash input ever found, the seeds, and generated inputs, on stable in
//! every test run).
//!
//! Input: a flags byte, then up to three parts split at 0xff bytes (never
//! in UTF-8): the `:authority` header, the registry's RDAP body, the
//! registrar's. Flags: bit 0 block mode; bit 1 use the fuzzed authority
//! (else `www.example.com`, so that the bodies are reached); bits 2-3 the
//! registry call's status (200, 404, 429, no answer); bits 4-5 the
//! registrar call's (200, 404, 500, no answer).
//!
//! Checks: no trap; once the calls are answered the request has gone on
//! (continued, or answered 403 locally in block mode); every `x-domreg-*`
//! header value is printable ASCII (nothing from a client or a registry can
//! break the request's headers). A failed check is an `Err`.

use anyhow::{Context, Result, bail, ensure};

use crate::proxy::ProxyHost;

/// The record time of every input: 2025-11-24T16:00:00Z.
pub const NOW: i64 = 1_764_000_000;

fn status(bits: u8, codes: [Option<u16>; 4]) -> Option<u16> {
    codes.get(usize::from(bits & 3)).copied().flatten()
}

/// Run `data` through a fresh VM of `host`'s module (its own shared data
/// and clock), and check the outcome.
pub fn proxy_input(host: &ProxyHost, data: &[u8]) -> Result<()> {
    let Some((&flags, rest)) = data.split_first() else {
        return Ok(());
    };
    let mut parts = rest.split(|&b| b == 0xff);
    let fuzzed = parts.next().unwrap_or_default();
    let bodies = [
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    ];
    let authority = if flags & 2 != 0 {
        fuzzed
    } else {
        b"www.example.com".as_slice()
    };
    let block = flags & 1 != 0;
    let statuses = [
        status(flags >> 2, [Some(200), Some(404), Some(429), None]),
        status(flags >> 4, [Some(200), Some(404), Some(500), None]),
    ];

    let host = host.fork();
    host.set_time(NOW);
    let config = if block {
        r#"{"mode":"block","rdap":{"cluster":"rdap"}}"#
    } else {
        r#"{"rdap":{"cluster":"rdap"}}"#
    };
    let mut vm = host.vm(config)?;
    ensure!(vm.configured(), "the configuration was refused");
    let id = vm
        .request_bytes(vec![
            (":authority".to_owned(), authority.to_vec()),
            (":method".to_owned(), b"GET".to_vec()),
            (":path".to_owned(), b"/".to_vec()),
        ])
        .map_err(anyhow::Error::from)
        .context("request headers")?;
    // The registry's call, the registrar's (a referral), then no answer to
    // anything more.
    for i in 0..4 {
        let Some(call) = vm.calls().first().cloned() else {
            break;
        };
        let (code, body) = match (statuses.get(i), bodies.get(i)) {
            (Some(code), Some(body)) => (*code, *body),
            _ => (None, &[][..]),
        };
        vm.respond(call.token, code, &[], body)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("call response {i}"))?;
    }
    ensure!(
        vm.calls().is_empty(),
        "calls left after the answers: {:?}",
        vm.calls()
    );
    let Some(stream) = vm.stream(id) else {
        bail!("no stream for the request");
    };
    match &stream.local_response {
        Some(local) => ensure!(
            block && local.status == 403,
            "unexpected local response {local:?}"
        ),
        None => ensure!(stream.continued(), "the request did not go on: {stream:?}"),
    }
    for (name, value) in &stream.headers {
        if name.starts_with("x-domreg-") {
            ensure!(
                value.iter().all(|b| (0x20..0x7f).contains(b)),
                "{name}: {:?}",
                String::from_utf8_lossy(value)
            );
        }
    }
    vm.finish_and_drop(id)
        .map_err(anyhow::Error::from)
        .context("end of the request")?;
    Ok(())
}
