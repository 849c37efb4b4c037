//! Lazy field extraction from one JSON event, and the byte-level splice that
//! adds members to it.
//!
//! [`Scanner::scan`] validates the whole event in one pass with `serde_json`
//! and captures only the members named by a [`FieldSet`]; everything else is
//! skipped with [`IgnoredAny`] and never materialised. Captured strings borrow
//! from the line unless they contained escapes.
//!
//! Paths are dotted (`dns.question.name`); a path also matches a literal key
//! that contains dots (`id.orig_h`), at any level. The segment `[]` steps into
//! the first element of an array (`dns.queries.[].rrname`).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
    /// The top-level value is an object.
    pub is_object: bool,
    /// Number of top-level members.
    pub members: usize,
    /// The event already has a top-level `domreg` member.
    pub has_domreg: bool,
    /// The event already has a top-level `threat` member.
    pub has_threat: bool,
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
        self.captures.clear();
        self.captures.resize(paths, None);
        self.is_object = false;
        self.members = 0;
        self.has_domreg = false;
        self.has_threat = false;
    }

    /// Record a value; a later duplicate key wins, as in most JSON readers
    /// (serde_json, jq, JavaScript), so domreg sees what downstream sees.
    fn set(&mut self, index: u8, value: Captured) {
        if let Some(slot) = self.captures.get_mut(usize::from(index)) {
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
    pub fn scan(&self, line: &str, scan: &mut Scan) -> Result<(), serde_json::Error> {
        scan.reset(self.fields.len());
        let mut de = serde_json::Deserializer::from_str(line);
        let level = Level {
            scan,
            trie: &self.trie,
            node: ROOT,
            base: line.as_ptr() as usize,
            len: line.len(),
            top: true,
        };
        de.deserialize_any(level)?;
        de.end()
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
    /// Child segments and their nodes.
    children: Vec<(Box<str>, usize)>,
    /// The first bytes of the child segments, as a bit set: most keys of an
    /// event are rejected by one look-up here.
    first: [u64; 4],
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
    fn step(&self, node: usize, key: &str) -> Option<usize> {
        let n = self.node(node)?;
        let b = *key.as_bytes().first()?;
        let word = n.first.get(usize::from(b >> 6))?;
        if word & (1 << (b & 63)) == 0 {
            return None;
        }
        let bytes = key.as_bytes();
        for (segment, child) in &n.children {
            let s = segment.as_bytes();
            if s.len() == bytes.len() {
                if s == bytes {
                    return Some(*child);
                }
            } else if bytes.get(s.len()) == Some(&b'.') && bytes.starts_with(s) {
                // A literal key with dots: `id.orig_h` = `id` then `orig_h`.
                if let Some(rest) = key.get(s.len() + 1..)
                    && let Some(found) = self.step(*child, rest)
                {
                    return Some(found);
                }
            }
        }
        None
    }
}

/// Visits an object level (or, at the top, whatever the value is).
struct Level<'s, 't> {
    scan: &'s mut Scan,
    trie: &'t Trie,
    node: usize,
    base: usize,
    len: usize,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Level<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.top {
            self.scan.is_object = true;
        }
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.as_str();
            if self.top {
                self.scan.members += 1;
                if key == DOMREG_KEY {
                    self.scan.has_domreg = true;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                if key == THREAT_KEY {
                    self.scan.has_threat = true;
                }
            }
            match self.trie.step(self.node, key) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(node) => map.next_value_seed(Value {
                    scan: &mut *self.scan,
                    trie: self.trie,
                    node,
                    base: self.base,
                    len: self.len,
                })?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Visits the value of a member that some path reaches or passes through.
struct Value<'s, 't> {
    scan: &'s mut Scan,
    trie: &'t Trie,
    node: usize,
    base: usize,
    len: usize,
}

impl Value<'_, '_> {
    fn capture(&mut self, value: Captured) {
        if let Some(n) = self.trie.node(self.node) {
            for &index in &n.leaves {
                self.scan.set(index, value.clone());
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Value<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(mut self, s: &'de str) -> Result<(), E> {
        let start = (s.as_ptr() as usize).wrapping_sub(self.base);
        let end = start.wrapping_add(s.len());
        if start <= end && end <= self.len {
            self.capture(Captured::Span(start, end));
        } else {
            self.capture(Captured::Owned(s.to_string()));
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(mut self, s: &str) -> Result<(), E> {
        self.capture(Captured::Owned(s.to_string()));
        Ok(())
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        self.capture(Captured::Number(v));
        Ok(())
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        self.capture(Captured::Number(v as f64));
        Ok(())
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        self.capture(Captured::Number(v as f64));
        Ok(())
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.capture(Captured::Other);
        Ok(())
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.capture(Captured::Other);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        self.capture(Captured::Other);
        Level {
            scan: self.scan,
            trie: self.trie,
            node: self.node,
            base: self.base,
            len: self.len,
            top: false,
        }
        .visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.capture(Captured::Other);
        // Paths whose next segment is `[]` continue into the first element.
        if let Some(first) = self.trie.node(self.node).and_then(|n| n.array) {
            seq.next_element_seed(Value {
                scan: &mut *self.scan,
                trie: self.trie,
                node: first,
                base: self.base,
                len: self.len,
            })?;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl Key<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
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
