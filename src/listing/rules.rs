//! What a listing page must satisfy, and what makes a paged listing end.
//!
//! A ListObjectsV2 page comes from the network, so nothing in it is trusted: [`check_page`]
//! refuses a well-formed page that breaks the rules an honest OSS keeps (too many entries,
//! keys OSS cannot store, sizes no object can have, keys out of order), and [`Progress`]
//! refuses a sequence of pages that goes nowhere, so that a hostile or broken server cannot
//! make a listing loop forever while its memory grows.

use std::collections::HashSet;

use super::{ObjectInfo, Page};

/// Longest key OSS stores, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1023;

/// Largest size an object may claim: far above OSS's own limit (48.8 TiB), low enough that
/// sums and offsets computed from listed sizes cannot overflow.
pub(crate) const MAX_OBJECT_SIZE: u64 = 1 << 50;

/// Most truncated pages in a row that bring no key before a listing gives up.
///
/// ListObjectsV2 gives no count up front, so the cap cannot be a multiple of an expected
/// number of pages; it counts pages without progress instead. An honest OSS fills a truncated
/// page with keys (it stops early only when a scan runs long, which is rare and does not
/// repeat a hundred times in a row), so this cannot trip on a real listing, while a server
/// that hands out fresh continuation tokens forever is stopped after this many requests.
/// Pages that do bring keys always make progress: keys must strictly increase.
pub(crate) const MAX_PAGES_WITHOUT_KEYS: u32 = 100;

/// Checks one page on its own: at most `max_keys` entries, keys that are 1 to
/// [`MAX_KEY_BYTES`] bytes without NUL (a C caller would see the key cut at the NUL), in
/// strictly increasing byte order (an honest OSS lists in UTF-8 byte order), sizes at most
/// [`MAX_OBJECT_SIZE`], and common prefixes without NUL.
pub(crate) fn check_page(page: &Page, max_keys: u32) -> Result<(), String> {
    let entries = page.objects.len() + page.common_prefixes.len();
    if entries > max_keys as usize {
        return Err(format!(
            "the server returned {entries} entries in a page of at most {max_keys}"
        ));
    }
    check_objects(None, &page.objects)?;
    if let Some(p) = page.common_prefixes.iter().find(|p| p.contains('\0')) {
        return Err(format!(
            "the server returned common prefix {p:?}, which contains NUL"
        ));
    }
    Ok(())
}

/// Checks `objects` as [`check_page`] does, each key also after `after` (the last key
/// listed before them, if any).
pub(crate) fn check_objects(after: Option<&str>, objects: &[ObjectInfo]) -> Result<(), String> {
    let mut prev = after;
    for o in objects {
        let k = o.key.as_str();
        let bad = if k.is_empty() {
            Some("which is empty".to_owned())
        } else if k.len() > MAX_KEY_BYTES {
            Some(format!(
                "which is {} bytes long (OSS keys are at most {MAX_KEY_BYTES})",
                k.len()
            ))
        } else if k.contains('\0') {
            Some("which contains NUL".to_owned())
        } else if o.size > MAX_OBJECT_SIZE {
            Some(format!("with size {} (not a possible object size)", o.size))
        } else {
            prev.filter(|p| k <= *p).map(|p| {
                format!(
                    "after {p:?} (keys must come in increasing order: the listing would \
                     repeat or skip keys)"
                )
            })
        };
        if let Some(why) = bad {
            let shown: String = k.chars().take(200).collect();
            return Err(format!("the server returned key {shown:?} {why}"));
        }
        prev = Some(k);
    }
    Ok(())
}

/// Where a paged listing stands: the last key listed, and the continuation tokens handed out
/// since the last page that brought keys.
///
/// Keys must strictly increase across pages, so every page with keys is progress and no
/// loop can repeat them; tokens only need remembering between such pages (a token seen
/// again before any new key means the server is going round in circles), which bounds the
/// memory they take to [`MAX_PAGES_WITHOUT_KEYS`] tokens.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    last_key: Option<String>,
    tokens: HashSet<String>,
    pages_without_keys: u32,
}

impl Progress {
    /// Takes in the objects of a page (or of the complete part of a broken one): they must
    /// all come after every key listed before.
    pub(crate) fn objects(&mut self, objects: &[ObjectInfo]) -> Result<(), String> {
        check_objects(self.last_key.as_deref(), objects)?;
        if let Some(last) = objects.last() {
            self.last_key = Some(last.key.clone());
            self.tokens.clear();
            self.pages_without_keys = 0;
        }
        Ok(())
    }

    /// Takes in the continuation token of a truncated page whose objects were taken in just
    /// before (`had_keys`: the page brought any).
    pub(crate) fn token(&mut self, token: &str, had_keys: bool) -> Result<(), String> {
        if !had_keys {
            self.pages_without_keys += 1;
            if self.pages_without_keys >= MAX_PAGES_WITHOUT_KEYS {
                return Err(format!(
                    "the server returned {} truncated pages in a row without a key, each \
                     with a new continuation token",
                    self.pages_without_keys
                ));
            }
        }
        if !self.tokens.insert(token.to_owned()) {
            return Err(format!(
                "the server returned continuation token {:?} again without listing a key \
                 in between (the listing goes round in circles)",
                token.chars().take(200).collect::<String>()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn obj(key: &str) -> ObjectInfo {
        ObjectInfo {
            key: key.to_owned(),
            size: 1,
            etag: String::new(),
            last_modified: SystemTime::UNIX_EPOCH,
        }
    }

    fn page(keys: &[&str]) -> Page {
        Page {
            objects: keys.iter().map(|k| obj(k)).collect(),
            ..Page::default()
        }
    }

    #[test]
    fn pages_that_break_the_rules_are_refused() {
        assert!(check_page(&page(&["a", "b", "c"]), 3).is_ok());
        let too_many = check_page(&page(&["a", "b", "c"]), 2).unwrap_err();
        assert!(
            too_many.contains("3 entries in a page of at most 2"),
            "{too_many}"
        );
        let nul = check_page(&page(&["a", "b\0c"]), 10).unwrap_err();
        assert!(nul.contains("\"b\\0c\" which contains NUL"), "{nul}");
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(check_page(&page(&[&long]), 10)
            .unwrap_err()
            .contains("1024 bytes long"));
        assert!(check_page(&page(&[&long[1..]]), 10).is_ok());
        assert!(check_page(&page(&[""]), 10).unwrap_err().contains("empty"));
        let order = check_page(&page(&["a", "c", "b"]), 10).unwrap_err();
        assert!(order.contains("\"b\" after \"c\""), "{order}");
        assert!(check_page(&page(&["a", "a"]), 10).is_err());
        let mut huge = page(&["a"]);
        huge.objects[0].size = u64::MAX;
        assert!(check_page(&huge, 10)
            .unwrap_err()
            .contains("not a possible object size"));
        let mut prefixes = page(&[]);
        prefixes.common_prefixes = vec!["p\0/".into()];
        assert!(check_page(&prefixes, 10)
            .unwrap_err()
            .contains("common prefix"));
    }

    #[test]
    fn keys_must_advance_across_pages() {
        let mut p = Progress::default();
        p.objects(&page(&["a", "b"]).objects).unwrap();
        // A page that lists "b" again (a loop, or a bad start-after) is refused.
        assert!(p.objects(&page(&["b", "c"]).objects).is_err());
        assert!(p.objects(&page(&["a"]).objects).is_err());
        p.objects(&page(&["c"]).objects).unwrap();
        p.objects(&[]).unwrap();
        assert!(p.objects(&page(&["c"]).objects).is_err());
    }

    #[test]
    fn a_token_seen_again_without_progress_is_a_loop() {
        let mut p = Progress::default();
        p.token("A", true).unwrap();
        p.token("B", false).unwrap();
        let e = p.token("A", false).unwrap_err();
        assert!(e.contains("\"A\" again"), "{e}");
        // Once keys came in between, an old token is no evidence of a loop (the keys are
        // checked to advance instead).
        let mut p = Progress::default();
        p.token("A", false).unwrap();
        p.objects(&page(&["a"]).objects).unwrap();
        p.token("A", true).unwrap();
    }

    #[test]
    fn endless_pages_without_keys_are_capped() {
        let mut p = Progress::default();
        for i in 1..MAX_PAGES_WITHOUT_KEYS {
            p.token(&format!("t{i}"), false).unwrap();
        }
        let e = p.token("last", false).unwrap_err();
        assert!(e.contains("pages in a row without a key"), "{e}");
        // A page with keys resets the count.
        let mut p = Progress::default();
        for i in 0..3 * MAX_PAGES_WITHOUT_KEYS {
            let had = i % 50 == 0;
            if had {
                p.objects(&page(&[&format!("k{i:05}")]).objects).unwrap();
            }
            p.token(&format!("t{i}"), had).unwrap();
        }
    }
}
