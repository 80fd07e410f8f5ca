//! CRC-64/XZ (the `x-oss-hash-crc64ecma` algorithm) of chunks and combining chunk CRCs into
//! the whole object's CRC without a second pass over the data.

use crc_fast::{CrcAlgorithm, Digest};

/// An incremental CRC-64/XZ over the bytes of one chunk, fed as they arrive from the socket.
pub(crate) struct ChunkCrc(Digest);

impl ChunkCrc {
    pub(crate) fn new() -> ChunkCrc {
        ChunkCrc(Digest::new(CrcAlgorithm::Crc64Xz))
    }
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub(crate) fn finish(&self) -> u64 {
        self.0.finalize()
    }
}

/// CRC-64/XZ of `bytes`.
#[cfg(test)]
pub(crate) fn crc64(bytes: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Xz, bytes)
}

/// `crc(A‖B)` from `crc(A)`, `crc(B)` and `len(B)`.
pub(crate) fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    crc_fast::checksum_combine(CrcAlgorithm::Crc64Xz, crc_a, crc_b, len_b)
}

/// The whole-object CRC from per-chunk CRCs and lengths, in offset order.
pub(crate) fn combine_all(parts: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    parts
        .into_iter()
        .fold(0u64, |acc, (crc, len)| combine(acc, crc, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        assert_eq!(crc64(b""), 0);
        assert_eq!(crc64(b"123456789"), 11051210869376104954);
        assert_eq!(crc64(b"a"), 3675645893302102789);
        assert_eq!(
            crc64(b"The quick brown fox jumps over the lazy dog"),
            6583902852472283588
        );
        assert_eq!(crc64(&vec![0u8; 1 << 20]), 6947770692288575170);
        let pattern: Vec<u8> = (0..1usize << 20).map(|i| (i % 256) as u8).collect();
        assert_eq!(crc64(&pattern), 12198584541786614250);
    }

    #[test]
    fn combining_matches_the_reference_split() {
        let pattern: Vec<u8> = (0..1usize << 20).map(|i| (i % 256) as u8).collect();
        let (a, b) = pattern.split_at(300_000);
        assert_eq!(crc64(a), 11171346093773704232);
        assert_eq!(crc64(b), 11683751552465248868);
        assert_eq!(
            combine(crc64(a), crc64(b), b.len() as u64),
            12198584541786614250
        );
        // Folding from zero, with uneven parts and an empty part.
        let parts = [
            &pattern[..1],
            &pattern[1..1],
            &pattern[1..77_777],
            &pattern[77_777..],
        ];
        let folded = combine_all(parts.iter().map(|p| (crc64(p), p.len() as u64)));
        assert_eq!(folded, 12198584541786614250);
        let mut inc = ChunkCrc::new();
        inc.update(&pattern[..5]);
        inc.update(&pattern[5..]);
        assert_eq!(inc.finish(), 12198584541786614250);
    }
}
