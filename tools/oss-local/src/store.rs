//! Buckets and objects behind one interface: each bucket holds synthetic objects (from
//! `--model`/`--keys`) plus either a directory under `--root` or an in-memory map for
//! uploads. An uploaded object hides a synthetic one of the same key.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::SystemTime;

use bytes::Bytes;
use md5::{Digest as _, Md5};
use ossmc_testkit::synthetic;

use crate::cli::Args;
use crate::dirstore::{DirBucket, FileStat};
use crate::error::OssError;
use crate::synth::{synthetic_mtime, SyntheticIndex};

/// Facts about an object sent in response headers and listings.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub size: u64,
    /// Upper-case hex, unquoted.
    pub etag: String,
    pub crc64: u64,
    pub last_modified: SystemTime,
    pub content_type: String,
}

/// Where an object's bytes come from.
#[derive(Debug, Clone)]
pub enum Content {
    /// `synthetic::fill(seed, ...)`.
    Synthetic {
        seed: u64,
    },
    Memory(Bytes),
    File(PathBuf),
}

/// An object found by [`Bucket::lookup`].
#[derive(Debug, Clone)]
pub struct Resolved {
    pub meta: ObjectMeta,
    pub content: Content,
}

/// An uploaded object kept in memory (no `--root`).
pub struct MemObject {
    pub data: Bytes,
    pub etag: String,
    pub crc64: u64,
    pub mtime: SystemTime,
    pub content_type: String,
}

/// Where uploads to a bucket go.
pub enum Uploads {
    Dir(DirBucket),
    Memory(RwLock<BTreeMap<Box<[u8]>, Arc<MemObject>>>),
}

/// One bucket.
pub struct Bucket {
    pub name: String,
    pub synthetic: SyntheticIndex,
    pub uploads: Uploads,
}

/// All buckets, fixed at startup.
pub struct Store {
    buckets: BTreeMap<String, Arc<Bucket>>,
}

/// A listing entry's facts.
#[derive(Debug, Clone)]
pub struct ListEntry<'a> {
    pub size: u64,
    /// Upper-case hex, unquoted; borrowed where the store keeps it.
    pub etag: std::borrow::Cow<'a, str>,
    pub last_modified: SystemTime,
}

/// The content type served for an object stored without one, from its extension.
pub fn guess_content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "json" => "application/json",
        "txt" | "md" => "text/plain",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

fn lock_read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Builds every bucket named on the command line or found under `--root`.
    pub fn from_args(args: &Args) -> Result<Store, String> {
        let mut names: Vec<String> = args.buckets.clone();
        names.extend(args.models.iter().map(|m| m.bucket.clone()));
        names.extend(args.keys.iter().map(|k| k.bucket.clone()));
        if let Some(root) = &args.root {
            let rd = std::fs::read_dir(root)
                .map_err(|e| format!("cannot read the root directory {}: {e}", root.display()))?;
            for entry in rd.flatten() {
                if entry.path().is_dir() {
                    match entry.file_name().into_string() {
                        Ok(name) => names.push(name),
                        Err(name) => log::warn!("skipping directory {name:?}: not a UTF-8 name"),
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        let mut buckets = BTreeMap::new();
        for name in names {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(format!("{name:?} cannot be a bucket name"));
            }
            if !crate::routing::valid_bucket_name(&name) {
                log::warn!("bucket {name:?} is not a valid OSS bucket name; clients may refuse it");
            }
            let uploads = match &args.root {
                Some(root) => {
                    let dir = root.join(&name);
                    std::fs::create_dir_all(&dir).map_err(|e| {
                        format!("cannot create bucket directory {}: {e}", dir.display())
                    })?;
                    Uploads::Dir(DirBucket::new(dir))
                }
                None => Uploads::Memory(RwLock::new(BTreeMap::new())),
            };
            let models: Vec<_> = args.models.iter().filter(|m| m.bucket == name).collect();
            let keys: Vec<_> = args.keys.iter().filter(|k| k.bucket == name).collect();
            let synthetic = SyntheticIndex::build(&models, &keys);
            log::info!("bucket {name}: {} synthetic objects", synthetic.len());
            buckets.insert(
                name.clone(),
                Arc::new(Bucket {
                    name,
                    synthetic,
                    uploads,
                }),
            );
        }
        Ok(Store { buckets })
    }

    /// The bucket called `name`.
    pub fn bucket(&self, name: &str) -> Option<&Arc<Bucket>> {
        self.buckets.get(name)
    }

    /// Whether a bucket called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.buckets.contains_key(name)
    }

    /// All bucket names, sorted.
    pub fn bucket_names(&self) -> impl Iterator<Item = &str> {
        self.buckets.keys().map(String::as_str)
    }
}

impl Bucket {
    /// The object named `key`, uploads first.
    pub async fn lookup(&self, key: &str) -> Result<Option<Resolved>, OssError> {
        match &self.uploads {
            Uploads::Dir(d) => {
                if let Some((path, meta)) = d.lookup(key) {
                    let crc64 = meta.crc64(&path).await?;
                    let content_type = meta
                        .content_type
                        .clone()
                        .unwrap_or_else(|| guess_content_type(key).to_owned());
                    return Ok(Some(Resolved {
                        meta: ObjectMeta {
                            size: meta.stat.size,
                            etag: meta.etag.clone(),
                            crc64,
                            last_modified: meta.stat.mtime,
                            content_type,
                        },
                        content: Content::File(path),
                    }));
                }
            }
            Uploads::Memory(m) => {
                if let Some(o) = lock_read(m).get(key.as_bytes()) {
                    return Ok(Some(Resolved {
                        meta: ObjectMeta {
                            size: o.data.len() as u64,
                            etag: o.etag.clone(),
                            crc64: o.crc64,
                            last_modified: o.mtime,
                            content_type: o.content_type.clone(),
                        },
                        content: Content::Memory(o.data.clone()),
                    }));
                }
            }
        }
        let Some(s) = self.synthetic.get(key) else {
            return Ok(None);
        };
        let crc64 = match s.crc64 {
            Some(c) => c,
            None => {
                // --keys objects are at most a few KiB.
                let mut buf = vec![0u8; s.size as usize];
                synthetic::fill(s.seed, 0, &mut buf);
                crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, &buf)
            }
        };
        Ok(Some(Resolved {
            meta: ObjectMeta {
                size: s.size,
                etag: s.etag,
                crc64,
                last_modified: synthetic_mtime(),
                content_type: guess_content_type(key).to_owned(),
            },
            content: Content::Synthetic { seed: s.seed },
        }))
    }

    /// Stores `body` as `key`, returning the new object's metadata.
    pub async fn put(
        self: &Arc<Self>,
        key: &str,
        body: Vec<Bytes>,
        content_type: String,
    ) -> Result<ObjectMeta, OssError> {
        let bucket = self.clone();
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || bucket.put_blocking(&key, body, content_type))
            .await
            .map_err(|e| OssError::internal(format!("upload task failed: {e}")))?
    }

    fn put_blocking(
        &self,
        key: &str,
        body: Vec<Bytes>,
        content_type: String,
    ) -> Result<ObjectMeta, OssError> {
        let mut md5 = Md5::new();
        let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz);
        let mut size = 0u64;
        for chunk in &body {
            md5.update(chunk);
            crc.update(chunk);
            size += chunk.len() as u64;
        }
        let etag = hex::encode_upper(md5.finalize());
        let crc64 = crc.finalize();
        let now = SystemTime::now();
        match &self.uploads {
            Uploads::Dir(d) => {
                d.put(key, &body, etag.clone(), crc64, content_type.clone())?;
            }
            Uploads::Memory(m) => {
                let data = if body.len() == 1 {
                    body[0].clone()
                } else {
                    let mut v = Vec::with_capacity(size as usize);
                    for chunk in &body {
                        v.extend_from_slice(chunk);
                    }
                    Bytes::from(v)
                };
                let obj = MemObject {
                    data,
                    etag: etag.clone(),
                    crc64,
                    mtime: now,
                    content_type: content_type.clone(),
                };
                m.write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key.as_bytes().into(), Arc::new(obj));
            }
        }
        Ok(ObjectMeta {
            size,
            etag,
            crc64,
            last_modified: now,
            content_type,
        })
    }

    /// Deletes an uploaded object; deleting a missing key succeeds, as on OSS. Synthetic
    /// objects cannot be deleted (an upload hiding one can, and the synthetic one returns).
    pub fn delete(&self, key: &str) -> Result<(), OssError> {
        if self.synthetic.get(key).is_some() && !self.has_upload(key) {
            return Err(OssError::access_denied("Synthetic objects are read-only."));
        }
        match &self.uploads {
            Uploads::Dir(d) => d.delete(key),
            Uploads::Memory(m) => {
                m.write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(key.as_bytes());
                Ok(())
            }
        }
    }

    fn has_upload(&self, key: &str) -> bool {
        match &self.uploads {
            Uploads::Dir(d) => d.lookup(key).is_some(),
            Uploads::Memory(m) => lock_read(m).contains_key(key.as_bytes()),
        }
    }

    /// A consistent view of the keys under `prefix` for one listing request.
    pub fn snapshot(&self, prefix: &str) -> Snapshot<'_> {
        let uploads = match &self.uploads {
            Uploads::Dir(d) => UploadsView::Dir(d, d.scan(prefix)),
            Uploads::Memory(m) => UploadsView::Memory(lock_read(m)),
        };
        Snapshot {
            bucket: self,
            uploads,
            cursor: Cell::new(0),
            meta_cursor: Cell::new(0),
        }
    }
}

enum UploadsView<'a> {
    Dir(&'a DirBucket, Vec<(String, FileStat)>),
    Memory(RwLockReadGuard<'a, BTreeMap<Box<[u8]>, Arc<MemObject>>>),
}

/// The keys of a bucket as one sorted sequence, for listing.
pub struct Snapshot<'a> {
    bucket: &'a Bucket,
    uploads: UploadsView<'a>,
    /// Where the last synthetic search ended: walks move forward, so the next answer is
    /// usually there or just after.
    cursor: Cell<usize>,
    /// The same for [`Snapshot::entry`].
    meta_cursor: Cell<usize>,
}

impl Snapshot<'_> {
    /// The first key `>= bound` in UTF-8 byte order.
    pub fn first_ge(&self, bound: &[u8]) -> Option<&str> {
        let synth = &self.bucket.synthetic;
        let i = synth.lower_bound(self.cursor.get(), bound);
        self.cursor.set(i);
        let a = synth.key_at(i);
        let b = match &self.uploads {
            UploadsView::Dir(_, files) => {
                let i = files.partition_point(|(k, _)| k.as_bytes() < bound);
                files.get(i).map(|(k, _)| k.as_str())
            }
            UploadsView::Memory(m) => m
                .range::<[u8], _>((Bound::Included(bound), Bound::Unbounded))
                .next()
                // Keys are inserted from `&str`, so they are UTF-8.
                .and_then(|(k, _)| std::str::from_utf8(k).ok()),
        };
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.as_bytes() <= b.as_bytes() { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// The first key after `key` (which `first_ge` or this returned last) in byte order:
    /// what `first_ge(bound)` gives for `bound` = `key` + `\0`, found without a search
    /// when `key` is the synthetic key the walk is at and no upload can come between.
    pub fn first_after(&self, key: &str, bound: &[u8]) -> Option<&str> {
        if let UploadsView::Memory(m) = &self.uploads {
            let synth = &self.bucket.synthetic;
            let at = self.cursor.get();
            if m.is_empty() && synth.is_key_at(at, key) {
                self.cursor.set(at + 1);
                return synth.key_at(at + 1);
            }
        }
        self.first_ge(bound)
    }

    /// The listing facts of `key` (which `first_ge` returned).
    pub fn entry(&self, key: &str) -> Option<ListEntry<'_>> {
        match &self.uploads {
            UploadsView::Dir(d, files) => {
                if let Ok(i) = files.binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes())) {
                    let stat = files[i].1;
                    return Some(ListEntry {
                        size: stat.size,
                        etag: d.listing_etag(key, stat).into(),
                        last_modified: stat.mtime,
                    });
                }
            }
            UploadsView::Memory(m) => {
                if !m.is_empty() {
                    if let Some(o) = m.get(key.as_bytes()) {
                        return Some(ListEntry {
                            size: o.data.len() as u64,
                            etag: o.etag.as_str().into(),
                            last_modified: o.mtime,
                        });
                    }
                }
            }
        }
        let synth = &self.bucket.synthetic;
        let i = synth.find(self.meta_cursor.get(), key)?;
        self.meta_cursor.set(i + 1);
        let (size, etag) = synth.listing_facts(i);
        Some(ListEntry {
            size,
            etag: etag.into(),
            last_modified: synthetic_mtime(),
        })
    }
}
