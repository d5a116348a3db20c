//! The test driver's host: [`NodeDriver`] for [`TestDriver`].

use super::TestDriver;
use crate::traits::NodeDriver;
use virtbus_schemas::{NodeInfo, VirtResult};

impl NodeDriver for TestDriver {
    /// `testNodeGetInfo`: the node file's `<cpu>`/`<memory>` or libvirt's defaults.
    fn node_info(&self) -> VirtResult<NodeInfo> {
        Ok(self.info.clone())
    }

    /// The test driver reports the real host name (`testConnectGetHostname`).
    fn hostname(&self) -> VirtResult<String> {
        Ok(std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".to_string()))
    }

    fn hypervisor_type(&self) -> &'static str {
        "TEST"
    }

    /// `testConnectGetVersion` reports 2 (that is, 0.0.2).
    fn hypervisor_version(&self) -> VirtResult<u64> {
        Ok(2)
    }
}
