//! libvirt storage volume XML (`formatstorage`, "Storage volume XML").
//!
//! [`VolumeDef`] keeps the whole document and writes back name, key, capacity and
//! allocation (in bytes, `unit='bytes'`) and the target path. Validation follows
//! `virStorageVolDefParseXML` (name and capacity are required) plus the storage
//! driver's rule that a volume name cannot contain '/'.

use crate::error::{VirtError, VirtResult};
use crate::fields::{
    attr, child_attr, child_text, expect_root, invalid, missing, scaled_child, set_child_text, set_sized_child,
};
use crate::xml::{self, Element};

/// libvirt's order of `<volume>`'s children (`virStorageVolDefFormat`).
const VOLUME_ORDER: &[&str] = &[
    "name",
    "key",
    "source",
    "capacity",
    "allocation",
    "physical",
    "target",
    "backingStore",
];

/// `virStorageVolType` names.
const VOLUME_TYPES: &[&str] = &["file", "block", "dir", "network", "netdir", "ploop"];

/// A libvirt storage volume definition.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeDef {
    /// `<volume type=...>`: file, block, dir, network, netdir, ploop.
    pub vol_type: Option<String>,
    pub name: String,
    pub key: Option<String>,
    pub capacity_bytes: u64,
    /// `None` when absent: libvirt then takes the capacity (fully allocated).
    pub allocation_bytes: Option<u64>,
    /// `<target><path>`.
    pub target_path: Option<String>,
    /// `<target><format type=>` (raw, qcow2, ...).
    pub format: Option<String>,
    /// `<backingStore><path>`.
    pub backing_path: Option<String>,
    tree: Element,
}

impl VolumeDef {
    /// Parses and validates a volume document.
    pub fn from_xml(xml: &str) -> VirtResult<VolumeDef> {
        Self::from_element(xml::parse(xml)?)
    }

    /// Reads and validates a `<volume>` element; the stored tree is synced at once.
    pub fn from_element(el: Element) -> VirtResult<VolumeDef> {
        expect_root(&el, "volume")?;
        let vol_type = match el.attr("type") {
            Some(t) if !VOLUME_TYPES.contains(&t) => return Err(invalid(&el, "volume type", t, "unknown volume type")),
            other => other.map(str::to_string),
        };
        let name_el = el.child("name").ok_or_else(|| missing(&el, "name"))?;
        let name = name_el.text();
        if name.is_empty() {
            return Err(VirtError::xml(format!(
                "empty <name> of volume at line {}",
                name_el.line
            )));
        }
        if name.contains('/') {
            return Err(invalid(
                name_el,
                "volume name",
                &name,
                "a volume name cannot contain '/'",
            ));
        }
        let capacity_bytes = scaled_child(&el, "capacity", "bytes")?.ok_or_else(|| missing(&el, "capacity"))?;
        let allocation_bytes = scaled_child(&el, "allocation", "bytes")?;
        let target = el.child("target");
        let mut def = VolumeDef {
            vol_type,
            key: child_text(&el, "key"),
            capacity_bytes,
            allocation_bytes,
            target_path: target.and_then(|t| child_text(t, "path")),
            format: target.and_then(|t| child_attr(t, "format", "type")),
            backing_path: el.child("backingStore").and_then(|b| child_text(b, "path")),
            name,
            tree: el,
        };
        def.sync();
        Ok(def)
    }

    /// The stored tree with the owned fields written back.
    pub fn to_element(&self) -> Element {
        let mut tree = self.tree.clone();
        self.write_back(&mut tree);
        tree
    }

    /// The definition as libvirt-style XML.
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    /// The stored tree as parsed or last synced.
    pub fn element(&self) -> &Element {
        &self.tree
    }

    /// Writes the owned fields into the stored tree.
    pub fn sync(&mut self) {
        let mut tree = std::mem::take(&mut self.tree);
        self.write_back(&mut tree);
        self.tree = tree;
    }

    /// Edits the document through its tree, then re-reads the model; on error
    /// the definition is left unchanged.
    pub fn update_tree(&mut self, edit: impl FnOnce(&mut Element)) -> VirtResult<()> {
        let mut tree = self.to_element();
        edit(&mut tree);
        *self = VolumeDef::from_element(tree)?;
        Ok(())
    }

    /// The allocation libvirt reports: the stated one, else the capacity.
    pub fn effective_allocation(&self) -> u64 {
        self.allocation_bytes.unwrap_or(self.capacity_bytes)
    }

    fn write_back(&self, tree: &mut Element) {
        match &self.vol_type {
            Some(t) => tree.set_attr("type", t.as_str()),
            None => tree.remove_attr("type"),
        }
        set_child_text(tree, "name", Some(&self.name), VOLUME_ORDER);
        set_child_text(tree, "key", self.key.as_deref(), VOLUME_ORDER);
        set_sized_child(tree, "capacity", Some(self.capacity_bytes), "bytes", VOLUME_ORDER);
        set_sized_child(tree, "allocation", self.allocation_bytes, "bytes", VOLUME_ORDER);
        match &self.target_path {
            Some(path) => {
                let target = crate::fields::ensure_child(tree, "target", VOLUME_ORDER);
                set_child_text(target, "path", Some(path), &["path", "format", "permissions"]);
            }
            None => {
                if let Some(target) = tree.child_mut("target") {
                    target.remove_children("path");
                }
            }
        }
    }
}

/// The `type` attribute of a volume's `<target><format>`, if any (kept for
/// callers that have only the tree).
pub fn target_format(el: &Element) -> Option<String> {
    el.child("target")
        .and_then(|t| t.child("format"))
        .and_then(|f| attr(f, "type"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn volume_round_trips() {
        let def = VolumeDef::from_xml(
            "<volume><name>v.img</name><capacity unit='G'>1</capacity><target><format type='qcow2'/></target></volume>",
        )
        .unwrap();
        assert_eq!(def.capacity_bytes, 1 << 30);
        assert_eq!(def.allocation_bytes, None);
        assert_eq!(def.effective_allocation(), 1 << 30);
        assert_eq!(def.format.as_deref(), Some("qcow2"));
        let out = def.to_xml();
        assert!(out.contains("<capacity unit='bytes'>1073741824</capacity>"), "{out}");
        assert_eq!(VolumeDef::from_xml(&out).unwrap(), def);
        let mut edited = def.clone();
        edited.target_path = Some("/p/v.img".into());
        let again = VolumeDef::from_xml(&edited.to_xml()).unwrap();
        assert_eq!(again.target_path.as_deref(), Some("/p/v.img"));
        assert_eq!(again.format.as_deref(), Some("qcow2"));
    }

    #[test]
    fn rejects_bad_volumes() {
        for (xml, needle) in [
            ("<volume><name>a/b</name><capacity>1</capacity></volume>", "a/b"),
            ("<volume><name>a</name></volume>", "capacity"),
            ("<volume><capacity>1</capacity></volume>", "name"),
            ("<volume><name>a</name><capacity>-1</capacity></volume>", "-1"),
            ("<volume type='x'><name>a</name><capacity>1</capacity></volume>", "'x'"),
        ] {
            let err = VolumeDef::from_xml(xml).unwrap_err();
            assert_eq!(err.code, ErrorCode::XmlError);
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
    }
}
