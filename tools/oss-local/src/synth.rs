//! Synthetic objects: the shards of `--model` and the tiny objects of `--keys`, held as one
//! sorted index of compact entries and never stored. Their bytes come from
//! `ossmc_testkit::synthetic::fill`.

use std::time::{Duration, SystemTime};

use md5::{Digest as _, Md5};
use ossmc_testkit::synthetic;

use crate::cli::{KeysSpec, ModelSpec};

/// Last-Modified of every synthetic object: fixed, so that ETags, dates and conditional
/// requests are the same on every run (2025-03-14T12:00:00Z).
pub const SYNTHETIC_MTIME_SECS: u64 = 1_741_953_600;

/// The Last-Modified of synthetic objects as a time.
pub fn synthetic_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(SYNTHETIC_MTIME_SECS)
}

/// What one entry of the index is.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A model shard: index into `SyntheticIndex::shards`.
    Shard(u32),
    /// The `i`-th object of a `--keys` set (its size is `synthetic::key_size(i)`).
    Key(u64),
}

/// One key of the index; its name lives in the shared arena.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u64,
    len: u32,
    kind: Kind,
}

/// A model shard's precomputed facts.
#[derive(Debug, Clone)]
struct Shard {
    size: u64,
    crc64: u64,
}

/// The metadata of a synthetic object.
#[derive(Debug, Clone)]
pub struct SynthObject {
    pub seed: u64,
    pub size: u64,
    /// Whole-object CRC-64/XZ; `None` for `--keys` objects, which are small enough to
    /// checksum when served.
    pub crc64: Option<u64>,
    /// Upper-case hex, unquoted.
    pub etag: String,
}

/// All synthetic objects of one bucket, sorted by key in UTF-8 byte order.
#[derive(Default)]
pub struct SyntheticIndex {
    arena: String,
    entries: Vec<Entry>,
    shards: Vec<Shard>,
    /// The ETag of each entry (upper-case hex, [`ETAG_LEN`] bytes each, in entry order),
    /// computed once at startup: a listing shows a thousand ETags per page, and hashing them
    /// on every request cost more than the rest of the page (a real server stores them too).
    etags: String,
}

/// The length of a derived ETag.
const ETAG_LEN: usize = 32;

/// The digest behind [`derived_etag`].
pub fn derived_digest(key: &str, size: u64, salt: u64) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(key.as_bytes());
    h.update(size.to_le_bytes());
    h.update(salt.to_le_bytes());
    h.finalize().into()
}

/// A stable ETag (upper-case hex, unquoted) derived from a key and a size.
pub fn derived_etag(key: &str, size: u64, salt: u64) -> String {
    upper_hex(&derived_digest(key, size, salt))
}

/// Upper-case hex of `bytes` (listings format thousands of ETags per page).
pub fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// CRC-64/XZ of `len` synthetic bytes of the object with `seed`, generated in 1 MiB pieces.
pub fn synthetic_crc64(seed: u64, len: u64) -> u64 {
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz);
    let mut buf = vec![0u8; (1usize << 20).min(len as usize)];
    let mut offset = 0u64;
    while offset < len {
        let n = ((len - offset) as usize).min(buf.len());
        crate::generate::fill(seed, offset, &mut buf[..n]);
        digest.update(&buf[..n]);
        offset += n as u64;
    }
    digest.finalize()
}

impl SyntheticIndex {
    /// Builds the index of one bucket from its `--model` and `--keys` specifications.
    /// Shard CRCs are computed in parallel across shards.
    pub fn build(models: &[&ModelSpec], keys: &[&KeysSpec]) -> SyntheticIndex {
        let mut index = SyntheticIndex::default();
        let mut shard_keys = Vec::new();
        for m in models {
            for i in 1..=m.shards {
                let key = synthetic::shard_key(&m.name, i, m.shards);
                shard_keys.push((key, m.mib * (1 << 20)));
            }
        }
        index.shards = crcs_in_parallel(&shard_keys);
        for (n, (key, _)) in shard_keys.iter().enumerate() {
            index.push(key, Kind::Shard(n as u32));
        }
        for k in keys {
            for i in 0..k.count {
                index.push(&synthetic::key_name(&k.prefix, i), Kind::Key(i));
            }
        }
        let arena = &index.arena;
        let name =
            |e: &Entry| &arena.as_bytes()[e.start as usize..e.start as usize + e.len as usize];
        // Ties are broken by arena position (insertion order), so the first of duplicate
        // keys comes first and dedup keeps it; unstable sorting is faster for millions.
        index
            .entries
            .sort_unstable_by(|a, b| name(a).cmp(name(b)).then(a.start.cmp(&b.start)));
        index.entries.dedup_by(|b, a| name(a) == name(b));
        // Names laid out in key order, so a listing walks the arena front to back instead of
        // jumping around it (each jump a cache miss, a thousand per page).
        let old = std::mem::take(&mut index.arena);
        index.arena.reserve(old.len());
        for e in &mut index.entries {
            let start = e.start as usize;
            let name = &old[start..start + e.len as usize];
            e.start = index.arena.len() as u64;
            index.arena.push_str(name);
        }
        index.etags = index.digests_in_parallel();
        index
    }

    /// The ETags of every entry, one after another; the entries are split over the
    /// available cores.
    fn digests_in_parallel(&self) -> String {
        let n = self.entries.len();
        let threads = std::thread::available_parallelism().map_or(2, |t| t.get());
        // Small sets are not worth a thread.
        let per = n.div_ceil(threads).max(16 << 10);
        let parts: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..n.div_ceil(per))
                .map(|c| {
                    s.spawn(move || {
                        let mut hex = String::with_capacity(per * ETAG_LEN);
                        for i in c * per..((c + 1) * per).min(n) {
                            let d = derived_digest(self.name(&self.entries[i]), self.size_at(i), 0);
                            hex.push_str(&upper_hex(&d));
                        }
                        hex
                    })
                })
                .collect();
            workers
                .into_iter()
                .enumerate()
                // A worker that panicked leaves its part to be computed here.
                .map(|(c, w)| {
                    w.join().unwrap_or_else(|_| {
                        (c * per..((c + 1) * per).min(n))
                            .map(|i| derived_etag(self.name(&self.entries[i]), self.size_at(i), 0))
                            .collect()
                    })
                })
                .collect()
        });
        parts.concat()
    }

    /// The ETag of the object at `i` (which must be `< len()`).
    fn etag_at(&self, i: usize) -> &str {
        &self.etags[i * ETAG_LEN..(i + 1) * ETAG_LEN]
    }

    /// The size of the object at `i` (which must be `< len()`).
    fn size_at(&self, i: usize) -> u64 {
        match self.entries[i].kind {
            Kind::Shard(s) => self.shards[s as usize].size,
            Kind::Key(n) => synthetic::key_size(n),
        }
    }

    /// The size and ETag of the object at `i` (which must be `< len()`): what a listing
    /// shows, without the rest of [`SyntheticIndex::object_at`].
    pub fn listing_facts(&self, i: usize) -> (u64, &str) {
        (self.size_at(i), self.etag_at(i))
    }

    fn push(&mut self, key: &str, kind: Kind) {
        let start = self.arena.len() as u64;
        self.arena.push_str(key);
        self.entries.push(Entry {
            start,
            len: key.len() as u32,
            kind,
        });
    }

    fn name(&self, e: &Entry) -> &str {
        &self.arena[e.start as usize..e.start as usize + e.len as usize]
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn name_at(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        // Bytes, not `str`: slicing the arena as bytes skips the char-boundary checks.
        &self.arena.as_bytes()[e.start as usize..e.start as usize + e.len as usize]
    }

    /// The index of the first key `>= bound` (`len()` if none). Walks in order ask for the
    /// entry just after the previous answer (or at it), so `hint + 1` and `hint` are tried
    /// before a binary search.
    pub fn lower_bound(&self, hint: usize, bound: &[u8]) -> usize {
        let n = self.entries.len();
        for i in [hint + 1, hint] {
            if i <= n
                && (i == n || self.name_at(i) >= bound)
                && (i == 0 || self.name_at(i - 1) < bound)
            {
                return i;
            }
        }
        self.entries
            .partition_point(|e| self.name(e).as_bytes() < bound)
    }

    /// Whether `key` is the very name stored for entry `i` (the same bytes of the arena, as
    /// [`SyntheticIndex::key_at`] gave it): a walk can then step to `i + 1` without
    /// comparing keys.
    pub fn is_key_at(&self, i: usize, key: &str) -> bool {
        self.entries.get(i).is_some_and(|e| {
            (key.as_ptr() as usize).wrapping_sub(self.arena.as_ptr() as usize) == e.start as usize
                && key.len() == e.len as usize
        })
    }

    /// The key at `i`, if `i < len()`.
    pub fn key_at(&self, i: usize) -> Option<&str> {
        self.entries.get(i).map(|e| self.name(e))
    }

    /// The first key `>= bound` in byte order, if any.
    #[cfg(test)]
    pub fn first_ge(&self, bound: &[u8]) -> Option<&str> {
        self.key_at(self.lower_bound(0, bound))
    }

    /// The index of `key`, trying `hint` first.
    pub fn find(&self, hint: usize, key: &str) -> Option<usize> {
        if self.is_key_at(hint, key)
            || (hint < self.entries.len() && self.name_at(hint) == key.as_bytes())
        {
            return Some(hint);
        }
        self.entries
            .binary_search_by(|e| self.name(e).as_bytes().cmp(key.as_bytes()))
            .ok()
    }

    /// The object named `key`, if it is synthetic.
    pub fn get(&self, key: &str) -> Option<SynthObject> {
        self.find(0, key).map(|i| self.object_at(i))
    }

    /// The object at index `i` (which must be `< len()`).
    pub fn object_at(&self, i: usize) -> SynthObject {
        let key = self.name(&self.entries[i]);
        SynthObject {
            seed: synthetic::seed(key),
            size: self.size_at(i),
            crc64: match self.entries[i].kind {
                Kind::Shard(s) => Some(self.shards[s as usize].crc64),
                Kind::Key(_) => None,
            },
            etag: self.etag_at(i).to_owned(),
        }
    }
}

/// Computes the CRC of every shard, spreading shards over the available cores.
fn crcs_in_parallel(shards: &[(String, u64)]) -> Vec<Shard> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(shards.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<u64>>> =
        shards.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((key, size)) = shards.get(i) else {
                    break;
                };
                let crc = synthetic_crc64(synthetic::seed(key), *size);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(crc);
                }
            });
        }
    });
    shards
        .iter()
        .zip(results)
        .map(|((key, size), r)| {
            // A poisoned slot can only come from a panicking worker; recompute then.
            let crc = r
                .into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| synthetic_crc64(synthetic::seed(key), *size));
            Shard {
                size: *size,
                crc64: crc,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_sorted_by_bytes_and_finds_keys() {
        let keys = KeysSpec {
            bucket: "b".into(),
            prefix: "p/".into(),
            count: 200,
        };
        let model = ModelSpec {
            bucket: "b".into(),
            name: "m".into(),
            shards: 3,
            mib: 0,
        };
        let idx = SyntheticIndex::build(&[&model], &[&keys]);
        assert_eq!(idx.len(), 203);
        let names: Vec<&str> = idx.entries.iter().map(|e| idx.name(e)).collect();
        let mut sorted = names.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(names, sorted);
        let k = synthetic::key_name("p/", 17);
        let obj = idx.get(&k).unwrap();
        assert_eq!(obj.size, synthetic::key_size(17));
        assert_eq!(idx.first_ge(k.as_bytes()), Some(k.as_str()));
        let i = idx.lower_bound(0, k.as_bytes());
        let stored = idx.key_at(i).unwrap();
        assert!(idx.is_key_at(i, stored));
        // Equal text elsewhere is not the stored name.
        assert!(!idx.is_key_at(i, &k));
        assert!(!idx.is_key_at(i + 1, stored));
        assert_eq!(idx.find(i, &k), Some(i));
        assert!(idx.get("p/nope").is_none());
        assert_eq!(obj.etag, derived_etag(&k, obj.size, 0));
        let shard = idx.get(&synthetic::shard_key("m", 2, 3)).unwrap();
        assert_eq!(
            shard.etag,
            derived_etag(&synthetic::shard_key("m", 2, 3), 0, 0)
        );
        assert_eq!(shard.size, 0);
        assert_eq!(shard.crc64, Some(0));
    }

    #[test]
    fn shard_crc_matches_a_one_shot_checksum() {
        let mut buf = vec![0u8; 3 << 20];
        let seed = synthetic::seed("m/x");
        synthetic::fill(seed, 0, &mut buf);
        let want = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, &buf);
        assert_eq!(synthetic_crc64(seed, buf.len() as u64), want);
        assert_eq!(
            crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, b"123456789"),
            0x995DC9BBDF1939FA
        );
    }
}
