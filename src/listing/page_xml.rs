//! The ListBucketResult (V2) parser: one pass over the bytes of a page, by hand.
//!
//! A listing page is a few hundred KiB of small elements, and a big listing parses
//! thousands of them, so this is on the hot path of every listing: a general XML reader
//! spent more time producing events than the rest of the client spent on the page. The
//! scanner here understands what a ListBucketResult can contain (an XML declaration,
//! comments, CDATA, a doctype, attributes, the five predefined entities and character
//! references) and checks that every element is closed by its own end tag; it allocates
//! only what the [`Page`] keeps: per object its key and its ETag.
//!
//! Text is taken as the XML specification says: entities resolved and line ends (`\r\n`,
//! `\r`) read as `\n`. Url-encoded names (`encoding-type=url`) are decoded with plain
//! percent-decoding (`+` stays `+`).

use std::time::SystemTime;

use super::{parse_iso8601, ObjectInfo, Page};

/// One piece of markup or text, borrowed from the document.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    /// Character data, entities not yet resolved.
    Text(&'a [u8]),
    /// The inside of a CDATA section, taken literally.
    CData(&'a [u8]),
    /// `<name ...>`: the name.
    Start(&'a [u8]),
    /// `<name .../>`: the name.
    Empty(&'a [u8]),
    /// `</name>`: the name.
    End(&'a [u8]),
    Eof,
}

/// Splits a document into [`Token`]s, skipping declarations, processing instructions,
/// comments and a doctype.
struct Scanner<'a> {
    xml: &'a [u8],
    pos: usize,
}

/// The first index of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| from + i)
}

/// The first index in `hay` of any of `bytes`, for what is usually found within a few dozen
/// bytes (names and values inside a listing object): eight bytes at a time in a register,
/// with no call, where a vectorized search spends more on getting started than on the search.
#[inline]
fn find_short(hay: &[u8], bytes: [u8; 3]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // The lowest set bit of `has_zero(v)` is at the first zero byte of `v` (bits above it may
    // be wrong, and are not used).
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let [a, b, c] = bytes.map(|x| u64::from(x) * LO);
    let mut i = 0;
    while let Some(chunk) = hay.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let hit = has_zero(v ^ a) | has_zero(v ^ b) | has_zero(v ^ c);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay[i..]
        .iter()
        .position(|x| bytes.contains(x))
        .map(|j| i + j)
}

/// Byte-string equality for short strings, compared in place rather than through a call.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Scanner<'a> {
    fn new(xml: &'a [u8]) -> Scanner<'a> {
        Scanner { xml, pos: 0 }
    }

    /// Where `what` ends (the index past `close`), or an error naming the unclosed markup.
    fn skip_past(&self, from: usize, close: &[u8], what: &str) -> Result<usize, String> {
        find(self.xml, from, close)
            .map(|i| i + close.len())
            .ok_or_else(|| format!("{what} at byte {} is not closed", self.pos))
    }

    fn next(&mut self) -> Result<Token<'a>, String> {
        let xml = self.xml;
        loop {
            let rest = &xml[self.pos..];
            let Some(&first) = rest.first() else {
                return Ok(Token::Eof);
            };
            if first != b'<' {
                let n = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                self.pos += n;
                return Ok(Token::Text(&rest[..n]));
            }
            let at = self.pos;
            match rest.get(1) {
                Some(b'?') => {
                    self.pos = self.skip_past(at + 2, b"?>", "a processing instruction")?;
                }
                Some(b'!') => {
                    if rest.starts_with(b"<!--") {
                        self.pos = self.skip_past(at + 4, b"-->", "a comment")?;
                    } else if rest.starts_with(b"<![CDATA[") {
                        let end = find(xml, at + 9, b"]]>")
                            .ok_or_else(|| format!("a CDATA section at byte {at} is not closed"))?;
                        self.pos = end + 3;
                        return Ok(Token::CData(&xml[at + 9..end]));
                    } else if rest.starts_with(b"<!DOCTYPE") {
                        self.pos = self.skip_doctype(at)?;
                    } else {
                        return Err(format!("unknown markup at byte {at}"));
                    }
                }
                Some(b'/') => {
                    let end = at
                        + memchr::memchr(b'>', rest)
                            .ok_or_else(|| format!("an end tag at byte {at} is not closed"))?;
                    let mut name = &xml[at + 2..end];
                    while let [head @ .., last] = name {
                        if !is_space(*last) {
                            break;
                        }
                        name = head;
                    }
                    self.pos = end + 1;
                    return Ok(Token::End(name));
                }
                _ => return self.start_tag(at),
            }
        }
    }

    /// A start tag at `at`: its name, and whether it closes itself. Attributes are skipped
    /// (a quoted value may hold `>`).
    fn start_tag(&mut self, at: usize) -> Result<Token<'a>, String> {
        let xml = self.xml;
        let name_end = xml[at + 1..]
            .iter()
            .position(|&b| is_space(b) || b == b'/' || b == b'>')
            .map_or(xml.len(), |n| at + 1 + n);
        let name = &xml[at + 1..name_end];
        if name.is_empty() {
            return Err(format!("a tag at byte {at} has no name"));
        }
        // Almost every tag is a bare name: `>` right after it.
        let close = if xml.get(name_end) == Some(&b'>') {
            Some(name_end)
        } else {
            Self::tag_close(xml, name_end)
        };
        let Some(i) = close else {
            return Err(format!(
                "the tag <{}> at byte {at} is not closed",
                String::from_utf8_lossy(name)
            ));
        };
        self.pos = i + 1;
        let empty = xml[name_end..i].last() == Some(&b'/');
        Ok(if empty {
            Token::Empty(name)
        } else {
            Token::Start(name)
        })
    }

    /// The `>` that closes a tag whose attributes start at `from` (outside quoted values).
    fn tag_close(xml: &[u8], from: usize) -> Option<usize> {
        let mut quote: Option<u8> = None;
        for (i, &b) in xml.iter().enumerate().skip(from) {
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'"' || b == b'\'' => quote = Some(b),
                None if b == b'>' => return Some(i),
                None => {}
            }
        }
        None
    }

    /// Right after the start tag of `parent`: when every child is `<name>text</name>` with
    /// plain text (nothing to resolve, no attributes, no markup, no space around) and the end tag of `parent`
    /// follows them, the children into `out` and their count, the scanner moved past the end
    /// tag of `parent`. Otherwise `None`, the scanner unmoved. This is what an object of a
    /// listing looks like, read in one tight pass instead of token by token.
    fn simple_children(
        &mut self,
        parent: &[u8],
        out: &mut [(&'a [u8], &'a [u8])],
    ) -> Option<usize> {
        let xml = self.xml;
        let mut i = self.pos;
        let mut n = 0;
        loop {
            if *xml.get(i)? != b'<' {
                return None;
            }
            if *xml.get(i + 1)? == b'/' {
                let end = i + 2 + parent.len();
                if !same(xml.get(i + 2..end)?, parent) || *xml.get(end)? != b'>' {
                    return None;
                }
                self.pos = end + 1;
                return Some(n);
            }
            // The name runs to `>`; one that is not a bare name (attributes, a space, `/`)
            // would have to reappear as it is in the end tag, which no valid document does,
            // except for trailing spaces, checked here.
            let name_len = find_short(&xml[i + 1..], [b'>'; 3])?;
            let name = &xml[i + 1..i + 1 + name_len];
            match name.last() {
                None => return None,
                Some(&b) if is_space(b) || b == b'/' => return None,
                Some(_) => {}
            }
            let text_start = i + 2 + name_len;
            let lt = text_start + find_short(xml.get(text_start..)?, [b'<', b'&', b'\r'])?;
            let end = lt + 2 + name.len();
            if xml[lt] != b'<'
                || xml.get(lt + 1) != Some(&b'/')
                || !same(xml.get(lt + 2..end)?, name)
                || xml.get(end) != Some(&b'>')
            {
                return None;
            }
            *out.get_mut(n)? = (name, &xml[text_start..lt]);
            n += 1;
            i = end + 1;
        }
    }

    /// Right after the start tag of `name`: when the element holds nothing but text with
    /// nothing to resolve and its end tag follows, that text, the scanner moved past the
    /// end tag. The common case of a listing, taken in one step.
    fn simple_content(&mut self, name: &[u8]) -> Option<&'a [u8]> {
        let rest = &self.xml[self.pos..];
        let lt = memchr::memchr(b'<', rest)?;
        let end = rest.get(lt..lt + name.len() + 3)?;
        if end[1] != b'/' || &end[2..2 + name.len()] != name || end[2 + name.len()] != b'>' {
            return None;
        }
        let text = &rest[..lt];
        if memchr::memchr2(b'&', b'\r', text).is_some() {
            return None;
        }
        self.pos += lt + name.len() + 3;
        Some(text)
    }

    /// Past a doctype at `at`, internal subset (`[...]`) included.
    fn skip_doctype(&self, at: usize) -> Result<usize, String> {
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        for (i, &b) in self.xml.iter().enumerate().skip(at + 2) {
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None => match b {
                    b'"' | b'\'' => quote = Some(b),
                    b'[' => depth += 1,
                    b']' => depth = depth.saturating_sub(1),
                    b'>' if depth == 0 => return Ok(i + 1),
                    _ => {}
                },
            }
        }
        Err(format!("the doctype at byte {at} is not closed"))
    }
}

/// Appends `raw` character data to `out` with entities resolved and line ends normalized.
fn unescape_into(raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while i < raw.len() {
        let plain = raw[i..]
            .iter()
            .position(|&b| b == b'&' || b == b'\r')
            .unwrap_or(raw.len() - i);
        out.extend_from_slice(&raw[i..i + plain]);
        i += plain;
        match raw.get(i) {
            None => break,
            Some(b'\r') => {
                out.push(b'\n');
                i += 1;
                if raw.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            Some(_) => {
                let semi = raw[i..]
                    .iter()
                    .take(12)
                    .position(|&b| b == b';')
                    .ok_or_else(|| {
                        format!(
                            "an unterminated entity in {:?}",
                            String::from_utf8_lossy(raw)
                        )
                    })?;
                let name = &raw[i + 1..i + semi];
                let c = match name {
                    b"amp" => '&',
                    b"lt" => '<',
                    b"gt" => '>',
                    b"quot" => '"',
                    b"apos" => '\'',
                    [b'#', b'x', hex @ ..] => char_ref(hex, 16)?,
                    [b'#', dec @ ..] => char_ref(dec, 10)?,
                    other => {
                        return Err(format!(
                            "unknown entity &{};",
                            String::from_utf8_lossy(other)
                        ))
                    }
                };
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                i += semi + 1;
            }
        }
    }
    Ok(())
}

/// The character of a character reference's digits.
fn char_ref(digits: &[u8], radix: u32) -> Result<char, String> {
    std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|d| u32::from_str_radix(d, radix).ok())
        .and_then(char::from_u32)
        .filter(|&c| c != '\0')
        .ok_or_else(|| {
            format!(
                "the character reference &#{}{}; is invalid",
                if radix == 16 { "x" } else { "" },
                String::from_utf8_lossy(digits)
            )
        })
}

/// Plain percent-decoding: `%XY` with two hex digits becomes the byte `0xXY`, anything else
/// (a lone `%`, `+`) stays as it is. The text between escapes is copied in runs.
fn percent_decode(mut src: &[u8]) -> Vec<u8> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(src.len());
    while let Some(p) = find_short(src, [b'%'; 3]) {
        out.extend_from_slice(&src[..p]);
        match (
            src.get(p + 1).and_then(|&b| hex(b)),
            src.get(p + 2).and_then(|&b| hex(b)),
        ) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                src = &src[p + 3..];
            }
            _ => {
                out.push(b'%');
                src = &src[p + 1..];
            }
        }
    }
    out.extend_from_slice(src);
    out
}

/// A name (key, prefix or token) from its text, percent-decoded when `url`.
fn name(text: &[u8], url: bool) -> Result<String, String> {
    let v = if url {
        percent_decode(text)
    } else {
        text.to_vec()
    };
    String::from_utf8(v).map_err(|e| {
        let what = if url { "url-encoded name" } else { "name" };
        format!(
            "the {what} {:?} is not UTF-8",
            String::from_utf8_lossy(e.as_bytes())
        )
    })
}

/// Decodes a name that was read before the page said it is url-encoded.
fn decode_late(s: &mut String) -> Result<(), String> {
    if s.contains('%') {
        *s = name(s.as_bytes(), true)?;
    }
    Ok(())
}

/// A decimal number of at most 19 digits (so it fits), without the string machinery;
/// `None` for anything else.
fn digits(t: &[u8]) -> Option<u64> {
    if t.is_empty() || t.len() > 19 {
        return None;
    }
    t.iter().try_fold(0u64, |v, &b| {
        b.is_ascii_digit().then(|| v * 10 + u64::from(b - b'0'))
    })
}

/// Short fields (numbers, dates, flags) as trimmed text.
fn short_text(text: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(text)
        .map(str::trim)
        .map_err(|_| format!("{:?} is not UTF-8", String::from_utf8_lossy(text)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    EncodingType,
    IsTruncated,
    NextToken,
    Key,
    Size,
    ETag,
    LastModified,
    CommonPrefix,
}

/// The text of the field being read: borrowed from the document when it is one piece with
/// nothing to resolve (almost always), else gathered in a reused buffer.
struct FieldText<'a> {
    direct: Option<&'a [u8]>,
    buf: Vec<u8>,
    pieces: usize,
}

impl<'a> FieldText<'a> {
    fn clear(&mut self) {
        self.direct = None;
        self.buf.clear();
        self.pieces = 0;
    }

    fn text(&mut self, raw: &'a [u8]) -> Result<(), String> {
        let simple = memchr::memchr2(b'&', b'\r', raw).is_none();
        if self.pieces == 0 && simple {
            self.direct = Some(raw);
        } else {
            self.spill();
            unescape_into(raw, &mut self.buf)?;
        }
        self.pieces += 1;
        Ok(())
    }

    fn cdata(&mut self, raw: &[u8]) {
        self.spill();
        self.buf.extend_from_slice(raw);
        self.pieces += 1;
    }

    fn spill(&mut self) {
        if let Some(d) = self.direct.take() {
            self.buf.extend_from_slice(d);
        }
    }

    fn get(&self) -> &[u8] {
        self.direct.unwrap_or(&self.buf)
    }
}

/// What the fields read so far make of the page.
struct Builder {
    page: Page,
    /// Whether names are url-encoded, as far as the page has said yet.
    url: bool,
    /// How many objects and prefixes (and whether the token) were read before the page said
    /// its names are url-encoded: those are decoded at the end.
    raw_before: Option<(usize, usize, bool)>,
    truncated: Option<bool>,
    token: Option<String>,
    in_contents: bool,
    in_prefixes: bool,
    key: Option<String>,
    size: Option<u64>,
    etag: String,
    last_modified: SystemTime,
    /// The last `<LastModified>` text parsed, and its time.
    last_date: (Vec<u8>, SystemTime),
}

impl Builder {
    /// An element `name` opens at `depth` (the root is 1): the field it is, if one we keep.
    fn start(&mut self, depth: usize, name: &[u8]) -> Field {
        match depth {
            2 => match name {
                b"Contents" => {
                    self.in_contents = true;
                    self.key = None;
                    self.size = None;
                    self.etag = String::new();
                    self.last_modified = SystemTime::UNIX_EPOCH;
                    Field::None
                }
                b"CommonPrefixes" => {
                    self.in_prefixes = true;
                    Field::None
                }
                b"EncodingType" => Field::EncodingType,
                b"IsTruncated" => Field::IsTruncated,
                b"NextContinuationToken" => Field::NextToken,
                _ => Field::None,
            },
            3 if self.in_contents => match name {
                b"Key" => Field::Key,
                b"Size" => Field::Size,
                b"ETag" => Field::ETag,
                b"LastModified" => Field::LastModified,
                _ => Field::None,
            },
            3 if self.in_prefixes && name == b"Prefix" => Field::CommonPrefix,
            _ => Field::None,
        }
    }

    /// The element at `depth` that was `field` closes, with text `t`.
    fn end(&mut self, depth: usize, field: Field, t: &[u8]) -> Result<(), String> {
        let url = self.url;
        match field {
            Field::None => {}
            Field::EncodingType => {
                self.url = short_text(t)? == "url";
                if self.url && !url && self.raw_before.is_none() {
                    self.raw_before = Some((
                        self.page.objects.len(),
                        self.page.common_prefixes.len(),
                        self.token.is_some(),
                    ));
                }
            }
            Field::IsTruncated => {
                self.truncated = Some(match short_text(t)? {
                    "true" => true,
                    "false" => false,
                    v => return Err(format!("IsTruncated is {v:?}")),
                })
            }
            Field::NextToken => self.token = Some(name(t, url)?),
            Field::Key => self.key = Some(name(t, url)?),
            Field::Size => {
                let size = digits(t.trim_ascii())
                    .or_else(|| short_text(t).ok().and_then(|s| s.parse::<u64>().ok()));
                if size.is_none() {
                    let k = self.key.as_deref().unwrap_or("");
                    return Err(format!("object {k:?} has an invalid <Size>"));
                }
                self.size = size;
            }
            Field::ETag => {
                self.etag = String::from_utf8(t.to_vec())
                    .map_err(|_| "an <ETag> is not UTF-8".to_owned())?
            }
            Field::LastModified => {
                // Objects written together share a date: parse each distinct text once.
                if t.is_empty() || t != self.last_date.0.as_slice() {
                    let s = short_text(t)?;
                    let time = parse_iso8601(s).ok_or_else(|| {
                        let k = self.key.as_deref().unwrap_or("");
                        format!("object {k:?} has an invalid <LastModified> {s:?}")
                    })?;
                    self.last_date.0.clear();
                    self.last_date.0.extend_from_slice(t);
                    self.last_date.1 = time;
                }
                self.last_modified = self.last_date.1;
            }
            Field::CommonPrefix => self.page.common_prefixes.push(name(t, url)?),
        }
        if depth == 2 && self.in_contents && field == Field::None {
            self.in_contents = false;
            let k = self.key.take().ok_or("an object has no <Key>")?;
            let s = self
                .size
                .ok_or_else(|| format!("object {k:?} has no <Size>"))?;
            self.page.objects.push(ObjectInfo {
                key: k,
                size: s,
                etag: std::mem::take(&mut self.etag),
                last_modified: self.last_modified,
            });
        } else if depth == 2 && self.in_prefixes && field == Field::None {
            self.in_prefixes = false;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Page, String> {
        if let (true, Some((objects, prefixes, had_token))) = (self.url, self.raw_before) {
            for o in &mut self.page.objects[..objects] {
                decode_late(&mut o.key)?;
            }
            for p in &mut self.page.common_prefixes[..prefixes] {
                decode_late(p)?;
            }
            if had_token {
                if let Some(t) = self.token.as_mut() {
                    decode_late(t)?;
                }
            }
        }
        self.page.is_truncated = self.truncated.ok_or("no <IsTruncated>")?;
        // Tokens are opaque: echoed back exactly as received (url-decoded when the server
        // encoded it).
        self.page.next_token = self.token.filter(|t| !t.is_empty());
        Ok(self.page)
    }
}

/// Parses a ListBucketResult (V2) document (see the module documentation).
pub(crate) fn parse_page(xml: &[u8]) -> Result<Page, String> {
    let mut scanner = Scanner::new(xml);
    let mut b = Builder {
        page: Page {
            objects: Vec::with_capacity(super::MAX_KEYS as usize),
            ..Page::default()
        },
        url: false,
        raw_before: None,
        truncated: None,
        token: None,
        in_contents: false,
        in_prefixes: false,
        key: None,
        size: None,
        etag: String::new(),
        last_modified: SystemTime::UNIX_EPOCH,
        last_date: (Vec::new(), SystemTime::UNIX_EPOCH),
    };
    // Open elements, for checking end tags (a page nests four deep).
    let mut open: Vec<&[u8]> = Vec::with_capacity(8);
    // The children of one object, when it takes the quick path (an object has six).
    let mut kids: [(&[u8], &[u8]); 12] = [(b"", b""); 12];
    let mut saw_root = false;
    let mut field = Field::None;
    let mut text = FieldText {
        direct: None,
        buf: Vec::new(),
        pieces: 0,
    };
    loop {
        let tok = scanner.next().map_err(|e| format!("XML error: {e}"))?;
        match tok {
            Token::Start(name) => {
                open.push(name);
                text.clear();
                if open.len() == 1 {
                    if name != b"ListBucketResult" || saw_root {
                        return Err(format!(
                            "the root element is <{}>, not <ListBucketResult>",
                            String::from_utf8_lossy(name)
                        ));
                    }
                    saw_root = true;
                    field = Field::None;
                    continue;
                }
                if open.len() == 2 && name == b"Contents" {
                    if let Some(n) = scanner.simple_children(name, &mut kids) {
                        b.start(2, name);
                        for &(kid, t) in &kids[..n] {
                            let f = b.start(3, kid);
                            b.end(3, f, t)?;
                        }
                        b.end(2, Field::None, b"")?;
                        open.pop();
                        field = Field::None;
                        continue;
                    }
                }
                field = b.start(open.len(), name);
                if let Some(t) = scanner.simple_content(name) {
                    b.end(open.len(), field, t)?;
                    open.pop();
                    field = Field::None;
                }
            }
            Token::Empty(name) => {
                if open.is_empty() {
                    return Err(format!(
                        "the root element is <{}/>, not <ListBucketResult>",
                        String::from_utf8_lossy(name)
                    ));
                }
            }
            // Text outside the fields we keep (whitespace, Owner, StorageClass...) is skipped.
            Token::Text(t) if field != Field::None => text.text(t)?,
            Token::CData(t) if field != Field::None => text.cdata(t),
            Token::Text(_) | Token::CData(_) => {}
            Token::End(name) => {
                let depth = open.len();
                match open.pop() {
                    Some(o) if o == name => {}
                    Some(o) => {
                        return Err(format!(
                            "XML error: <{}> is closed by </{}>",
                            String::from_utf8_lossy(o),
                            String::from_utf8_lossy(name)
                        ))
                    }
                    None => {
                        return Err(format!(
                            "XML error: </{}> closes nothing",
                            String::from_utf8_lossy(name)
                        ))
                    }
                }
                b.end(depth, field, text.get())?;
                field = Field::None;
                text.clear();
            }
            Token::Eof => break,
        }
    }
    if !saw_root {
        return Err("no <ListBucketResult> element".into());
    }
    if let Some(o) = open.last() {
        return Err(format!(
            "the document ends inside <{}>",
            String::from_utf8_lossy(o)
        ));
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Result<Page, String> {
        parse_page(format!("<ListBucketResult>{body}</ListBucketResult>").as_bytes())
    }

    #[test]
    fn entities_cdata_comments_and_attributes() {
        let p = page(
            "<?pi x?><!-- <Contents> --><EncodingType>url</EncodingType>\
             <IsTruncated a=\"x>y\" b='1'>false</IsTruncated>\
             <Contents><Key>a&amp;b%26&#x41;&#66;</Key><Size> 7 </Size>\
             <ETag>&quot;E&quot;</ETag><Owner/></Contents>\
             <Contents><Key><![CDATA[c<d>]]>%20e</Key><Size>0</Size></Contents>",
        )
        .unwrap();
        assert_eq!(p.objects[0].key, "a&b&AB");
        assert_eq!(p.objects[0].size, 7);
        assert_eq!(p.objects[0].etag, "\"E\"");
        assert_eq!(p.objects[1].key, "c<d> e");
        assert!(!p.is_truncated);
    }

    #[test]
    fn a_doctype_and_declaration_are_skipped() {
        let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE ListBucketResult [<!ELEMENT x ANY>]>\n\
                   <ListBucketResult xmlns=\"http://doc.example/\"><IsTruncated>true</IsTruncated>\
                   <NextContinuationToken>t</NextContinuationToken></ListBucketResult>\n";
        let p = parse_page(xml.as_bytes()).unwrap();
        assert!(p.is_truncated);
        assert_eq!(p.next_token.as_deref(), Some("t"));
    }

    #[test]
    fn line_ends_are_normalized_in_raw_names() {
        let p = page("<IsTruncated>false</IsTruncated><Contents><Key>a\r\nb\rc</Key><Size>1</Size></Contents>")
            .unwrap();
        assert_eq!(p.objects[0].key, "a\nb\nc");
    }

    #[test]
    fn names_before_the_encoding_type_are_decoded_too() {
        let p = page(
            "<Contents><Key>x%2Fy</Key><Size>1</Size></Contents>\
             <CommonPrefixes><Prefix>p%2F</Prefix></CommonPrefixes>\
             <NextContinuationToken>a%3Db</NextContinuationToken>\
             <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
             <Contents><Key>z%2F%</Key><Size>2</Size></Contents>",
        )
        .unwrap();
        assert_eq!(p.objects[0].key, "x/y");
        assert_eq!(p.objects[1].key, "z/%");
        assert_eq!(p.common_prefixes, ["p/"]);
        assert_eq!(p.next_token.as_deref(), Some("a=b"));
    }

    #[test]
    fn percent_decoding_is_plain() {
        for (raw, want) in [
            (&b"a%2"[..], &b"a%2"[..]),
            (b"%", b"%"),
            (b"%zz%41", b"%zzA"),
            (b"%e6%96%87+", "文+".as_bytes()),
            (b"%%41", b"%A"),
        ] {
            assert_eq!(percent_decode(raw), want, "{raw:?}");
        }
        assert!(name(b"%FF", true).is_err());
    }

    #[test]
    fn ill_formed_documents_are_rejected() {
        for bad in [
            "<ListBucketResult><IsTruncated>false</IsTruncated>",
            "<ListBucketResult><IsTruncated>false</Truncated></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult></X>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&#xD800;</Key><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><!-- x </ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
            "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult><ListBucketResult/>",
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size><LastModified>yesterday</LastModified></Contents></ListBucketResult>",
        ] {
            assert!(parse_page(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(parse_page(b"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>\xff</Key><Size>1</Size></Contents></ListBucketResult>").is_err());
    }

    #[test]
    fn sizes_and_dates() {
        assert_eq!(digits(b"0"), Some(0));
        assert_eq!(
            digits(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(digits(b"18446744073709551615"), None);
        assert_eq!(digits(b"+1"), None);
        assert_eq!(digits(b""), None);
        let p = page(
            "<IsTruncated>false</IsTruncated>\
             <Contents><Key>a</Key><Size>+5</Size><LastModified>2025-03-14T12:00:00.000Z</LastModified></Contents>\
             <Contents><Key>b</Key><Size>18446744073709551615</Size><LastModified>2025-03-14T12:00:00.000Z</LastModified></Contents>\
             <Contents><Key>c</Key><Size>1</Size><LastModified>2025-03-14T12:00:01Z</LastModified></Contents>",
        )
        .unwrap();
        assert_eq!(p.objects[0].size, 5);
        assert_eq!(p.objects[1].size, u64::MAX);
        let secs = |o: &ObjectInfo| {
            o.last_modified
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(secs(&p.objects[0]), 1_741_953_600);
        assert_eq!(secs(&p.objects[1]), 1_741_953_600);
        assert_eq!(secs(&p.objects[2]), 1_741_953_601);
        assert!(page("<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>18446744073709551616</Size></Contents>").is_err());
        assert!(page("<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Size><LastModified></LastModified></Contents>").is_err());
    }

    #[test]
    fn short_searches() {
        let hay = b"0123456789abcdef<ghij&k";
        for len in 0..=hay.len() {
            let h = &hay[..len];
            let want = h.iter().position(|&b| b == b'<' || b == b'&' || b == b'\r');
            assert_eq!(find_short(h, [b'<', b'&', b'\r']), want, "{len}");
            let want = h.iter().position(|&b| b == b'j');
            assert_eq!(find_short(h, [b'j'; 3]), want, "{len}");
        }
        // A byte just above or below a wanted one is not taken for it (borrows between
        // bytes must not make a match).
        assert_eq!(
            find_short(b"\x01\x00\x3b\x3d\x80\xff\x3c", [b'<'; 3]),
            Some(6)
        );
        assert_eq!(
            find_short(b"\x3d\x3c\x3c\x3c\x3c\x3c\x3c\x3c", [b'<'; 3]),
            Some(1)
        );
        assert!(same(b"Key", b"Key"));
        assert!(!same(b"Key", b"Kez"));
        assert!(!same(b"Key", b"Keys"));
    }

    #[test]
    fn scanner_tokens() {
        let mut s = Scanner::new(b"<a x='>'>t<b/></a >");
        assert_eq!(s.next().unwrap(), Token::Start(b"a"));
        assert_eq!(s.next().unwrap(), Token::Text(b"t"));
        assert_eq!(s.next().unwrap(), Token::Empty(b"b"));
        assert_eq!(s.next().unwrap(), Token::End(b"a"));
        assert_eq!(s.next().unwrap(), Token::Eof);
    }
}
