//! Lazy field extraction from one JSON event, and the byte-level splice that
//! adds members to it.
//!
//! [`Scanner::scan`] validates the whole event in one pass with a skipping
//! tokenizer and captures only the members named by a [`FieldSet`];
//! everything else is stepped over (strings eight bytes at a time) and never
//! decoded or materialised. Captured strings borrow from the line unless
//! they contained escapes. What is validated is listed on [`Scanner::scan`]:
//! the same grammar serde_json accepts, so a line domreg enriches is a line
//! any JSON reader accepts, and the output (the line's own bytes plus
//! members domreg writes) is valid JSON too.
//!
//! Paths are dotted (`dns.question.name`); a path also matches a literal key
//! that contains dots (`id.orig_h`), at any level. The segment `[]` steps into
//! the first element of an array (`dns.queries.[].rrname`).

use serde::de;
use serde_json::value::RawValue;

/// At most this many paths in one [`FieldSet`].
pub const MAX_PATHS: usize = 64;
/// Longest accepted path.
pub const MAX_PATH_LEN: usize = 1024;

/// Members domreg owns at the top level of an event.
pub const DOMREG_KEY: &str = "domreg";
/// The ECS member domreg merges into.
pub const THREAT_KEY: &str = "threat";

/// A set of paths to capture.
#[derive(Debug, Clone, Default)]
pub struct FieldSet {
    paths: Vec<Box<str>>,
}

/// Why a path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Empty, over-long, or with an empty segment.
    #[error("invalid field path {0:?}: empty segment or longer than 1024 bytes")]
    Invalid(String),
    /// More than [`MAX_PATHS`] paths.
    #[error("too many field paths (at most 64)")]
    TooMany,
}

impl FieldSet {
    /// An empty set.
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// Add a path; returns its index in captures.
    pub fn add(&mut self, path: &str) -> Result<usize, PathError> {
        if path.is_empty() || path.len() > MAX_PATH_LEN || path.split('.').any(str::is_empty) {
            return Err(PathError::Invalid(path.to_string()));
        }
        if let Some(i) = self.paths.iter().position(|p| &**p == path) {
            return Ok(i);
        }
        if self.paths.len() >= MAX_PATHS {
            return Err(PathError::TooMany);
        }
        self.paths.push(path.into());
        Ok(self.paths.len() - 1)
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when there are no paths.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The path at `index`.
    pub fn path(&self, index: usize) -> Option<&str> {
        self.paths.get(index).map(|p| &**p)
    }
}

/// A value captured at a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Captured {
    /// A string without escapes: a byte range of the line.
    Span(usize, usize),
    /// A string that had escapes, decoded.
    Owned(String),
    /// A number.
    Number(f64),
    /// Anything else (object, array, bool, null): only its presence.
    Other,
}

/// What one scan found. Reused from line to line to avoid allocation.
#[derive(Debug, Default)]
pub struct Scan {
    captures: Vec<Option<Captured>>,
    /// The indices of the slots of `captures` that hold a value.
    set: Vec<u8>,
    /// The top-level value is an object.
    pub is_object: bool,
    /// Number of top-level members.
    pub members: usize,
    /// The event already has a top-level `domreg` member.
    pub has_domreg: bool,
    /// The event already has a top-level `threat` member.
    pub has_threat: bool,
    /// Open containers while skipping a value (kept to avoid allocation).
    stack: Vec<u8>,
}

impl Scan {
    /// What was captured at path `index`, if anything.
    pub fn get(&self, index: usize) -> Option<&Captured> {
        self.captures.get(index).and_then(Option::as_ref)
    }

    /// The string captured at `index`, resolved against `line`.
    pub fn str_at<'a>(&'a self, index: usize, line: &'a str) -> Option<&'a str> {
        match self.get(index)? {
            Captured::Span(start, end) => line.get(*start..*end),
            Captured::Owned(s) => Some(s),
            _ => None,
        }
    }

    fn reset(&mut self, paths: usize) {
        // Only the slots the last scan set are emptied (a line sets a few
        // of the paths), not every slot.
        for i in self.set.drain(..) {
            if let Some(slot) = self.captures.get_mut(usize::from(i)) {
                *slot = None;
            }
        }
        if self.captures.len() != paths {
            self.captures.clear();
            self.captures.resize(paths, None);
        }
        self.is_object = false;
        self.members = 0;
        self.has_domreg = false;
        self.has_threat = false;
    }

    /// Record a value; a later duplicate key wins, as in most JSON readers
    /// (serde_json, jq, JavaScript), so domreg sees what downstream sees.
    fn set(&mut self, index: u8, value: Captured) {
        if let Some(slot) = self.captures.get_mut(usize::from(index)) {
            if slot.is_none() {
                self.set.push(index);
            }
            *slot = Some(value);
        }
    }
}

/// Scans lines against one [`FieldSet`].
#[derive(Debug, Clone)]
pub struct Scanner {
    fields: FieldSet,
    trie: Trie,
}

impl Scanner {
    /// A scanner for `fields`.
    pub fn new(fields: FieldSet) -> Self {
        let trie = Trie::build(&fields);
        Scanner { fields, trie }
    }

    /// The paths scanned for.
    pub fn fields(&self) -> &FieldSet {
        &self.fields
    }

    /// Validate `line` as one JSON value (surrounding whitespace allowed) and
    /// capture the wanted members into `scan`.
    ///
    /// The whole line is checked against the JSON grammar (RFC 8259) in one
    /// pass, exactly as strictly as `serde_json` reads it: structure,
    /// commas and colons, string escapes (`\uXXXX` with four hex digits), no
    /// raw control characters in strings, number syntax (no leading zeros,
    /// digits after `.` and `e`), the literals, and nothing but whitespace
    /// after the value. Values nobody asked for are only stepped over, never
    /// decoded. Keys of the objects a wanted path goes through, and wanted
    /// strings with escapes, are decoded (a lone UTF-16 surrogate there is an
    /// error, as in serde_json); a wanted number must fit an `f64`.
    pub fn scan(&self, line: &str, scan: &mut Scan) -> Result<(), serde_json::Error> {
        scan.reset(self.fields.len());
        let mut p = Parser {
            line,
            b: line.as_bytes(),
            pos: 0,
            scan,
            trie: &self.trie,
        };
        p.ws();
        if p.peek() == Some(b'{') {
            p.scan.is_object = true;
            p.object(ROOT, true)?;
        } else {
            p.skip_value()?;
        }
        p.ws();
        if p.pos != p.b.len() {
            return Err(p.err("trailing characters"));
        }
        Ok(())
    }
}

/// The recursive-descent reader behind [`Scanner::scan`]: objects on a
/// wanted path are walked key by key; every other value is skipped by
/// [`Parser::skip_value`] without recursion (any nesting depth) and without
/// decoding.
struct Parser<'a, 's> {
    line: &'a str,
    b: &'a [u8],
    pos: usize,
    scan: &'s mut Scan,
    trie: &'a Trie,
}

impl<'a> Parser<'a, '_> {
    #[cold]
    #[inline(never)]
    fn err(&self, what: &str) -> serde_json::Error {
        de::Error::custom(format_args!("{what} at byte {}", self.pos))
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        // Compact JSON (most events) has none: one test of the next byte.
        if self.b.get(self.pos).is_some_and(|&c| c > b' ') {
            return;
        }
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    /// [`Parser::ws`], then [`Parser::peek`]: in compact JSON, one look at
    /// the next byte.
    #[inline(always)]
    fn peek_past_ws(&mut self) -> Option<u8> {
        match self.b.get(self.pos) {
            Some(&c) if c > b' ' => Some(c),
            _ => {
                self.ws();
                self.peek()
            }
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8, what: &str) -> Result<(), serde_json::Error> {
        if self.peek_past_ws() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// A string starting at the `"` under the cursor: the byte range of its
    /// contents and whether it holds escapes. The cursor ends after it.
    #[inline(always)]
    fn string(&mut self) -> Result<(usize, usize, bool), serde_json::Error> {
        let start = self.pos + 1;
        let end = find_special(self.b, start);
        if self.b.get(end) == Some(&b'"') {
            // Most strings: no escape, one look.
            self.pos = end + 1;
            return Ok((start, end, false));
        }
        self.pos = end;
        self.string_rest(start)
    }

    /// The rest of a string whose contents start at `start`, from the first
    /// `\` or control character (or the end of the line) under the cursor.
    #[inline(never)]
    fn string_rest(&mut self, start: usize) -> Result<(usize, usize, bool), serde_json::Error> {
        let mut escaped = false;
        loop {
            self.pos = find_special(self.b, self.pos);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((start, self.pos - 1, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1;
                        }
                        Some(b'u') => {
                            let hex = self.b.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.err("invalid \\u escape"));
                            }
                            self.pos += 5;
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
                None => return Err(self.err("end of line in string")),
            }
        }
    }

    /// Decode the string whose quotes are at `open` and `close`.
    fn decode(&self, open: usize, close: usize) -> Result<String, serde_json::Error> {
        serde_json::from_str(self.line.get(open..=close).unwrap_or(""))
    }

    /// Step over a run of ASCII digits (eight at a time); its length.
    #[inline]
    fn digits(&mut self) -> usize {
        use crate::bytes::{HIGH, ONES};
        let start = self.pos;
        while let Some(x) = crate::bytes::word_le(self.b, self.pos) {
            // A byte is flagged when it is below `0` or above `9` (or not
            // ASCII); the lowest flag always marks a real non-digit.
            let below = x.wrapping_sub(ONES * u64::from(b'0')) & !x;
            let above = x.wrapping_add(ONES * u64::from(0x7f - b'9')) | x;
            let stops = (below | above) & HIGH;
            if stops != 0 {
                self.pos += (stops.trailing_zeros() / 8) as usize;
                return self.pos - start;
            }
            self.pos += 8;
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    #[inline]
    /// A number at the cursor (RFC 8259 syntax); the cursor ends after it.
    fn number(&mut self) -> Result<(), serde_json::Error> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(self.err("leading zero in number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("no digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("no digit in exponent"));
            }
        }
        Ok(())
    }

    #[inline]
    fn literal(&mut self) -> Result<(), serde_json::Error> {
        let rest = self.b.get(self.pos..).unwrap_or(&[]);
        let word: &[u8] = match rest.first() {
            Some(b't') => b"true",
            Some(b'f') => b"false",
            _ => b"null",
        };
        if crate::bytes::starts_with(rest, word) {
            self.pos += word.len();
            return Ok(());
        }
        Err(self.err("expected a value"))
    }

    /// A key, then the colon after it. The key borrows from the line unless
    /// it had escapes.
    #[inline(always)]
    fn key(&mut self) -> Result<std::borrow::Cow<'a, [u8]>, serde_json::Error> {
        if self.peek_past_ws() != Some(b'"') {
            return Err(self.err("expected a key"));
        }
        let (start, end, escaped) = self.string()?;
        self.expect(b':', "expected ':'")?;
        if escaped {
            Ok(std::borrow::Cow::Owned(
                self.decode(start - 1, end)?.into_bytes(),
            ))
        } else {
            let b: &'a [u8] = self.b;
            Ok(std::borrow::Cow::Borrowed(b.get(start..end).unwrap_or(&[])))
        }
    }

    /// Step over one value (any nesting, validated, nothing decoded).
    #[inline(always)]
    fn skip_value(&mut self) -> Result<(), serde_json::Error> {
        // Scalars (most values) directly; containers with the stack.
        match self.peek_past_ws() {
            Some(b'"') => return self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => return self.number(),
            Some(b't' | b'f' | b'n') => return self.literal(),
            _ => {}
        }
        let mut stack = std::mem::take(&mut self.scan.stack);
        stack.clear();
        let result = self.skip_with(&mut stack);
        self.scan.stack = stack;
        result
    }

    #[inline(never)]
    fn skip_with(&mut self, stack: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        'value: loop {
            match self.peek_past_ws() {
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b'{') => {
                    self.pos += 1;
                    if self.peek_past_ws() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        stack.push(b'{');
                        self.skip_key()?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    if self.peek_past_ws() == Some(b']') {
                        self.pos += 1;
                    } else {
                        stack.push(b'[');
                        continue 'value;
                    }
                }
                _ => self.literal()?,
            }
            // A value is complete: close what it completes.
            loop {
                let Some(&open) = stack.last() else {
                    return Ok(());
                };
                match (self.peek_past_ws(), open) {
                    (Some(b','), _) => {
                        self.pos += 1;
                        if open == b'{' {
                            self.skip_key()?;
                        }
                        continue 'value;
                    }
                    (Some(b'}'), b'{') | (Some(b']'), b'[') => {
                        self.pos += 1;
                        stack.pop();
                    }
                    _ => return Err(self.err("expected ',' or the end of the object or array")),
                }
            }
        }
    }

    #[inline]
    /// A key that nobody looks at, and its colon.
    fn skip_key(&mut self) -> Result<(), serde_json::Error> {
        if self.peek_past_ws() != Some(b'"') {
            return Err(self.err("expected a key"));
        }
        self.string()?;
        self.expect(b':', "expected ':'")
    }

    /// The members of the object under the cursor, at trie node `node`.
    fn object(&mut self, node: usize, top: bool) -> Result<(), serde_json::Error> {
        self.pos += 1;
        if self.peek_past_ws() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        // The first bytes of the node's child segments, read once for all
        // the object's keys: most keys are rejected by their first byte.
        // (The node itself is looked up again for a key that passes:
        // holding it across the loop compiled to 1.5% more instructions on
        // Zeek lines.)
        let first = self.trie.node(node).map_or([0; 4], |n| n.first);
        loop {
            let key = self.key()?;
            let mut next = match key.first() {
                Some(&b) if starts_a_segment(&first, b) => self
                    .trie
                    .node(node)
                    .and_then(|n| self.trie.step_group(n, b, &key)),
                _ => None,
            };
            if top {
                self.scan.members += 1;
                if *key == *DOMREG_KEY.as_bytes() {
                    self.scan.has_domreg = true;
                    next = None;
                } else if *key == *THREAT_KEY.as_bytes() {
                    self.scan.has_threat = true;
                }
            }
            match next {
                None => self.skip_value()?,
                Some(child) => self.value_at(child)?,
            }
            match self.peek_past_ws() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    /// The value under the cursor, reached by a path (at trie node `node`).
    fn value_at(&mut self, node: usize) -> Result<(), serde_json::Error> {
        match self.peek_past_ws() {
            Some(b'"') => {
                let (start, end, escaped) = self.string()?;
                let value = if escaped {
                    Captured::Owned(self.decode(start - 1, end)?)
                } else {
                    Captured::Span(start, end)
                };
                self.capture(node, value);
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                self.number()?;
                // A number beyond f64's range (`1e400`) is valid JSON, and
                // so is the line: it is captured as no usable value.
                let value = self
                    .line
                    .get(start..self.pos)
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|n| n.is_finite())
                    .map_or(Captured::Other, Captured::Number);
                self.capture(node, value);
            }
            Some(b'{') => {
                self.capture(node, Captured::Other);
                self.object(node, false)?;
            }
            Some(b'[') => {
                self.capture(node, Captured::Other);
                match self.trie.node(node).and_then(|n| n.array) {
                    None => self.skip_value()?,
                    Some(first) => {
                        // Paths through `[]` continue into the first element.
                        self.pos += 1;
                        if self.peek_past_ws() == Some(b']') {
                            self.pos += 1;
                            return Ok(());
                        }
                        self.value_at(first)?;
                        loop {
                            match self.peek_past_ws() {
                                Some(b',') => {
                                    self.pos += 1;
                                    self.skip_value()?;
                                }
                                Some(b']') => {
                                    self.pos += 1;
                                    return Ok(());
                                }
                                _ => return Err(self.err("expected ',' or ']'")),
                            }
                        }
                    }
                }
            }
            _ => {
                self.literal()?;
                self.capture(node, Captured::Other);
            }
        }
        Ok(())
    }

    fn capture(&mut self, node: usize, value: Captured) {
        if let Some(n) = self.trie.node(node) {
            for &index in &n.leaves {
                self.scan.set(index, value.clone());
            }
        }
    }
}

/// The root node of a [`Trie`].
const ROOT: usize = 0;

/// The paths of a [`FieldSet`] as a tree of segments, so that each key of
/// an event costs one look-up among the segments wanted at its level.
#[derive(Debug, Clone, Default)]
struct Trie {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Child segments and their nodes, grouped by first byte (in the order
    /// added within a group).
    children: Vec<(Box<str>, usize)>,
    /// The first bytes of the child segments, as a bit set: most keys of an
    /// event are rejected by one look-up here.
    first: [u64; 4],
    /// For each first byte, the range of `children` that starts with it
    /// (filled by [`Trie::build`] once all paths are in).
    by_first: Vec<(u8, u8)>,
    /// The node for `[]` (the first array element), if any path has one here.
    array: Option<usize>,
    /// Indices of the paths that end here.
    leaves: Vec<u8>,
}

impl Trie {
    fn build(fields: &FieldSet) -> Trie {
        let mut trie = Trie {
            nodes: vec![Node::default()],
        };
        for (index, path) in fields.paths.iter().enumerate() {
            let mut node = ROOT;
            for segment in path.split('.') {
                node = trie.child_or_insert(node, segment);
            }
            if let Some(n) = trie.nodes.get_mut(node) {
                // `index < MAX_PATHS <= 255`, so the cast cannot truncate.
                n.leaves.push(index as u8);
            }
        }
        for n in &mut trie.nodes {
            // Stable: children with the same first byte keep their order.
            n.children
                .sort_by_key(|(s, _)| s.as_bytes().first().copied().unwrap_or(0));
            n.by_first = vec![(0, 0); 256];
            for (i, (s, _)) in n.children.iter().enumerate() {
                let b = usize::from(s.as_bytes().first().copied().unwrap_or(0));
                // At most MAX_PATHS (64) children: the casts cannot truncate.
                if let Some(range) = n.by_first.get_mut(b) {
                    if range.1 == range.0 {
                        *range = (i as u8, i as u8 + 1);
                    } else {
                        range.1 = i as u8 + 1;
                    }
                }
            }
        }
        trie
    }

    fn child_or_insert(&mut self, node: usize, segment: &str) -> usize {
        let next = self.nodes.len();
        let Some(n) = self.nodes.get_mut(node) else {
            return ROOT;
        };
        if segment == "[]" {
            if let Some(a) = n.array {
                return a;
            }
            n.array = Some(next);
        } else {
            if let Some((_, c)) = n.children.iter().find(|(s, _)| &**s == segment) {
                return *c;
            }
            if let Some(&b) = segment.as_bytes().first()
                && let Some(word) = n.first.get_mut(usize::from(b >> 6))
            {
                *word |= 1 << (b & 63);
            }
            n.children.push((segment.into(), next));
        }
        self.nodes.push(Node::default());
        next
    }

    fn node(&self, node: usize) -> Option<&Node> {
        self.nodes.get(node)
    }

    /// The node reached from `node` by `key`: a segment, or a literal key
    /// with dots standing for several segments (`id.orig_h`).
    #[inline(always)]
    fn step(&self, node: usize, key: &[u8]) -> Option<usize> {
        // Most keys of an event are rejected here, by their first byte.
        let n = self.node(node)?;
        let b = *key.first()?;
        if !starts_a_segment(&n.first, b) {
            return None;
        }
        self.step_group(n, b, key)
    }

    /// [`Trie::step`] among the children of `n` whose segment starts with `b`.
    #[inline(never)]
    fn step_group(&self, n: &Node, b: u8, bytes: &[u8]) -> Option<usize> {
        let &(from, to) = n.by_first.get(usize::from(b))?;
        let group = n
            .children
            .get(usize::from(from)..usize::from(to))
            .unwrap_or(&[]);
        for (segment, child) in group {
            let s = segment.as_bytes();
            if s.len() == bytes.len() {
                if crate::bytes::eq(s, bytes) {
                    return Some(*child);
                }
            } else if bytes.get(s.len()) == Some(&b'.') && crate::bytes::starts_with(bytes, s) {
                // A literal key with dots: `id.orig_h` = `id` then `orig_h`.
                if let Some(rest) = bytes.get(s.len() + 1..)
                    && let Some(found) = self.step(*child, rest)
                {
                    return Some(found);
                }
            }
        }
        None
    }
}

/// `b` is in `first`, a node's set of its child segments' first bytes
/// ([`Node::first`]).
#[inline(always)]
fn starts_a_segment(first: &[u64; 4], b: u8) -> bool {
    first
        .get(usize::from(b >> 6))
        .is_some_and(|w| w & (1 << (b & 63)) != 0)
}

#[inline]
/// The offset of the first `"`, `\` or control character (below 0x20) at or
/// after `from`, or the length when there is none. Eight bytes at a time.
pub(crate) fn find_special(b: &[u8], mut from: usize) -> usize {
    use crate::bytes::{HIGH, ONES};
    while let Some(x) = crate::bytes::word_le(b, from) {
        let quote = x ^ (ONES * u64::from(b'"'));
        let slash = x ^ (ONES * u64::from(b'\\'));
        // A byte is flagged when it is zero (after the XOR) or below 0x20;
        // the lowest flag always marks a real match.
        let hits = (quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (x.wrapping_sub(ONES * 0x20) & !x);
        let hits = hits & HIGH;
        if hits != 0 {
            return from + (hits.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while let Some(&c) = b.get(from) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return from;
        }
        from += 1;
    }
    from
}

/// One top-level member of an object: byte ranges in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The decoded key.
    pub key: String,
    /// From the key's opening quote to the end of the value.
    pub start: usize,
    /// End of the value (exclusive).
    pub end: usize,
    /// Where the value starts.
    pub value_start: usize,
}

/// The top-level members of a JSON object, with their byte ranges. Used on
/// the rare path where an event already carries `domreg` or `threat`.
///
/// `line` must hold one JSON object (checked by [`Scanner::scan`] first);
/// anything else returns `None`.
pub fn members(line: &str) -> Option<Vec<Member>> {
    let bytes = line.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return None;
    }
    pos = skip_ws(bytes, pos + 1);
    let mut out = Vec::new();
    if bytes.get(pos) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let start = pos;
        let (key_raw, key_end) = raw_value_at(line, pos)?;
        let key: String = serde_json::from_str(key_raw).ok()?;
        pos = skip_ws(bytes, key_end);
        if bytes.get(pos) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(bytes, pos + 1);
        let (_, end) = raw_value_at(line, value_start)?;
        out.push(Member {
            key,
            start,
            end,
            value_start,
        });
        pos = skip_ws(bytes, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

/// Parse one JSON value starting at `pos`; return its text and end offset.
fn raw_value_at(line: &str, pos: usize) -> Option<(&str, usize)> {
    let rest = line.get(pos..)?;
    let mut de = serde_json::Deserializer::from_str(rest);
    let raw: &RawValue = de::Deserialize::deserialize(&mut de).ok()?;
    let text = raw.get();
    let start = (text.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    Some((text, start + text.len()))
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// Position of the closing `}` of a top-level object (the last
/// non-whitespace byte).
pub fn closing_brace(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    (bytes.get(end) == Some(&b'}')).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(paths: &[&str], line: &str) -> (Scan, Vec<Option<String>>) {
        let mut fields = FieldSet::new();
        for p in paths {
            fields.add(p).unwrap();
        }
        let scanner = Scanner::new(fields);
        let mut scan = Scan::default();
        scanner.scan(line, &mut scan).unwrap();
        let values = (0..paths.len())
            .map(|i| match scan.get(i) {
                Some(Captured::Number(n)) => Some(format!("#{n}")),
                Some(Captured::Other) => Some("<other>".to_string()),
                Some(_) => scan.str_at(i, line).map(str::to_string),
                None => None,
            })
            .collect();
        (scan, values)
    }

    #[test]
    fn nested_literal_dotted_and_array_paths() {
        let line = r#"{"id.orig_h":"10.0.0.1","dns":{"question":{"name":"www.example.com"},"queries":[{"rrname":"a.example.org"},{"rrname":"b"}]},"ts":1547687130.17,"x":[1,{"query":"no"}],"query":"q.example.net"}"#;
        let (scan, v) = scan(
            &[
                "id.orig_h",
                "dns.question.name",
                "dns.queries.[].rrname",
                "ts",
                "query",
                "missing",
                "dns",
            ],
            line,
        );
        assert_eq!(v[0].as_deref(), Some("10.0.0.1"));
        assert_eq!(v[1].as_deref(), Some("www.example.com"));
        assert_eq!(v[2].as_deref(), Some("a.example.org"));
        assert_eq!(v[3].as_deref(), Some("#1547687130.17"));
        assert_eq!(v[4].as_deref(), Some("q.example.net"));
        assert_eq!(v[5], None);
        assert_eq!(v[6].as_deref(), Some("<other>"));
        assert!(scan.is_object);
        assert_eq!(scan.members, 5);
        assert!(!scan.has_domreg);
    }

    #[test]
    fn dotted_key_inside_object() {
        let (_, v) = scan(&["a.b.c"], r#"{"a":{"b.c":"x"}}"#);
        assert_eq!(v[0].as_deref(), Some("x"));
        let (_, v) = scan(&["a.b.c"], r#"{"a.b":{"c":"y"}}"#);
        assert_eq!(v[0].as_deref(), Some("y"));
    }

    #[test]
    fn escaped_strings_and_keys() {
        let (_, v) = scan(&["query"], r#"{"qu\u0065ry":"a\u002eexample.com"}"#);
        assert_eq!(v[0].as_deref(), Some("a.example.com"));
    }

    #[test]
    fn last_duplicate_wins() {
        let (_, v) = scan(&["query"], r#"{"query":"first.com","query":"second.com"}"#);
        assert_eq!(v[0].as_deref(), Some("second.com"));
    }

    #[test]
    fn invalid_json_is_an_error() {
        let scanner = Scanner::new(FieldSet::new());
        let mut s = Scan::default();
        for bad in [
            "{",
            r#"{"a":}"#,
            r#"{"a":1} x"#,
            "",
            "[1,]",
            "{\"a\":\"tab\there\"}",
        ] {
            assert!(scanner.scan(bad, &mut s).is_err(), "{bad}");
        }
        scanner.scan(" [1,2] ", &mut s).unwrap();
        assert!(!s.is_object);
        scanner.scan("\"str\"", &mut s).unwrap();
        assert!(!s.is_object);
    }

    /// Numbers with digit runs of every length up to 24, followed by each
    /// ASCII character and a few others: valid exactly when serde_json
    /// reads the line.
    #[test]
    fn digit_runs_agree_with_serde_json() {
        let scanner = Scanner::new(FieldSet::new());
        let mut s = Scan::default();
        let mut follows: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        follows.extend(["é", "\u{661}", "", "0x"].map(String::from));
        for n in 0..=24 {
            let run = "1234567890".repeat(3)[..n].to_string();
            for number in [
                run.clone(),
                format!("-{run}"),
                format!("0.{run}"),
                format!("9e{run}"),
                format!("9.5E-{run}"),
            ] {
                for follow in &follows {
                    let line = format!("[{number}{follow}]");
                    let want = serde_json::from_str::<de::IgnoredAny>(&line).is_ok();
                    assert_eq!(scanner.scan(&line, &mut s).is_ok(), want, "{line:?}");
                }
            }
        }
    }

    #[test]
    fn detects_domreg_and_threat() {
        let (s, _) = scan(
            &[],
            r#"{"a":1,"domreg":{"x":1},"threat":{"framework":"x"}}"#,
        );
        assert!(s.has_domreg && s.has_threat);
        assert_eq!(s.members, 3);
    }

    #[test]
    fn member_spans() {
        let line = r#" { "a" : 1 , "dom\u0072eg":{"x":[1,"}"]}, "c":"d" } "#;
        let m = members(line).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(&line[m[0].start..m[0].end], r#""a" : 1"#);
        assert_eq!(m[1].key, "domreg");
        assert_eq!(&line[m[1].value_start..m[1].end], r#"{"x":[1,"}"]}"#);
        assert_eq!(&line[m[2].start..m[2].end], r#""c":"d""#);
        assert_eq!(members("{}").unwrap(), vec![]);
        assert_eq!(members("[1]"), None);
    }

    #[test]
    fn closing_brace_found() {
        assert_eq!(closing_brace("{\"a\":1}\r"), Some(6));
        assert_eq!(closing_brace("[1]"), None);
    }

    /// The scanner accepts exactly the lines serde_json accepts, and
    /// captures what serde_json's own reading holds at each path: real
    /// sample lines, hand-picked edge cases, and thousands of mutations of
    /// them (a fixed-seed generator, so a failure reproduces).
    #[test]
    fn agrees_with_serde_json() {
        let mut lines: Vec<String> = Vec::new();
        for file in [
            "zeek-dns.ndjson",
            "ecs-dns.ndjson",
            "suricata-eve-http-tls.ndjson",
            "sysmon-eid22.ndjson",
        ] {
            let path = format!(
                "{}/tests/fixtures/samples/{file}",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(path).unwrap();
            lines.extend(text.lines().take(20).map(str::to_string));
        }
        for edge in [
            r#"{"query":"a\"b","ts":-0,"x":[[],{},[{"a":[1e5,-2.5E-3,0.0]}]]}"#,
            r#"{"query":"\u0061.example.com","ts":1e400}"#,
            r#"{"query":"x","ts":01}"#,
            r#"{"query":"x","n":1.}"#,
            r#"{"query":"x","n":1e}"#,
            r#"{"query":"x","n":-}"#,
            r#"{"query":"x","s":"\x"}"#,
            r#"{"query":"x","s":"\u12"}"#,
            r#"{"query":"x","s":"\ud800"}"#,
            r#"{"query":"x",}"#,
            r#"{"query":"x" "y":1}"#,
            r#"{"query":"x","a":[1 2]}"#,
            r#"{"query":"x","a":tru}"#,
            r#"{"query":"x","a":nulll}"#,
            r#"{"query":"x"}}"#,
            "{\"query\":\"x\u{7f}\u{e9}\"}",
            "\t{ \"query\" :\r\n\"x\" }\n ",
            r#"{"query":"first.com","query":"second.com"}"#,
            r#"{"dns":{"question":{"name":1.5}}}"#,
            "[1,2,{\"a\":[]}]",
            "\"just a string\"",
            "nul",
            "",
            "{",
            "{}",
        ] {
            lines.push(edge.to_string());
        }
        let paths = [
            "query",
            "dns.question.name",
            "ts",
            "@timestamp",
            "id.orig_h",
        ];
        let mut fields = FieldSet::new();
        for p in paths {
            fields.add(p).unwrap();
        }
        let scanner = Scanner::new(fields);
        let mut s = Scan::default();
        let alphabet: Vec<char> = "{}[]\",:\\01-.eEtfnu \t\r\u{1}xé".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) as usize) % n.max(1)
        };
        let mut cases = lines.clone();
        for _ in 0..6000 {
            let base: Vec<char> = lines[next(lines.len())].chars().collect();
            let mut chars = base.clone();
            for _ in 0..1 + next(3) {
                let at = next(chars.len() + 1);
                match next(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => chars[at] = alphabet[next(alphabet.len())],
                    _ => chars.insert(at, alphabet[next(alphabet.len())]),
                }
            }
            cases.push(chars.into_iter().collect());
        }
        let mut valid = 0;
        for line in &cases {
            // Between serde_json's two readings: everything it skips
            // (IgnoredAny) must be as valid, and a line it can read in full
            // (Value) must pass. They differ only where a wanted value does
            // not decode: a lone surrogate in a wanted string. (A wanted
            // `"ts":1e400` passes here and fails Value.)
            let ours = scanner.scan(line, &mut s);
            let skipped = serde_json::from_str::<serde::de::IgnoredAny>(line);
            let full = serde_json::from_str::<serde_json::Value>(line);
            assert!(ours.is_err() || skipped.is_ok(), "{line:?}: {skipped:?}");
            assert!(ours.is_ok() || full.is_err(), "{line:?}: {ours:?}");
            let Ok(value) = full else {
                continue;
            };
            valid += 1;
            assert_eq!(s.is_object, value.is_object(), "{line:?}");
            let Some(object) = value.as_object() else {
                continue;
            };
            // Duplicate keys count each time.
            assert!(s.members >= object.len(), "{line:?}");
            assert_eq!(s.has_domreg, object.contains_key(DOMREG_KEY));
            assert_eq!(s.has_threat, object.contains_key(THREAT_KEY));
            for (i, path) in paths.iter().enumerate() {
                let mut v = Some(&value);
                let literal = object.get(*path);
                for seg in path.split('.') {
                    v = v.and_then(|v| v.get(seg));
                }
                let want = literal.or(v);
                let got = s.get(i);
                match (want, got) {
                    (None, None) => {}
                    (Some(serde_json::Value::String(w)), Some(_)) => {
                        assert_eq!(s.str_at(i, line), Some(w.as_str()), "{line:?} {path}")
                    }
                    (Some(serde_json::Value::Number(w)), Some(Captured::Number(n))) => {
                        assert_eq!(w.as_f64(), Some(*n), "{line:?} {path}")
                    }
                    (Some(_), Some(Captured::Other)) => {}
                    (w, g) => panic!("{line:?} {path}: want {w:?}, got {g:?}"),
                }
            }
        }
        assert!(valid > 1000, "{valid} valid cases");
    }

    #[test]
    fn path_validation() {
        let mut f = FieldSet::new();
        assert!(f.add("").is_err());
        assert!(f.add("a..b").is_err());
        assert_eq!(f.add("a.b").unwrap(), 0);
        assert_eq!(f.add("a.b").unwrap(), 0);
        for i in 1..MAX_PATHS {
            f.add(&format!("p{i}")).unwrap();
        }
        assert_eq!(f.add("one.more"), Err(PathError::TooMany));
    }
}
