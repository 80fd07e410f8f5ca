//! `prepare_directory`: a real directory holding every object under an `oss://` prefix, which
//! any framework can load (vLLM, transformers, safetensors' own mmap, C++ loaders, `stat`).
//!
//! One run:
//! 1. lists the prefix and plans the tree (`layout`), refusing keys that would leave the
//!    directory before anything is written;
//! 2. removes the `.ossmc-part` files an interrupted run left, and the files of objects that
//!    are gone from the prefix since the last run (`manifest` says which were ours);
//! 3. keeps a file the last run wrote when its object has the same ETag and size, and the
//!    file still has the object's size and CRC-64 (over the local bytes; without a server
//!    CRC, the modification time the last run recorded);
//! 4. fetches the rest through the prefetcher, in key order, a window of objects opened
//!    ahead: each is written straight into its file under a temporary name and renamed when
//!    complete and verified (`local_file`);
//! 5. records what it wrote (`.ossmc-manifest.json`, rewritten now and then and at the end).

mod file_writer;
mod layout;
mod local_file;
mod manifest;
mod progress;

use std::collections::{BTreeSet, VecDeque};
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::client::CancelToken;
use crate::connector::Connector;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::CrcKind;
use crate::reader::ObjectReader;

use layout::{under, FileEntry};
use manifest::{FileRecord, Manifest};

/// How many objects are opened ahead of the one being written, so that the prefetcher
/// fetches small files concurrently and the next shard while one is written.
const OPEN_AHEAD: usize = 64;
/// How often the manifest is rewritten while files arrive, so an interrupted run keeps what
/// it finished.
const SAVE_EVERY: Duration = Duration::from_secs(2);

/// How `prepare_directory` behaves.
#[derive(Debug, Clone, Default)]
pub struct PrepareOptions {
    /// Draw a progress line on stderr: `Some(true)` always, `Some(false)` never, `None` when
    /// stderr is a terminal.
    pub progress: Option<bool>,
}

/// What a `prepare_directory` run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrepareReport {
    /// Files the directory holds for the prefix now.
    pub files: u64,
    /// Of those, the ones fetched by this run.
    pub fetched: u64,
    /// Of those, the ones an earlier run left that still match their objects.
    pub kept: u64,
    /// Files removed: objects gone from the prefix since the last run.
    pub removed: u64,
    /// Bytes fetched into files by this run.
    pub bytes_fetched: u64,
    /// Bytes of all the files.
    pub bytes_total: u64,
}

/// Makes `dir` hold every object of `bucket` under `prefix` (see the module doc).
pub(crate) fn prepare_directory(
    conn: &Connector,
    bucket: &str,
    prefix: &str,
    dir: &Path,
    options: &PrepareOptions,
    cancel: &CancelToken,
) -> Result<PrepareReport> {
    let objects = conn.list_with_cancel(bucket, prefix, cancel)?;
    let layout = layout::plan(bucket, prefix, objects)?;
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Error::new(ErrorKind::Io, format!("cannot {what} {}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create the directory", dir, e))?;
    local_file::remove_parts(dir)?;
    for rel in &layout.dirs {
        let path = under(dir, rel);
        std::fs::create_dir_all(&path).map_err(|e| io("create the directory", &path, e))?;
        local_file::remove_parts(&path)?;
    }

    let old = Manifest::load(dir, bucket, prefix);
    let mut report = PrepareReport {
        files: layout.files.len() as u64,
        bytes_total: layout.files.iter().map(|f| f.object.size).sum(),
        ..PrepareReport::default()
    };
    report.removed = remove_gone(dir, &old, &layout)?;

    // Which files can stay: CRCs of local files are computed on all cores, with the
    // polynomial of this connector's protocol (a record another protocol wrote does not match,
    // and its file is fetched again).
    let kind = conn.protocol().crc_kind();
    let kept: Vec<Option<FileRecord>> = layout
        .files
        .par_iter()
        .map(|f| still_matches(dir, f, old.files.get(&f.object.key), kind))
        .collect();
    let mut record = Manifest::new(bucket, prefix);
    let mut to_fetch: Vec<&FileEntry> = Vec::new();
    for (f, keep) in layout.files.iter().zip(kept) {
        match keep {
            Some(rec) => {
                record.files.insert(f.object.key.clone(), rec);
                report.kept += 1;
            }
            None => to_fetch.push(f),
        }
    }
    log::info!(
        "prepare_directory {}{bucket}/{prefix} -> {}: {} files, {} kept, {} to fetch, {} removed",
        conn.protocol().scheme(),
        dir.display(),
        report.files,
        report.kept,
        to_fetch.len(),
        report.removed
    );

    let counters = progress::Counters {
        files_done: AtomicU64::new(report.kept),
        bytes_written: AtomicU64::new(0),
    };
    let show = options
        .progress
        .unwrap_or_else(|| std::io::stderr().is_terminal());
    let bytes_to_fetch = to_fetch.iter().map(|f| f.object.size).sum();
    let label = format!("{}{bucket}/{prefix}", conn.protocol().scheme());
    let fetched = progress::with_progress(
        show,
        &label,
        report.files,
        bytes_to_fetch,
        &counters,
        || fetch_all(conn, dir, &to_fetch, &mut record, cancel, &counters),
    );
    // Whatever happened, record the files that are in place.
    let saved = record.save(dir);
    report.fetched = fetched?;
    saved?;
    report.bytes_fetched = counters.bytes_written.load(Ordering::Relaxed);
    Ok(report)
}

/// The record to keep for `f` if the file an earlier run wrote still matches its object.
fn still_matches(
    dir: &Path,
    f: &FileEntry,
    old: Option<&FileRecord>,
    kind: CrcKind,
) -> Option<FileRecord> {
    let old = old?;
    if old.etag != f.object.etag || old.size != f.object.size || old.path != f.rel {
        return None;
    }
    let path = under(dir, &f.rel);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() != f.object.size {
        return None;
    }
    let same = match old.crc64 {
        Some(crc) => local_file::file_crc64(&path, kind).ok() == Some(crc),
        None => local_file::mtime_ns(&meta) == old.mtime_ns,
    };
    if !same {
        log::info!(
            "{} no longer matches its object; fetching it again",
            path.display()
        );
    }
    same.then(|| old.clone())
}

/// Removes the files an earlier run wrote for objects no longer under the prefix, and the
/// directories that leaves empty; returns how many files.
fn remove_gone(dir: &Path, old: &Manifest, layout: &layout::Layout) -> Result<u64> {
    let listed: BTreeSet<&str> = layout.files.iter().map(|f| f.rel.as_str()).collect();
    let mut removed = 0;
    for rec in old.files.values() {
        if listed.contains(rec.path.as_str()) || !layout::is_safe_relative(&rec.path) {
            continue;
        }
        let path = under(dir, &rec.path);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            _ => continue,
        }
        std::fs::remove_file(&path).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot remove {}: {e}", path.display()),
            )
        })?;
        removed += 1;
        // Directories this leaves empty go too, unless the new layout has them.
        let mut rel = rec.path.as_str();
        while let Some((parent, _)) = rel.rsplit_once('/') {
            if layout.dirs.contains(parent) || std::fs::remove_dir(under(dir, parent)).is_err() {
                break;
            }
            rel = parent;
        }
    }
    Ok(removed)
}

/// Fetches `files` into place in order, opening up to [`OPEN_AHEAD`] ahead; returns how
/// many were fetched. Adds each finished file to `record`, and saves it now and then.
fn fetch_all(
    conn: &Connector,
    dir: &Path,
    files: &[&FileEntry],
    record: &mut Manifest,
    cancel: &CancelToken,
    counters: &progress::Counters,
) -> Result<u64> {
    file_writer::with_writers(&counters.bytes_written, |writers| {
        fetch_in_order(conn, dir, files, record, cancel, counters, writers)
    })
}

fn fetch_in_order(
    conn: &Connector,
    dir: &Path,
    files: &[&FileEntry],
    record: &mut Manifest,
    cancel: &CancelToken,
    counters: &progress::Counters,
    writers: &file_writer::Writers,
) -> Result<u64> {
    let mut opened: VecDeque<ObjectReader> = VecDeque::new();
    let mut next_open = 0;
    let mut last_save = Instant::now();
    for f in files {
        while next_open < files.len() && opened.len() < OPEN_AHEAD {
            let o = &files[next_open].object;
            let bucket = &record.bucket;
            opened.push_back(conn.open_object_with_cancel(bucket, &o.key, cancel)?);
            next_open += 1;
        }
        let reader = opened.pop_front().expect("the object was opened above");
        let path = under(dir, &f.rel);
        let mtime_ns = local_file::write_object(&reader, &path, cancel, writers)?;
        record.files.insert(
            f.object.key.clone(),
            FileRecord {
                path: f.rel.clone(),
                size: reader.size(),
                etag: reader.etag().to_owned(),
                crc64: reader.crc64(),
                mtime_ns,
            },
        );
        // Frees the object's prefetched memory now.
        drop(reader);
        counters.files_done.fetch_add(1, Ordering::Relaxed);
        if last_save.elapsed() >= SAVE_EVERY {
            record.save(dir)?;
            last_save = Instant::now();
        }
    }
    Ok(files.len() as u64)
}
