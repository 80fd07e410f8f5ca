//! Entry points for the fuzz targets (`fuzz/`); compiled with the `fuzzing` feature (hidden,
//! not part of the public API) and in the unit tests, which replay the committed corpora.
//!
//! Each entry point takes the raw fuzz input, runs one parser on it and checks what the parser
//! promises; a broken promise panics. The fuzz targets and the replay test below call the same
//! functions, so a committed crash input is a regression test on stable.

use std::time::SystemTime;

use arbitrary::{Arbitrary, Unstructured};

use crate::fastlist::keyspace::{ln_width, point_after, point_between, Alphabet};
use crate::uri::MAX_KEY_BYTES;

/// A fuzz entry point: takes the raw input.
pub type Entry = fn(&[u8]);

/// The targets, by name: the corpus directory `fuzz/corpus/<name>/` of each.
pub const TARGETS: &[(&str, Entry)] = &[
    ("listing_page", listing_page),
    ("error_xml", error_xml),
    ("oss_err_header", oss_err_header),
    ("content_range", content_range),
    ("dates", dates),
    ("config_json", config_json),
    ("credentials_json", credentials_json),
    ("aws_credentials", aws_credentials),
    ("uri", uri),
    ("endpoint", endpoint),
    ("keyspace", keyspace),
];

/// A ListBucketResult page, whole and broken off at every length the input names.
pub fn listing_page(data: &[u8]) {
    let whole = crate::listing::parse_page(data);
    let partial = crate::listing::parse_partial(data);
    if let Ok(page) = &whole {
        // A whole page read as the beginning of a page keeps at most its objects, in order.
        assert!(partial.len() <= page.objects.len());
        assert_eq!(partial[..], page.objects[..partial.len()]);
    }
    // The body may break anywhere, inside a character too.
    for cut in [data.len() / 2, data.len().saturating_sub(1), data.len() / 3] {
        let _ = crate::listing::parse_partial(&data[..cut]);
    }
}

/// An OSS `<Error>` document in an error response's body.
pub fn error_xml(data: &[u8]) {
    let _ = crate::error_doc::parse_error_xml(&String::from_utf8_lossy(data));
}

/// The `x-oss-err` header of a HEAD error response: base64 of an `<Error>` document.
pub fn oss_err_header(data: &[u8]) {
    if let Ok(raw) = std::str::from_utf8(data) {
        let _ = crate::error_doc::decode_oss_err(raw);
    }
    // Also as the base64 of the input, so the fuzzer reaches the XML behind it.
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = crate::error_doc::decode_oss_err(&encoded);
}

/// The Content-Range of a ranged GET against the range asked for, and the size headers of a
/// HEAD. Input: three 8-byte numbers (a, b, size), then the header text.
pub fn content_range(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(a), Ok(len), Ok(size)) = (
        u.arbitrary::<u64>(),
        u.arbitrary::<u64>(),
        u.arbitrary::<u64>(),
    ) else {
        return;
    };
    let text = String::from_utf8_lossy(u.take_rest());
    let b = a.saturating_add(len % (1 << 40));
    let answer = crate::prefetch::fetch::check_content_range(Some(&text), a, b, size);
    if answer == crate::prefetch::fetch::RangeAnswer::Match {
        assert_eq!(text.trim(), format!("bytes {a}-{b}/{size}"));
    }
    let _ = crate::prefetch::fetch::check_content_range(None, a, b, size);
    let _ = text.trim().parse::<u64>();
}

/// The timestamps read from the network and from credentials files.
pub fn dates(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let fixed = crate::listing::parse_fixed_utc(s);
    let general = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from);
    // A leap second (`:60`) is read by the fast parser as the next second and by the general
    // one as the end of the second before: both within a second of the truth.
    let leap = s.get(17..19) == Some("60");
    if let (Some(f), Some(g), false) = (fixed, general, leap) {
        assert_eq!(f, g, "the fast and the general parser disagree on {s:?}");
    }
    let _ = crate::listing::parse_iso8601(s);
    let _ = crate::credentials::parse_expiration(s);
    let _ = httpdate::parse_http_date(s);
}

/// A JSON configuration: what parses must also pass its own checks.
pub fn config_json(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((config, _warnings)) = crate::Config::from_json_str(s) {
        config
            .validate()
            .expect("a parsed config passes validate()");
    }
}

/// A credentials file's JSON.
pub fn credentials_json(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::credentials::parse_credentials_json(s, std::path::Path::new("fuzz.json"));
}

/// The AWS shared credentials file (INI); the input's first line names the profile. Errors
/// name a line and column and never quote the file: no secret value from it shows in them.
pub fn aws_credentials(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (profile, text) = s.split_once('\n').unwrap_or((s, ""));
    let path = std::path::Path::new("credentials");
    if let Err(e) = crate::aws_credentials::parse_shared_credentials(text, path, profile) {
        // The profile's name is the caller's (AWS_PROFILE), not the file's: an error may name
        // it, whatever it contains, so it is taken out before looking for secrets. Values
        // shorter than real secrets (40 characters) would match words of the message.
        let mut message = e.to_string();
        if !profile.is_empty() {
            message = message.replace(profile, "");
        }
        for line in text.lines() {
            if let Some((name, value)) = line.split_once('=') {
                let value = value.trim();
                if name.trim() == "aws_secret_access_key" && value.len() >= 16 {
                    assert!(!message.contains(value), "a secret in an error: {message}");
                }
            }
        }
    }
}

/// `oss://` URIs: what parses is a valid bucket and key.
pub fn uri(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((bucket, key)) = crate::uri::parse_oss_uri(s) {
        crate::uri::validate_bucket_name(&bucket).expect("a parsed bucket is valid");
        crate::uri::validate_key(&key).expect("a parsed key is valid");
        let _ = crate::uri::encode_key_path(&key);
    }
    if let Ok((bucket, prefix)) = crate::uri::parse_oss_dir_uri(s) {
        crate::uri::validate_bucket_name(&bucket).expect("a parsed bucket is valid");
        assert!(prefix.is_empty() || prefix.ends_with('/'));
    }
    let _ = crate::uri::encode_query_value(s);
}

/// Endpoints from the configuration.
pub fn endpoint(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ep) = crate::endpoint::Endpoint::parse(s) {
        for addressing in [crate::Addressing::Path, crate::Addressing::VirtualHosted] {
            let (url, host) = ep.base_url(Some("bucket"), addressing);
            assert!(url.starts_with("http://") || url.starts_with("https://"));
            assert!(!host.is_empty());
        }
        let _ = ep.addressing(None);
        let _ = ep.is_ip_or_localhost();
    }
}

#[derive(Debug, Arbitrary)]
struct KeySpace {
    learned: Vec<String>,
    lo: Option<String>,
    hi: Option<String>,
    prefix_len: u16,
    pieces: u8,
    fraction: f64,
    ln_offset: f64,
}

/// FastList key-space arithmetic: split points lie strictly inside their range, in order, so
/// the parts between them cover the whole range, stay within the key length limit, and are
/// made of learned characters.
pub fn keyspace(data: &[u8]) {
    let Ok(mut ks) = KeySpace::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    ks.learned.truncate(64);
    let mut alpha = Alphabet::new();
    for s in &ks.learned {
        alpha.learn(s);
    }
    if let (Some(l), Some(h)) = (&ks.lo, &ks.hi) {
        if l >= h {
            std::mem::swap(&mut ks.lo, &mut ks.hi);
        }
    }
    let (lo, hi) = (ks.lo.as_deref(), ks.hi.as_deref());
    if let (Some(l), Some(h)) = (lo, hi) {
        if l == h {
            return;
        }
    }
    let prefix_len = usize::from(ks.prefix_len) % (MAX_KEY_BYTES + 1);
    let inside = |p: &str, lo: Option<&str>| {
        assert!(lo.map_or(true, |l| p > l), "{p:?} not above {lo:?}");
        assert!(hi.map_or(true, |h| p < h), "{p:?} not below {hi:?}");
        assert!(prefix_len + p.len() <= MAX_KEY_BYTES, "{p:?} too long");
        assert!(
            alpha.knows(p),
            "{p:?} has characters never learned at their place"
        );
    };
    let _ = ln_width(&alpha, lo.unwrap_or(""), hi);
    if let Some(p) = point_between(&alpha, prefix_len, lo, hi, ks.fraction) {
        inside(&p, lo);
    }
    if let Some(p) = point_after(&alpha, prefix_len, lo, hi, ks.ln_offset) {
        inside(&p, lo);
    }
    // Split the range into pieces, each point after the one before.
    let pieces = usize::from(ks.pieces % 16) + 2;
    let mut prev = lo.map(str::to_owned);
    for i in 0..pieces - 1 {
        let fraction = 1.0 / (pieces - i) as f64;
        let Some(p) = point_between(&alpha, prefix_len, prev.as_deref(), hi, fraction) else {
            break;
        };
        inside(&p, prev.as_deref());
        prev = Some(p);
    }
}

/// Replays every file of the committed corpora (`fuzz/corpus/<target>/`) through the entry
/// point its fuzz target calls, so old findings are checked on stable without a fuzzer.
#[cfg(test)]
mod tests {
    #[test]
    fn every_corpus_file_replays_without_a_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let n = ossmc_testkit::fuzz_corpus::replay(&root, super::TARGETS);
        eprintln!("replayed {n} corpus files");
    }
}
