//! [`Shared`]: a string that the records holding it share.
//!
//! Registration records repeat a small set of values (EPP status values,
//! registrar names, RDAP servers) across millions of domains. Each such
//! value is kept once, behind an [`Arc`], and every record holding it points
//! there: a record then costs a pointer per value instead of its own copy.

use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Distinct values the process-wide table keeps. Further values (hostile
/// RDAP answers can invent any number) still work, each with its own copy,
/// so the table cannot grow without bound.
pub const MAX_SHARED: usize = 8192;

/// The longest value that is shared; longer ones get their own copy.
const MAX_SHARED_LEN: usize = 256;

/// An immutable string, shared with every other [`Shared`] of equal text
/// made while the table had room. Derefs to `str`; serialises as a string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shared(Arc<str>);

/// The tables' hash: foldhash, seeded per process (each table holds at
/// most [`MAX_SHARED`] values, so a flood of colliding values stays
/// bounded), in place of SipHash, which took about 5% of loading the
/// records.
type Hash = foldhash::fast::RandomState;

fn table() -> &'static Mutex<HashSet<Arc<str>, Hash>> {
    static TABLE: OnceLock<Mutex<HashSet<Arc<str>, Hash>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashSet::default()))
}

impl Shared {
    /// The shared copy of `text`.
    pub fn new(text: &str) -> Shared {
        if text.len() > MAX_SHARED_LEN {
            return Shared(Arc::from(text));
        }
        // A poisoned lock only means another thread panicked while holding
        // it; the set itself is still sound.
        let mut set = table().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = set.get(text) {
            return Shared(Arc::clone(found));
        }
        let value: Arc<str> = Arc::from(text);
        if set.len() < MAX_SHARED {
            set.insert(Arc::clone(&value));
        }
        Shared(value)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Shared {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Shared {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Shared {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Shared {
    fn from(text: &str) -> Shared {
        Shared::new(text)
    }
}

impl From<String> for Shared {
    fn from(text: String) -> Shared {
        Shared::new(&text)
    }
}

impl From<&String> for Shared {
    fn from(text: &String) -> Shared {
        Shared::new(text)
    }
}

impl PartialEq<str> for Shared {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Shared {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Shared {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Shared {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Shared {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shared, D::Error> {
        // Borrowed when the input allows (no escapes), else owned.
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Shared::new(&text))
    }
}

/// Lists of at most this many values are shared; longer ones get their
/// own copy.
const MAX_SHARED_LIST: usize = 32;

/// An immutable list of [`Shared`] values, itself shared with every equal
/// list made while the table had room: records repeat a few combinations
/// of EPP status values. Derefs to a slice; serialises as a sequence. The
/// empty list holds no allocation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SharedList(Option<Arc<[Shared]>>);

fn list_table() -> &'static Mutex<HashSet<Arc<[Shared]>, Hash>> {
    static TABLE: OnceLock<Mutex<HashSet<Arc<[Shared]>, Hash>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashSet::default()))
}

impl SharedList {
    /// The shared copy of `items`.
    pub fn new(items: &[Shared]) -> SharedList {
        if items.is_empty() {
            return SharedList(None);
        }
        if items.len() > MAX_SHARED_LIST {
            return SharedList(Some(Arc::from(items)));
        }
        let mut set = list_table().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = set.get(items) {
            return SharedList(Some(Arc::clone(found)));
        }
        let value: Arc<[Shared]> = Arc::from(items);
        if set.len() < MAX_SHARED {
            set.insert(Arc::clone(&value));
        }
        SharedList(Some(value))
    }

    /// True when it holds no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The values.
    pub fn as_slice(&self) -> &[Shared] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl Deref for SharedList {
    type Target = [Shared];
    fn deref(&self) -> &[Shared] {
        self.as_slice()
    }
}

impl From<Vec<Shared>> for SharedList {
    fn from(items: Vec<Shared>) -> SharedList {
        SharedList::new(&items)
    }
}

impl From<&[Shared]> for SharedList {
    fn from(items: &[Shared]) -> SharedList {
        SharedList::new(items)
    }
}

impl FromIterator<Shared> for SharedList {
    fn from_iter<I: IntoIterator<Item = Shared>>(iter: I) -> SharedList {
        SharedList::new(&iter.into_iter().collect::<Vec<_>>())
    }
}

impl<'a> IntoIterator for &'a SharedList {
    type Item = &'a Shared;
    type IntoIter = std::slice::Iter<'a, Shared>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<T> PartialEq<Vec<T>> for SharedList
where
    Shared: PartialEq<T>,
{
    fn eq(&self, other: &Vec<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl fmt::Debug for SharedList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Serialize for SharedList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

impl<'de> Deserialize<'de> for SharedList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SharedList, D::Error> {
        Ok(SharedList::from(Vec::<Shared>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_text_shares_one_copy() {
        let a = Shared::new("clientTransferProhibited");
        let b: Shared = serde_json::from_str("\"clientTransferProhibited\"").unwrap();
        let c: Shared = serde_json::from_str("\"client\\u0054ransferProhibited\"").unwrap();
        assert!(Arc::ptr_eq(&a.0, &b.0) && Arc::ptr_eq(&a.0, &c.0));
        assert_eq!(a, "clientTransferProhibited");
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"clientTransferProhibited\""
        );
        let long = "x".repeat(MAX_SHARED_LEN + 1);
        assert!(!Arc::ptr_eq(&Shared::new(&long).0, &Shared::new(&long).0));
    }

    #[test]
    fn equal_lists_share_one_copy() {
        let a: SharedList = serde_json::from_str(r#"["ok","serverHold"]"#).unwrap();
        let b = SharedList::from(vec![Shared::new("ok"), Shared::new("serverHold")]);
        assert!(
            a.0.as_ref()
                .zip(b.0.as_ref())
                .is_some_and(|(x, y)| Arc::ptr_eq(x, y))
        );
        assert_eq!(a, vec!["ok", "serverHold"]);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"["ok","serverHold"]"#);
        let empty: SharedList = serde_json::from_str("[]").unwrap();
        assert!(empty.is_empty() && empty.0.is_none() && empty.is_empty());
    }

    #[test]
    fn the_table_is_bounded() {
        for i in 0..MAX_SHARED + 100 {
            let _ = Shared::new(&format!("bounded-{i}"));
        }
        let len = table().lock().map(|s| s.len()).unwrap_or(0);
        assert!(len <= MAX_SHARED, "{len}");
        // Values beyond the bound still work.
        assert_eq!(
            Shared::new("bounded-overflow-value").as_str(),
            "bounded-overflow-value"
        );
    }
}
