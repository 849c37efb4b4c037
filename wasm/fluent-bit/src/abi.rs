//! The functions Fluent Bit's `filter_wasm` calls, with the raw pointers of
//! its calling convention. The only unsafe code of the crate.
//!
//! Fluent Bit (WAMR) copies the tag and the record into the module's memory
//! with the module's exported `malloc` (see `build.rs`), each followed by a
//! NUL, calls `domreg_filter`, copies the NUL-terminated JSON object it
//! returns, and frees the two copies.
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use chrono::DateTime;

use crate::Filter;

/// The module's state: the filter is built on the first call.
static STATE: Mutex<State> = Mutex::new(State {
    started: false,
    filter: None,
    unchanged: Vec::new(),
});

struct State {
    started: bool,
    /// `None` when it could not be built: records pass through unchanged.
    filter: Option<Box<Filter>>,
    /// The answer buffer when there is no filter.
    unchanged: Vec<u8>,
}

/// Fluent Bit's filter function (`function_name domreg_filter`).
///
/// `record` points to `record_len` bytes of JSON (the NUL after them is not
/// counted); `tag` and the time are Fluent Bit's. Returns a NUL-terminated
/// JSON object in a buffer the module owns, valid until the next call: the
/// record enriched, or unchanged. Never an empty string.
#[unsafe(no_mangle)]
pub extern "C" fn domreg_filter(
    _tag: *const u8,
    _tag_len: u32,
    time_sec: u32,
    time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    let record: &[u8] = if record.is_null() {
        &[]
    } else {
        // SAFETY: Fluent Bit passes a pointer into this module's linear
        // memory, to a buffer it allocated with our `malloc` and filled
        // with `record_len` bytes (plus a NUL); it stays allocated and
        // unchanged until this call returns, and nothing else aliases it
        // mutably meanwhile (the module is single-threaded).
        unsafe { std::slice::from_raw_parts(record, record_len as usize) }
    };
    let time = DateTime::from_timestamp(i64::from(time_sec), time_nsec.min(999_999_999))
        .unwrap_or_default();
    let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    if !state.started {
        state.started = true;
        state.filter = match Filter::new(preopened_dirs()) {
            Ok(filter) => Some(Box::new(filter)),
            Err(e) => {
                eprintln!("domreg: cannot start, records pass through unchanged: {e}");
                None
            }
        };
    }
    let State {
        filter, unchanged, ..
    } = &mut *state;
    match filter {
        Some(filter) => filter.filter(record, time).as_ptr(),
        None => {
            out_unchanged(unchanged, record);
            unchanged.as_ptr()
        }
    }
}

/// The record unchanged (`{}` for an empty one) with its NUL.
fn out_unchanged(out: &mut Vec<u8>, record: &[u8]) {
    out.clear();
    out.extend_from_slice(if record.is_empty() { b"{}" } else { record });
    out.push(0);
}

/// The counters as a NUL-terminated JSON object (see
/// [`Filter::stats_json`]), valid until the next call. Not called by Fluent
/// Bit; for other hosts and tests.
#[unsafe(no_mangle)]
pub extern "C" fn domreg_stats() -> *const u8 {
    static OUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    let text = match &STATE.lock().unwrap_or_else(PoisonError::into_inner).filter {
        Some(filter) => filter.stats_json(),
        None => "{}".to_string(),
    };
    let mut out = OUT.lock().unwrap_or_else(PoisonError::into_inner);
    out.clear();
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    out.as_ptr()
}

/// The directories the host preopened (Fluent Bit's `accessible_paths`), in
/// order, by the names the host gave them.
fn preopened_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    // WASI numbers preopens from 3 up, without gaps; stop at the first
    // descriptor that is not one (bounded, should a host never say EBADF).
    for fd in 3..1024u32 {
        // SAFETY: fd_prestat_get only writes the Prestat it returns.
        let Ok(stat) = (unsafe { wasi::fd_prestat_get(fd) }) else {
            break;
        };
        if stat.tag != wasi::PREOPENTYPE_DIR.raw() {
            continue;
        }
        // SAFETY: tag PREOPENTYPE_DIR says the `dir` member is the valid one.
        let len = unsafe { stat.u.dir.pr_name_len };
        let mut name = vec![0u8; len];
        // SAFETY: `name` is a writable buffer of exactly `len` bytes, the
        // length the host gave for this name.
        if unsafe { wasi::fd_prestat_dir_name(fd, name.as_mut_ptr(), len) }.is_err() {
            continue;
        }
        while name.last() == Some(&0) {
            name.pop();
        }
        if let Ok(name) = String::from_utf8(name) {
            dirs.push(PathBuf::from(name));
        }
    }
    dirs
}
