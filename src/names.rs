//! A bounded cache of what the enricher made of recent names.
//!
//! Two-way set-associative, the more recently used way first in each set.
//! A hit reads one set (both tags and both pointers share a cache line)
//! and its entry, and writes at most a swap of the set's two ways; a linked
//! LRU list would also touch the entry's neighbours on every hit, which
//! costs cache misses once the cache outgrows the CPU's caches.

use std::hash::BuildHasher;

/// An entry that knows its own key.
pub(crate) trait Keyed {
    /// The key it is stored under.
    fn key(&self) -> &[u8];
}

/// One set: tags (a key's hash with the low bit set; 0 when empty) and
/// entries, the more recently used way first.
struct Set<V> {
    tags: [u64; 2],
    ways: [Option<Box<V>>; 2],
}

/// Entries by key, at most `capacity` of them.
pub(crate) struct NameCache<V> {
    sets: Box<[Set<V>]>,
    hasher: foldhash::fast::RandomState,
    /// Where an entry goes should `sets` be empty (it never is).
    spare: Option<Box<V>>,
}

impl<V: Keyed> NameCache<V> {
    /// A cache of `capacity` entries (rounded up to a power of two, at
    /// least 2).
    pub(crate) fn new(capacity: usize) -> Self {
        let sets = (capacity.max(2) / 2).next_power_of_two();
        NameCache {
            sets: (0..sets)
                .map(|_| Set {
                    tags: [0; 2],
                    ways: [None, None],
                })
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
            spare: None,
        }
    }

    /// The most entries it holds.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.sets.len() * 2
    }

    /// The entry for `key`, made by `make` (evicting the less recently
    /// used entry of its set) when there is none. `make` is given the
    /// evicted entry, if any, to reuse its allocations.
    pub(crate) fn get_or_insert_mut(
        &mut self,
        key: &str,
        make: impl FnOnce(Option<Box<V>>) -> Box<V>,
    ) -> &mut V {
        let hash = self.hasher.hash_one(key) | 1;
        // The high bits pick the set (the low bit is always set).
        let index = (hash >> 32) as usize & (self.sets.len().wrapping_sub(1));
        let Some(set) = self.sets.get_mut(index) else {
            let old = self.spare.take();
            return self.spare.insert(make(old));
        };
        let matches = |tag: u64, way: &Option<Box<V>>| {
            tag == hash
                && way
                    .as_ref()
                    .is_some_and(|v| crate::bytes::eq(v.key(), key.as_bytes()))
        };
        let mut hit = matches(set.tags[0], &set.ways[0]);
        if !hit {
            // Either way, the second way becomes the first: a hit there is
            // now the most recent, a miss replaces it (the least recent).
            set.tags.swap(0, 1);
            set.ways.swap(0, 1);
            hit = matches(set.tags[0], &set.ways[0]);
        }
        if !hit {
            set.tags[0] = hash;
        }
        let slot = &mut set.ways[0];
        let entry = match slot.take() {
            Some(entry) if hit => entry,
            old => make(old),
        };
        slot.insert(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct E(String, u32);
    impl Keyed for E {
        fn key(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }

    #[test]
    fn keeps_the_two_most_recent_of_a_set() {
        // One set: every key lands in it.
        let mut c: NameCache<E> = NameCache::new(2);
        assert_eq!(c.capacity(), 2);
        let mut made = 0;
        let mut get = |c: &mut NameCache<E>, k: &str| {
            c.get_or_insert_mut(k, |_| {
                made += 1;
                Box::new(E(k.to_string(), made))
            })
            .1
        };
        assert_eq!(get(&mut c, "a"), 1);
        assert_eq!(get(&mut c, "b"), 2);
        assert_eq!(get(&mut c, "a"), 1); // hit in the second way
        assert_eq!(get(&mut c, "c"), 3); // evicts b, the less recent
        assert_eq!(get(&mut c, "a"), 1);
        assert_eq!(get(&mut c, "b"), 4); // made again
        assert_eq!(get(&mut c, "c"), 5); // c was evicted by b
    }

    #[test]
    fn holds_its_capacity_and_no_more() {
        let mut c: NameCache<E> = NameCache::new(1000);
        assert_eq!(c.capacity(), 1024);
        for i in 0..10_000u32 {
            let k = format!("name-{i}");
            let e = c.get_or_insert_mut(&k, |_| Box::new(E(k.clone(), i)));
            assert_eq!(e.0, k);
        }
        let held = c.sets.iter().flat_map(|s| &s.ways).flatten().count();
        assert_eq!(held, 1024);
    }
}
