//! The libvirt test driver's node file (`test:///PATH.xml`) and its built-in
//! default node (`test:///default`), as `src/test/test_driver.c` of libvirt
//! 9.0.0 reads them.
//!
//! A node file is a `<node>` holding `<cpu>` and `<memory>` host facts and any
//! number of `<domain>`, `<network>` and `<pool>` elements (pools hold
//! `<volume>`s). Each of those may instead be `<domain file='dom.xml'/>`: the file,
//! relative to the node file's directory, replaces the element. Domains may carry
//! test-namespace elements (`xmlns:test='http://libvirt.org/schemas/domain/test/1.0'`):
//! `<test:runstate>` (a `virDomainState` number, running when absent),
//! `<test:transient/>` and `<test:hasmanagedsave/>`. libvirt never writes these
//! back, so they are taken out of the domain's tree here.
//!
//! What libvirt's loader does to the definitions is done here too, so drivers
//! see what libvirt would: every pool gets the test driver's sizes (100 GiB
//! capacity, allocation the sum of its volumes' allocations), and volumes without
//! a target path or key get `POOL-PATH/NAME` for both. Runtime state (which
//! objects are active, domain ids, interface names) is the driver's business:
//! libvirt starts every network and pool of a node file, and every domain whose
//! runstate is not shutoff.

use crate::domain::DomainDef;
use crate::error::{VirtError, VirtResult};
use crate::fields::invalid;
use crate::network::NetworkDef;
use crate::pool::PoolDef;
use crate::volume::VolumeDef;
use crate::xml::{self, Element, Node, ParseLimits};
use std::path::Path;

/// The test driver's XML namespace for `runstate`, `transient`, `hasmanagedsave`.
pub const TEST_NAMESPACE: &str = "http://libvirt.org/schemas/domain/test/1.0";

/// Node files may hold many domains; allow more than one document's limit.
const NODE_FILE_MAX_BYTES: usize = 512 * 1024 * 1024;

/// The test driver's pool capacity (`defaultPoolCap`, 100 GiB).
pub const TEST_POOL_CAPACITY: u64 = 100 * 1024 * 1024 * 1024;

/// `VIR_DOMAIN_LAST`: runstates must be below it.
const DOMAIN_STATE_LAST: u32 = 8;
const STATE_RUNNING: i32 = 1;
const STATE_SHUTOFF: i32 = 5;

/// libvirt's `virNodeInfo` as the test driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// CPU model (libvirt allows at most 31 characters).
    pub model: String,
    pub memory_kib: u64,
    pub cpus: u32,
    pub mhz: u32,
    pub nodes: u32,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
}

impl Default for NodeInfo {
    /// The test driver's `defaultNodeInfo`: i686, 3 GiB, 16 CPUs at 1400 MHz,
    /// 2 nodes × 2 sockets × 2 cores × 2 threads.
    fn default() -> Self {
        NodeInfo {
            model: "i686".to_string(),
            memory_kib: 3 * 1024 * 1024,
            cpus: 16,
            mhz: 1400,
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
        }
    }
}

/// A domain of a node file with its test-namespace state.
#[derive(Debug, Clone, PartialEq)]
pub struct TestDomain {
    pub def: DomainDef,
    /// `<test:runstate>`, a `virDomainState` number; `None` means running (1).
    pub runstate: Option<i32>,
    /// `<test:transient/>`: the domain has no persistent definition.
    pub transient: bool,
    /// `<test:hasmanagedsave/>`.
    pub has_managed_save: bool,
}

impl TestDomain {
    /// The state libvirt gives the domain: the runstate, running if absent.
    pub fn effective_runstate(&self) -> i32 {
        self.runstate.unwrap_or(STATE_RUNNING)
    }
}

/// A pool of a node file with its volumes.
#[derive(Debug, Clone, PartialEq)]
pub struct TestPool {
    pub def: PoolDef,
    pub volumes: Vec<VolumeDef>,
}

/// A parsed node file.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFile {
    pub info: NodeInfo,
    pub domains: Vec<TestDomain>,
    pub networks: Vec<NetworkDef>,
    pub pools: Vec<TestPool>,
}

/// libvirt's built-in `defaultConnXML` (domains, networks and pools only; the
/// interface and node devices it also holds are not modelled by virtbus).
pub const DEFAULT_NODE_XML: &str = r#"<node>
<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory>8388608</memory>
  <currentMemory>2097152</currentMemory>
  <vcpu>2</vcpu>
  <os>
    <type>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default' bridge='virbr0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x2' function='0x0'/>
    </memballoon>
  </devices>
</domain>
<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
</node>
"#;

impl NodeFile {
    /// Parses a node file; `base_dir` is the directory `file=` includes are
    /// relative to (the node file's own directory).
    pub fn from_xml(xml: &str, base_dir: &Path) -> VirtResult<NodeFile> {
        let limits = ParseLimits {
            max_bytes: NODE_FILE_MAX_BYTES,
            ..ParseLimits::default()
        };
        let root = xml::parse_with_limits(xml, limits)?;
        crate::fields::expect_root(&root, "node")?;
        let info = parse_node_info(&root)?;
        let root_prefixes = test_prefixes(&root);

        let mut domains = Vec::new();
        let mut networks = Vec::new();
        let mut pools = Vec::new();
        for node in root.children {
            let Node::Element(el) = node else { continue };
            match el.name.as_str() {
                "domain" => {
                    let el = include(el, base_dir)?;
                    domains.push(parse_test_domain(el, &root_prefixes)?);
                }
                "network" => networks.push(NetworkDef::from_element(include(el, base_dir)?)?),
                "pool" => pools.push(parse_test_pool(include(el, base_dir)?, base_dir)?),
                _ => {}
            }
        }
        Ok(NodeFile {
            info,
            domains,
            networks,
            pools,
        })
    }

    /// libvirt's built-in default node (`test:///default`): the running domain
    /// `test`, the network `default` and the pool `default-pool`, with
    /// [`NodeInfo::default`].
    pub fn default_node() -> NodeFile {
        match NodeFile::from_xml(DEFAULT_NODE_XML, Path::new("/")) {
            Ok(node) => node,
            // The built-in document is a constant checked by the tests.
            Err(err) => unreachable!("built-in default node does not parse: {err}"),
        }
    }
}

/// Replaces `<kind file='x.xml'/>` by the root element of that file.
fn include(el: Element, base_dir: &Path) -> VirtResult<Element> {
    let Some(file) = el.attr("file") else {
        return Ok(el);
    };
    let path = base_dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|err| {
        VirtError::xml(format!(
            "cannot read <{}> file '{}' named at line {}: {err}",
            el.name,
            path.display(),
            el.line
        ))
    })?;
    let included = xml::parse(&text).map_err(|err| {
        VirtError::xml(format!(
            "in file '{}' included at line {}: {}",
            path.display(),
            el.line,
            err.message
        ))
    })?;
    if included.name != el.name {
        return Err(VirtError::xml(format!(
            "file '{}' included at line {} holds <{}>, expecting <{}>",
            path.display(),
            el.line,
            included.name,
            el.name
        )));
    }
    Ok(included)
}

/// Prefixes an element declares for the test namespace.
fn test_prefixes(el: &Element) -> Vec<String> {
    el.attrs
        .iter()
        .filter(|(k, v)| v == TEST_NAMESPACE && k.starts_with("xmlns:"))
        .map(|(k, _)| k["xmlns:".len()..].to_string())
        .collect()
}

/// The local name of a test-namespace element, if `el` is one.
fn test_local_name<'a>(el: &'a Element, inherited: &[String]) -> Option<&'a str> {
    let (prefix, local) = el.name.split_once(':')?;
    let own = test_prefixes(el);
    (inherited.iter().any(|p| p == prefix) || own.iter().any(|p| p == prefix)).then_some(local)
}

fn parse_test_domain(mut el: Element, root_prefixes: &[String]) -> VirtResult<TestDomain> {
    let mut prefixes = root_prefixes.to_vec();
    prefixes.extend(test_prefixes(&el));
    let mut runstate = None;
    let mut transient = false;
    let mut has_managed_save = false;
    for child in el.elements() {
        match test_local_name(child, &prefixes) {
            Some("runstate") => {
                let text = child.text();
                let state: u32 = text
                    .parse()
                    .map_err(|_| invalid(child, "runstate", &text, "expected a domain state number"))?;
                if state >= DOMAIN_STATE_LAST {
                    return Err(invalid(child, "runstate", &text, "runstate out of range"));
                }
                runstate = Some(state as i32);
            }
            Some("transient") => transient = true,
            Some("hasmanagedsave") => has_managed_save = true,
            _ => {}
        }
    }
    let line = el.line;
    let effective = runstate.unwrap_or(STATE_RUNNING);
    if transient && effective == STATE_SHUTOFF {
        return Err(VirtError::xml(format!(
            "transient domain at line {line} cannot have runstate 'shutoff'"
        )));
    }
    if has_managed_save && effective != STATE_SHUTOFF {
        return Err(VirtError::xml(format!(
            "domain with managedsave data at line {line} can only have runstate 'shutoff'"
        )));
    }
    // libvirt keeps these in private namespace data and never formats them.
    el.children
        .retain(|n| !matches!(n, Node::Element(c) if test_local_name(c, &prefixes).is_some()));
    el.attrs
        .retain(|(k, v)| !(v == TEST_NAMESPACE && k.starts_with("xmlns:")));
    Ok(TestDomain {
        def: DomainDef::from_element(el)?,
        runstate,
        transient,
        has_managed_save,
    })
}

fn parse_test_pool(mut el: Element, base_dir: &Path) -> VirtResult<TestPool> {
    let mut volume_els = Vec::new();
    el.children.retain(|n| match n {
        Node::Element(v) if v.name == "volume" => {
            volume_els.push(v.clone());
            false
        }
        _ => true,
    });
    let mut def = PoolDef::from_element(el)?;
    let mut volumes = Vec::with_capacity(volume_els.len());
    let mut allocation: u64 = 0;
    for vol_el in volume_els {
        let mut vol = VolumeDef::from_element(include(vol_el, base_dir)?)?;
        if vol.target_path.is_none() {
            let pool_path = def.target_path.clone().unwrap_or_default();
            vol.target_path = Some(format!("{pool_path}/{}", vol.name));
        }
        if vol.key.is_none() {
            vol.key = vol.target_path.clone();
        }
        vol.sync();
        allocation = allocation.saturating_add(vol.effective_allocation());
        volumes.push(vol);
    }
    // testStoragePoolObjSetDefaults, then testOpenVolumesForPool's accounting.
    def.capacity_bytes = TEST_POOL_CAPACITY;
    def.allocation_bytes = allocation;
    def.available_bytes = TEST_POOL_CAPACITY.saturating_sub(allocation);
    def.sync();
    Ok(TestPool { def, volumes })
}

/// `testParseNodeInfo`: `<cpu>` children and `<memory>` (KiB) over the defaults.
fn parse_node_info(root: &Element) -> VirtResult<NodeInfo> {
    let mut info = NodeInfo::default();
    let uint = |parent: &Element, name: &str| -> VirtResult<Option<u32>> {
        let Some(child) = parent.child(name) else {
            return Ok(None);
        };
        let text = child.text();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            invalid(
                child,
                &format!("node cpu {name} value"),
                &text,
                "expected an unsigned integer",
            )
        })
    };
    if let Some(cpu) = root.child("cpu") {
        if let Some(v) = uint(cpu, "nodes")? {
            info.nodes = v;
        }
        if let Some(v) = uint(cpu, "sockets")? {
            info.sockets = v;
        }
        if let Some(v) = uint(cpu, "cores")? {
            info.cores = v;
        }
        if let Some(v) = uint(cpu, "threads")? {
            info.threads = v;
        }
    }
    info.cpus = info
        .cores
        .saturating_mul(info.threads)
        .saturating_mul(info.sockets)
        .saturating_mul(info.nodes);
    if let Some(cpu) = root.child("cpu") {
        if let Some(active) = uint(cpu, "active")? {
            info.cpus = info.cpus.min(active);
        }
        if let Some(mhz) = uint(cpu, "mhz")? {
            info.mhz = mhz;
        }
        if let Some(model) = cpu.child("model") {
            let text = model.text();
            if !text.is_empty() {
                if text.len() >= 32 {
                    return Err(invalid(model, "node cpu model", &text, "at most 31 characters fit"));
                }
                info.model = text;
            }
        }
    }
    if let Some(mem) = root.child("memory") {
        let text = mem.text();
        if !text.is_empty() {
            info.memory_kib = text
                .parse()
                .map_err(|_| invalid(mem, "node memory value", &text, "expected KiB as an unsigned integer"))?;
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests;
