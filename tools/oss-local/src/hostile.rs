//! Hostile object responses: a server that lies in its headers or ignores what it was asked,
//! so that clients can be tested against it. Each kind has its own rate; all are
//! reproducible from `--seed`, with draws separate from `faults` (so enabling one never shifts
//! the other's decisions).
//!
//! Scheme: GetObject, HeadObject and GetObjectMeta requests are numbered 0, 1, 2, … in the
//! order the server starts handling them (only while some hostile rate is set). Request `n`
//! draws seven numbers v0..v6 uniform in [0, 1) from ChaCha8 seeded with `--seed` XOR
//! [`SEED_SALT`], stream `n`, always all seven, one per kind in the order of [`Lie::ALL`]; the
//! first kind that applies to the request with `v_i < rate` is what the server does.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Keeps these draws apart from the ones in `faults`, which use the bare seed.
const SEED_SALT: u64 = 0x686f_7374_696c_6521;

/// Extra body bytes an overlong response sends past the range.
pub const OVERLONG_BYTES: u64 = 16;

/// The command-line rates, each a probability (see README.md's fault table).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HostileArgs {
    /// Fraction of HeadObject/GetObjectMeta responses announcing Content-Length
    /// 18446744073709551615.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub huge_length_rate: f64,

    /// Fraction of HeadObject/GetObjectMeta responses announcing one byte more than the object
    /// has.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub wrong_length_rate: f64,

    /// Fraction of GetObject responses announcing Content-Length 18446744073709551615 (the
    /// body is the right one; the connection closes after it).
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub huge_get_length_rate: f64,

    /// Fraction of ranged GetObject responses (206) that send a range shifted by one byte,
    /// with a Content-Range saying so.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub wrong_range_rate: f64,

    /// Fraction of ranged GetObject requests answered 200 with the whole object.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub whole_object_rate: f64,

    /// Fraction of GetObject responses sent chunked (no Content-Length) with bytes past the
    /// range appended.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub overlong_rate: f64,

    /// Fraction of GetObject requests answered as if the object had been replaced: If-Match
    /// ignored, another ETag, and the first body byte differs.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub etag_change_rate: f64,
}

/// What a hostile server does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    HugeLength,
    WrongLength,
    WrongRange,
    WholeObject,
    Overlong,
    EtagChange,
    HugeGetLength,
}

impl Lie {
    /// Every kind, in draw order.
    pub const ALL: [Lie; 7] = [
        Lie::HugeLength,
        Lie::WrongLength,
        Lie::WrongRange,
        Lie::WholeObject,
        Lie::Overlong,
        Lie::EtagChange,
        Lie::HugeGetLength,
    ];

    /// The kind's name in `/_stats` `faults`.
    pub fn name(self) -> &'static str {
        match self {
            Lie::HugeLength => "huge_length",
            Lie::WrongLength => "wrong_length",
            Lie::WrongRange => "wrong_range",
            Lie::WholeObject => "whole_object",
            Lie::Overlong => "overlong",
            Lie::EtagChange => "etag_change",
            Lie::HugeGetLength => "huge_get_length",
        }
    }

    fn applies_to_head(self) -> bool {
        matches!(self, Lie::HugeLength | Lie::WrongLength)
    }
}

/// The configured rates, the request numbering and the count of each kind sent.
#[derive(Default)]
pub struct Hostile {
    args: HostileArgs,
    seed: u64,
    next: AtomicU64,
    sent: [AtomicU64; 7],
}

impl Hostile {
    pub fn new(args: HostileArgs, seed: u64) -> Hostile {
        Hostile {
            args,
            seed,
            ..Hostile::default()
        }
    }

    fn rate(&self, lie: Lie) -> f64 {
        let a = &self.args;
        match lie {
            Lie::HugeLength => a.huge_length_rate,
            Lie::WrongLength => a.wrong_length_rate,
            Lie::WrongRange => a.wrong_range_rate,
            Lie::WholeObject => a.whole_object_rate,
            Lie::Overlong => a.overlong_rate,
            Lie::EtagChange => a.etag_change_rate,
            Lie::HugeGetLength => a.huge_get_length_rate,
        }
    }

    /// Numbers an object request (HEAD when `head`) and draws what is done to it. The
    /// handler calls [`Hostile::sent`] once it has actually applied the lie.
    pub fn draw(&self, head: bool) -> Option<Lie> {
        if Lie::ALL.iter().all(|&l| self.rate(l) <= 0.0) {
            return None;
        }
        let n = self.next.fetch_add(1, Relaxed);
        self.draw_for(n, head)
    }

    fn draw_for(&self, n: u64, head: bool) -> Option<Lie> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ SEED_SALT);
        rng.set_stream(n);
        let v: [f64; 7] = std::array::from_fn(|_| rng.random::<f64>());
        Lie::ALL
            .into_iter()
            .zip(v)
            .find(|&(lie, v)| lie.applies_to_head() == head && v < self.rate(lie))
            .map(|(lie, _)| lie)
    }

    /// Counts a lie that was applied.
    pub fn sent(&self, lie: Lie) {
        self.sent[lie as usize].fetch_add(1, Relaxed);
    }

    /// Adds the counts to the `/_stats` `faults` object.
    pub fn add_counts(&self, faults: &mut serde_json::Value) {
        if let Some(map) = faults.as_object_mut() {
            for lie in Lie::ALL {
                map.insert(
                    lie.name().into(),
                    self.sent[lie as usize].load(Relaxed).into(),
                );
            }
        }
    }

    /// Zeroes the counts (`/_stats?reset`).
    pub fn reset(&self) {
        for c in &self.sent {
            c.store(0, Relaxed);
        }
    }
}

/// Another version's ETag: same length, last hex digit changed.
pub fn other_etag(etag: &str) -> String {
    let mut s = etag.to_owned();
    let last = match s.pop() {
        Some('0') => '1',
        _ => '0',
    };
    s.push(last);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_respect_the_operation() {
        let args = HostileArgs {
            huge_length_rate: 0.5,
            whole_object_rate: 0.5,
            ..Default::default()
        };
        let h = Hostile::new(args.clone(), 7);
        let a: Vec<_> = (0..200).map(|n| h.draw_for(n, n % 2 == 0)).collect();
        let b: Vec<_> = (0..200)
            .map(|n| Hostile::new(args.clone(), 7).draw_for(n, n % 2 == 0))
            .collect();
        assert_eq!(a, b);
        for (n, d) in a.iter().enumerate() {
            match d {
                Some(Lie::HugeLength) => assert_eq!(n % 2, 0, "a HEAD lie on a GET"),
                Some(Lie::WholeObject) => assert_eq!(n % 2, 1, "a GET lie on a HEAD"),
                None => {}
                Some(other) => panic!("{other:?} has rate 0"),
            }
        }
        let some = a.iter().filter(|d| d.is_some()).count();
        assert!((50..150).contains(&some), "{some}");
        assert_eq!(Hostile::default().draw(false), None);
    }

    #[test]
    fn counts_appear_in_the_stats_and_reset() {
        let h = Hostile::default();
        h.sent(Lie::Overlong);
        let mut faults = serde_json::json!({"fail": 0});
        h.add_counts(&mut faults);
        assert_eq!(faults["overlong"], 1);
        assert_eq!(faults["etag_change"], 0);
        assert_eq!(faults["fail"], 0);
        h.reset();
        h.add_counts(&mut faults);
        assert_eq!(faults["overlong"], 0);
    }

    #[test]
    fn another_etag_differs() {
        assert_eq!(other_etag("ABC0"), "ABC1");
        assert_eq!(other_etag("ABC9"), "ABC0");
    }
}
