//! Lines in batches: many lines back to back in one buffer, so that a batch
//! costs one allocation however many lines it holds, and handing it to
//! another thread moves one buffer, not one per line.

/// Complete lines (without terminators) back to back in one buffer, and
/// after them possibly the start of the next line (the *open* line), which
/// is not one of the lines until [`Lines::close_line`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Lines {
    bytes: Vec<u8>,
    /// Where each line ends in `bytes`; increasing.
    ends: Vec<usize>,
}

impl Lines {
    /// No lines.
    pub fn new() -> Lines {
        Lines::default()
    }

    /// Append `line` (without its terminator) as a line.
    pub fn push(&mut self, line: &[u8]) {
        self.bytes.extend_from_slice(line);
        self.close_line();
    }

    /// The buffer to append the open line's bytes to. Bytes written before
    /// the end of the last line are not to be changed.
    pub fn open_line(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Make the open line (maybe empty) a line.
    pub fn close_line(&mut self) {
        self.ends.push(self.bytes.len());
    }

    /// Take the open line's bytes out.
    pub fn take_open(&mut self) -> Vec<u8> {
        self.bytes.split_off(self.lines_end())
    }

    /// Drop the open line's bytes.
    pub fn drop_open(&mut self) {
        self.bytes.truncate(self.lines_end());
    }

    /// Where the lines end in the buffer (the open line starts).
    fn lines_end(&self) -> usize {
        self.ends.last().copied().unwrap_or(0).min(self.bytes.len())
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No lines.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes held: the lines' and the open line's.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Room for `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.bytes.reserve(additional);
    }

    /// No lines and no open line; the buffers are kept.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = self.bytes.get(start..end).unwrap_or(&[]);
            start = end;
            line
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_the_open_line() {
        let mut b = Lines::new();
        assert!(b.is_empty());
        assert_eq!(b.iter().count(), 0);
        b.push(b"one");
        b.push(b"");
        b.open_line().extend_from_slice(b"thr");
        b.open_line().extend_from_slice(b"ee");
        assert_eq!(b.len(), 2);
        b.close_line();
        b.open_line().extend_from_slice(b"long head");
        assert_eq!(b.bytes(), 3 + 5 + 9);
        assert_eq!(b.take_open(), b"long head");
        b.open_line().extend_from_slice(b"failed");
        b.drop_open();
        let lines: Vec<&[u8]> = b.iter().collect();
        assert_eq!(lines, [&b"one"[..], b"", b"three"]);
        assert_eq!(b.take_open(), b"");
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.bytes(), 0);
        assert_eq!(b.take_open(), b"");
    }
}
