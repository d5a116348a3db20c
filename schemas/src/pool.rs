//! libvirt storage pool XML (`formatstorage`): a typed view over the element tree.
//!
//! Like [`crate::domain`], [`PoolDef`] keeps the whole document and writes back
//! only what it owns: type, name, uuid, and the sizes (`capacity`, `allocation`,
//! `available`, always with `unit='bytes'` as libvirt writes them). Validation
//! follows `virStoragePoolDefParseXML`.

use crate::error::{VirtError, VirtResult};
use crate::fields::{
    attr, check_name, child_attr, child_text, expect_root, invalid, scaled_child, set_child_text, set_sized_child,
    uuid_child,
};
use crate::xml::{self, Element};
use uuid::Uuid;

/// libvirt's order of `<pool>`'s children (`virStoragePoolDefFormatBuf`).
const POOL_ORDER: &[&str] = &[
    "name",
    "uuid",
    "capacity",
    "allocation",
    "available",
    "features",
    "source",
    "target",
];

/// `virStoragePoolType` names.
const POOL_TYPES: &[&str] = &[
    "dir",
    "fs",
    "netfs",
    "logical",
    "disk",
    "iscsi",
    "iscsi-direct",
    "scsi",
    "mpath",
    "rbd",
    "sheepdog",
    "gluster",
    "zfs",
    "vstorage",
];

/// Pool types whose storage lives on the network: they have no target path.
const NETWORK_POOL_TYPES: &[&str] = &["rbd", "sheepdog", "gluster", "iscsi-direct"];

/// `<source>` of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolSource {
    /// The first `<host name=>` (most pool types have one host).
    pub host: Option<String>,
    /// `<host name=>` of each host, in order (rbd and gluster may list several).
    pub hosts: Vec<String>,
    /// `<device path=>` of each device, in order.
    pub device_paths: Vec<String>,
    /// `<dir path=>`, sanitised like the target path; `/` for gluster pools without.
    pub dir: Option<String>,
    /// `<name>` (volume group, RBD pool, ...).
    pub name: Option<String>,
    /// `<format type=>`.
    pub format: Option<String>,
}

/// A libvirt storage pool definition.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolDef {
    /// `<pool type=...>`: dir, fs, netfs, logical, ...
    pub pool_type: String,
    pub name: String,
    /// Generated (v4) if the XML has none.
    pub uuid: Uuid,
    pub capacity_bytes: u64,
    pub allocation_bytes: u64,
    pub available_bytes: u64,
    pub source: PoolSource,
    /// `<target><path>`, cleaned as libvirt's `virFileSanitizePath`; for logical
    /// pools `/dev/SOURCE-NAME`, for zfs `/dev/zvol/SOURCE-NAME`; `None` for
    /// network pools.
    pub target_path: Option<String>,
    tree: Element,
}

impl PoolDef {
    /// Parses and validates a pool document.
    pub fn from_xml(xml: &str) -> VirtResult<PoolDef> {
        Self::from_element(xml::parse(xml)?)
    }

    /// Reads and validates a `<pool>` element; the stored tree is synced at once.
    pub fn from_element(el: Element) -> VirtResult<PoolDef> {
        expect_root(&el, "pool")?;
        let pool_type = match el.attr("type") {
            None => {
                return Err(VirtError::xml(format!(
                    "missing attribute 'type' in <pool> at line {}",
                    el.line
                )))
            }
            Some(t) if !POOL_TYPES.contains(&t) => return Err(invalid(&el, "pool type", t, "unknown pool type")),
            Some(t) => t.to_string(),
        };
        let source = el
            .child("source")
            .map(|s| parse_source(s, &pool_type))
            .unwrap_or_default();
        // Logical pools may omit <name>: it defaults to the volume group's name.
        let name = if el.child("name").is_none() && pool_type == "logical" {
            match &source.name {
                Some(n) if !n.contains('/') => n.clone(),
                _ => check_name(&el, "pool")?,
            }
        } else {
            check_name(&el, "pool")?
        };
        let uuid = uuid_child(&el)?;
        let source_name = source.name.clone().unwrap_or_else(|| name.clone());
        let target_path = if NETWORK_POOL_TYPES.contains(&pool_type.as_str()) {
            None
        } else if pool_type == "logical" {
            Some(format!("/dev/{source_name}"))
        } else if pool_type == "zfs" {
            Some(format!("/dev/zvol/{source_name}"))
        } else {
            let path = el.child("target").and_then(|t| child_text(t, "path"));
            match path {
                Some(p) => Some(sanitize_path(&p)),
                None => {
                    return Err(VirtError::xml(format!(
                        "missing <target><path> in pool '{name}' at line {}",
                        el.line
                    )))
                }
            }
        };
        let size = |n: &str| scaled_child(&el, n, "bytes").map(Option::unwrap_or_default);
        let mut def = PoolDef {
            pool_type,
            capacity_bytes: size("capacity")?,
            allocation_bytes: size("allocation")?,
            available_bytes: size("available")?,
            name,
            uuid,
            source,
            target_path,
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
        *self = PoolDef::from_element(tree)?;
        Ok(())
    }

    fn write_back(&self, tree: &mut Element) {
        tree.set_attr("type", self.pool_type.as_str());
        set_child_text(tree, "name", Some(&self.name), POOL_ORDER);
        set_child_text(tree, "uuid", Some(&self.uuid.to_string()), POOL_ORDER);
        set_sized_child(tree, "capacity", Some(self.capacity_bytes), "bytes", POOL_ORDER);
        set_sized_child(tree, "allocation", Some(self.allocation_bytes), "bytes", POOL_ORDER);
        set_sized_child(tree, "available", Some(self.available_bytes), "bytes", POOL_ORDER);
    }
}

fn parse_source(src: &Element, pool_type: &str) -> PoolSource {
    let dir = child_attr(src, "dir", "path").map(|d| sanitize_path(&d));
    let hosts: Vec<String> = src.children_named("host").filter_map(|h| attr(h, "name")).collect();
    PoolSource {
        host: hosts.first().cloned(),
        hosts,
        device_paths: src.children_named("device").filter_map(|d| attr(d, "path")).collect(),
        // libvirt defaults a gluster pool's directory to the volume's root.
        dir: dir.or_else(|| (pool_type == "gluster").then(|| "/".to_string())),
        name: child_text(src, "name"),
        format: child_attr(src, "format", "type"),
    }
}

/// libvirt's `virFileSanitizePath`: collapse repeated slashes and drop a trailing
/// one, keeping a leading `//` (valid POSIX) and leaving URIs alone.
pub fn sanitize_path(path: &str) -> String {
    if let Some(uri) = path.find("://") {
        if path.find('/').is_some_and(|slash| slash > uri) {
            return path.to_string();
        }
    }
    let bytes = path.as_bytes();
    let (mut out, rest) = if bytes.len() >= 2 && bytes[0] == b'/' && bytes[1] == b'/' && bytes.get(2) != Some(&b'/') {
        (String::from("//"), &path[2..])
    } else {
        (String::new(), path)
    };
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '/' {
            out.push(ch);
            continue;
        }
        while chars.peek() == Some(&'/') {
            chars.next();
        }
        if !out.is_empty() && chars.peek().is_none() {
            break;
        }
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn sanitizes_like_libvirt() {
        assert_eq!(sanitize_path("//"), "//");
        assert_eq!(sanitize_path("///"), "/");
        assert_eq!(sanitize_path("/../foo"), "/../foo");
        assert_eq!(sanitize_path("/foo///bar/"), "/foo/bar");
        assert_eq!(sanitize_path("gluster://host/vol"), "gluster://host/vol");
    }

    #[test]
    fn dir_pool_round_trips() {
        let def = PoolDef::from_xml(
            "<pool type='dir'><name>p</name><capacity unit='KiB'>2</capacity><target><path>/var//p/</path></target></pool>",
        )
        .unwrap();
        assert_eq!(def.capacity_bytes, 2048);
        assert_eq!(def.target_path.as_deref(), Some("/var/p"));
        let out = def.to_xml();
        assert!(out.contains("<capacity unit='bytes'>2048</capacity>"), "{out}");
        assert!(out.contains("<available unit='bytes'>0</available>"), "{out}");
        assert_eq!(PoolDef::from_xml(&out).unwrap(), def);
    }

    #[test]
    fn rejects_bad_pools() {
        for (xml, needle) in [
            ("<pool><name>p</name></pool>", "'type'"),
            ("<pool type='bogus'><name>p</name></pool>", "bogus"),
            (
                "<pool type='dir'><name>a/b</name><target><path>/x</path></target></pool>",
                "a/b",
            ),
            ("<pool type='dir'><name>p</name></pool>", "target"),
            ("<volume/>", "<volume>"),
        ] {
            let err = PoolDef::from_xml(xml).unwrap_err();
            assert_eq!(err.code, ErrorCode::XmlError);
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
    }
}
