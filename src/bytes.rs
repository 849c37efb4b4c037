//! Equality of short byte strings compared inline, eight bytes at a time,
//! rather than through a call to the C library's `memcmp`. The strings
//! compared per event (JSON keys and literals, names, registered domains)
//! are mostly shorter than 64 bytes, where the call costs more than the
//! comparison.

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
}
