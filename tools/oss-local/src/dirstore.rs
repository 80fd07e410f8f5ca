//! Buckets backed by a directory under `--root`: keys map to relative paths, checked so
//! that no key can name a file outside the bucket directory; uploads land atomically
//! (temporary file, then rename); metadata that a file system does not keep (MD5 ETag,
//! CRC-64, content type) is cached in memory, keyed by the file's size and mtime.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;

use crate::error::OssError;
use crate::synth::derived_etag;

/// Names of upload temporaries start with this; they are never listed or served.
const TEMP_PREFIX: &str = ".oss-local-tmp-";

/// What the file system says about one object file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub mtime: SystemTime,
}

/// Cached metadata of one file, valid while its size and mtime are unchanged.
pub struct FileMeta {
    pub stat: FileStat,
    /// Upper-case hex, unquoted.
    pub etag: String,
    pub content_type: Option<String>,
    crc64: tokio::sync::OnceCell<u64>,
}

impl FileMeta {
    /// The whole-file CRC-64/XZ, computed once (off the async threads) and then cached.
    pub async fn crc64(&self, path: &Path) -> Result<u64, OssError> {
        let path = path.to_owned();
        self.crc64
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || crc64_of_file(&path))
                    .await
                    .map_err(|e| OssError::internal(format!("checksum task failed: {e}")))?
            })
            .await
            .copied()
    }
}

/// A bucket directory.
pub struct DirBucket {
    pub dir: PathBuf,
    cache: Mutex<HashMap<String, Arc<FileMeta>>>,
}

/// The path of `key` inside `dir`, or `None` when the key cannot name a file there: empty
/// components (`a//b`, a leading or trailing `/`), `.` or `..`, NUL, or a temporary's name.
pub fn key_path(dir: &Path, key: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    for part in key.split('/') {
        if part.is_empty()
            || part == "."
            || part == ".."
            || part.contains('\0')
            || part.starts_with(TEMP_PREFIX)
        {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

fn crc64_of_file(path: &Path) -> Result<u64, OssError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_error("open", path, e))?;
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz);
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_error("read", path, e))?;
        if n == 0 {
            return Ok(digest.finalize());
        }
        digest.update(&buf[..n]);
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> OssError {
    log::error!("cannot {what} {}: {e}", path.display());
    OssError::internal(format!("The server could not {what} the object file."))
}

fn stat_of(md: &std::fs::Metadata) -> FileStat {
    FileStat {
        size: md.len(),
        mtime: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

fn mtime_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl DirBucket {
    /// The bucket stored in `dir` (which exists).
    pub fn new(dir: PathBuf) -> DirBucket {
        DirBucket {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The object file of `key` and its metadata, if it exists as a regular file.
    pub fn lookup(&self, key: &str) -> Option<(PathBuf, Arc<FileMeta>)> {
        let path = key_path(&self.dir, key)?;
        let md = std::fs::metadata(&path).ok()?;
        if !md.is_file() {
            return None;
        }
        let meta = self.meta_for(key, stat_of(&md), None, None);
        Some((path, meta))
    }

    /// The cached metadata of `key` if it still matches `stat`, else fresh metadata (a
    /// derived ETag; `etag`/`content_type` when the caller just wrote the file).
    fn meta_for(
        &self,
        key: &str,
        stat: FileStat,
        etag: Option<String>,
        content_type: Option<String>,
    ) -> Arc<FileMeta> {
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if etag.is_none() {
            if let Some(m) = cache.get(key) {
                if m.stat == stat {
                    return m.clone();
                }
            }
        }
        let etag = etag.unwrap_or_else(|| derived_etag(key, stat.size, mtime_nanos(stat.mtime)));
        let meta = Arc::new(FileMeta {
            stat,
            etag,
            content_type,
            crc64: tokio::sync::OnceCell::new(),
        });
        cache.insert(key.to_owned(), meta.clone());
        meta
    }

    /// The ETag listings show for `key` with `stat`: the cached one when it matches.
    pub fn listing_etag(&self, key: &str, stat: FileStat) -> String {
        if let Ok(cache) = self.cache.lock() {
            if let Some(m) = cache.get(key) {
                if m.stat == stat {
                    return m.etag.clone();
                }
            }
        }
        derived_etag(key, stat.size, mtime_nanos(stat.mtime))
    }

    /// Every object under `prefix`, sorted by key bytes. Directories that cannot hold a
    /// key with the prefix are not entered.
    pub fn scan(&self, prefix: &str) -> Vec<(String, FileStat)> {
        let mut out = Vec::new();
        walk(&self.dir, "", prefix, &mut out);
        out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out
    }

    /// Writes `body` as `key`: into a temporary in the target directory, then renamed over
    /// the target, so readers see the old or the new object, never a partial one.
    pub fn put(
        &self,
        key: &str,
        body: &[Bytes],
        md5_hex: String,
        crc64: u64,
        content_type: String,
    ) -> Result<(), OssError> {
        let invalid = || OssError::invalid_object_name(key);
        let path = key_path(&self.dir, key).ok_or_else(invalid)?;
        let parent = path.parent().ok_or_else(invalid)?;
        std::fs::create_dir_all(parent).map_err(|e| {
            log::warn!("cannot create {}: {e}", parent.display());
            OssError::invalid_object_name(key).with_message(
                "The object name conflicts with an existing object on the server's file system.",
            )
        })?;
        if path.is_dir() {
            return Err(OssError::invalid_object_name(key).with_message(
                "The object name conflicts with an existing directory on the server's file system.",
            ));
        }
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = parent.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
        let write = || -> std::io::Result<std::fs::Metadata> {
            let mut f = std::fs::File::create(&tmp)?;
            for chunk in body {
                f.write_all(chunk)?;
            }
            f.flush()?;
            let md = f.metadata()?;
            drop(f);
            std::fs::rename(&tmp, &path)?;
            Ok(md)
        };
        let md = write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_error("write", &path, e)
        })?;
        let meta = self.meta_for(key, stat_of(&md), Some(md5_hex), Some(content_type));
        let _ = meta.crc64.set(crc64);
        // The rename may change nothing in the metadata but some file systems touch mtime;
        // make sure the cache is keyed by what a later stat returns.
        if let Ok(md2) = std::fs::metadata(&path) {
            if stat_of(&md2) != meta.stat {
                let fresh = self.meta_for(
                    key,
                    stat_of(&md2),
                    Some(meta.etag.clone()),
                    meta.content_type.clone(),
                );
                let _ = fresh.crc64.set(crc64);
            }
        }
        Ok(())
    }

    /// Removes `key`'s file if it exists, and directories left empty by that.
    pub fn delete(&self, key: &str) -> Result<(), OssError> {
        let Some(path) = key_path(&self.dir, key) else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if path.is_dir() => {
                log::debug!("{} is a directory: {e}", path.display());
                return Ok(());
            }
            Err(e) => return Err(io_error("delete", &path, e)),
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(key);
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.dir || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}

/// Collects files under `dir` (whose keys start with `rel`) that start with `prefix`.
fn walk(dir: &Path, rel: &str, prefix: &str, out: &mut Vec<(String, FileStat)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            log::debug!(
                "skipping a file name that is not UTF-8 in {}",
                dir.display()
            );
            continue;
        };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let key = format!("{rel}{name}");
        // Follows symbolic links: the operator may link files into the root on purpose;
        // keys themselves can never contain `..`.
        let Ok(md) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if md.is_dir() {
            let sub = format!("{key}/");
            if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                walk(&entry.path(), &sub, prefix, out);
            }
        } else if md.is_file() && key.starts_with(prefix) {
            out.push((key, stat_of(&md)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_leave_the_bucket_directory() {
        let d = Path::new("/srv/b");
        assert_eq!(
            key_path(d, "a/b.txt"),
            Some(PathBuf::from("/srv/b/a/b.txt"))
        );
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a/",
            "",
            "a\0b",
            ".oss-local-tmp-1",
        ] {
            assert_eq!(key_path(d, bad), None, "{bad:?}");
        }
        // A literal backslash or percent is just a character in a file name.
        assert_eq!(
            key_path(d, "a\\..\\b"),
            Some(PathBuf::from("/srv/b/a\\..\\b"))
        );
    }
}
