//! The flat XML WeChat speaks on its callbacks: `<xml><Tag><![CDATA[v]]></Tag>…</xml>`.
//!
//! [`parse_flat`] reads the leaf elements of such a document into a map (nested elements
//! contribute their leaves by their own names); [`write_flat`] writes one, every string value
//! in a CDATA section. Both sides of the callback (Herald's endpoint and the simulator that
//! pushes events) use them.

use quick_xml::Reader;
use quick_xml::events::Event;
use std::collections::BTreeMap;

/// Why a callback body is not the XML we expect.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("unknown entity &{0};")]
    UnknownEntity(String),
    #[error("the document has no root element")]
    Empty,
}

/// Leaf elements of the document by name (the first occurrence wins), text unescaped.
pub fn parse_flat(xml: &str) -> Result<BTreeMap<String, String>, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut fields = BTreeMap::new();
    // Open elements, each with the text gathered directly inside it so far.
    let mut open: Vec<(String, String, bool)> = Vec::new();
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                if let Some(parent) = open.last_mut() {
                    parent.2 = true;
                }
                open.push((name, String::new(), false));
                saw_root = true;
            }
            Event::Empty(empty) => {
                let name = empty.local_name().as_ref().to_owned();
                if let Some(parent) = open.last_mut() {
                    parent.2 = true;
                }
                fields.entry(name).or_insert_with(String::new);
                saw_root = true;
            }
            Event::Text(text) => {
                if let Some(current) = open.last_mut() {
                    current.1.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(current) = open.last_mut() {
                    current.1.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = reference.xml10_content();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError::UnknownEntity(name.clone().into_owned()))?
                            .to_owned()
                    }
                    Err(e) => return Err(XmlError::Malformed(e.to_string())),
                };
                if let Some(current) = open.last_mut() {
                    current.1.push_str(&resolved);
                }
            }
            Event::End(_) => {
                if let Some((name, text, has_children)) = open.pop()
                    && !has_children
                {
                    fields.entry(name).or_insert_with(|| text.trim().to_owned());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(XmlError::Empty);
    }
    Ok(fields)
}

/// A value of a flat document: text goes into CDATA, numbers are written bare (as WeChat
/// writes `CreateTime` and `MsgID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlValue {
    Text(String),
    Number(i64),
}

/// `<xml>` with one child per entry, in order.
pub fn write_flat(entries: &[(&str, XmlValue)]) -> String {
    let mut out = String::from("<xml>");
    for (name, value) in entries {
        out.push('<');
        out.push_str(name);
        out.push('>');
        match value {
            XmlValue::Number(n) => out.push_str(&n.to_string()),
            XmlValue::Text(text) => {
                // "]]>" cannot appear inside CDATA: close and reopen around it.
                out.push_str("<![CDATA[");
                out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
                out.push_str("]]>");
            }
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_template_send_job_finish_event() {
        let xml = "<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>\n\
            <FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName>\n\
            <CreateTime>1395658920</CreateTime><MsgType><![CDATA[event]]></MsgType>\n\
            <Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID>\n\
            <Status><![CDATA[failed:user block]]></Status></xml>";
        let fields = parse_flat(xml).unwrap();
        assert_eq!(fields["MsgID"], "200163836");
        assert_eq!(fields["Status"], "failed:user block");
        assert_eq!(fields["Event"], "TEMPLATESENDJOBFINISH");
        assert_eq!(fields["CreateTime"], "1395658920");
        assert!(
            !fields.contains_key("xml"),
            "elements with children are not leaves"
        );
    }

    #[test]
    fn round_trips_escapes_and_cdata_terminators() {
        let xml = write_flat(&[
            ("A", XmlValue::Text("x]]>y & <z>".into())),
            ("B", XmlValue::Number(-7)),
        ]);
        let fields = parse_flat(&xml).unwrap();
        assert_eq!(fields["A"], "x]]>y & <z>");
        assert_eq!(fields["B"], "-7");
        let escaped = parse_flat("<xml><C>a &amp; b &#x41;&#66;</C></xml>").unwrap();
        assert_eq!(escaped["C"], "a & b AB");
    }

    #[test]
    fn refuses_what_is_not_xml() {
        assert!(parse_flat("").is_err());
        assert!(parse_flat("<xml><A>1</B></xml>").is_err());
        assert!(parse_flat("<xml><A>&bogus;</A></xml>").is_err());
    }
}
