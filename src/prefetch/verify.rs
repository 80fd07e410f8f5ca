//! CRC-64 verification rounds: each fetched chunk's CRC is recorded, and once every chunk of
//! the round has one, their combination is compared with the object's `x-oss-hash-crc64ecma`.
//!
//! On a mismatch every chunk is fetched once more (round 2), keeping the CRCs of both
//! fetches. If the second round matches, its data is used; chunks whose two CRCs differ were
//! the corrupted ones, and if any of them had already been handed to a caller the object
//! fails. If the second round does not match either, the object fails. Once verified, an
//! object keeps its chunk CRCs, so a chunk fetched again later is checked on its own.
//!
//! Pure bookkeeping over [`Object`]: the scheduler moves buffers and queues as told.

use super::crc::combine_all;
use super::object::{ChunkIndex, Object};
use crate::error::{Error, ErrorKind};

/// What to do with a chunk whose fetch just completed with a CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Keep its bytes (the object may have become verified; check [`Object::verified`]).
    Keep,
    /// It does not match its verified CRC: fetch it again (within the retry budget).
    Refetch,
    /// The object failed (its error is set): drop its data and stop fetching it.
    Failed,
    /// The whole-object CRC did not match: round 2 started; drop every chunk's data
    /// and fetch every chunk again (chunks being fetched complete into round 2).
    SecondRound,
}

/// Records the CRC of chunk `idx` of `obj`, fetched just now. `max_failures`: how often a
/// chunk of a verified object may fail its check before the object fails.
pub(super) fn record_crc(
    obj: &mut Object,
    idx: ChunkIndex,
    crc: u64,
    max_failures: u32,
) -> Verdict {
    let Some(expected) = obj.meta.crc64 else {
        return Verdict::Keep;
    };
    if obj.verified {
        let full = obj.chunk_size;
        let c = &mut obj.chunks[idx as usize];
        return match c.crc {
            Some(v) if v != crc => {
                c.failures += 1;
                if c.failures >= max_failures.max(1) {
                    obj.error = Some(corrupted(
                        obj,
                        format!(
                            "chunk {idx} (bytes {}..) failed its CRC-64 check {} times",
                            idx * full,
                            obj.chunks[idx as usize].failures
                        ),
                    ));
                    Verdict::Failed
                } else {
                    log::warn!(
                        "oss://{}/{}: chunk {idx} failed its CRC-64 check; fetching it again",
                        obj.meta.bucket,
                        obj.meta.key
                    );
                    Verdict::Refetch
                }
            }
            Some(_) => Verdict::Keep,
            None => {
                // Verified without this chunk's CRC (cannot happen: verification needs every
                // one); learn it.
                c.crc = Some(crc);
                Verdict::Keep
            }
        };
    }
    let c = &mut obj.chunks[idx as usize];
    let mut mismatch_now = false;
    match c.crc {
        None => {
            c.crc = Some(crc);
            obj.crcs_missing -= 1;
        }
        Some(v) if v != crc => mismatch_now = true,
        Some(_) => {}
    }
    if !mismatch_now && obj.crcs_missing > 0 {
        return Verdict::Keep;
    }
    let combined = if mismatch_now {
        None
    } else {
        Some(combine_all(
            obj.meta.crc_kind,
            obj.chunks.iter().enumerate().map(|(i, c)| {
                (
                    c.crc.unwrap_or(0),
                    obj.chunk_range(i as ChunkIndex).1 as u64,
                )
            }),
        ))
    };
    if combined == Some(expected) {
        verified(obj);
        return Verdict::Keep;
    }
    if obj.round >= 2 {
        let differing = differing_chunks(obj);
        let detail = match combined {
            Some(got) => format!(
                "expected {expected}, got {got} on two fetches; chunks whose CRC differed between \
                 the fetches: {differing:?}"
            ),
            None => format!("chunk {idx} gave different CRCs on two fetches"),
        };
        let e = corrupted(obj, detail);
        log::error!("{e}");
        obj.error = Some(e);
        return Verdict::Failed;
    }
    log::warn!(
        "oss://{}/{}: CRC-64 mismatch (expected {expected}, got {}); fetching the object again",
        obj.meta.bucket,
        obj.meta.key,
        combined.map_or("different chunk CRCs".to_owned(), |c| c.to_string())
    );
    obj.round = 2;
    obj.crcs_missing = obj.chunks.len();
    for c in &mut obj.chunks {
        c.first_round_crc = c.crc.take();
        c.delivered_first_round = c.delivered;
        c.delivered = false;
    }
    Verdict::SecondRound
}

/// The combined CRC matched. After a second round, a chunk whose CRC changed between rounds
/// was corrupted in the first; if a caller already got its bytes, the load is spoiled.
fn verified(obj: &mut Object) {
    obj.verified = true;
    if obj.round < 2 {
        return;
    }
    let bad = differing_chunks(obj);
    let spoiled: Vec<ChunkIndex> = bad
        .iter()
        .copied()
        .filter(|&i| obj.chunks[i as usize].delivered_first_round)
        .collect();
    log::warn!(
        "oss://{}/{}: verified on the second fetch; corrupted chunks in the first: {bad:?}",
        obj.meta.bucket,
        obj.meta.key
    );
    if !spoiled.is_empty() {
        obj.error = Some(corrupted(
            obj,
            format!(
                "chunks {spoiled:?} were corrupted in transfer and their bytes had already been \
                 returned; open the object again"
            ),
        ));
    }
}

fn differing_chunks(obj: &Object) -> Vec<ChunkIndex> {
    obj.chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.first_round_crc.is_some() && c.crc.is_some() && c.first_round_crc != c.crc
        })
        .map(|(i, _)| i as ChunkIndex)
        .collect()
}

pub(super) fn corrupted(obj: &Object, detail: String) -> Error {
    Error::new(
        ErrorKind::Corrupted,
        format!("the object failed its CRC-64 check: {detail}"),
    )
    .with_object(&obj.meta.bucket, Some(&obj.meta.key))
}

#[cfg(test)]
mod tests {
    use super::super::crc::crc64;
    use super::super::object::tests::meta;
    use super::*;

    /// An object of `data` in chunks of 4 bytes, with the server's CRC of `data`.
    fn object(data: &[u8]) -> Object {
        Object::new(meta(data.len() as u64, Some(crc64(data))), 4, false)
    }

    fn chunk_crc(data: &[u8], idx: usize) -> u64 {
        crc64(&data[idx * 4..(idx * 4 + 4).min(data.len())])
    }

    #[test]
    fn chunks_in_any_order_verify_the_object_once_all_are_in() {
        let data = b"0123456789abcdefXYZ";
        let mut o = object(data);
        for idx in [3, 0, 4, 2] {
            assert_eq!(
                record_crc(&mut o, idx, chunk_crc(data, idx as usize), 5),
                Verdict::Keep
            );
            assert!(!o.verified);
        }
        assert_eq!(record_crc(&mut o, 1, chunk_crc(data, 1), 5), Verdict::Keep);
        assert!(o.verified && o.error.is_none());
        // Fetched again later (after being dropped): checked on its own.
        assert_eq!(record_crc(&mut o, 1, chunk_crc(data, 1), 5), Verdict::Keep);
    }

    #[test]
    fn a_mismatch_starts_a_second_round_that_can_verify() {
        let data = b"0123456789abcdef";
        let mut o = object(data);
        for idx in 0..3 {
            record_crc(&mut o, idx, chunk_crc(data, idx as usize), 5);
        }
        o.chunks[2].delivered = true; // handed to a caller, but it was good
        assert_eq!(record_crc(&mut o, 3, 12345, 5), Verdict::SecondRound);
        assert_eq!((o.round, o.crcs_missing), (2, 4));
        assert!(o.chunks.iter().all(|c| c.crc.is_none() && !c.delivered));
        for idx in 0..4 {
            assert_eq!(
                record_crc(&mut o, idx, chunk_crc(data, idx as usize), 5),
                Verdict::Keep
            );
        }
        assert!(o.verified);
        assert!(
            o.error.is_none(),
            "the corrupted chunk 3 was never handed over"
        );
    }

    #[test]
    fn a_corrupted_chunk_already_handed_over_spoils_the_load() {
        let data = b"0123456789abcdef";
        let mut o = object(data);
        record_crc(&mut o, 0, 999, 5);
        o.chunks[0].delivered = true;
        for idx in 1..3 {
            record_crc(&mut o, idx, chunk_crc(data, idx as usize), 5);
        }
        assert_eq!(
            record_crc(&mut o, 3, chunk_crc(data, 3), 5),
            Verdict::SecondRound
        );
        for idx in 0..4 {
            record_crc(&mut o, idx, chunk_crc(data, idx as usize), 5);
        }
        let e = o.error.as_ref().expect("spoiled");
        assert_eq!(e.kind(), ErrorKind::Corrupted);
        assert!(e.to_string().contains("[0]"), "{e}");
    }

    #[test]
    fn two_bad_rounds_fail_the_object() {
        let data = b"01234567";
        let mut o = object(data);
        record_crc(&mut o, 0, 1, 5);
        assert_eq!(record_crc(&mut o, 1, 2, 5), Verdict::SecondRound);
        record_crc(&mut o, 0, 1, 5);
        assert_eq!(record_crc(&mut o, 1, 3, 5), Verdict::Failed);
        assert!(o.error.as_ref().unwrap().to_string().contains("[1]"));
        // A chunk giving two different CRCs within a round fails at once in round 2.
        let mut o = object(data);
        record_crc(&mut o, 0, 1, 5);
        record_crc(&mut o, 1, 2, 5);
        record_crc(&mut o, 0, 7, 5);
        assert_eq!(record_crc(&mut o, 0, 8, 5), Verdict::Failed);
    }

    #[test]
    fn a_verified_chunk_that_keeps_failing_fails_the_object() {
        let data = b"01234567";
        let mut o = object(data);
        record_crc(&mut o, 0, chunk_crc(data, 0), 3);
        record_crc(&mut o, 1, chunk_crc(data, 1), 3);
        assert!(o.verified);
        assert_eq!(record_crc(&mut o, 1, 5, 3), Verdict::Refetch);
        assert_eq!(record_crc(&mut o, 1, 5, 3), Verdict::Refetch);
        assert_eq!(record_crc(&mut o, 1, 5, 3), Verdict::Failed);
        assert!(o.error.is_some());
        let unchecked = &mut Object::new(meta(8, None), 4, false);
        assert_eq!(record_crc(unchecked, 0, 42, 1), Verdict::Keep);
    }
}
