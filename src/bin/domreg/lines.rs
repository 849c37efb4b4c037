//! Reading lines with a length cap, without ever holding more than the cap
//! of one line in memory.

use std::io::{self, BufRead, Write};

use domreg::batch::Lines;

use crate::StreamError;

/// How a line was read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The whole line is in the buffer (without its `\n`).
    Complete,
    /// The line is longer than the cap: the buffer holds its first bytes and
    /// the rest is still unread ([`copy_rest`] moves it).
    TooLong,
}

/// Read the next line into `buf` (cleared first), without its `\n`.
/// `Ok(None)` at end of input. A last line without `\n` is still a line.
pub fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> io::Result<Option<Line>> {
    buf.clear();
    append_line(r, buf, cap)
}

/// Like [`next_line`], but appending the line to `buf` instead of replacing
/// its contents; the cap applies to the appended bytes.
pub fn append_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<Line>> {
    let start = buf.len();
    let mut read_any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(read_any.then_some(Line::Complete));
        }
        read_any = true;
        let len = buf.len() - start;
        let room = cap.saturating_add(1).saturating_sub(len);
        match memchr(chunk) {
            Some(i) if i < room => {
                buf.extend_from_slice(chunk.get(..i).unwrap_or(chunk));
                r.consume(i + 1);
                return Ok(Some(Line::Complete));
            }
            _ => {
                let take = chunk.len().min(room);
                buf.extend_from_slice(chunk.get(..take).unwrap_or(chunk));
                r.consume(take);
                if buf.len() - start > cap {
                    return Ok(Some(Line::TooLong));
                }
            }
        }
    }
}

/// Read the next line into `batch` ([`append_line`] into its open line):
/// a [`Line::Complete`] line is closed, a [`Line::TooLong`] one's first
/// bytes stay open ([`Lines::take_open`]). On an error the open line holds
/// what was read of the line.
pub fn read_into(r: &mut impl BufRead, batch: &mut Lines, cap: usize) -> io::Result<Option<Line>> {
    let kind = append_line(r, batch.open_line(), cap)?;
    if kind == Some(Line::Complete) {
        batch.close_line();
    }
    Ok(kind)
}

/// True when `r`'s buffer holds the end of a line, so that reading the
/// next line will not read from the input (which may wait). A caller that
/// holds lines back (output, a batch) lets them go when this is false:
/// the bytes after the last complete line may be the start of a line that
/// comes much later, or never.
pub fn line_ready<R>(r: &io::BufReader<R>) -> bool {
    memchr(r.buffer()).is_some()
}

/// Copy the unread rest of the current line (through its `\n`, which is not
/// copied) from `r` to `w`. Returns the bytes copied.
pub fn copy_rest(r: &mut impl BufRead, w: &mut impl Write) -> io::Result<u64> {
    let mut copied = 0u64;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(copied);
        }
        match memchr(chunk) {
            Some(i) => {
                w.write_all(chunk.get(..i).unwrap_or(chunk))?;
                r.consume(i + 1);
                return Ok(copied + i as u64);
            }
            None => {
                let n = chunk.len();
                w.write_all(chunk)?;
                r.consume(n);
                copied += n as u64;
            }
        }
    }
}

/// [`copy_rest`] for an enriching stream: a failed write is told from a
/// failed read (both come back from the copy as one `io::Error`).
pub fn copy_rest_to(r: &mut impl BufRead, w: &mut impl Write) -> Result<u64, StreamError> {
    let mut to = Tracked { w, failed: false };
    let copied = copy_rest(r, &mut to);
    let failed = to.failed;
    copied.map_err(|e| match failed {
        true => StreamError::Write(e),
        false => StreamError::Read(e),
    })
}

/// A writer that notes whether a write failed.
struct Tracked<'a, W> {
    w: &'a mut W,
    failed: bool,
}

impl<W: Write> Write for Tracked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf).inspect_err(|e| {
            self.failed |= e.kind() != io::ErrorKind::Interrupted;
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', haystack)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize, bufsize: usize) -> Vec<(Vec<u8>, bool)> {
        let mut r = io::BufReader::with_capacity(bufsize, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(kind) = next_line(&mut r, &mut buf, cap).unwrap() {
            let mut line = buf.clone();
            let long = kind == Line::TooLong;
            if long {
                copy_rest(&mut r, &mut line).unwrap();
            }
            out.push((line, long));
        }
        out
    }

    /// A failed write is a write error, a failed read a read error.
    #[test]
    fn copy_rest_to_tells_write_from_read_errors() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::InvalidData))
            }
        }
        let mut r = io::BufReader::new(&b"rest of the line\nnext"[..]);
        assert!(matches!(
            copy_rest_to(&mut r, &mut Full),
            Err(StreamError::Write(_))
        ));
        let mut r = io::BufReader::new(Broken);
        assert!(matches!(
            copy_rest_to(&mut r, &mut Vec::new()),
            Err(StreamError::Read(_))
        ));
        let mut r = io::BufReader::new(&b"rest\nnext"[..]);
        let mut out = Vec::new();
        assert!(matches!(copy_rest_to(&mut r, &mut out), Ok(4)));
        assert_eq!(out, b"rest");
    }

    #[test]
    fn splits_and_caps() {
        for bufsize in [1, 2, 3, 7, 64] {
            let got = lines(b"ab\n\nabcdef\r\nxyz", 4, bufsize);
            assert_eq!(
                got,
                vec![
                    (b"ab".to_vec(), false),
                    (b"".to_vec(), false),
                    (b"abcdef\r".to_vec(), true),
                    (b"xyz".to_vec(), false),
                ],
                "bufsize {bufsize}"
            );
            let got = lines(b"abcd\nabcde\n", 4, bufsize);
            assert_eq!(
                got,
                vec![(b"abcd".to_vec(), false), (b"abcde".to_vec(), true)]
            );
        }
        assert!(lines(b"", 4, 8).is_empty());
    }
}
