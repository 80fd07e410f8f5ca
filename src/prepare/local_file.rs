//! Files in the target directory: written under a temporary name, piece by piece by the
//! writer pool (`file_writer`), renamed into place once complete and verified; and CRC-64 of
//! files already there.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use memmap2::Mmap;
use rayon::prelude::*;

use super::file_writer::{self, Piece, Writers, PIECE};
use super::layout::PART_SUFFIX;
use crate::client::CancelToken;
use crate::error::{Error, ErrorKind, Result};
use crate::prefetch::crc;
use crate::protocol::CrcKind;
use crate::reader::ObjectReader;

/// How long one read waits before the cancel token is looked at again.
const SLICE: Duration = Duration::from_millis(500);
/// Pieces a local file's CRC is computed in, on all cores, then combined.
const CRC_PIECE: usize = 64 << 20;

/// `.<name>.ossmc-part` beside `path`: hidden, and never a name a key can have.
pub(crate) fn part_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{PART_SUFFIX}"))
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// Writes the object `reader` reads to `path`: into `.<name>.ossmc-part` first, renamed to
/// `path` only when every byte is written and the read verified it (CRC-64 when the server
/// sent one; the size always). Pieces are written by `writers` while the next is read; the
/// bytes written are counted there. Returns the file's modification time. On failure
/// nothing is left at either name.
pub(crate) fn write_object(
    reader: &ObjectReader,
    path: &Path,
    cancel: &CancelToken,
    writers: &Writers,
) -> Result<i64> {
    let part = part_path(path);
    let result = fill(reader, &part, cancel, writers)
        .and_then(|()| {
            std::fs::rename(&part, path).map_err(|e| io_error("rename into place", path, &e))
        })
        .and_then(|()| {
            let meta = std::fs::metadata(path).map_err(|e| io_error("stat", path, &e))?;
            Ok(mtime_ns(&meta))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

fn fill(reader: &ObjectReader, part: &Path, cancel: &CancelToken, writers: &Writers) -> Result<()> {
    let size = reader.size();
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(part)
        .map_err(|e| io_error("create", part, &e))?;
    // The final size up front: the file system can lay the file out once.
    file.set_len(size).map_err(|e| io_error("size", part, &e))?;
    let file = Arc::new(file);
    let (done, outcomes) = file_writer::outcomes();
    let mut pending = 0usize;
    let mut offset = 0u64;
    let write_failed = |e: std::io::Error| io_error("write", part, &e);
    while offset < size {
        let mut buf = writers.buffer();
        let len = (size - offset).min(PIECE as u64) as usize;
        let mut filled = 0usize;
        while filled < len {
            if cancel.is_cancelled() {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "the operation was cancelled",
                ));
            }
            match reader.read_at_timeout(offset + filled as u64, &mut buf[filled..len], SLICE)? {
                None => {}
                Some(0) => return Err(reader.ended_early(offset + filled as u64)),
                Some(n) => filled += n,
            }
        }
        writers.write(Piece {
            file: Arc::clone(&file),
            offset,
            buf,
            len,
            done: done.clone(),
        });
        pending += 1;
        offset += len as u64;
        // A write that failed (disk full) stops the file now rather than after its last piece.
        while let Ok(outcome) = outcomes.try_recv() {
            pending -= 1;
            outcome.map_err(write_failed)?;
        }
    }
    drop(done);
    for _ in 0..pending {
        outcomes
            .recv()
            .expect("every queued piece reports")
            .map_err(write_failed)?;
    }
    Ok(())
}

/// The modification time of a file, in ns since the epoch.
pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    let t = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// The CRC-64 of `kind` of the file at `path`, computed in pieces on all cores.
pub(crate) fn file_crc64(path: &Path, kind: CrcKind) -> std::io::Result<u64> {
    let file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(0);
    }
    // SAFETY: read-only mapping of a file in the directory we manage; a concurrent writer
    // could change the bytes under us, which would only make the CRC differ.
    let map = unsafe { Mmap::map(&file)? };
    let parts: Vec<(u64, u64)> = map
        .par_chunks(CRC_PIECE)
        .map(|piece| (crc::checksum(kind, piece), piece.len() as u64))
        .collect();
    Ok(crc::combine_all(kind, parts))
}

/// Removes the `.<name>.ossmc-part` files an interrupted run left in `dir` (not below it).
pub(crate) fn remove_parts(dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error("list", dir, &e)),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(PART_SUFFIX) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| io_error("remove", &path, &e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_files_are_hidden_beside_the_file() {
        assert_eq!(
            part_path(Path::new("/d/sub/model.safetensors")),
            PathBuf::from("/d/sub/.model.safetensors.ossmc-part")
        );
    }

    #[test]
    fn a_file_crc_matches_the_crc_of_its_bytes_across_pieces() {
        let dir = std::env::temp_dir().join(format!("ossmc-crc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let bytes: Vec<u8> = (0..(CRC_PIECE + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(file_crc64(&path, CrcKind::Xz).unwrap(), crc::crc64(&bytes));
        assert_eq!(
            file_crc64(&path, CrcKind::Nvme).unwrap(),
            crc::checksum(CrcKind::Nvme, &bytes)
        );
        std::fs::write(&path, b"").unwrap();
        assert_eq!(file_crc64(&path, CrcKind::Xz).unwrap(), 0);
        std::fs::write(dir.join(".x.ossmc-part"), b"1").unwrap();
        std::fs::write(dir.join("x.ossmc-partial"), b"1").unwrap();
        assert_eq!(remove_parts(&dir).unwrap(), 1);
        assert!(dir.join("x.ossmc-partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
