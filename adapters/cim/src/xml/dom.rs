//! A small element tree read with quick-xml under hard limits.
//!
//! CIM-XML needs no DTD, so a `<!DOCTYPE>` (and with it every entity
//! definition, external or billion-laughs) is refused outright; only XML's
//! predefined entities and character references are expanded. Depth and
//! element counts are bounded so a hostile body cannot exhaust memory.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Limits on a request document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 64,
            max_elements: 200_000,
        }
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomError {
    #[error("malformed xml at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    #[error("xml document type declarations are not accepted")]
    Doctype,
    #[error("xml nested deeper than {0} elements")]
    TooDeep(usize),
    #[error("xml has more than {0} elements")]
    TooManyElements(usize),
    #[error("xml document has no root element")]
    Empty,
}

/// One element: name, attributes, children and its text content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn start_element(start: &BytesStart<'_>, position: u64) -> Result<Element, DomError> {
    let malformed = |message: String| DomError::Malformed { position, message };
    let name = String::from_utf8(start.name().as_ref().to_vec()).map_err(|e| malformed(e.to_string()))?;
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| malformed(e.to_string()))?;
        let key = String::from_utf8(attr.key.as_ref().to_vec()).map_err(|e| malformed(e.to_string()))?;
        let value = attr.unescape_value().map_err(|e| malformed(e.to_string()))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

/// Parses `body` into its root element.
pub fn parse(body: &[u8], limits: Limits) -> Result<Element, DomError> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let mut buf = Vec::new();
    loop {
        let position = reader.buffer_position();
        let malformed = |message: String| DomError::Malformed { position, message };
        let event = reader.read_event_into(&mut buf).map_err(|e| malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(DomError::Doctype),
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(malformed("content after the root element".into()));
            }
            Event::Start(start) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(DomError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(DomError::TooDeep(limits.max_depth));
                }
                stack.push(start_element(&start, position)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(DomError::TooManyElements(limits.max_elements));
                }
                let element = start_element(&start, position)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| malformed("unexpected end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    // quick-xml reports `&...;` as GeneralRef events, so text
                    // holds no references to expand here.
                    let decoded = text.decode().map_err(|e| malformed(e.to_string()))?;
                    top.text.push_str(&decoded);
                } else if !text.iter().all(u8::is_ascii_whitespace) {
                    return Err(malformed("text outside the root element".into()));
                }
            }
            Event::GeneralRef(r) => {
                let top = stack
                    .last_mut()
                    .ok_or_else(|| malformed("reference outside an element".into()))?;
                let name = r.decode().map_err(|e| malformed(e.to_string()))?;
                if let Some(ch) = r.resolve_char_ref().map_err(|e| malformed(e.to_string()))? {
                    top.text.push(ch);
                } else {
                    let ch = match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(malformed(format!("unknown entity '&{other};'"))),
                    };
                    top.text.push(ch);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(malformed("document ends inside an element".into()));
                }
                return root.ok_or(DomError::Empty);
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tree_with_entities() {
        let el = parse(
            br#"<?xml version="1.0"?><A x="1 &amp; 2"><B>a&lt;b&#65;</B><C/></A>"#,
            Limits::default(),
        )
        .unwrap();
        assert_eq!(el.name, "A");
        assert_eq!(el.attr("x"), Some("1 & 2"));
        assert_eq!(el.children[0].text, "a<bA");
        assert_eq!(el.children[1].name, "C");
    }

    #[test]
    fn refuses_doctype_and_unknown_entities() {
        let laughs =
            br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><A>&lol2;</A>"#;
        assert_eq!(parse(laughs, Limits::default()), Err(DomError::Doctype));
        assert!(matches!(
            parse(b"<A>&xxe;</A>", Limits::default()),
            Err(DomError::Malformed { .. })
        ));
    }

    #[test]
    fn limits_depth_and_truncation() {
        let deep = "<A>".repeat(100) + &"</A>".repeat(100);
        assert_eq!(parse(deep.as_bytes(), Limits::default()), Err(DomError::TooDeep(64)));
        assert!(matches!(
            parse(b"<A><B>", Limits::default()),
            Err(DomError::Malformed { .. })
        ));
        assert!(matches!(
            parse(b"<A></B>", Limits::default()),
            Err(DomError::Malformed { .. })
        ));
        assert_eq!(parse(b"  ", Limits::default()), Err(DomError::Empty));
    }
}

#[cfg(test)]
mod xxe_tests {
    use super::*;

    #[test]
    fn external_entity_doctype_is_refused() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><CIM>&xxe;</CIM>"#;
        assert_eq!(parse(xxe, Limits::default()), Err(DomError::Doctype));
    }
}
