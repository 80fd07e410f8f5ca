//! The CRC-64 of chunks, CRC-64/XZ (OSS's `x-oss-hash-crc64ecma`) or CRC-64/NVME (S3's
//! `x-amz-checksum-crc64nvme`), and combining chunk CRCs into the whole object's CRC without a
//! second pass over the data.

use crc_fast::{CrcAlgorithm, Digest};

use crate::protocol::CrcKind;

fn algorithm(kind: CrcKind) -> CrcAlgorithm {
    match kind {
        CrcKind::Xz => CrcAlgorithm::Crc64Xz,
        CrcKind::Nvme => CrcAlgorithm::Crc64Nvme,
    }
}

/// An incremental CRC-64 over the bytes of one chunk, fed as they arrive from the socket.
pub(crate) struct ChunkCrc(Digest);

impl ChunkCrc {
    pub(crate) fn new(kind: CrcKind) -> ChunkCrc {
        ChunkCrc(Digest::new(algorithm(kind)))
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
    checksum(CrcKind::Xz, bytes)
}

/// The CRC-64 of `kind` of `bytes`.
pub(crate) fn checksum(kind: CrcKind, bytes: &[u8]) -> u64 {
    crc_fast::checksum(algorithm(kind), bytes)
}

/// `crc(A‖B)` from `crc(A)`, `crc(B)` and `len(B)`.
///
/// Combining applies `len(B)` zero bytes to `crc(A)`: a linear map over GF(2) that depends
/// only on `len(B)`. crc-fast rebuilds that map by repeated matrix squaring on every call
/// (~100 us, which showed up at 4% of a load's CPU), while a load combines thousands of CRCs
/// of a few distinct lengths (the chunk and piece sizes). So the map is built once per
/// length, from crc-fast's own combine applied to the 64 unit vectors, and applied as 64
/// conditional XORs.
pub(crate) fn combine(kind: CrcKind, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    if crc_a == 0 {
        // crc(empty) is 0, and crc(empty ‖ B) = crc(B).
        return crc_b;
    }
    zeros_operator(kind, len_b).apply(crc_a) ^ crc_b
}

/// The affine map `crc ↦ combine(crc, 0, len)`.
struct ZerosOperator {
    columns: [u64; 64],
    constant: u64,
}

impl ZerosOperator {
    fn new(kind: CrcKind, len: u64) -> ZerosOperator {
        let raw = |crc| crc_fast::checksum_combine(algorithm(kind), crc, 0, len);
        let constant = raw(0);
        let mut columns = [0u64; 64];
        for (n, c) in columns.iter_mut().enumerate() {
            *c = raw(1 << n) ^ constant;
        }
        ZerosOperator { columns, constant }
    }

    fn apply(&self, mut crc: u64) -> u64 {
        let mut out = self.constant;
        let mut n = 0;
        while crc != 0 {
            if crc & 1 == 1 {
                out ^= self.columns[n];
            }
            crc >>= 1;
            n += 1;
        }
        out
    }
}

/// The operator for `len` zero bytes, from a small process-wide cache.
fn zeros_operator(kind: CrcKind, len: u64) -> std::sync::Arc<ZerosOperator> {
    use std::sync::{Arc, Mutex, OnceLock};
    /// A load uses a few lengths; bounded in case a caller uses many.
    const CACHED: usize = 32;
    type Cache = Mutex<Vec<((CrcKind, u64), Arc<ZerosOperator>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Some((_, op)) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(l, _)| *l == (kind, len))
    {
        return Arc::clone(op);
    }
    let op = Arc::new(ZerosOperator::new(kind, len));
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if c.len() >= CACHED {
        c.remove(0);
    }
    c.push(((kind, len), Arc::clone(&op)));
    op
}

/// The whole-object CRC from per-chunk CRCs and lengths, in offset order.
pub(crate) fn combine_all(kind: CrcKind, parts: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    parts
        .into_iter()
        .fold(0u64, |acc, (crc, len)| combine(kind, acc, crc, len))
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
            combine(CrcKind::Xz, crc64(a), crc64(b), b.len() as u64),
            12198584541786614250
        );
        // Folding from zero, with uneven parts and an empty part.
        let parts = [
            &pattern[..1],
            &pattern[1..1],
            &pattern[1..77_777],
            &pattern[77_777..],
        ];
        let folded = combine_all(
            CrcKind::Xz,
            parts.iter().map(|p| (crc64(p), p.len() as u64)),
        );
        assert_eq!(folded, 12198584541786614250);
        // Against crc-fast's own combine, for assorted CRCs and lengths (cached and not).
        for (a, b, len) in [
            (1u64, 2u64, 1u64),
            (u64::MAX, 7, 8 << 20),
            (12345, 0, 8 << 20),
            (9, 9, 4095),
        ] {
            let want = crc_fast::checksum_combine(CrcAlgorithm::Crc64Xz, a, b, len);
            assert_eq!(combine(CrcKind::Xz, a, b, len), want, "{a} {b} {len}");
            assert_eq!(
                combine(CrcKind::Xz, a, b, len),
                want,
                "cached: {a} {b} {len}"
            );
        }
        let mut inc = ChunkCrc::new(CrcKind::Xz);
        inc.update(&pattern[..5]);
        inc.update(&pattern[5..]);
        assert_eq!(inc.finish(), 12198584541786614250);
    }

    #[test]
    fn nvme_checksums_and_combining() {
        let nvme = |b: &[u8]| checksum(CrcKind::Nvme, b);
        // The CRC-64/NVME check value, and S3's example pair: AWS's CRC64NVME of "" is 0.
        assert_eq!(nvme(b"123456789"), 0xae8b14860a799888);
        assert_eq!(nvme(b""), 0);
        let pattern: Vec<u8> = (0..1usize << 20).map(|i| (i * 7 % 251) as u8).collect();
        let whole = nvme(&pattern);
        assert_ne!(whole, checksum(CrcKind::Xz, &pattern));
        // The XZ operator must not be reused for NVME: same lengths as above, other kind.
        for split in [1usize, 300_000, 8 << 17] {
            let (a, b) = pattern.split_at(split);
            assert_eq!(
                combine(CrcKind::Xz, crc64(a), crc64(b), b.len() as u64),
                crc64(&pattern)
            );
            assert_eq!(
                combine(CrcKind::Nvme, nvme(a), nvme(b), b.len() as u64),
                whole
            );
        }
        let parts = [&pattern[..10], &pattern[10..10], &pattern[10..]];
        assert_eq!(
            combine_all(
                CrcKind::Nvme,
                parts.iter().map(|p| (nvme(p), p.len() as u64))
            ),
            whole
        );
        let mut inc = ChunkCrc::new(CrcKind::Nvme);
        inc.update(&pattern[..3]);
        inc.update(&pattern[3..]);
        assert_eq!(inc.finish(), whole);
    }
}
