//! Equality of short byte strings compared inline, eight bytes at a time,
//! rather than through a call to the C library's `memcmp`. The strings
//! compared per event (JSON keys and literals, names, registered domains)
//! are mostly shorter than 64 bytes, where the call costs more than the
//! comparison. And [`Inline`], bytes kept in place up to a size.

/// `a == b`.
#[inline]
pub(crate) fn eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        if n >= 4 {
            // Two overlapping words cover 4 to 7 bytes.
            return word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4);
        }
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    if n > 64 {
        return a == b;
    }
    let mut i = 0;
    while i + 8 < n {
        if word8(a, i) != word8(b, i) {
            return false;
        }
        i += 8;
    }
    // The last word, overlapping the one before when `n` is not a multiple
    // of eight.
    word8(a, n - 8) == word8(b, n - 8)
}

/// `s.starts_with(prefix)`.
#[inline]
pub(crate) fn starts_with(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len()).is_some_and(|head| eq(head, prefix))
}

/// A byte repeated in every byte of a word: `ONES * u64::from(b)`.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight bytes of `s` from `i` as a little-endian word (the byte at `i`
/// lowest, so `trailing_zeros() / 8` of a flag word is an offset), if there
/// are eight.
#[inline(always)]
pub(crate) fn word_le(s: &[u8], i: usize) -> Option<u64> {
    s.get(i..i.checked_add(8)?)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map(u64::from_le_bytes)
}

#[inline(always)]
fn word8(s: &[u8], i: usize) -> u64 {
    word_le(s, i).unwrap_or(0)
}

#[inline(always)]
fn word4(s: &[u8], i: usize) -> u32 {
    s.get(i..i + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_ne_bytes)
}

/// Bytes kept in the value itself up to `N` of them, else on the heap:
/// a name-cache entry's bytes (`enrich.rs`).
///
/// `repr(C)`, with the length first and the heap's `Vec` last: a reader
/// learns where the bytes are from the word before them, so that an entry
/// read from cold memory is read as one run from its start. (`smallvec`'s
/// `SmallVec`, used before, let the compiler put its length after its
/// inline buffer: one cache miss more on every name-cache hit, and the
/// bytes' address waited on it.)
#[repr(C)]
pub(crate) struct Inline<const N: usize> {
    /// Bytes held: in `inline` up to `N`, else all of them in `heap`.
    len: usize,
    inline: [u8; N],
    /// Its allocation is kept for reuse when the bytes fit inline again.
    heap: Vec<u8>,
}

impl<const N: usize> Inline<N> {
    pub(crate) fn new() -> Self {
        Inline {
            len: 0,
            inline: [0; N],
            heap: Vec::new(),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.spilled() {
            &self.heap
        } else {
            self.inline.get(..self.len).unwrap_or(&[])
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when the bytes are on the heap (more than `N`).
    pub(crate) fn spilled(&self) -> bool {
        self.len > N
    }

    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        if self.spilled() {
            match self.inline.get_mut(..len) {
                Some(inline) => {
                    inline.copy_from_slice(self.heap.get(..len).unwrap_or(&[]));
                    self.heap.clear();
                }
                None => self.heap.truncate(len),
            }
        }
        self.len = len;
    }

    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        let len = self.len + bytes.len();
        if let Some(room) = self.inline.get_mut(self.len..len) {
            room.copy_from_slice(bytes);
        } else {
            if !self.spilled() {
                self.heap.clear();
                self.heap
                    .extend_from_slice(self.inline.get(..self.len).unwrap_or(&[]));
            }
            self.heap.extend_from_slice(bytes);
        }
        self.len = len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length up to 80, against `==`: equal strings, and strings that
    /// differ in each single byte position or in length.
    #[test]
    fn agrees_with_slice_equality() {
        let base: Vec<u8> = (0u8..90).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for n in 0..=80 {
            let a = &base[..n];
            assert!(eq(a, a), "{n}");
            let copy = a.to_vec();
            assert!(eq(a, &copy), "{n}");
            for i in 0..n {
                let mut other = copy.clone();
                other[i] ^= 0x80;
                assert!(!eq(a, &other), "{n} at {i}");
                other[i] ^= 0x81;
                assert!(!eq(a, &other), "{n} at {i}");
            }
            assert!(!eq(a, &base[..n + 1]), "{n}");
            assert!(starts_with(&base, a), "{n}");
            assert!(!starts_with(a, &base[..n + 1]), "{n}");
        }
    }

    /// `Inline` holds what a `Vec` given the same calls holds, across the
    /// inline size, for sizes 0, 1 and 16.
    #[test]
    fn inline_agrees_with_vec() {
        fn check<const N: usize>() {
            let mut ours = Inline::<N>::new();
            let mut theirs: Vec<u8> = Vec::new();
            let mut next = 0u8;
            // (op, n): 0 extend by n bytes, 1 truncate to n, 2 clear.
            let ops = [
                (0, 3),
                (0, 20),
                (1, 2),
                (0, 9),
                (1, 30),
                (1, 10),
                (0, 0),
                (0, 6),
                (1, 16),
                (0, 1),
                (2, 0),
                (0, 17),
                (1, 17),
                (1, 0),
                (0, 16),
                (0, 1),
            ];
            for (op, n) in ops {
                match op {
                    0 => {
                        let add: Vec<u8> = (0..n).map(|i| next.wrapping_add(i)).collect();
                        next = next.wrapping_add(n);
                        ours.extend_from_slice(&add);
                        theirs.extend_from_slice(&add);
                    }
                    1 => {
                        ours.truncate(usize::from(n));
                        theirs.truncate(usize::from(n));
                    }
                    _ => {
                        ours.clear();
                        theirs.clear();
                    }
                }
                assert_eq!(ours.as_slice(), &theirs[..], "{N}: {op} {n}");
                assert_eq!(ours.len(), theirs.len(), "{N}");
                assert_eq!(ours.spilled(), theirs.len() > N, "{N}");
            }
        }
        check::<0>();
        check::<1>();
        check::<16>();
    }
}
