//! Arithmetic on the key space under a prefix: where to put split points.
//!
//! OSS orders keys by their UTF-8 bytes, which is the same as ordering them by Unicode code
//! points, so this module works on `char`s and every point it makes is a valid string by
//! construction. Keys are compared by everything after the listing prefix (their *tail*).
//!
//! A tail is read as a number in `[0, 1)`: its characters are the digits after the point, in
//! base `B = |alphabet| + 1`, where a character's digit is one more than its rank in the
//! *alphabet* (the sorted set of characters seen in keys so far) and the end of the string is
//! digit 0. So a shorter string is smaller than its extensions, and the order of the numbers is
//! the order of the strings. "After every key under the prefix" is the number 1.
//!
//! Measuring the key space in the learned alphabet rather than in raw bytes matters: in a
//! directory of `img/0000001.jpg` … only ten of the 256 byte values follow `img/`, and a byte
//! midpoint would land far past the last key. Numbers are kept exactly, as digit vectors,
//! because keys often share a long prefix and differ only many digits down; sizes of ranges are
//! compared through their natural logarithms, which carry any depth.

use std::cmp::Ordering;

// Split points must not be longer than the longest key OSS accepts.
use crate::uri::MAX_KEY_BYTES;

/// Significant digits used when a width is turned into a float or a float into digits.
const SIGNIFICANT: usize = 9;

/// The characters seen at each position of key tails: position `i` is read as a digit in
/// base `|chars seen at i| + 1`.
///
/// One alphabet per position rather than one for all: in `part-000123.parquet` only digits
/// follow `part-`, so arithmetic on that field carries like decimal arithmetic and split
/// points look like the keys around them.
#[derive(Debug, Clone, Default)]
pub struct Alphabet {
    positions: Vec<Vec<char>>,
}

impl Alphabet {
    /// An empty alphabet.
    pub fn new() -> Alphabet {
        Alphabet::default()
    }

    /// Adds every character of `s` at its position. A digit brings all ten digits: numbered
    /// names (`000123`) show only a few of them in their leading places, yet the numbers go
    /// on, and galloping past the last key seen must be able to carry into those places.
    pub fn learn(&mut self, s: &str) {
        for (i, c) in s.chars().enumerate() {
            if self.positions.len() <= i {
                self.positions.resize_with(i + 1, Vec::new);
            }
            let chars = &mut self.positions[i];
            if let Err(at) = chars.binary_search(&c) {
                if c.is_ascii_digit() {
                    chars.extend('0'..='9');
                    chars.sort_unstable();
                    chars.dedup();
                } else {
                    chars.insert(at, c);
                }
            }
        }
    }

    /// True when every character of `s` is known at its position.
    pub fn knows(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| {
            self.positions
                .get(i)
                .is_some_and(|p| p.binary_search(&c).is_ok())
        })
    }

    /// True before any character was learned.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The base of element `k` of a [`Num`] (tail position `k - 1`).
    fn base(&self, k: usize) -> u32 {
        k.checked_sub(1)
            .and_then(|i| self.positions.get(i))
            .map_or(1, |p| p.len() as u32 + 1)
    }

    /// The digit of `c` at tail position `i`: 1 + its rank there. A character never seen
    /// there gets the digit of the largest one below it (0 if none), which keeps the mapping
    /// monotonic.
    fn digit(&self, i: usize, c: char) -> u32 {
        match self.positions.get(i).map(|p| p.binary_search(&c)) {
            Some(Ok(r)) => r as u32 + 1,
            Some(Err(r)) => r as u32,
            None => 0,
        }
    }

    fn char_of(&self, i: usize, digit: u32) -> Option<char> {
        let r = digit.checked_sub(1)? as usize;
        self.positions.get(i)?.get(r).copied()
    }
}

/// A point of the key space: a mixed-radix fixed-point number whose element 0 is the integer
/// part and element `k` is the digit of tail position `k - 1`, of weight
/// `W_k = 1 / (B_1 * ... * B_k)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Num(Vec<u32>);

impl Num {
    /// The number of a tail (`None` = after every key, the number 1), with `len` elements.
    fn of(alpha: &Alphabet, tail: Option<&str>, len: usize) -> Num {
        let mut v = vec![0u32; len];
        match tail {
            None => v[0] = 1,
            Some(t) => {
                for (i, (slot, c)) in v[1..].iter_mut().zip(t.chars()).enumerate() {
                    *slot = alpha.digit(i, c);
                }
            }
        }
        Num(v)
    }

    fn cmp(&self, other: &Num) -> Ordering {
        self.0.cmp(&other.0)
    }

    /// `self + other` (same length); the integer part may exceed 1.
    fn add(&self, other: &Num, alpha: &Alphabet) -> Num {
        let mut out = vec![0u32; self.0.len()];
        let mut carry = 0u32;
        for k in (0..self.0.len()).rev() {
            let s = self.0[k] + other.0[k] + carry;
            if k == 0 {
                out[0] = s;
            } else {
                let b = alpha.base(k);
                out[k] = s % b;
                carry = s / b;
            }
        }
        Num(out)
    }

    /// `self - other` (same length), for `self >= other`.
    fn sub(&self, other: &Num, alpha: &Alphabet) -> Num {
        let mut out = vec![0u32; self.0.len()];
        let mut borrow = 0u32;
        for k in (0..self.0.len()).rev() {
            let need = other.0[k] + borrow;
            if self.0[k] >= need {
                out[k] = self.0[k] - need;
                borrow = 0;
            } else {
                out[k] = self.0[k] + alpha.base(k) - need;
                borrow = 1;
            }
        }
        Num(out)
    }

    /// Natural logarithm of the value; `-inf` for zero.
    fn ln(&self, alpha: &Alphabet) -> f64 {
        let Some(first) = self.0.iter().position(|&d| d != 0) else {
            return f64::NEG_INFINITY;
        };
        let ln_w: f64 = (1..=first).map(|k| f64::from(alpha.base(k)).ln()).sum();
        let mut mantissa = 0.0;
        let mut weight = 1.0;
        for (k, &d) in self.0.iter().enumerate().skip(first).take(SIGNIFICANT) {
            if k > first {
                weight /= f64::from(alpha.base(k));
            }
            mantissa += f64::from(d) * weight;
        }
        mantissa.ln() - ln_w
    }

    /// The number `exp(ln_value)`, approximately (its leading [`SIGNIFICANT`] digits), or
    /// `None` when it is not below 1 or finer than the longest learned tail can express.
    /// The result has at least `min_len` elements.
    fn from_ln(ln_value: f64, alpha: &Alphabet, min_len: usize) -> Option<Num> {
        if !ln_value.is_finite() || ln_value >= 0.0 {
            return None;
        }
        // First element k with W_k <= value.
        let max_k = alpha.positions.len();
        let mut ln_w = 0.0;
        let mut k = 0;
        while ln_w > ln_value {
            k += 1;
            if k > max_k {
                return None;
            }
            ln_w -= f64::from(alpha.base(k)).ln();
        }
        let len = min_len.max(k + SIGNIFICANT + 1);
        let mut v = vec![0u32; len];
        // r = value / W_k, in [1, B_k).
        let mut r = (ln_value - ln_w).exp();
        for (j, slot) in v.iter_mut().enumerate().skip(k).take(SIGNIFICANT) {
            let b = alpha.base(j);
            let d = (r.floor().max(0.0) as u32).min(b - 1);
            *slot = d;
            r = (r - f64::from(d)) * f64::from(alpha.base(j + 1));
        }
        Some(Num(v))
    }
}

fn char_len(s: Option<&str>) -> usize {
    s.map_or(0, |t| t.chars().count())
}

/// Natural logarithm of the size of the range from tail `lo` to tail `hi` (`None` = after
/// every key), in the number reading of `alpha`; `-inf` when they are equal.
///
/// Every character of `lo` and `hi` should have been learned; unknown ones are approximated.
pub fn ln_width(alpha: &Alphabet, lo: &str, hi: Option<&str>) -> f64 {
    if alpha.is_empty() {
        return f64::NEG_INFINITY;
    }
    let len = char_len(Some(lo)).max(char_len(hi)) + 2;
    let x = Num::of(alpha, Some(lo), len);
    let y = Num::of(alpha, hi, len);
    if y.cmp(&x) != Ordering::Greater {
        return f64::NEG_INFINITY;
    }
    y.sub(&x, alpha).ln(alpha)
}

/// A split point strictly between tails `lo` (exclusive; `None` = before every key, the
/// prefix itself included) and `hi` (exclusive; `None` = after every key), at about
/// `lo + exp(ln_offset)` in the number reading of `alpha`.
///
/// Returns a tail made of learned characters, no longer than needed (a couple of digits past
/// the first one that differs from `lo`), such that `prefix_len` plus its length stays within
/// [`MAX_KEY_BYTES`]; `None` when there is no such point (the range is too narrow, or the
/// offset reaches `hi`).
pub fn point_after(
    alpha: &Alphabet,
    prefix_len: usize,
    lo: Option<&str>,
    hi: Option<&str>,
    ln_offset: f64,
) -> Option<String> {
    if alpha.is_empty() {
        return None;
    }
    let lo_tail = lo.unwrap_or("");
    let len = char_len(Some(lo_tail)).max(char_len(hi)) + 2;
    let offset = Num::from_ln(ln_offset, alpha, len)?;
    let len = offset.0.len();
    let x = Num::of(alpha, Some(lo_tail), len);
    let y = x.add(&offset, alpha);
    if y.0[0] != 0 {
        return None;
    }
    let mut candidate = tail_of(alpha, &y, &x)?;
    // Prefer the shortest candidate that is still inside the range.
    if hi.is_some_and(|h| candidate.as_str() >= h) {
        return None;
    }
    let above_lo = |c: &str| match lo {
        None => true,
        Some(l) => c > l,
    };
    if !above_lo(&candidate) {
        return None;
    }
    while prefix_len + candidate.len() > MAX_KEY_BYTES {
        candidate.pop();
        if !above_lo(&candidate) {
            return None;
        }
    }
    Some(candidate)
}

/// A split point at about `fraction` (in (0, 1)) of the way from `lo` to `hi`; see
/// [`point_after`].
pub fn point_between(
    alpha: &Alphabet,
    prefix_len: usize,
    lo: Option<&str>,
    hi: Option<&str>,
    fraction: f64,
) -> Option<String> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return None;
    }
    let w = ln_width(alpha, lo.unwrap_or(""), hi);
    if !w.is_finite() {
        return None;
    }
    point_after(alpha, prefix_len, lo, hi, w + fraction.ln())
}

/// Turns `y` (> `x`, the number of the lower bound) into a tail: `y`'s digits up to two past
/// the first one above `x`'s, so the string is above the lower bound and at most `y`.
fn tail_of(alpha: &Alphabet, y: &Num, x: &Num) -> Option<String> {
    let mut out = String::new();
    let mut above_since: Option<usize> = None;
    for i in 1..y.0.len() {
        let d = y.0[i];
        let pos = i - 1;
        match above_since {
            Some(at) => {
                if d == 0 || i > at + 2 {
                    break;
                }
                out.push(alpha.char_of(pos, d)?);
            }
            None => {
                let xd = x.0[i];
                if d == 0 {
                    // Both strings ended here (xd <= d = 0): the string cannot hold an
                    // "end" digit in the middle, so take the smallest character instead,
                    // which already puts the candidate above the lower bound.
                    if y.0[i + 1..].iter().all(|&z| z == 0) {
                        break;
                    }
                    out.push(alpha.char_of(pos, 1)?);
                    above_since = Some(i);
                } else {
                    out.push(alpha.char_of(pos, d)?);
                    if d > xd {
                        above_since = Some(i);
                    }
                }
            }
        }
    }
    above_since.map(|_| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alpha_of(keys: &[&str]) -> Alphabet {
        let mut a = Alphabet::new();
        for k in keys {
            a.learn(k);
        }
        a
    }

    fn assert_between(p: &str, lo: Option<&str>, hi: Option<&str>) {
        if let Some(l) = lo {
            assert!(p > l, "{p:?} should be above {l:?}");
        }
        if let Some(h) = hi {
            assert!(p < h, "{p:?} should be below {h:?}");
        }
    }

    #[test]
    fn byte_order_is_code_point_order() {
        // The premise of working on chars: UTF-8 byte order == char order.
        let mut v = [
            "Zebra.txt",
            "a/b/c.txt",
            "apple.txt",
            "ctl/\u{1}x",
            "éclair.txt",
            "\u{10000}",
            "\u{ffff}",
        ];
        let mut by_bytes = v;
        by_bytes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        v.sort_by(|a, b| a.chars().cmp(b.chars()));
        assert_eq!(v, by_bytes);
    }

    fn numbered(n: u32) -> Vec<String> {
        (0..n)
            .map(|i| format!("{:07}.jpg", i * 9973 % 1_000_000))
            .collect()
    }

    #[test]
    fn midpoint_of_a_numeric_range_is_near_the_middle() {
        let keys = numbered(500);
        let a = alpha_of(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        let p = point_between(&a, 4, Some("0001000.jpg"), Some("0999999.jpg"), 0.5).unwrap();
        assert_between(&p, Some("0001000.jpg"), Some("0999999.jpg"));
        // Each position only ever held digits: decimal arithmetic, the middle is "05".
        assert!(p.starts_with("05") || p.starts_with("049"), "{p}");
        assert!(p.len() <= 4, "short candidates: {p}");
    }

    #[test]
    fn open_end_stays_within_learned_characters() {
        let keys = numbered(500);
        let a = alpha_of(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        let p = point_between(&a, 0, Some("0001998.jpg"), None, 0.5).unwrap();
        assert_between(&p, Some("0001998.jpg"), None);
        assert!(p.chars().all(|c| c.is_ascii_digit()), "{p}");
    }

    #[test]
    fn offsets_far_below_a_long_common_prefix_are_exact() {
        let common = "some/very/long/common/prefix/shared/by/every/key/part-";
        let page: Vec<String> = (0..1000)
            .map(|i| format!("{common}{i:06}.parquet"))
            .collect();
        let a = alpha_of(&[
            page[0].as_str(),
            page[999].as_str(),
            page[500].as_str(),
            page[37].as_str(),
        ]);
        let w = ln_width(&a, &page[0], Some(&page[999]));
        assert!(w.is_finite());
        // Four pages past the last key: still under the common prefix, around part-004999
        // (digits are read in base 11, one value being "the name ends here", so the
        // arithmetic is only roughly decimal).
        let p = point_after(&a, 0, Some(&page[999]), None, w + 4f64.ln()).unwrap();
        assert!(p.starts_with(common), "{p}");
        assert_between(&p, Some(&page[999]), None);
        let digits = &p[common.len()..];
        assert!(("003".."006").contains(&digits), "{p}");
    }

    #[test]
    fn lower_bound_before_everything_and_the_prefix_key() {
        let a = alpha_of(&["abc"]);
        let p = point_between(&a, 0, None, Some("c"), 0.5).unwrap();
        assert_between(&p, Some(""), Some("c"));
        let q = point_between(&a, 0, Some(""), Some("c"), 0.5).unwrap();
        assert!(!q.is_empty());
        assert_between(&q, Some(""), Some("c"));
    }

    #[test]
    fn adjacent_bounds_have_no_point() {
        let a = alpha_of(&["ab"]);
        // Nothing made of learned characters lies strictly between "a" and "a" + its
        // smallest character.
        assert_eq!(point_between(&a, 0, Some("a"), Some("aa"), 0.5), None);
        assert_eq!(point_between(&a, 0, Some("b"), Some("b"), 0.5), None);
        assert_eq!(point_between(&a, 0, Some("b"), Some("a"), 0.5), None);
        // An offset past the upper bound gives nothing.
        assert_eq!(point_after(&a, 0, Some("a"), Some("b"), 0.0), None);
    }

    #[test]
    fn non_ascii_and_special_characters_give_valid_points_in_byte_order() {
        let keys = [
            "ünïcødé/文件 0000049+x.bin",
            "a b+c%d?e#f=g&h",
            "data set/é",
            "\u{1}ctl",
            "😀/x",
        ];
        let a = alpha_of(&keys);
        let mut sorted = keys;
        sorted.sort();
        for w in sorted.windows(2) {
            for f in [0.1, 0.5, 0.9] {
                if let Some(p) = point_between(&a, 0, Some(w[0]), Some(w[1]), f) {
                    assert_between(&p, Some(w[0]), Some(w[1]));
                    // A String is valid UTF-8; check the bytes compare the same way.
                    assert!(p.as_bytes() > w[0].as_bytes() && p.as_bytes() < w[1].as_bytes());
                }
            }
        }
        let p = point_between(&a, 0, Some(sorted[4]), None, 0.5).unwrap();
        assert_between(&p, Some(sorted[4]), None);
    }

    #[test]
    fn points_respect_the_key_length_limit() {
        let long = "x".repeat(1000);
        let a = alpha_of(&["xy", &long]);
        let lo = format!("{long}x");
        // The prefix is 20 bytes, so a point may have at most 1003 bytes.
        if let Some(p) = point_between(&a, 20, Some(&lo), None, 0.5) {
            assert!(20 + p.len() <= MAX_KEY_BYTES);
            assert!(p.as_str() > lo.as_str());
        }
        let full = "x".repeat(MAX_KEY_BYTES);
        // lo already has the maximum length: only a different earlier character works.
        let p = point_between(&a, 0, Some(&full), None, 0.5).unwrap();
        assert!(p.len() <= MAX_KEY_BYTES && p.as_str() > full.as_str());
    }

    #[test]
    fn widths_compare_across_depths() {
        let a = alpha_of(&[
            "a",
            "m/000/aaaa",
            "m/000/aaab",
            "m/000/aaaa/0",
            "m/000/aaaa/1",
            "z",
        ]);
        let wide = ln_width(&a, "a", Some("z"));
        let narrow = ln_width(&a, "m/000/aaaa", Some("m/000/aaab"));
        let narrower = ln_width(&a, "m/000/aaaa/0", Some("m/000/aaaa/1"));
        assert!(wide > narrow && narrow > narrower);
        assert_eq!(ln_width(&a, "b", Some("b")), f64::NEG_INFINITY);
        assert!(
            ln_width(&a, "", None).abs() < 1e-12,
            "the whole space has width 1"
        );
    }

    #[test]
    fn random_ranges_always_give_points_strictly_inside() {
        let mut rng = fastrand::Rng::with_seed(7);
        let pool: Vec<char> = "ab/0 +%é文😀\u{1}~".chars().collect();
        let word = |rng: &mut fastrand::Rng| -> String {
            (0..rng.usize(0..8))
                .map(|_| pool[rng.usize(0..pool.len())])
                .collect()
        };
        let mut a = Alphabet::new();
        for _ in 0..50 {
            a.learn(&word(&mut rng));
        }
        for _ in 0..20_000 {
            let (mut x, mut y) = (word(&mut rng), word(&mut rng));
            if x > y {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = if rng.bool() { Some(y.as_str()) } else { None };
            let f = rng.f64().clamp(0.01, 0.99);
            if let Some(p) = point_between(&a, 0, Some(&x), hi, f) {
                assert_between(&p, Some(&x), hi);
            }
            let off = ln_width(&a, &x, hi) + f.ln();
            if let Some(p) = point_after(&a, 0, Some(&x), hi, off) {
                assert_between(&p, Some(&x), hi);
            }
        }
    }
}
