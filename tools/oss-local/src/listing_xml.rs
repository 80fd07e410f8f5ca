//! The XML bodies of ListObjects (V1) and ListObjectsV2, in the shape oss2's strict parser
//! expects (protocol notes §3.3), and the XML/URL escaping they need.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::listing::{encode_token, Item, Page, Params, Version};
use crate::store::{ListEntry, Snapshot};

/// The owner id shown in listings (OSS shows the account id).
pub const OWNER_ID: &str = "1234567890123456";

/// The `<Owner>` element of an object, with [`OWNER_ID`].
const OWNER_XML: &str =
    "<Owner><ID>1234567890123456</ID><DisplayName>1234567890123456</DisplayName></Owner>";

/// Escapes text for an XML element. Control characters are sent as they are, as OSS does:
/// such keys need `encoding-type=url` to survive an XML parser.
pub fn xml_escape(s: &str, out: &mut String) {
    if !s
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Whether a byte is sent as it is by [`url_encode`]: `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.' || c == b'~';
        b += 1;
    }
    t
};

/// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~` (upper-case hex).
pub fn url_encode(s: &str, out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Runs of unreserved bytes are copied whole; they are ASCII, so a run starts and
        // ends on character boundaries (an empty one may not: it is not sliced).
        let run = bytes[i..]
            .iter()
            .position(|&b| !UNRESERVED[usize::from(b)])
            .unwrap_or(bytes.len() - i);
        if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        }
        if let Some(&b) = bytes.get(i) {
            out.push('%');
            out.push(DIGITS[usize::from(b >> 4)] as char);
            out.push(DIGITS[usize::from(b & 15)] as char);
            i += 1;
        }
    }
}

/// Appends `n` in decimal (without the formatting machinery: a page writes a thousand).
fn push_u64(mut n: u64, out: &mut String) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Decimal digits are ASCII.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// `2025-03-14T12:00:00.000Z`
pub fn iso8601(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

struct Writer {
    out: String,
    url: bool,
}

impl Writer {
    /// `<name>text</name>`, text escaped (and url-encoded when asked and `encoded`).
    fn elem(&mut self, name: &str, text: &str, encoded: bool) {
        self.open(name);
        self.text(text, encoded);
        self.close(name);
    }

    /// Text escaped (and url-encoded when asked and `encoded`).
    fn text(&mut self, text: &str, encoded: bool) {
        if encoded && self.url {
            url_encode(text, &mut self.out);
        } else {
            xml_escape(text, &mut self.out);
        }
    }

    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>text</name>` for text that needs no escaping.
    fn raw(&mut self, name: &str, text: &str) {
        self.open(name);
        self.out.push_str(text);
        self.close(name);
    }

    fn num(&mut self, name: &str, n: impl std::fmt::Display) {
        self.open(name);
        let _ = write!(self.out, "{n}");
        self.close(name);
    }
}

/// Renders a listing page; `snap` gives the facts of each returned key.
pub fn render(bucket: &str, p: &Params, page: &Page<'_>, snap: &Snapshot<'_>) -> String {
    let mut w = Writer {
        out: String::with_capacity(256 + page.items.len() * 400),
        url: p.url_encoding,
    };
    w.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>");
    w.elem("Name", bucket, false);
    w.elem("Prefix", &p.prefix, true);
    match p.version {
        Version::V1 => w.elem("Marker", &p.marker, true),
        Version::V2 => {
            if !p.start_after.is_empty() {
                w.elem("StartAfter", &p.start_after, true);
            }
            if let Some(t) = &p.token {
                w.elem("ContinuationToken", t, true);
            }
        }
    }
    w.num("MaxKeys", p.max_keys);
    w.elem("Delimiter", &p.delimiter, true);
    if p.url_encoding {
        w.raw("EncodingType", "url");
    }
    w.num("IsTruncated", page.truncated);
    if let Some(next) = page.next_after() {
        match p.version {
            Version::V1 => w.elem("NextMarker", next, true),
            Version::V2 => w.raw("NextContinuationToken", &encode_token(next)),
        }
    }
    if p.version == Version::V2 {
        w.num("KeyCount", page.items.len());
    }
    // Synthetic objects all share one date: format each distinct date once.
    let mut date: Option<(SystemTime, String)> = None;
    for item in &page.items {
        let Item::Key(key) = item else { continue };
        // A key removed between the walk and now is shown with what is known.
        let e = snap.entry(key).unwrap_or(ListEntry {
            size: 0,
            etag: "".into(),
            last_modified: SystemTime::UNIX_EPOCH,
        });
        // The markup between the values goes out in whole pieces: a page writes a
        // thousand of these.
        w.out.push_str("<Contents><Key>");
        w.text(key, true);
        if !matches!(&date, Some((t, _)) if *t == e.last_modified) {
            date = Some((e.last_modified, iso8601(e.last_modified)));
        }
        w.out.push_str("</Key><LastModified>");
        if let Some((_, text)) = &date {
            w.out.push_str(text);
        }
        w.out.push_str("</LastModified><ETag>\"");
        w.out.push_str(&e.etag);
        w.out.push_str("\"</ETag><Type>Normal</Type><Size>");
        push_u64(e.size, &mut w.out);
        w.out
            .push_str("</Size><StorageClass>Standard</StorageClass>");
        if p.owner {
            w.out.push_str(OWNER_XML);
        }
        w.out.push_str("</Contents>");
    }
    for item in &page.items {
        if let Item::CommonPrefix(cp) = item {
            w.out.push_str("<CommonPrefixes>");
            w.elem("Prefix", cp, true);
            w.out.push_str("</CommonPrefixes>");
        }
    }
    w.out.push_str("</ListBucketResult>");
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut s = String::new();
        xml_escape("a&b<c>\"d'é\u{1}", &mut s);
        assert_eq!(s, "a&amp;b&lt;c&gt;&quot;d&apos;é\u{1}");
        let mut s = String::new();
        url_encode("models/a b+c~é%?#=\u{1}", &mut s);
        assert_eq!(s, "models%2Fa%20b%2Bc~%C3%A9%25%3F%23%3D%01");
        let mut s = String::new();
        url_encode("", &mut s);
        url_encode("/", &mut s);
        url_encode("ab", &mut s);
        assert_eq!(s, "%2Fab");
    }

    #[test]
    fn numbers_and_owner() {
        let mut s = String::new();
        for n in [0, 7, 10, 4095, u64::MAX] {
            push_u64(n, &mut s);
            s.push(' ');
        }
        assert_eq!(s, "0 7 10 4095 18446744073709551615 ");
        assert_eq!(
            OWNER_XML,
            format!("<Owner><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Owner>")
        );
    }

    #[test]
    fn dates() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_741_953_600_999);
        assert_eq!(iso8601(t), "2025-03-14T12:00:00.000Z");
    }
}
