//! Hostile listing responses (`--listing-fault MODE`, `--listing-fault-rate P`): a server
//! whose ListObjects/ListObjectsV2 answers are well delivered but wrong, to test that a
//! client neither loops, crashes nor returns a corrupted listing.
//!
//! Listing requests (ListObjects, ListObjectsV2) are numbered 0, 1, 2, … in the order they
//! arrive, apart from the other faults; request `n` draws two numbers uniform in [0, 1)
//! from ChaCha8 seeded with `--seed`, stream `2^62 + n` (a stream no other fault uses):
//! `v0 < rate` applies the mode, and `v1` places the damage of `truncated-xml` and
//! `malformed-xml`. Each application counts in `/_stats` as `faults.listing`.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::faults::offset_in;
use crate::listing::{encode_token, Params, Version};

/// What a hostile listing response does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// An empty, truncated page whose continuation token alternates between two values:
    /// a request with the first gets the second, any other request the first.
    CycleTokens,
    /// An empty, truncated page with a continuation token never handed out before.
    EndlessTokens,
    /// A request with a continuation token is answered as if it had none: the listing
    /// starts over, with the same keys and tokens as the first page.
    RepeatPages,
    /// A ListObjectsV2 request with `start-after` (and no continuation token) is answered
    /// as if it had none: from the first key under the prefix.
    IgnoreStartAfter,
    /// The first key of the page gets a NUL byte appended (`%00` when url-encoded).
    NulKey,
    /// The first key of the page gets 1024 `x` appended: longer than OSS allows.
    OverlongKey,
    /// The first object of the page claims a size of 2^64 - 1 bytes.
    HugeSize,
    /// The page gets objects after its last one (its last key with `~0000`, `~0001`, …
    /// appended) until it holds one entry more than `max-keys`; an empty page is left be.
    ExtraEntries,
    /// The body is cut at `floor(v1 · length)` bytes and sent whole with that length.
    TruncatedXml,
    /// A stray `</Oops>` is inserted into the root element, `floor(v1 · length)` bytes in.
    MalformedXml,
}

/// The mode, its rate and the listing requests numbered so far.
#[derive(Debug, Default)]
pub struct HostileListing {
    pub mode: Option<Mode>,
    pub rate: f64,
    pub seed: u64,
    counter: AtomicU64,
}

/// The first stream of the listing draws: far above any request number.
const STREAM_BASE: u64 = 1 << 62;

/// What the draw decided for one listing request.
#[derive(Debug, Clone, Copy)]
pub struct Applied {
    mode: Mode,
    /// Where the damage goes, as a fraction of the body.
    at: f64,
}

impl HostileListing {
    pub fn new(mode: Option<Mode>, rate: f64, seed: u64) -> HostileListing {
        HostileListing {
            mode,
            rate,
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// Draws for the next listing request; `None` when it is answered honestly.
    pub fn draw(&self) -> Option<Applied> {
        let mode = self.mode?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(STREAM_BASE + n);
        let (v0, v1) = (rng.random::<f64>(), rng.random::<f64>());
        (v0 < self.rate).then_some(Applied { mode, at: v1 })
    }
}

impl Applied {
    /// Changes the request before it is listed (`repeat-pages`, `ignore-start-after`);
    /// returns whether the answer to `p` is changed at all (those two modes leave a request
    /// without a token, or without `start-after`, be).
    pub fn adjust(&self, p: &mut Params) -> bool {
        match self.mode {
            Mode::RepeatPages if p.token.is_some() => {
                p.token = None;
                p.after = p.start_after.clone();
                true
            }
            Mode::IgnoreStartAfter
                if p.version == Version::V2 && p.token.is_none() && !p.after.is_empty() =>
            {
                p.after.clear();
                true
            }
            Mode::RepeatPages | Mode::IgnoreStartAfter => false,
            _ => true,
        }
    }

    /// The body to send instead of `xml`, the honest answer to `p`.
    pub fn rewrite(&self, p: &Params, xml: String) -> String {
        match self.mode {
            Mode::RepeatPages | Mode::IgnoreStartAfter => xml,
            Mode::CycleTokens => {
                let (a, b) = (encode_token("cycle-a"), encode_token("cycle-b"));
                let next = if p.token.as_deref() == Some(a.as_str()) {
                    b
                } else {
                    a
                };
                empty_truncated_page(&next)
            }
            Mode::EndlessTokens => {
                // Tokens this server decodes, each one new.
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                empty_truncated_page(&encode_token(&format!("endless-{n}")))
            }
            Mode::NulKey => match xml.find("</Key>") {
                Some(at) => {
                    let nul = if p.url_encoding { "%00" } else { "\0" };
                    format!("{}{nul}{}", &xml[..at], &xml[at..])
                }
                None => xml,
            },
            Mode::OverlongKey => match xml.find("</Key>") {
                Some(at) => format!("{}{}{}", &xml[..at], "x".repeat(1024), &xml[at..]),
                None => xml,
            },
            Mode::HugeSize => match xml.find("<Size>") {
                Some(at) => {
                    let from = at + "<Size>".len();
                    let to = xml[from..].find('<').map_or(from, |i| from + i);
                    format!("{}{}{}", &xml[..from], u64::MAX, &xml[to..])
                }
                None => xml,
            },
            Mode::ExtraEntries => extra_entries(p, xml),
            Mode::TruncatedXml => {
                let mut cut = offset_in(self.at, xml.len() as u64) as usize;
                while !xml.is_char_boundary(cut) {
                    cut -= 1;
                }
                xml[..cut].to_owned()
            }
            Mode::MalformedXml => {
                // Inside the root element, where no markup hides a stray end tag.
                let root = xml.find("<ListBucketResult").unwrap_or(0);
                let root_end = xml[root..].find('>').map_or(root, |i| root + i + 1);
                let span = (xml.len() - root_end) as u64;
                let mut at = root_end + offset_in(self.at, span) as usize;
                while !xml.is_char_boundary(at) {
                    at -= 1;
                }
                format!("{}</Oops>{}", &xml[..at], &xml[at..])
            }
        }
    }
}

/// `xml` with objects after its last one until it holds `max-keys + 1` entries.
fn extra_entries(p: &Params, xml: String) -> String {
    let (Some(start), Some(end)) = (xml.rfind("<Contents>"), xml.rfind("</Contents>")) else {
        return xml;
    };
    let end = end + "</Contents>".len();
    let last = &xml[start..end];
    let Some(k1) = last.find("</Key>") else {
        return xml;
    };
    let entries = xml.matches("<Contents>").count() + xml.matches("<CommonPrefixes>").count();
    let mut extra = String::new();
    for i in 0..(p.max_keys + 1).saturating_sub(entries) {
        // `~` and digits are sent as they are whether or not names are url-encoded.
        extra.push_str(&last[..k1]);
        extra.push_str(&format!("~{i:04}"));
        extra.push_str(&last[k1..]);
    }
    format!("{}{extra}{}", &xml[..end], &xml[end..])
}

/// A ListObjectsV2 page with no entries that says more follow after `token`.
fn empty_truncated_page(token: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>\
         <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
         <NextContinuationToken>{token}</NextContinuationToken><KeyCount>0</KeyCount>\
         </ListBucketResult>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_seed_and_the_rate() {
        let a = HostileListing::new(Some(Mode::TruncatedXml), 0.5, 7);
        let b = HostileListing::new(Some(Mode::TruncatedXml), 0.5, 7);
        let da: Vec<bool> = (0..64).map(|_| a.draw().is_some()).collect();
        let db: Vec<bool> = (0..64).map(|_| b.draw().is_some()).collect();
        assert_eq!(da, db);
        assert!(da.iter().any(|&x| x) && da.iter().any(|&x| !x));
        let never = HostileListing::new(Some(Mode::NulKey), 0.0, 7);
        assert!((0..64).all(|_| never.draw().is_none()));
        assert!(HostileListing::default().draw().is_none());
    }

    #[test]
    fn damage_stays_in_the_document() {
        let xml = "<?xml version=\"1.0\"?>\n<ListBucketResult><Contents><Key>a</Key></Contents>\
                   </ListBucketResult>"
            .to_owned();
        let p = Params {
            version: Version::V2,
            prefix: String::new(),
            delimiter: String::new(),
            max_keys: 10,
            url_encoding: true,
            marker: String::new(),
            start_after: String::new(),
            token: None,
            owner: false,
            after: String::new(),
        };
        for at in [0.0, 0.3, 0.999] {
            let m = Applied {
                mode: Mode::MalformedXml,
                at,
            }
            .rewrite(&p, xml.clone());
            let i = m.find("</Oops>").unwrap();
            assert!(i >= xml.find("<Contents>").unwrap(), "{m}");
            let t = Applied {
                mode: Mode::TruncatedXml,
                at,
            }
            .rewrite(&p, xml.clone());
            assert!(t.len() < xml.len() && xml.starts_with(&t));
        }
        let nul = Applied {
            mode: Mode::NulKey,
            at: 0.0,
        }
        .rewrite(&p, xml.clone());
        assert!(nul.contains("<Key>a%00</Key>"));
        let huge = Applied {
            mode: Mode::HugeSize,
            at: 0.0,
        }
        .rewrite(
            &p,
            "<Contents><Key>a</Key><Size>12</Size></Contents>".into(),
        );
        assert!(huge.contains("<Size>18446744073709551615</Size>"), "{huge}");
        let mut two = p.clone();
        two.max_keys = 2;
        let extra = Applied {
            mode: Mode::ExtraEntries,
            at: 0.0,
        }
        .rewrite(&two, xml.clone());
        assert_eq!(extra.matches("<Contents>").count(), 3, "{extra}");
        assert!(extra.contains("<Key>a~0001</Key>"), "{extra}");
    }
}
