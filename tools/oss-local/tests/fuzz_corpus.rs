//! Replays every file of oss-local's committed fuzz corpora (`fuzz/corpus/local_*/` at the
//! repository root) through the entry point its fuzz target calls, so old findings are
//! checked on stable without a fuzzer.

#[test]
fn every_corpus_file_replays_without_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let n = ossmc_testkit::fuzz_corpus::replay(&root, oss_local::fuzzing::TARGETS);
    eprintln!("replayed {n} corpus files");
}
