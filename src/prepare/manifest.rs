//! The record a run leaves at the top of the directory (`.ossmc-manifest.json`), so that the
//! next run knows which files it may keep: for each file, the object version it came from
//! (ETag, size, CRC-64) and the file's own size and modification time when it was written.
//!
//! The record is a cache, never trusted blindly: a file is kept only when it still matches
//! the object (see `prepare::keep`). A missing, unreadable or foreign record just means every
//! file is fetched again.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::layout::{MANIFEST_NAME, PART_SUFFIX};
use crate::error::{Error, ErrorKind, Result};

const VERSION: u32 = 1;

/// What one run fetched from where.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub version: u32,
    pub bucket: String,
    pub prefix: String,
    /// By key.
    pub files: BTreeMap<String, FileRecord>,
}

/// One file as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileRecord {
    /// The path relative to the directory.
    pub path: String,
    pub size: u64,
    pub etag: String,
    /// The object's CRC-64/XZ, when the server sent one.
    pub crc64: Option<u64>,
    /// The file's modification time (ns since the epoch) right after it was written.
    pub mtime_ns: i64,
}

impl Manifest {
    pub(crate) fn new(bucket: &str, prefix: &str) -> Manifest {
        Manifest {
            version: VERSION,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            files: BTreeMap::new(),
        }
    }

    /// The record in `dir` if it is there, readable, and about `bucket`/`prefix`; an empty
    /// one otherwise (a damaged record is worth a log line, not a failure).
    pub(crate) fn load(dir: &Path, bucket: &str, prefix: &str) -> Manifest {
        let path = dir.join(MANIFEST_NAME);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Manifest::new(bucket, prefix)
            }
            Err(e) => {
                log::warn!("cannot read {}: {e}; fetching every file", path.display());
                return Manifest::new(bucket, prefix);
            }
        };
        match serde_json::from_slice::<Manifest>(&text) {
            Ok(m) if m.version == VERSION && m.bucket == bucket && m.prefix == prefix => m,
            Ok(m) => {
                log::info!(
                    "{} describes oss://{}/{} (version {}); starting afresh for oss://{bucket}/{prefix}",
                    path.display(),
                    m.bucket,
                    m.prefix,
                    m.version
                );
                Manifest::new(bucket, prefix)
            }
            Err(e) => {
                log::warn!("{} is damaged ({e}); fetching every file", path.display());
                Manifest::new(bucket, prefix)
            }
        }
    }

    /// Writes the record to `dir` under a temporary name and renames it into place, so a
    /// crash leaves the old record or the new one, never half of one.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST_NAME);
        let part = dir.join(format!("{MANIFEST_NAME}{PART_SUFFIX}"));
        let io_err = |what: &str, p: &Path, e: std::io::Error| {
            Error::new(ErrorKind::Io, format!("cannot {what} {}: {e}", p.display()))
        };
        let text = serde_json::to_vec_pretty(self).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot encode the manifest: {e}"),
            )
        })?;
        let mut f = std::fs::File::create(&part).map_err(|e| io_err("create", &part, e))?;
        f.write_all(&text)
            .and_then(|()| f.write_all(b"\n"))
            .map_err(|e| io_err("write", &part, e))?;
        drop(f);
        std::fs::rename(&part, &path).map_err(|e| io_err("rename into place", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> FileRecord {
        FileRecord {
            path: "a/b.bin".into(),
            size: 3,
            etag: "\"x\"".into(),
            crc64: Some(u64::MAX),
            mtime_ns: 1_700_000_000_123_456_789,
        }
    }

    #[test]
    fn a_saved_record_loads_back_for_the_same_source_only() {
        let dir = tempdir();
        let mut m = Manifest::new("bkt", "p/");
        m.files.insert("p/a/b.bin".into(), record());
        m.save(&dir).unwrap();
        assert_eq!(Manifest::load(&dir, "bkt", "p/"), m);
        assert!(Manifest::load(&dir, "bkt", "q/").files.is_empty());
        assert!(Manifest::load(&dir, "other", "p/").files.is_empty());
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the manifest is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_record_means_starting_afresh() {
        let dir = tempdir();
        std::fs::write(dir.join(MANIFEST_NAME), b"{\"version\": 1, \"bucket\": ").unwrap();
        assert_eq!(
            Manifest::load(&dir, "bkt", "p/"),
            Manifest::new("bkt", "p/")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ossmc-manifest-test-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
