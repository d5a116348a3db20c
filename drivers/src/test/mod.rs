//! The `test:///` driver: an in-memory host that behaves like libvirt's test
//! driver (`src/test/test_driver.c`, libvirt 9.0.0): the same default objects,
//! node info, state transitions, lifecycle events and error codes.
//!
//! - `test:///default` loads libvirt's built-in default node
//!   ([`NodeFile::default_node`]).
//! - `test:///ABSOLUTE/PATH.xml` loads a libvirt test-driver node file.
//!
//! Layout: [`table`] holds objects by UUID and name; `domains.rs`,
//! `storage.rs`, `networks.rs` and `node.rs` implement one driver trait each.

mod domains;
mod networks;
mod node;
mod storage;
mod table;

use crate::pool_obj::PoolObj;
use domains::DomObj;
use networks::NetObj;
use std::path::Path;
use std::sync::atomic::AtomicU32;
use table::Table;
use virtbus_schemas::{ErrorCode, NodeFile, NodeInfo, VirtError, VirtResult};

/// The test driver's whole host.
pub struct TestDriver {
    domains: Table<DomObj>,
    pools: Table<PoolObj>,
    networks: Table<NetObj>,
    info: NodeInfo,
    /// Next runtime domain id; libvirt's test driver starts at 1.
    next_id: AtomicU32,
}

impl TestDriver {
    /// Opens `test:///default` (path `/default`) or a node file (absolute path).
    pub fn open(path: &str) -> VirtResult<TestDriver> {
        let path = path.strip_prefix('/').map(|p| format!("/{p}")).unwrap_or_default();
        let node = if path == "/default" {
            NodeFile::default_node()
        } else if path.starts_with("//") || !path.starts_with('/') || path.len() < 2 {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                format!("test driver URI needs an absolute path, as test:///default or test:///path/to/node.xml (got '{path}')"),
            ));
        } else {
            let file = Path::new(&path);
            let text = std::fs::read_to_string(file).map_err(|err| {
                VirtError::new(
                    ErrorCode::OpenFailed,
                    format!("cannot read test node file '{path}': {err}"),
                )
            })?;
            let base = file.parent().unwrap_or(Path::new("/"));
            NodeFile::from_xml(&text, base)?
        };
        Self::from_node(node)
    }

    /// Builds the host from a parsed node file, as `testOpenParse` does.
    pub fn from_node(node: NodeFile) -> VirtResult<TestDriver> {
        let driver = TestDriver {
            domains: Table::new("domain"),
            pools: Table::new("pool"),
            networks: Table::new("network"),
            info: node.info,
            next_id: AtomicU32::new(1),
        };
        for dom in node.domains {
            driver.load_domain(dom)?;
        }
        for net in node.networks {
            driver.load_network(net)?;
        }
        for pool in node.pools {
            driver.load_pool(pool)?;
        }
        Ok(driver)
    }

    pub fn domain_count(&self) -> usize {
        self.domains.len()
    }
}

fn no_domain(uuid: uuid::Uuid) -> VirtError {
    VirtError::new(ErrorCode::NoDomain, format!("no domain with matching uuid '{uuid}'"))
}

fn no_network(uuid: uuid::Uuid) -> VirtError {
    VirtError::new(ErrorCode::NoNetwork, format!("no network with matching uuid '{uuid}'"))
}
