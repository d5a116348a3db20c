//! The host through libvirt: [`NodeDriver`] for [`LibvirtDriver`]
//! (`virNodeGetInfo`, `virConnectGetHostname`, `virConnectGetVersion`).

use super::{lv, LibvirtDriver};
use crate::traits::NodeDriver;
use virtbus_schemas::{NodeInfo, VirtResult};

impl NodeDriver for LibvirtDriver {
    /// `virNodeGetInfo`.
    fn node_info(&self) -> VirtResult<NodeInfo> {
        let session = self.session()?;
        let info = lv(&self.link, session.conn().get_node_info())?;
        Ok(NodeInfo {
            model: info.model,
            memory_kib: info.memory,
            cpus: info.cpus,
            mhz: info.mhz,
            nodes: info.nodes,
            sockets: info.sockets,
            cores: info.cores,
            threads: info.threads,
        })
    }

    /// `virConnectGetHostname`.
    fn hostname(&self) -> VirtResult<String> {
        let session = self.session()?;
        lv(&self.link, session.conn().get_hostname())
    }

    /// `virConnectGetType` at open.
    fn hypervisor_type(&self) -> &'static str {
        self.hv_type
    }

    /// `virConnectGetVersion`.
    fn hypervisor_version(&self) -> VirtResult<u64> {
        let session = self.session()?;
        lv(&self.link, session.conn().get_hyp_version()).map(u64::from)
    }
}
