//! From a listing to the tree it becomes under the target directory: every key's part after
//! the prefix, split at `/`, is a relative path, and nothing may point outside the directory.
//!
//! A key is refused (before anything is fetched or written) when that part has a `.` or `..`
//! segment, an empty segment (`a//b`, a leading `/`), a NUL or a backslash, or a name this
//! module reserves for its own files. Names that merely contain dots (`a..b`, `..hidden`,
//! `...`) are ordinary names. A key ending in `/` with no bytes is a directory marker (what
//! consoles create for "folders"): it becomes a directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Result};
use crate::listing::ObjectInfo;

/// The file at the top of the directory that records what the last run fetched.
pub(crate) const MANIFEST_NAME: &str = ".ossmc-manifest.json";
/// The suffix of files being written (`.<name>.ossmc-part`), renamed when complete.
pub(crate) const PART_SUFFIX: &str = ".ossmc-part";

/// One object to put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileEntry {
    pub object: ObjectInfo,
    /// The path relative to the target directory, `/`-separated as in the key.
    pub rel: String,
}

/// The tree a listing becomes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Files in key order.
    pub files: Vec<FileEntry>,
    /// Every directory below the target (ancestors first), relative, `/`-separated.
    pub dirs: BTreeSet<String>,
}

/// Plans the tree for `objects` (all under `prefix`), or names the first key that cannot be
/// a path inside the directory.
pub(crate) fn plan(bucket: &str, prefix: &str, objects: Vec<ObjectInfo>) -> Result<Layout> {
    let mut layout = Layout::default();
    // Which key claimed each path as a file, to report clashes with a directory.
    let mut file_keys: BTreeMap<String, String> = BTreeMap::new();
    let mut dir_keys: BTreeMap<String, String> = BTreeMap::new();
    for object in objects {
        let Some(rest) = object.key.strip_prefix(prefix) else {
            return Err(refused(
                bucket,
                &object.key,
                &format!("it is not under the prefix {prefix:?}"),
            ));
        };
        if rest.is_empty() {
            // The prefix's own directory marker.
            continue;
        }
        let (rel, is_dir) = match rest.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (rest, false),
        };
        check_relative(rel).map_err(|why| refused(bucket, &object.key, &why))?;
        if is_dir && object.size > 0 {
            return Err(refused(
                bucket,
                &object.key,
                &format!(
                    "it ends in '/' like a directory but holds {} bytes",
                    object.size
                ),
            ));
        }
        // Every ancestor is a directory.
        let mut ancestors: Vec<&str> = rel.match_indices('/').map(|(i, _)| &rel[..i]).collect();
        if is_dir {
            ancestors.push(rel);
        }
        for dir in ancestors {
            if let Some(other) = file_keys.get(dir) {
                return Err(clash(bucket, other, &object.key));
            }
            dir_keys
                .entry(dir.to_owned())
                .or_insert_with(|| object.key.clone());
            layout.dirs.insert(dir.to_owned());
        }
        if !is_dir {
            if let Some(other) = dir_keys.get(rel) {
                return Err(clash(bucket, &object.key, other));
            }
            file_keys.insert(rel.to_owned(), object.key.clone());
            layout.files.push(FileEntry {
                rel: rel.to_owned(),
                object,
            });
        }
    }
    Ok(layout)
}

/// True when `rel` is a relative path that stays inside the directory (a path read back from
/// the manifest is checked again before a file there is removed).
pub(crate) fn is_safe_relative(rel: &str) -> bool {
    !rel.is_empty() && check_relative(rel).is_ok()
}

/// Why `rel` cannot be a relative path inside the directory, if it cannot.
fn check_relative(rel: &str) -> std::result::Result<(), String> {
    if rel.contains('\0') {
        return Err("it contains a NUL character".into());
    }
    if rel.contains('\\') {
        return Err("it contains a backslash".into());
    }
    if rel.starts_with('/') {
        return Err("its part after the prefix starts with '/'".into());
    }
    for segment in rel.split('/') {
        match segment {
            "" => return Err("it has an empty path segment ('//')".into()),
            "." | ".." => return Err(format!("it has a {segment:?} path segment")),
            s if s.ends_with(PART_SUFFIX) => {
                return Err(format!(
                "the name {s:?} ends in {PART_SUFFIX:?}, which is reserved for files being written"
            ))
            }
            _ => {}
        }
    }
    if rel == MANIFEST_NAME {
        return Err(format!(
            "{MANIFEST_NAME} is reserved for ossmc's record of the directory"
        ));
    }
    Ok(())
}

fn refused(bucket: &str, key: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "the key {key:?} cannot be a file inside the directory: {why}; nothing was fetched"
        ),
    )
    .with_object(bucket, Some(key))
}

fn clash(bucket: &str, file_key: &str, dir_key: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "the key {file_key:?} would be a file where the key {dir_key:?} needs a directory; nothing was fetched"
        ),
    )
    .with_object(bucket, Some(file_key))
}

/// `rel` as a path below `dir`.
pub(crate) fn under(dir: &std::path::Path, rel: &str) -> PathBuf {
    let mut p = dir.to_path_buf();
    p.extend(rel.split('/'));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn obj(key: &str, size: u64) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size,
            etag: "\"e\"".into(),
            last_modified: SystemTime::UNIX_EPOCH,
        }
    }

    fn plan_keys(keys: &[(&str, u64)]) -> Result<Layout> {
        plan("b", "m/", keys.iter().map(|&(k, s)| obj(k, s)).collect())
    }

    #[test]
    fn a_model_directory_becomes_files_and_directories() {
        let l = plan_keys(&[
            ("m/", 0),
            ("m/config.json", 10),
            ("m/sub/", 0),
            ("m/tok/a/b.json", 3),
            ("m/a..b", 1),
            ("m/..hidden", 1),
            ("m/...", 1),
        ])
        .unwrap();
        let rels: Vec<&str> = l.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            ["config.json", "tok/a/b.json", "a..b", "..hidden", "..."]
        );
        let dirs: Vec<&str> = l.dirs.iter().map(String::as_str).collect();
        assert_eq!(dirs, ["sub", "tok", "tok/a"]);
    }

    #[test]
    fn keys_that_would_leave_the_directory_are_refused_by_name() {
        for (key, why) in [
            ("m/../etc/passwd", "\"..\" path segment"),
            ("m/a/./b", "\".\" path segment"),
            ("m/..", "\"..\" path segment"),
            ("m/a//b", "empty path segment"),
            ("m//abs", "starts with '/'"),
            ("m/a\\..\\b", "backslash"),
            ("m/a\0b", "NUL"),
            ("m/x.ossmc-part", "reserved"),
            ("m/.ossmc-manifest.json", "reserved"),
        ] {
            let e = plan_keys(&[("m/ok", 1), (key, 1)]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{key}");
            assert!(e.message().contains(&format!("{key:?}")), "{key}: {e}");
            assert!(e.message().contains(why), "{key}: {e}");
        }
    }

    #[test]
    fn a_file_where_a_directory_is_needed_is_refused() {
        let e = plan_keys(&[("m/a", 1), ("m/a/b", 1)]).unwrap_err();
        assert!(
            e.message().contains("\"m/a\"") && e.message().contains("\"m/a/b\""),
            "{e}"
        );
        let e = plan_keys(&[("m/a/", 0), ("m/a", 1)]).unwrap_err();
        assert!(e.message().contains("\"m/a\""), "{e}");
        let e = plan_keys(&[("m/d/", 5)]).unwrap_err();
        assert!(e.message().contains("holds 5 bytes"), "{e}");
    }

    #[test]
    fn paths_are_built_below_the_directory() {
        assert_eq!(
            under(std::path::Path::new("/x/y"), "a/b.json"),
            PathBuf::from("/x/y/a/b.json")
        );
    }
}
