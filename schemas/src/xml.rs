//! A small XML element tree on quick-xml's pull reader, with libvirt-style output.
//!
//! Why not serde derive (quick-xml's `serialize` feature)? Two things the models
//! need that serde cannot give:
//!
//! - **Unknown content survives, in order.** libvirt's XML is vast; virbus models a
//!   part of it and must write everything else back verbatim (define → dumpxml
//!   loses nothing). A derived struct drops unknown elements or, with a catch-all
//!   field, loses their order relative to known ones. The tree keeps every element,
//!   attribute, text, CDATA section and comment where it was.
//! - **Line numbers.** Validation errors name the element and its line
//!   (`invalid memory value '-1' in <memory> at line 4`); serde has no positions.
//!
//! The typed models (`domain`, `pool`, ...) read their fields from the tree and
//! write the fields they own back into it.
//!
//! Formatting rules: whitespace-only text in element content that also holds
//! elements or comments is indentation, so it is dropped on parse and re-created on
//! write (two spaces per level, attributes in single quotes, like libvirt's
//! `virXMLFormat`). Significant text is kept as is; an element that mixes
//! significant text with child elements is written without added whitespace so
//! its content is unchanged. Processing instructions and the XML declaration are
//! dropped, as libvirt drops them.
//!
//! Limits, for input from untrusted users: at most [`MAX_INPUT_BYTES`] of input,
//! nesting at most [`MAX_DEPTH`] deep, and no DOCTYPE at all (so no entity
//! declarations, hence no external entities and no entity expansion bombs).

use crate::error::{VirtError, VirtResult};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;
use std::fmt::Write as _;

/// The largest document [`parse`] accepts (10 MiB).
pub const MAX_INPUT_BYTES: usize = 10 * 1024 * 1024;

/// The deepest element nesting [`parse`] accepts.
pub const MAX_DEPTH: usize = 256;

/// Limits for one parse; [`parse`] uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest input, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bytes: MAX_INPUT_BYTES,
            max_depth: MAX_DEPTH,
        }
    }
}

/// One XML element with its attributes (in document order) and content.
#[derive(Debug, Clone, Default)]
pub struct Element {
    /// The qualified name as written (`test:runstate` keeps its prefix).
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// Content in document order.
    pub children: Vec<Node>,
    /// The 1-based line of the start tag; 0 for elements built in code.
    pub line: u32,
}

/// A piece of element content.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    /// Character data, unescaped.
    Text(String),
    Comment(String),
    CData(String),
}

/// Elements compare by content; where they were parsed (`line`) does not matter.
impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.attrs == other.attrs && self.children == other.children
    }
}

/// Parses a document and returns its root element, with the default limits.
///
/// Errors are `XML_ERROR` and say at which line the problem is.
pub fn parse(xml: &str) -> VirtResult<Element> {
    parse_with_limits(xml, ParseLimits::default())
}

/// Counts lines lazily: the reader reports byte offsets, and each call only scans
/// the bytes since the previous one, so a whole parse counts newlines once.
struct LineCounter<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
}

impl LineCounter<'_> {
    fn line_at(&mut self, offset: usize) -> u32 {
        let offset = offset.min(self.bytes.len());
        if offset >= self.pos {
            let added = self.bytes[self.pos..offset].iter().filter(|&&b| b == b'\n').count();
            self.line = self.line.saturating_add(u32::try_from(added).unwrap_or(u32::MAX));
        } else {
            // The reader never goes backwards, but be correct if asked to.
            let count = self.bytes[..offset].iter().filter(|&&b| b == b'\n').count();
            self.line = 1u32.saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
        }
        self.pos = offset;
        self.line
    }
}

/// Parses with explicit limits (node files of the test driver may be larger than
/// one domain document).
pub fn parse_with_limits(xml: &str, limits: ParseLimits) -> VirtResult<Element> {
    if xml.len() > limits.max_bytes {
        return Err(VirtError::xml(format!(
            "malformed XML at line 1: document of {} bytes exceeds the limit of {} bytes",
            xml.len(),
            limits.max_bytes
        )));
    }
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    config.trim_text(false);

    let mut lines = LineCounter {
        bytes: xml.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut tree = TreeBuilder::default();
    let mut root: Option<Element> = None;

    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(err) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                let line = lines.line_at(at);
                return Err(VirtError::xml(format!("malformed XML at line {line}: {err}")));
            }
        };
        match event {
            Event::Start(tag) | Event::Empty(tag) if root.is_some() => {
                let line = lines.line_at(start);
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                return Err(VirtError::xml(format!(
                    "malformed XML at line {line}: element <{name}> after the root element"
                )));
            }
            Event::Start(tag) | Event::Empty(tag) if tree.depth() >= limits.max_depth => {
                let line = lines.line_at(start);
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                return Err(VirtError::xml(format!(
                    "malformed XML at line {line}: element <{name}> nested deeper than {} levels",
                    limits.max_depth
                )));
            }
            Event::Start(tag) => {
                let line = lines.line_at(start);
                let el = tree.start_element(&tag, line)?;
                tree.open(el);
            }
            Event::Empty(tag) => {
                let line = lines.line_at(start);
                let el = tree.start_element(&tag, line)?;
                if tree.depth() == 0 {
                    root = Some(el);
                } else {
                    tree.add(Node::Element(el));
                }
            }
            Event::End(_) => {
                // check_end_names guarantees the end tag matches the open element.
                let Some(el) = tree.close() else {
                    let line = lines.line_at(start);
                    return Err(VirtError::xml(format!(
                        "malformed XML at line {line}: unexpected end tag"
                    )));
                };
                if tree.depth() == 0 {
                    root = Some(el);
                } else {
                    tree.add(Node::Element(el));
                }
            }
            Event::Text(text) => {
                let raw = text.xml_content().map_err(|err| {
                    let line = lines.line_at(start);
                    VirtError::xml(format!("malformed XML at line {line}: {err}"))
                })?;
                if tree.depth() > 0 {
                    tree.add_text(raw);
                } else if !raw.trim().is_empty() {
                    let line = lines.line_at(start);
                    return Err(VirtError::xml(format!(
                        "malformed XML at line {line}: text outside the root element"
                    )));
                }
            }
            Event::GeneralRef(reference) => {
                let line = lines.line_at(start);
                let resolved = resolve_reference(&reference, line)?;
                if tree.depth() == 0 {
                    return Err(VirtError::xml(format!(
                        "malformed XML at line {line}: entity reference outside the root element"
                    )));
                }
                tree.add_text(Cow::Owned(resolved.to_string()));
            }
            Event::CData(data) => {
                if tree.depth() > 0 {
                    tree.add(Node::CData(String::from_utf8_lossy(&data).into_owned()));
                }
            }
            Event::Comment(comment) => {
                // Comments outside the root element are dropped, as libvirt does.
                if tree.depth() > 0 {
                    tree.add(Node::Comment(String::from_utf8_lossy(&comment).into_owned()));
                }
            }
            Event::DocType(_) => {
                let line = lines.line_at(start);
                return Err(VirtError::xml(format!(
                    "malformed XML at line {line}: DOCTYPE and entity declarations are not allowed"
                )));
            }
            Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }

    if let Some(open) = tree.innermost() {
        let line = lines.line_at(xml.len());
        return Err(VirtError::xml(format!(
            "malformed XML at line {line}: premature end of document, <{}> from line {} is not closed",
            open.name, open.line
        )));
    }
    root.ok_or_else(|| {
        let line = lines.line_at(xml.len());
        VirtError::xml(format!("malformed XML at line {line}: no root element"))
    })
}

/// Content of an open element, collected until its end tag: text stays borrowed
/// from the input until we know whether it is content or indentation.
enum Pending<'a> {
    Node(Node),
    Text(Cow<'a, str>),
}

/// An element whose end tag has not been read yet.
struct Frame<'a> {
    el: Element,
    content: Vec<Pending<'a>>,
}

/// Builds the tree with few allocations: content is gathered in scratch buffers
/// reused from element to element, and each finished element gets vectors of
/// exactly the size it needs (a node file of 100,000 domains stays compact).
#[derive(Default)]
struct TreeBuilder<'a> {
    stack: Vec<Frame<'a>>,
    spare: Vec<Vec<Pending<'a>>>,
    attrs: Vec<(String, String)>,
}

impl<'a> TreeBuilder<'a> {
    fn depth(&self) -> usize {
        self.stack.len()
    }

    fn innermost(&self) -> Option<&Element> {
        self.stack.last().map(|f| &f.el)
    }

    fn start_element(&mut self, tag: &BytesStart<'_>, line: u32) -> VirtResult<Element> {
        let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
        self.attrs.clear();
        for attr in tag.attributes().with_checks(true) {
            let attr = attr.map_err(|err| {
                VirtError::xml(format!(
                    "malformed XML at line {line}: bad attribute in <{name}>: {err}"
                ))
            })?;
            let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
            let value = attr.unescape_value().map_err(|err| {
                VirtError::xml(format!(
                    "malformed XML at line {line}: bad value of attribute '{key}' in <{name}>: {err}"
                ))
            })?;
            self.attrs.push((key, value.into_owned()));
        }
        Ok(Element {
            name,
            // Draining an exact-size iterator allocates exactly once, and not at all
            // for elements without attributes.
            attrs: self.attrs.drain(..).collect(),
            children: Vec::new(),
            line,
        })
    }

    fn open(&mut self, el: Element) {
        let content = self.spare.pop().unwrap_or_default();
        self.stack.push(Frame { el, content });
    }

    fn add(&mut self, node: Node) {
        if let Some(frame) = self.stack.last_mut() {
            frame.content.push(Pending::Node(node));
        }
    }

    /// Adds text, merging with preceding text (references split text into
    /// several events).
    fn add_text(&mut self, text: Cow<'a, str>) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if text.is_empty() {
            return;
        }
        if let Some(Pending::Text(prev)) = frame.content.last_mut() {
            prev.to_mut().push_str(&text);
        } else {
            frame.content.push(Pending::Text(text));
        }
    }

    /// Finishes the innermost element. Whitespace-only text next to elements or
    /// comments is indentation, not content, unless the element also holds
    /// significant text (mixed content keeps all of it).
    fn close(&mut self) -> Option<Element> {
        let Frame { mut el, mut content } = self.stack.pop()?;
        let structured = content
            .iter()
            .any(|p| matches!(p, Pending::Node(Node::Element(_) | Node::Comment(_))));
        let significant = content.iter().any(|p| match p {
            Pending::Text(t) => !t.trim().is_empty(),
            Pending::Node(n) => matches!(n, Node::CData(_)),
        });
        let drop_blank = structured && !significant;
        let is_blank = |p: &Pending<'_>| matches!(p, Pending::Text(t) if t.trim().is_empty());
        let kept = content.iter().filter(|p| !(drop_blank && is_blank(p))).count();
        let mut children = Vec::with_capacity(kept);
        for pending in content.drain(..) {
            match pending {
                Pending::Node(node) => children.push(node),
                Pending::Text(t) if drop_blank && t.trim().is_empty() => {}
                Pending::Text(t) => children.push(Node::Text(t.into_owned())),
            }
        }
        el.children = children;
        self.spare.push(content);
        Some(el)
    }
}

/// Resolves `&amp;`-style predefined entities and character references; anything
/// else would need a DTD, which we refuse.
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>, line: u32) -> VirtResult<char> {
    let name = String::from_utf8_lossy(reference).into_owned();
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(ch)) => Ok(ch),
            _ => Err(VirtError::xml(format!(
                "malformed XML at line {line}: invalid character reference '&{name};'"
            ))),
        };
    }
    match name.as_str() {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        _ => Err(VirtError::xml(format!(
            "malformed XML at line {line}: undefined entity '&{name};'"
        ))),
    }
}

impl Element {
    /// An empty element built in code (line 0).
    pub fn new(name: impl Into<String>) -> Element {
        Element {
            name: name.into(),
            ..Element::default()
        }
    }

    /// The value of an attribute, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Sets an attribute, replacing its value in place or appending it.
    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.attrs.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name.to_string(), value)),
        }
    }

    /// Removes an attribute if present.
    pub fn remove_attr(&mut self, name: &str) {
        self.attrs.retain(|(k, _)| k != name);
    }

    /// The first child element with that name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The first child element with that name, mutable.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.name == name => Some(e),
            _ => None,
        })
    }

    /// All child elements with that name, in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    /// All child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// All child elements, mutable.
    pub fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The text and CDATA content (not of descendants), concatenated and trimmed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            if let Node::Text(t) | Node::CData(t) = node {
                out.push_str(t);
            }
        }
        let trimmed = out.trim();
        if trimmed.len() == out.len() {
            out
        } else {
            trimmed.to_string()
        }
    }

    /// Replaces all text and CDATA content with one text node (elements and
    /// comments stay). An empty string leaves no text node.
    pub fn set_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        let at = self
            .children
            .iter()
            .position(|n| matches!(n, Node::Text(_) | Node::CData(_)))
            .unwrap_or(0);
        self.children.retain(|n| !matches!(n, Node::Text(_) | Node::CData(_)));
        if !text.is_empty() {
            self.children.insert(at.min(self.children.len()), Node::Text(text));
        }
    }

    /// Appends a child element.
    pub fn push_child(&mut self, el: Element) {
        self.children.push(Node::Element(el));
    }

    /// Inserts a child element before the node at `index` of `children`.
    pub fn insert_child(&mut self, index: usize, el: Element) {
        let index = index.min(self.children.len());
        self.children.insert(index, Node::Element(el));
    }

    /// Removes every child element with that name. Text on either side of a
    /// removed element is joined, as a parser would read the result.
    pub fn remove_children(&mut self, name: &str) {
        let before = self.children.len();
        self.children
            .retain(|n| !matches!(n, Node::Element(e) if e.name == name));
        if self.children.len() != before {
            self.merge_adjacent_text();
        }
    }

    /// Joins neighbouring text nodes into one.
    fn merge_adjacent_text(&mut self) {
        let mut merged: Vec<Node> = Vec::with_capacity(self.children.len());
        for node in self.children.drain(..) {
            match (merged.last_mut(), node) {
                (Some(Node::Text(prev)), Node::Text(next)) => prev.push_str(&next),
                (_, node) => merged.push(node),
            }
        }
        self.children = merged;
    }

    /// Index in `children` of the first element with that name.
    pub fn child_index(&self, name: &str) -> Option<usize> {
        self.children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if e.name == name))
    }

    /// A child element with that name, created (appended) if missing.
    pub fn child_or_insert(&mut self, name: &str) -> &mut Element {
        let index = match self.child_index(name) {
            Some(i) => i,
            None => {
                self.push_child(Element::new(name));
                self.children.len() - 1
            }
        };
        match &mut self.children[index] {
            Node::Element(e) => e,
            // child_index only returns element positions, and push_child pushes one.
            _ => unreachable!("child_index points at an element"),
        }
    }

    /// Builder: an element with one attribute added.
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Element {
        self.set_attr(name, value);
        self
    }

    /// Builder: an element with text content.
    pub fn with_text(mut self, text: impl Into<String>) -> Element {
        self.set_text(text);
        self
    }

    /// Formats the element libvirt-style, with a trailing newline.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_indented(&mut out, 0);
        out
    }

    fn write_start(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (key, value) in &self.attrs {
            out.push(' ');
            out.push_str(key);
            out.push_str("='");
            escape_into(out, value);
            out.push('\'');
        }
    }

    fn write_indented(&self, out: &mut String, depth: usize) {
        for _ in 0..depth {
            out.push_str("  ");
        }
        let has_structure = self
            .children
            .iter()
            .any(|n| matches!(n, Node::Element(_) | Node::Comment(_)));
        let has_text = self
            .children
            .iter()
            .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()) || matches!(n, Node::CData(_)));
        if self.children.is_empty() {
            self.write_start(out);
            out.push_str("/>\n");
        } else if !has_structure || has_text {
            // Text-only or mixed content: written inline so its text is unchanged.
            self.write_inline(out);
            out.push('\n');
        } else {
            self.write_start(out);
            out.push_str(">\n");
            for node in &self.children {
                match node {
                    Node::Element(e) => e.write_indented(out, depth + 1),
                    Node::Comment(c) => {
                        for _ in 0..=depth {
                            out.push_str("  ");
                        }
                        let _ = writeln!(out, "<!--{c}-->");
                    }
                    // Only whitespace text can be here; it is formatting.
                    Node::Text(_) | Node::CData(_) => {}
                }
            }
            for _ in 0..depth {
                out.push_str("  ");
            }
            let _ = writeln!(out, "</{}>", self.name);
        }
    }

    fn write_inline(&self, out: &mut String) {
        self.write_start(out);
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for node in &self.children {
            match node {
                Node::Element(e) => e.write_inline(out),
                Node::Text(t) => escape_into(out, t),
                Node::Comment(c) => {
                    let _ = write!(out, "<!--{c}-->");
                }
                Node::CData(c) => {
                    // "]]>" cannot appear inside a CDATA section: split it.
                    out.push_str("<![CDATA[");
                    out.push_str(&c.replace("]]>", "]]]]><![CDATA[>"));
                    out.push_str("]]>");
                }
            }
        }
        let _ = write!(out, "</{}>", self.name);
    }
}

/// `text` with the XML special characters escaped, for text or a quoted
/// attribute value in XML built by hand.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Escapes the five XML special characters, as libvirt's `virBufferEscapeString`.
fn escape_into(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            // Carriage returns would be normalised away by the next parse.
            '\r' => out.push_str("&#13;"),
            _ => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn round_trips_with_libvirt_formatting() {
        let src = "<?xml version='1.0'?>\n<domain type=\"kvm\">\n  <name>a&amp;b</name>\n  <!-- keep -->\n  <x a='1' b=\"it's\"><y/></x>\n  <desc>  spaced  </desc>\n</domain>\n";
        let el = parse(src).unwrap();
        assert_eq!(el.attr("type"), Some("kvm"));
        assert_eq!(el.child("name").unwrap().text(), "a&b");
        assert_eq!(el.child("name").unwrap().line, 3);
        let out = el.to_xml();
        assert_eq!(
            out,
            "<domain type='kvm'>\n  <name>a&amp;b</name>\n  <!-- keep -->\n  <x a='1' b='it&apos;s'>\n    <y/>\n  </x>\n  <desc>  spaced  </desc>\n</domain>\n"
        );
        assert_eq!(parse(&out).unwrap(), el);
    }

    #[test]
    fn mixed_content_is_kept_inline() {
        let el = parse("<a>\n  hello <b>x</b> world\n</a>").unwrap();
        let out = el.to_xml();
        assert_eq!(parse(&out).unwrap(), el);
        assert!(out.starts_with("<a>\n  hello <b>x</b> world\n</a>"));
    }

    #[test]
    fn cdata_and_char_refs() {
        let el = parse("<a><![CDATA[x<]]]]><![CDATA[>y]]>&#65;</a>").unwrap();
        assert_eq!(el.text(), "x<]]>yA");
        let again = parse(&el.to_xml()).unwrap();
        assert_eq!(again.text(), "x<]]>yA");
    }

    #[test]
    fn errors_carry_line_numbers() {
        let err = parse("<a>\n<b>\n</a>").unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        assert!(err.message.contains("line 3"), "{}", err.message);
        let err = parse("<a>\n<b>").unwrap_err();
        assert!(err.message.contains("premature end"), "{}", err.message);
        let err = parse("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").unwrap_err();
        assert!(err.message.contains("DOCTYPE"), "{}", err.message);
        let err = parse("<a>&x;</a>").unwrap_err();
        assert!(err.message.contains("undefined entity"), "{}", err.message);
        let deep = "<a>".repeat(300) + &"</a>".repeat(300);
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
        let ok = "<a>".repeat(256) + &"</a>".repeat(256);
        assert!(parse(&ok).is_ok());
        let big = format!("<a>{}</a>", " ".repeat(MAX_INPUT_BYTES));
        assert!(parse(&big).unwrap_err().message.contains("exceeds"));
        assert!(parse("<a/><b/>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<a x='1' x='2'/>").is_err());
    }

    #[test]
    fn removing_an_element_joins_surrounding_text() {
        let mut el = parse("<a>x<b/>y<c/></a>").unwrap();
        el.remove_children("b");
        assert_eq!(el.children.len(), 2);
        assert_eq!(parse(&el.to_xml()).unwrap(), el);
    }

    #[test]
    fn editing_helpers() {
        let mut el = Element::new("a");
        el.set_attr("x", "1");
        el.set_attr("y", "2");
        el.set_attr("x", "3");
        assert_eq!(el.attrs, vec![("x".into(), "3".into()), ("y".into(), "2".into())]);
        el.remove_attr("x");
        assert_eq!(el.attr("x"), None);
        el.push_child(Element::new("b").with_text("t"));
        el.push_child(Element::new("b"));
        assert_eq!(el.children_named("b").count(), 2);
        el.child_mut("b").unwrap().set_text("u");
        assert_eq!(el.child("b").unwrap().text(), "u");
        assert_eq!(el.to_xml(), "<a y='2'>\n  <b>u</b>\n  <b/>\n</a>\n");
        let mut parsed = parse("<a>\n<b/></a>").unwrap();
        parsed.line = 9;
        assert_eq!(parsed, parse("<a><b/></a>").unwrap());
    }
}
