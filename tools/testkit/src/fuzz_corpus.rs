//! Replays committed fuzz corpora through their targets' entry points, so old findings are
//! checked on stable in a plain `cargo test`, without a fuzzer. Used by the library's unit
//! tests and by oss-local's tests alike.

use std::path::Path;

/// A fuzz target's entry point: one input, no result (a panic is the finding).
pub type Entry = fn(&[u8]);

/// Feeds every file of `root/<target>/` to the target's entry point, for each of `targets`
/// (name, entry point), in file-name order. Panics, naming the target and the file, when a
/// corpus is missing or empty or an input panics. Returns how many files were replayed.
pub fn replay(root: &Path, targets: &[(&str, Entry)]) -> usize {
    let mut total = 0;
    for (name, entry) in targets {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no corpus for {name} at {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "the corpus of {name} is empty");
        for file in &files {
            let data = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| entry(&data));
            assert!(outcome.is_ok(), "{name}: {} panics", file.display());
        }
        total += files.len();
    }
    total
}
