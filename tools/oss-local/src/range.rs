//! The `Range` header of GetObject, in OSS's two modes (protocol notes §4.1).
//!
//! Default mode is lenient: a range that does not fit the object, or that cannot be
//! parsed, is ignored and the whole object is sent with 200. With
//! `x-oss-range-behavior: standard` the RFC 7233 rules apply: an end past the object is
//! clipped, a start at or past the end is 416, a suffix longer than the object is the whole
//! object as 206. Malformed or multi-range headers are ignored in both modes.

/// What to send for a GetObject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with the whole object.
    Full,
    /// 206 with bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416 `InvalidRange`.
    Unsatisfiable,
}

/// A single range as written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `a-b` (`b` `None` for `a-`).
    From(u64, Option<u64>),
    /// `-n`
    Suffix(u64),
}

fn parse(header: &str) -> Option<Spec> {
    let rest = header.trim().strip_prefix("bytes=")?.trim();
    if rest.contains(',') {
        return None;
    }
    let (a, b) = rest.split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if a.trim().is_empty() {
        return Some(Spec::Suffix(num(b)?));
    }
    let start = num(a)?;
    if b.trim().is_empty() {
        return Some(Spec::From(start, None));
    }
    let end = num(b)?;
    (start <= end).then_some(Spec::From(start, Some(end)))
}

/// Decides the response to `Range: header` on an object of `size` bytes.
pub fn resolve(header: Option<&str>, size: u64, standard: bool) -> Outcome {
    let Some(spec) = header.and_then(parse) else {
        return Outcome::Full;
    };
    let lenient_or = |o: Outcome| if standard { o } else { Outcome::Full };
    if size == 0 {
        return lenient_or(Outcome::Unsatisfiable);
    }
    match spec {
        Spec::From(start, _) if start >= size => lenient_or(Outcome::Unsatisfiable),
        Spec::From(start, Some(end)) if end >= size => lenient_or(Outcome::Partial {
            start,
            end: size - 1,
        }),
        Spec::From(start, end) => Outcome::Partial {
            start,
            end: end.unwrap_or(size - 1),
        },
        Spec::Suffix(0) => lenient_or(Outcome::Unsatisfiable),
        Spec::Suffix(n) if n > size => lenient_or(Outcome::Partial {
            start: 0,
            end: size - 1,
        }),
        Spec::Suffix(n) => Outcome::Partial {
            start: size - n,
            end: size - 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome::*;
    use super::*;

    fn both(h: &str, size: u64) -> (Outcome, Outcome) {
        (resolve(Some(h), size, false), resolve(Some(h), size, true))
    }

    #[test]
    fn the_table_of_the_protocol_notes() {
        let p = |start, end| Partial { start, end };
        assert_eq!(both("bytes=0-499", 1000), (p(0, 499), p(0, 499)));
        assert_eq!(both("bytes=500-", 1000), (p(500, 999), p(500, 999)));
        assert_eq!(both("bytes=-300", 1000), (p(700, 999), p(700, 999)));
        assert_eq!(both("bytes=500-2000", 1000), (Full, p(500, 999)));
        assert_eq!(both("bytes=1000-2000", 1000), (Full, Unsatisfiable));
        assert_eq!(both("bytes=1000-", 1000), (Full, Unsatisfiable));
        assert_eq!(both("byte=0-1", 1000), (Full, Full));
        assert_eq!(both("bytes=5-3", 1000), (Full, Full));
        assert_eq!(both("bytes=-2000", 1000), (Full, p(0, 999)));
        assert_eq!(both("bytes=0-0", 0), (Full, Unsatisfiable));
        assert_eq!(both("bytes=999-999", 1000), (p(999, 999), p(999, 999)));
    }

    #[test]
    fn odd_headers_are_ignored() {
        for h in [
            "bytes=0-1,3-4",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-2-3",
            "bytes=+1-2",
            "",
            "bytes=-0x1",
        ] {
            assert_eq!(resolve(Some(h), 1000, false), Full, "{h:?}");
            assert_eq!(resolve(Some(h), 1000, true), Full, "{h:?}");
        }
        assert_eq!(resolve(None, 1000, true), Full);
        assert_eq!(resolve(Some("bytes=-0"), 1000, true), Unsatisfiable);
        assert_eq!(
            resolve(Some(" bytes= 1 - 2 "), 1000, true),
            Partial { start: 1, end: 2 }
        );
        assert_eq!(
            resolve(Some("bytes=18446744073709551615-"), 10, true),
            Unsatisfiable
        );
        assert_eq!(resolve(Some("bytes=99999999999999999999-"), 10, true), Full);
    }
}
