//! The `<Error>` documents servers send with error responses.
//!
//! OSS and S3 use the same shape (`<Error><Code/><Message/><RequestId/>...</Error>`); OSS adds
//! `<EC>` (its diagnostic code) and, for HEAD, the base64 of the document in the `x-oss-err`
//! header. Some S3 implementations spell the id `RequestID`; both spellings are read. Only the
//! fields below are kept: the server's `StringToSign` echo and the like are deliberately not.

use base64::Engine as _;
use quick_xml::events::Event;

/// The fields of an `<Error>` document we use.
#[derive(Default, Debug)]
pub(crate) struct ErrorDoc {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// OSS only: the `<EC>` diagnostic code.
    pub ec: Option<String>,
}

/// Parses the `x-oss-err` header of an OSS HEAD error response (the base64 of an `<Error>`
/// document); `None` if it is not one.
pub(crate) fn decode_oss_err(raw: &str) -> Option<ErrorDoc> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()?;
    parse_error_xml(&String::from_utf8_lossy(&bytes))
}

/// Parses an OSS or S3 `<Error>` document; `None` if the text is not one.
pub(crate) fn parse_error_xml(text: &str) -> Option<ErrorDoc> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut doc = ErrorDoc::default();
    let mut path: Vec<String> = Vec::new();
    let mut saw_error = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if path.is_empty() && name == "Error" {
                    saw_error = true;
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(t)) => {
                if let Ok(s) = t.xml_content() {
                    append_field(&mut doc, &path, &s);
                }
            }
            Ok(Event::CData(t)) => {
                let s = String::from_utf8_lossy(&t);
                append_field(&mut doc, &path, &s);
            }
            Ok(Event::GeneralRef(r)) => {
                let s = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match r.decode().as_deref() {
                        Ok("amp") => "&".into(),
                        Ok("lt") => "<".into(),
                        Ok("gt") => ">".into(),
                        Ok("quot") => "\"".into(),
                        Ok("apos") => "'".into(),
                        _ => String::new(),
                    },
                };
                append_field(&mut doc, &path, &s);
            }
            Ok(Event::Eof) => break,
            Err(_) => return None,
            _ => {}
        }
    }
    saw_error.then_some(doc)
}

fn append_field(doc: &mut ErrorDoc, path: &[String], text: &str) {
    if path.len() != 2 || path[0] != "Error" {
        return;
    }
    let slot = match path[1].as_str() {
        "Code" => &mut doc.code,
        "Message" => &mut doc.message,
        "RequestId" | "RequestID" => &mut doc.request_id,
        "EC" => &mut doc.ec,
        _ => return,
    };
    slot.get_or_insert_with(String::new).push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oss_error_documents_parse() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>SignatureDoesNotMatch</Code>
  <Message>The request signature we calculated does not match &amp; so on.</Message>
  <RequestId>65F2F0A0E1B2C3D4E5F60718</RequestId>
  <HostId>examplebucket.oss-cn-hangzhou.aliyuncs.com</HostId>
  <StringToSign>GET\n\n\n</StringToSign>
  <EC>0002-00000040</EC>
</Error>"#;
        let d = parse_error_xml(xml).unwrap();
        assert_eq!(d.code.as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(
            d.message.as_deref(),
            Some("The request signature we calculated does not match & so on.")
        );
        assert_eq!(d.request_id.as_deref(), Some("65F2F0A0E1B2C3D4E5F60718"));
        assert_eq!(d.ec.as_deref(), Some("0002-00000040"));
        assert!(parse_error_xml("<html>nope</html>").is_none());
        assert!(parse_error_xml("not xml at all <<<").is_none());
    }

    #[test]
    fn s3_error_documents_parse() {
        // AWS S3's shape.
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a/b.bin</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>"#;
        let d = parse_error_xml(xml).unwrap();
        assert_eq!(d.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(d.request_id.as_deref(), Some("4442587FB7D0A2F9"));
        assert_eq!(d.ec, None);
        // moto's and some other implementations' spelling of the id.
        let xml = "<Error><Code>AccessDenied</Code><Message>no</Message>\
                   <RequestID>7a62c49f</RequestID></Error>";
        let d = parse_error_xml(xml).unwrap();
        assert_eq!(d.code.as_deref(), Some("AccessDenied"));
        assert_eq!(d.request_id.as_deref(), Some("7a62c49f"));
    }
}
