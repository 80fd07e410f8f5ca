//! The synthetic data that oss-local serves without storing it, and that tests check
//! without downloading a reference copy.
//!
//! Two things live here, each a pure function so that any range can be produced or
//! verified on its own:
//!
//! * **Object bytes** ([`fill`]): the byte at `offset` of the object named `key` is byte
//!   `offset % 8` (little-endian) of the 64-bit word
//!   `w(i) = y ^ (y >> 31)` where `y = (seed(key) + i) * 0x9E3779B97F4A7C15 (mod 2^64)`
//!   and `i = offset / 8`; `seed(key)` is FNV-1a-64 of the key's UTF-8 bytes.
//!   Every word of an object differs from every other word of it (both steps are
//!   bijections), so a misplaced or repeated chunk never verifies by accident.
//!   `tools/testkit/python/ossmc_testkit/synthetic.py` implements the same function with numpy.
//! * **Key names** ([`key_name`]): the `i`-th key of an `--keys PREFIX:COUNT` set, a mix of
//!   one flat huge directory, nested directories, a deep tree and non-ASCII names with
//!   spaces and `+`, so that listing sees the shapes real buckets have.
//!
//! Generation runs at memory speed (the word sequence only needs one add per word),
//! so serving synthetic shards never limits a benchmark.

/// The multiplier of the word function: 2^64 / golden ratio, odd, so `i -> i * K` is a
/// bijection on u64.
pub const WORD_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// FNV-1a-64 of the key's bytes: the per-object seed of the byte function.
pub fn seed(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[inline(always)]
fn mix(y: u64) -> u64 {
    y ^ (y >> 31)
}

/// The 64-bit word at word index `i` of the object with seed `seed`.
#[inline]
pub fn word(seed: u64, i: u64) -> u64 {
    mix(seed.wrapping_add(i).wrapping_mul(WORD_MULTIPLIER))
}

/// Fills `buf` with the bytes of the object with seed `seed` starting at `offset`.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    if buf.is_empty() {
        return;
    }
    let mut pos = 0usize;
    let mut i = offset / 8;
    // Leading partial word.
    let skip = (offset % 8) as usize;
    if skip != 0 {
        let bytes = word(seed, i).to_le_bytes();
        let n = (8 - skip).min(buf.len());
        buf[..n].copy_from_slice(&bytes[skip..skip + n]);
        pos = n;
        i += 1;
    }
    // Whole words: y advances by the multiplier each step, so no multiply per word.
    let mut y = seed.wrapping_add(i).wrapping_mul(WORD_MULTIPLIER);
    let body = &mut buf[pos..];
    let whole = body.len() / 8 * 8;
    let (words, tail) = body.split_at_mut(whole);
    for chunk in words.chunks_exact_mut(8) {
        chunk.copy_from_slice(&mix(y).to_le_bytes());
        y = y.wrapping_add(WORD_MULTIPLIER);
    }
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&mix(y).to_le_bytes()[..n]);
    }
}

/// Returns the index of the first byte of `buf` (which should hold the object's bytes
/// from `offset`) that differs from the synthetic content, or `None` when all match.
pub fn first_mismatch(seed: u64, offset: u64, buf: &[u8]) -> Option<usize> {
    // A cache-sized block on the stack (no allocation and page faults per call), compared with
    // memcmp; the byte-by-byte search runs only on a block that differs. Benchmarks check every
    // chunk inside their timed loop, so this has to run at memory speed.
    let mut expected = [0u8; 32 * 1024];
    let mut done = 0usize;
    while done < buf.len() {
        let n = (buf.len() - done).min(expected.len());
        fill(seed, offset + done as u64, &mut expected[..n]);
        let got = &buf[done..done + n];
        if got != &expected[..n] {
            return got
                .iter()
                .zip(&expected[..n])
                .position(|(a, b)| a != b)
                .map(|p| done + p);
        }
        done += n;
    }
    None
}

/// The key of shard `index` (1-based) of a `--model BUCKET/NAME:SHARDS:MIB` model.
pub fn shard_key(name: &str, index: u32, shards: u32) -> String {
    format!("{name}/model-{index:05}-of-{shards:05}.safetensors")
}

/// The `i`-th key (0-based) of an `--keys BUCKET/PREFIX:COUNT` set.
///
/// Shapes, by `i % 10`: 0–4 one flat directory (`img/0000042.jpg`); 5–7 nested
/// directories (`d17/s03/f0000045.bin`); 8 a deep tree (`deep/a3/b1/c4/w0000048.txt`);
/// 9 non-ASCII with a space and `+` (`ünïcødé/文件 0000049+x.bin`). Every name contains
/// `i`, so names are distinct.
pub fn key_name(prefix: &str, i: u64) -> String {
    match i % 10 {
        0..=4 => format!("{prefix}img/{i:07}.jpg"),
        5..=7 => format!(
            "{prefix}d{:02}/s{:02}/f{i:07}.bin",
            (i / 10) % 97,
            (i / 7) % 13
        ),
        8 => format!(
            "{prefix}deep/a{}/b{}/c{}/w{i:07}.txt",
            (i / 10) % 5,
            (i / 50) % 5,
            (i / 250) % 5
        ),
        _ => format!("{prefix}ünïcødé/文件 {i:07}+x.bin"),
    }
}

/// The size of the `i`-th key of an `--keys` set: small, varied, sometimes empty.
pub fn key_size(i: u64) -> u64 {
    (i.wrapping_mul(7919)) % 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(seed: u64, offset: u64, len: usize) -> Vec<u8> {
        (offset..offset + len as u64)
            .map(|o| word(seed, o / 8).to_le_bytes()[(o % 8) as usize])
            .collect()
    }

    #[test]
    fn fill_matches_the_definition_at_any_alignment() {
        let s = seed("m/model-00001-of-00004.safetensors");
        for offset in [0u64, 1, 7, 8, 9, 4095, 1 << 33] {
            for len in [0usize, 1, 3, 8, 15, 64, 1001] {
                let mut buf = vec![0u8; len];
                fill(s, offset, &mut buf);
                assert_eq!(buf, slow(s, offset, len), "offset {offset} len {len}");
            }
        }
    }

    #[test]
    fn known_values_shared_with_python() {
        // tools/testkit/python/tests/test_synthetic.py asserts the same numbers.
        assert_eq!(seed(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(seed("a"), 0xaf63_dc4c_8601_ec8c);
        let mut buf = [0u8; 8];
        fill(seed("a"), 0, &mut buf);
        assert_eq!(u64::from_le_bytes(buf), word(seed("a"), 0));
        assert_eq!(word(0, 1), WORD_MULTIPLIER ^ (WORD_MULTIPLIER >> 31));
    }

    #[test]
    fn mismatch_is_found_at_the_right_place() {
        let s = seed("k");
        let mut buf = vec![0u8; 3_000_000];
        fill(s, 5, &mut buf);
        assert_eq!(first_mismatch(s, 5, &buf), None);
        buf[2_500_001] ^= 1;
        assert_eq!(first_mismatch(s, 5, &buf), Some(2_500_001));
        assert!(first_mismatch(s, 6, &buf).is_some());
    }

    #[test]
    fn key_names_are_distinct_and_varied() {
        let names: std::collections::BTreeSet<String> =
            (0..10_000).map(|i| key_name("p/", i)).collect();
        assert_eq!(names.len(), 10_000);
        assert!(names.iter().any(|n| !n.is_ascii()));
        assert_eq!(
            shard_key("qwen", 2, 38),
            "qwen/model-00002-of-00038.safetensors"
        );
    }
}
