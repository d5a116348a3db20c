//! Helpers the typed models share: reading optional values out of the tree with
//! errors that name element, value and line, and writing fields back in
//! libvirt's element order.

use crate::error::{VirtError, VirtResult};
use crate::units;
use crate::xml::{Element, Node};
use uuid::Uuid;

/// An `XML_ERROR` about a value of an element, naming it and its line.
pub(crate) fn invalid(el: &Element, what: &str, value: &str, why: &str) -> VirtError {
    VirtError::xml(format!(
        "invalid {what} '{value}' in <{}> at line {}: {why}",
        el.name, el.line
    ))
}

/// An `XML_ERROR` about a missing child element.
pub(crate) fn missing(parent: &Element, child: &str) -> VirtError {
    VirtError::xml(format!(
        "missing <{child}> in <{}> at line {}",
        parent.name, parent.line
    ))
}

/// Checks the root element's name.
pub(crate) fn expect_root(el: &Element, name: &str) -> VirtResult<()> {
    if el.name == name {
        Ok(())
    } else {
        Err(VirtError::xml(format!(
            "unexpected root element <{}> at line {}, expecting <{name}>",
            el.name, el.line
        )))
    }
}

/// The trimmed text of a child element, `None` if absent or empty (libvirt's
/// `virXPathString` treats an empty string as absent).
pub(crate) fn child_text(el: &Element, name: &str) -> Option<String> {
    let text = el.child(name)?.text();
    (!text.is_empty()).then_some(text)
}

/// An attribute of a child element.
pub(crate) fn child_attr(el: &Element, child: &str, attr: &str) -> Option<String> {
    el.child(child)?.attr(attr).map(str::to_string)
}

/// An attribute as an owned string.
pub(crate) fn attr(el: &Element, name: &str) -> Option<String> {
    el.attr(name).map(str::to_string)
}

/// An optional unsigned attribute; junk is an error naming the attribute.
pub(crate) fn attr_u32(el: &Element, name: &str) -> VirtResult<Option<u32>> {
    match el.attr(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| invalid(el, &format!("attribute '{name}'"), v, "expected an unsigned integer")),
    }
}

/// A lenient optional number: `None` when absent or not a number. Used for
/// device details that the model reports but never validates (libvirt's own
/// parser checks them; virtbus keeps them verbatim in the tree).
pub(crate) fn attr_num<T: std::str::FromStr>(el: &Element, name: &str) -> Option<T> {
    el.attr(name)?.trim().parse().ok()
}

/// A `uuid` child: parsed if present, else a fresh random one (libvirt generates
/// one for definitions without).
pub(crate) fn uuid_child(el: &Element) -> VirtResult<Uuid> {
    match el.child("uuid") {
        None => Ok(Uuid::new_v4()),
        Some(u) => {
            let text = u.text();
            if text.is_empty() {
                return Ok(Uuid::new_v4());
            }
            Uuid::parse_str(&text).map_err(|_| {
                invalid(
                    u,
                    "uuid",
                    &text,
                    "expected a UUID like 6695eb01-f6a4-8304-79aa-97f2502e193f",
                )
            })
        }
    }
}

/// A scaled size in a child element (value text and `unit` attribute), in bytes.
pub(crate) fn scaled_child(el: &Element, name: &str, default_unit: &str) -> VirtResult<Option<u64>> {
    let Some(child) = el.child(name) else {
        return Ok(None);
    };
    let text = child.text();
    if text.is_empty() {
        return Ok(None);
    }
    units::parse_scaled(&text, child.attr("unit"), default_unit)
        .map(Some)
        .map_err(|err| VirtError::xml(format!("{} in <{name}> at line {}", err.message, child.line)))
}

/// A name check shared by the models: non-empty, and no '/' (names become file
/// names in the state dir).
pub(crate) fn check_name(el: &Element, kind: &str) -> VirtResult<String> {
    let Some(name_el) = el.child("name") else {
        return Err(missing(el, "name"));
    };
    let name = name_el.text();
    if name.is_empty() {
        return Err(VirtError::xml(format!(
            "empty <name> of {kind} at line {}",
            name_el.line
        )));
    }
    if name.contains('/') {
        return Err(invalid(
            name_el,
            &format!("{kind} name"),
            &name,
            "a name cannot contain '/'",
        ));
    }
    Ok(name)
}

/// Inserts `el` among `parent`'s children in the position `order` gives it:
/// after the last child that comes before it in `order`, else before the first
/// child that comes after it, else at the end. Unknown children keep their place.
pub(crate) fn insert_ordered(parent: &mut Element, el: Element, order: &[&str]) {
    let rank_of = |name: &str| order.iter().position(|n| *n == name);
    let Some(rank) = rank_of(&el.name) else {
        parent.push_child(el);
        return;
    };
    let mut after: Option<usize> = None;
    let mut before: Option<usize> = None;
    for (idx, node) in parent.children.iter().enumerate() {
        if let Node::Element(child) = node {
            match rank_of(&child.name) {
                Some(r) if r < rank => after = Some(idx),
                Some(r) if r > rank && before.is_none() => before = Some(idx),
                _ => {}
            }
        }
    }
    let at = match (after, before) {
        (Some(a), _) => a + 1,
        (None, Some(b)) => b,
        (None, None) => parent.children.len(),
    };
    parent.insert_child(at, el);
}

/// The named child, inserted in order if missing.
pub(crate) fn ensure_child<'a>(parent: &'a mut Element, name: &str, order: &[&str]) -> &'a mut Element {
    if parent.child_index(name).is_none() {
        insert_ordered(parent, Element::new(name), order);
    }
    let idx = parent.child_index(name).unwrap_or(0);
    match &mut parent.children[idx] {
        Node::Element(e) => e,
        // child_index returned the index of an element just checked or inserted.
        _ => unreachable!("child_index points at an element"),
    }
}

/// Sets a child's text, creating it in order if missing; `None` removes it.
pub(crate) fn set_child_text(parent: &mut Element, name: &str, value: Option<&str>, order: &[&str]) {
    match value {
        Some(v) => {
            let child = ensure_child(parent, name, order);
            if child.text() != v || child.elements().next().is_some() {
                child.set_text(v);
            }
        }
        None => parent.remove_children(name),
    }
}

/// Sets a scaled size child to `value` with the given unit, keeping its other
/// attributes; `None` removes it.
pub(crate) fn set_sized_child(parent: &mut Element, name: &str, value: Option<u64>, unit: &str, order: &[&str]) {
    match value {
        Some(v) => {
            let child = ensure_child(parent, name, order);
            child.set_attr("unit", unit);
            let text = v.to_string();
            if child.text() != text {
                child.set_text(text);
            }
        }
        None => parent.remove_children(name),
    }
}
