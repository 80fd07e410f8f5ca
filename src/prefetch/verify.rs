//! CRC-64 verification rounds: each fetched chunk's CRC is recorded, and once every chunk of
//! the round has one, their combination is compared with the object's `x-oss-hash-crc64ecma`.
//!
//! * **Round 1** fetches every chunk once. A match verifies the object.
//! * **Repair rounds.** On a mismatch (or when a chunk fetched twice in round 1 gives two
//!   CRCs), every chunk is fetched again in round 2. A chunk is *confirmed* once a fetch gives a
//!   CRC an earlier fetch of it gave. Whenever every chunk has a CRC in the current round, the
//!   combination is compared again: a match verifies the object; otherwise the next round
//!   fetches only the unconfirmed chunks. Corruption in transfer is rare and random, so two
//!   fetches agreeing is what the bytes are, and a corrupted fetch in a later round costs one
//!   chunk, not the load.
//! * **Failure.** The object fails when every chunk is confirmed and the combination still
//!   differs (the header does not describe the bytes the server sends), or when
//!   `max_failures` repair rounds did not verify it.
//! * **Spoiled loads.** Once verified, a chunk whose bytes reached a caller with a CRC other
//!   than the verified one was corrupted in transfer: the object fails, so the read that got
//!   them cannot succeed silently (see the module docs of [`super`], Integrity).
//!
//! Once verified, an object keeps its chunk CRCs, so a chunk fetched again later is checked on
//! its own. Pure bookkeeping over [`Object`]: the scheduler moves buffers and queues as told.

use super::crc::combine_all;
use super::object::{ChunkIndex, Object};
use crate::error::{Error, ErrorKind};

/// What to do with a chunk whose fetch just completed with a CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Keep its bytes (the object may have become verified; check [`Object::verified`]).
    Keep,
    /// It does not match its verified or confirmed CRC: fetch it again (within the retry
    /// budget).
    Refetch,
    /// The object failed (its error is set): drop its data and stop fetching it.
    Failed,
    /// A repair round started: drop the data of every chunk without a CRC in it (every chunk in
    /// round 2, the unconfirmed ones later), this one included, and fetch them again; chunks
    /// being fetched complete into the new round.
    NewRound,
}

/// Records the CRC of chunk `idx` of `obj`, fetched just now. `max_failures`: how often a
/// chunk of a verified object may fail its check, and how many repair rounds may run, before
/// the object fails.
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
        return check_verified_chunk(obj, idx, crc, max_failures);
    }
    let repairing = obj.round >= 2;
    let c = &mut obj.chunks[idx as usize];
    match c.crc {
        None => {
            c.crc = Some(crc);
            c.confirmed = c.seen.contains(&Some(crc));
            obj.crcs_missing -= 1;
        }
        Some(v) if v == crc => c.confirmed |= repairing,
        Some(v) if !repairing => {
            // Fetched twice in round 1 (dropped, then read again) with two CRCs.
            c.seen = [Some(crc), Some(v)];
            c.crc = None;
            return start_round(obj, expected, max_failures, None);
        }
        Some(_) if c.confirmed => {
            // Two fetches agreed before; this one is the odd one out.
            return refetch_or_fail(obj, idx, max_failures);
        }
        Some(v) => {
            // Fetched twice in this round with two CRCs: keep the newer, unconfirmed.
            c.seen = [Some(v), c.seen[0]];
            c.crc = Some(crc);
        }
    }
    if obj.crcs_missing > 0 {
        return Verdict::Keep;
    }
    let combined = combine_all(
        obj.meta.crc_kind,
        obj.chunks.iter().enumerate().map(|(i, c)| {
            (
                c.crc.unwrap_or(0),
                obj.chunk_range(i as ChunkIndex).1 as u64,
            )
        }),
    );
    if combined == expected {
        verified(obj);
        return Verdict::Keep;
    }
    start_round(obj, expected, max_failures, Some(combined))
}

/// A chunk of a verified object was fetched again: it must give its verified CRC.
fn check_verified_chunk(obj: &mut Object, idx: ChunkIndex, crc: u64, max_failures: u32) -> Verdict {
    match obj.chunks[idx as usize].crc {
        Some(v) if v != crc => refetch_or_fail(obj, idx, max_failures),
        Some(_) => Verdict::Keep,
        None => {
            // Verified without this chunk's CRC (cannot happen: verification needs every
            // one); learn it.
            obj.chunks[idx as usize].crc = Some(crc);
            Verdict::Keep
        }
    }
}

/// Chunk `idx` gave a CRC other than the one it is known to have: fetch it again, or fail the
/// object once it did so `max_failures` times.
fn refetch_or_fail(obj: &mut Object, idx: ChunkIndex, max_failures: u32) -> Verdict {
    let full = obj.chunk_size;
    let c = &mut obj.chunks[idx as usize];
    c.failures += 1;
    if c.failures >= max_failures.max(1) {
        let failures = c.failures;
        obj.error = Some(corrupted(
            obj,
            format!(
                "chunk {idx} (bytes {}..) failed its CRC-64 check {failures} times",
                idx * full
            ),
        ));
        return Verdict::Failed;
    }
    log::warn!(
        "{}: chunk {idx} failed its CRC-64 check; fetching it again",
        obj.meta.uri(),
    );
    Verdict::Refetch
}

/// The round did not verify the object (`combined`: the CRC it gave, when every chunk had
/// one): start the next round, or fail the object when no round can help.
fn start_round(
    obj: &mut Object,
    expected: u64,
    max_failures: u32,
    combined: Option<u64>,
) -> Verdict {
    let got = combined.map_or("two CRCs for one chunk".to_owned(), |c| c.to_string());
    let unconfirmed: Vec<ChunkIndex> = (0..obj.chunks.len() as ChunkIndex)
        .filter(|&i| !obj.chunks[i as usize].confirmed)
        .collect();
    let detail = if obj.round >= 2 && unconfirmed.is_empty() {
        Some(format!(
            "expected {expected}, got {got}, though every chunk gave the same CRC on two \
             fetches: the server's bytes do not match its x-oss-hash-crc64ecma"
        ))
    } else if u32::from(obj.round) > max_failures.max(2) + 1 {
        Some(format!(
            "expected {expected}, got {got} after {} rounds of fetches; chunks whose fetches \
             never agreed: {unconfirmed:?}",
            obj.round
        ))
    } else {
        None
    };
    if let Some(detail) = detail {
        let e = corrupted(obj, detail);
        log::error!("{e}");
        obj.error = Some(e);
        return Verdict::Failed;
    }
    log::warn!(
        "{}: CRC-64 mismatch in round {} (expected {expected}, got {got}); fetching {} \
         chunks again",
        obj.meta.uri(),
        obj.round,
        if obj.round == 1 {
            obj.n_chunks
        } else {
            unconfirmed.len() as u64
        }
    );
    let everything = obj.round == 1;
    obj.round = obj.round.saturating_add(1);
    for c in &mut obj.chunks {
        if everything || !c.confirmed {
            if let Some(v) = c.crc.take() {
                c.seen = [Some(v), c.seen[0]];
            }
            c.confirmed = false;
        }
    }
    // Chunks not made yet have no CRC either.
    let made = obj.chunks.len() as u64;
    obj.crcs_missing =
        obj.chunks.iter().filter(|c| c.crc.is_none()).count() as u64 + (obj.n_chunks - made);
    Verdict::NewRound
}

/// The combined CRC matched. A chunk whose bytes reached a caller with another CRC than the
/// verified one was corrupted in transfer: the load is spoiled.
fn verified(obj: &mut Object) {
    obj.verified = true;
    if obj.round < 2 {
        return;
    }
    let mut bad = Vec::new();
    let mut spoiled = Vec::new();
    for (i, c) in obj.chunks.iter().enumerate() {
        if c.seen.iter().flatten().any(|&s| Some(s) != c.crc) {
            bad.push(i as ChunkIndex);
        }
        if c.handed_mixed || c.handed.is_some_and(|h| Some(h) != c.crc) {
            spoiled.push(i as ChunkIndex);
        }
    }
    log::warn!(
        "{}: verified in round {}; chunks corrupted in an earlier fetch: {bad:?}",
        obj.meta.uri(),
        obj.round
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
        o.chunks[2].hand_over(); // handed to a caller, but it was good
        assert_eq!(record_crc(&mut o, 3, 12345, 5), Verdict::NewRound);
        assert_eq!((o.round, o.crcs_missing), (2, 4));
        assert!(o.chunks.iter().all(|c| c.crc.is_none()));
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
        o.chunks[0].hand_over();
        for idx in 1..3 {
            record_crc(&mut o, idx, chunk_crc(data, idx as usize), 5);
        }
        assert_eq!(
            record_crc(&mut o, 3, chunk_crc(data, 3), 5),
            Verdict::NewRound
        );
        for idx in 0..4 {
            record_crc(&mut o, idx, chunk_crc(data, idx as usize), 5);
        }
        let e = o.error.as_ref().expect("spoiled");
        assert_eq!(e.kind(), ErrorKind::Corrupted);
        assert!(e.to_string().contains("[0]"), "{e}");
    }

    #[test]
    fn bytes_handed_over_in_two_versions_spoil_the_load_even_if_one_was_right() {
        let data = b"01234567";
        let mut o = object(data);
        record_crc(&mut o, 0, chunk_crc(data, 0), 5);
        o.chunks[0].hand_over();
        assert_eq!(record_crc(&mut o, 1, 7, 5), Verdict::NewRound);
        record_crc(&mut o, 0, 8, 5); // a corrupted fetch in round 2, handed over too
        o.chunks[0].hand_over();
        // Dropped and read again within round 2: the right bytes this time.
        assert_eq!(record_crc(&mut o, 0, chunk_crc(data, 0), 5), Verdict::Keep);
        record_crc(&mut o, 1, chunk_crc(data, 1), 5);
        assert!(o.verified);
        assert!(
            o.error.is_some(),
            "the caller got chunk 0's corrupted version"
        );
    }

    #[test]
    fn a_chunk_corrupted_again_in_round_2_is_fetched_again_alone() {
        let data = b"0123456789ab";
        let mut o = object(data);
        record_crc(&mut o, 0, 1, 5);
        record_crc(&mut o, 1, chunk_crc(data, 1), 5);
        assert_eq!(
            record_crc(&mut o, 2, chunk_crc(data, 2), 5),
            Verdict::NewRound
        );
        // Round 2: chunk 0 is corrupted again (differently); chunks 1 and 2 are confirmed.
        record_crc(&mut o, 1, chunk_crc(data, 1), 5);
        record_crc(&mut o, 0, 2, 5);
        assert_eq!(
            record_crc(&mut o, 2, chunk_crc(data, 2), 5),
            Verdict::NewRound
        );
        assert_eq!((o.round, o.crcs_missing), (3, 1));
        assert!(o.chunks[0].crc.is_none());
        assert!(o.chunks[1].confirmed && o.chunks[2].confirmed);
        assert_eq!(o.chunks[1].crc, Some(chunk_crc(data, 1)), "kept");
        // Round 3 fetches chunk 0 alone, and it is right this time.
        assert_eq!(record_crc(&mut o, 0, chunk_crc(data, 0), 5), Verdict::Keep);
        assert!(o.verified && o.error.is_none());
    }

    #[test]
    fn a_chunk_giving_two_crcs_in_round_1_starts_round_2() {
        let data = b"01234567";
        let mut o = object(data);
        record_crc(&mut o, 0, chunk_crc(data, 0), 5);
        assert_eq!(record_crc(&mut o, 0, 9, 5), Verdict::NewRound);
        assert_eq!((o.round, o.crcs_missing), (2, 2));
        record_crc(&mut o, 1, chunk_crc(data, 1), 5);
        assert_eq!(record_crc(&mut o, 0, chunk_crc(data, 0), 5), Verdict::Keep);
        assert!(o.verified && o.error.is_none());
    }

    #[test]
    fn chunks_that_agree_but_miss_the_header_fail_the_object() {
        let data = b"01234567";
        let mut o = Object::new(meta(8, Some(42)), 4, false);
        for _round in 0..2 {
            record_crc(&mut o, 0, chunk_crc(data, 0), 5);
            record_crc(&mut o, 1, chunk_crc(data, 1), 5);
        }
        let e = o.error.as_ref().expect("failed");
        assert!(
            e.to_string().contains("every chunk gave the same CRC"),
            "{e}"
        );
        assert_eq!(o.round, 2);
    }

    #[test]
    fn a_chunk_that_never_agrees_fails_the_object_when_the_rounds_run_out() {
        let data = b"01234567";
        let mut o = object(data);
        let mut verdicts = Vec::new();
        for bad in 1..=4 {
            if o.chunks[1].crc.is_none() {
                record_crc(&mut o, 1, chunk_crc(data, 1), 2);
            }
            verdicts.push(record_crc(&mut o, 0, bad, 2));
        }
        use Verdict::*;
        assert_eq!(verdicts, [NewRound, NewRound, NewRound, Failed]);
        let e = o.error.as_ref().expect("failed");
        assert!(e.to_string().contains("never agreed: [0]"), "{e}");
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
