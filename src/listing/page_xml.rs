//! The ListBucketResult (V2) parser: one pass of quick-xml's reader over a page.
//!
//! A listing page is a few hundred KiB of small elements and a big listing parses thousands
//! of them, so the pass allocates only what the [`Page`] keeps (per object its key and its
//! ETag), reuses one text buffer, and parses each distinct `LastModified` text once (a page's
//! objects mostly share a few). The reader checks that every element is closed by its own end
//! tag; references are resolved (the five predefined entities and character references) and
//! line ends (`\r\n`, `\r`) read as `\n`, as the XML specification says. Url-encoded names
//! (`encoding-type=url`) are decoded with plain percent-decoding (`+` stays `+`).
//!
//! [`parse_partial`] reads the beginning of a page whose body broke off: the same pass, ended
//! at the break, keeping the objects whose `<Contents>` element closed before it.

use std::time::SystemTime;

use quick_xml::events::Event;

use super::{parse_iso8601, ObjectInfo, Page};

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

/// Names read before the page said how they are encoded.
#[derive(Default)]
struct Late {
    /// Indexes into the page's objects and common prefixes.
    objects: Vec<usize>,
    prefixes: Vec<usize>,
    token: bool,
}

/// Parses a ListBucketResult (V2) document.
pub(crate) fn parse_page(xml: &[u8]) -> Result<Page, String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("not UTF-8: {e}"))?;
    parse(text, false)
}

/// The objects of the beginning of a ListBucketResult (V2) document, `xml` being the bytes
/// that arrived before its body broke off: every object whose `<Contents>` element is
/// complete, in order, up to the break or to the first error (a malformed entry, which a
/// whole page would be rejected for, ends the objects kept before it).
///
/// Objects are kept only once the page said how names are encoded (OSS sends
/// `<EncodingType>` before the objects): a name read before that cannot be decoded safely.
/// What the page says after its objects (`IsTruncated`, the continuation token) is not
/// needed: the listing goes on after the last object kept.
pub(crate) fn parse_partial(xml: &[u8]) -> Vec<ObjectInfo> {
    // The break may fall inside a character.
    let text = match std::str::from_utf8(xml) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&xml[..e.valid_up_to()]).unwrap_or(""),
    };
    match parse(text, true) {
        Ok(page) => page.objects,
        Err(_) => Vec::new(),
    }
}

/// The pass over a page. `partial`: the text is the beginning of a page; the pass stops at
/// the first error or at the end, and returns the complete objects read so far (none if any
/// was read before the encoding was known).
fn parse(text: &str, partial: bool) -> Result<Page, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut page = Page::default();
    let mut depth = 0usize;
    let mut roots = 0;
    let mut in_contents = false;
    let mut in_prefixes = false;
    let mut field = Field::None;
    let mut buf = String::new();
    // Known once <EncodingType> was read; names read before it are kept as sent and decoded
    // at the end (OSS sends it first, so this is rare).
    let mut url_encoded = false;
    let mut encoding_known = false;
    let mut late = Late::default();
    let mut truncated: Option<bool> = None;
    let mut token: Option<String> = None;
    let mut key: Option<String> = None;
    let mut size: Option<u64> = None;
    let mut etag = String::new();
    let mut last_modified = SystemTime::UNIX_EPOCH;
    let mut date_text = String::new();
    let mut date = None;
    // The pass; an error returns from this closure with the objects read so far kept.
    let mut pass = || -> Result<(), String> {
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("XML error at byte {}: {e}", reader.error_position()))?;
            match event {
                Event::Start(e) => {
                    let name = e.name();
                    let name = name.as_ref();
                    depth += 1;
                    field = Field::None;
                    buf.clear();
                    match depth {
                        1 => {
                            if name != b"ListBucketResult" {
                                return Err(format!(
                                    "the root element is <{}>, not <ListBucketResult>",
                                    String::from_utf8_lossy(name)
                                ));
                            }
                            roots += 1;
                            if roots > 1 {
                                return Err("more than one <ListBucketResult>".into());
                            }
                        }
                        2 => match name {
                            b"Contents" => {
                                in_contents = true;
                                key = None;
                                size = None;
                                etag = String::new();
                                last_modified = SystemTime::UNIX_EPOCH;
                            }
                            b"CommonPrefixes" => in_prefixes = true,
                            b"EncodingType" => field = Field::EncodingType,
                            b"IsTruncated" => field = Field::IsTruncated,
                            b"NextContinuationToken" => field = Field::NextToken,
                            _ => {}
                        },
                        3 if in_contents => {
                            field = match name {
                                b"Key" => Field::Key,
                                b"Size" => Field::Size,
                                b"ETag" => Field::ETag,
                                b"LastModified" => Field::LastModified,
                                _ => Field::None,
                            }
                        }
                        3 if in_prefixes && name == b"Prefix" => field = Field::CommonPrefix,
                        _ => {}
                    }
                }
                Event::Empty(_) if depth == 0 => {
                    return Err("the root element is empty or not <ListBucketResult>".into());
                }
                Event::Empty(_) => {}
                // Text outside the fields kept (whitespace, Owner, StorageClass...) is skipped.
                Event::Text(t) if field != Field::None => {
                    let raw: &[u8] = &t;
                    if raw.contains(&b'\r') {
                        buf.push_str(&t.xml_content().map_err(|e| e.to_string())?);
                    } else {
                        // The document is UTF-8 and text ends at ASCII markup: no check needed,
                        // but a cheap one keeps this safe code.
                        buf.push_str(std::str::from_utf8(raw).map_err(|e| e.to_string())?);
                    }
                }
                Event::CData(t) if field != Field::None => {
                    buf.push_str(std::str::from_utf8(&t).map_err(|e| e.to_string())?);
                }
                Event::GeneralRef(r) if field != Field::None => match r.resolve_char_ref() {
                    Ok(Some(c)) => buf.push(c),
                    Ok(None) => match r.as_ref() {
                        b"amp" => buf.push('&'),
                        b"lt" => buf.push('<'),
                        b"gt" => buf.push('>'),
                        b"quot" => buf.push('"'),
                        b"apos" => buf.push('\''),
                        other => {
                            return Err(format!(
                                "unknown entity &{};",
                                String::from_utf8_lossy(other)
                            ))
                        }
                    },
                    Err(e) => return Err(e.to_string()),
                },
                Event::End(_) => {
                    match field {
                        Field::None => {}
                        Field::EncodingType => {
                            url_encoded = buf.trim() == "url";
                            encoding_known = true;
                        }
                        Field::IsTruncated => {
                            truncated = Some(match buf.trim() {
                                "true" => true,
                                "false" => false,
                                v => return Err(format!("IsTruncated is {v:?}")),
                            })
                        }
                        Field::NextToken => {
                            late.token |= !encoding_known;
                            token = Some(name(&buf, url_encoded)?);
                        }
                        Field::Key => {
                            if !encoding_known {
                                late.objects.push(page.objects.len());
                            }
                            key = Some(name(&buf, url_encoded)?);
                        }
                        Field::Size => {
                            let k = key.as_deref().unwrap_or("");
                            size = Some(
                                buf.trim()
                                    .parse::<u64>()
                                    .map_err(|_| format!("object {k:?} has an invalid <Size>"))?,
                            )
                        }
                        Field::ETag => etag = buf.clone(),
                        Field::LastModified => {
                            let t = buf.trim();
                            if date.is_none() || t != date_text {
                                date = Some(parse_iso8601(t).ok_or_else(|| {
                                    let k = key.as_deref().unwrap_or("");
                                    format!("object {k:?} has an invalid <LastModified> {t:?}")
                                })?);
                                date_text.clear();
                                date_text.push_str(t);
                            }
                            last_modified = date.unwrap_or(SystemTime::UNIX_EPOCH);
                        }
                        Field::CommonPrefix => {
                            if !encoding_known {
                                late.prefixes.push(page.common_prefixes.len());
                            }
                            page.common_prefixes.push(name(&buf, url_encoded)?);
                        }
                    }
                    if depth == 2 && in_contents && field == Field::None {
                        in_contents = false;
                        let k = key.take().ok_or("an object has no <Key>")?;
                        let s = size.ok_or_else(|| format!("object {k:?} has no <Size>"))?;
                        page.objects.push(ObjectInfo {
                            key: k,
                            size: s,
                            etag: std::mem::take(&mut etag),
                            last_modified,
                        });
                    } else if depth == 2 && in_prefixes && field == Field::None {
                        in_prefixes = false;
                    }
                    field = Field::None;
                    depth = depth.saturating_sub(1);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(())
    };
    let passed = pass();
    if partial {
        // An object read before the encoding was known cannot be decoded yet.
        if !encoding_known || !late.objects.is_empty() {
            page.objects.clear();
        }
        return Ok(Page {
            objects: page.objects,
            ..Page::default()
        });
    }
    passed?;
    if roots == 0 {
        return Err("no <ListBucketResult> element".into());
    }
    if depth != 0 {
        return Err("the document ends inside an element".into());
    }
    if url_encoded {
        for &i in &late.objects {
            if let Some(o) = page.objects.get_mut(i) {
                decode(&mut o.key)?;
            }
        }
        for &i in &late.prefixes {
            decode(&mut page.common_prefixes[i])?;
        }
        if let (true, Some(t)) = (late.token, token.as_mut()) {
            decode(t)?;
        }
    }
    page.is_truncated = truncated.ok_or("no <IsTruncated>")?;
    // Tokens are opaque: echoed back exactly as received (url-decoded when the server encoded it).
    page.next_token = token.filter(|t| !t.is_empty());
    Ok(page)
}

/// A name (key, prefix or token) from its text, percent-decoded when `url`.
fn name(text: &str, url: bool) -> Result<String, String> {
    if !url || !text.contains('%') {
        return Ok(text.to_owned());
    }
    String::from_utf8(percent_decode(text.as_bytes()))
        .map_err(|_| format!("the url-encoded name {text:?} is not UTF-8"))
}

/// Decodes a name that was read before the page said it is url-encoded.
fn decode(s: &mut String) -> Result<(), String> {
    if s.contains('%') {
        *s = name(s, true)?;
    }
    Ok(())
}

/// Plain percent-decoding: `%XY` becomes the byte 0xXY; anything else, `+` and a `%` without
/// two hex digits included, stays as it is.
fn percent_decode(src: &[u8]) -> Vec<u8> {
    percent_encoding::percent_decode(src).collect()
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
        // Names are decoded exactly once, whether they come before or after <EncodingType>.
        let p = page(
            "<Contents><Key>a%2541</Key><Size>1</Size></Contents>\
             <EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>\
             <Contents><Key>b%2541</Key><Size>1</Size></Contents>",
        )
        .unwrap();
        assert_eq!(p.objects[0].key, "a%41");
        assert_eq!(p.objects[1].key, "b%41");
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
        let mut s = "%FF".to_owned();
        assert!(decode(&mut s).is_err());
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
    fn a_broken_page_keeps_exactly_the_objects_complete_before_the_break() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>\
                   <Name>b</Name><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
                   <NextContinuationToken>tok</NextContinuationToken>\
                   <Contents><Key>p%2Fa%26b</Key><LastModified>2025-03-14T12:00:00.000Z</LastModified>\
                   <ETag>&quot;E1&quot;</ETag><Size>10</Size></Contents>\
                   <Contents><Key>p/文件</Key><LastModified>2025-03-14T12:00:01.000Z</LastModified>\
                   <ETag>\"E2\"</ETag><Size>20</Size><Owner><ID>1</ID></Owner></Contents>\
                   <Contents><Key>p%2Fz</Key><Size>30</Size></Contents>\
                   </ListBucketResult>";
        let bytes = xml.as_bytes();
        let whole = parse_page(bytes).unwrap().objects;
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[1].key, "p/文件");
        // Where each object's entry is complete: just after its </Contents>.
        let ends: Vec<usize> = xml
            .match_indices("</Contents>")
            .map(|(i, m)| i + m.len())
            .collect();
        // Every cut, inside characters too.
        for cut in 0..=bytes.len() {
            let kept = parse_partial(&bytes[..cut]);
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(kept, whole[..complete], "cut at byte {cut}");
        }
    }

    #[test]
    fn a_broken_page_keeps_nothing_it_cannot_decode_or_trust() {
        // Objects before <EncodingType>, which never came: their names cannot be decoded.
        let early = "<ListBucketResult><Contents><Key>a%2Fb</Key><Size>1</Size></Contents>\
                     <Contents><Key>a%2Fc</Key><Size>1</Size></Contents><EncodingType>u";
        assert!(parse_partial(early.as_bytes()).is_empty());
        // A malformed entry ends what is kept (the whole page would be rejected).
        let bad = "<ListBucketResult><EncodingType>url</EncodingType>\
                   <Contents><Key>a</Key><Size>1</Size></Contents>\
                   <Contents><Key>b</Key><Size>x</Size></Contents>\
                   <Contents><Key>c</Key><Size>1</Size></Contents><Conte";
        let kept = parse_partial(bad.as_bytes());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].key, "a");
        // Not a listing at all.
        assert!(parse_partial(b"<Error><Code>InternalError</Code>").is_empty());
        assert!(parse_partial(b"").is_empty());
    }

    #[test]
    fn sizes_and_dates() {
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
}
