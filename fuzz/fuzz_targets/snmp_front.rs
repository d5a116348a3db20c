//! Fuzzes the SNMP front door (`virtbus_snmp::front`), which answers some
//! datagrams itself before async-snmp's agent sees them: any bytes give no
//! answer or a well-formed SNMPv2c Response with the request's request-id
//! and no error, never a panic. `adapters/snmp/tests/snmp_decode_property.rs`
//! runs the same property on mutated requests under plain `cargo test`.
#![no_main]

use async_snmp::message::CommunityMessage;
use async_snmp::DecodeConfig;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use virtbus_snmp::front::Front;
use virtbus_snmp::guest_table::GuestTable;
use virtbus_snmp::system_group::SystemGroup;

fn front() -> &'static Front {
    static FRONT: OnceLock<Front> = OnceLock::new();
    FRONT.get_or_init(|| {
        let core = virtbus_actors::Core::start(virtbus_actors::CoreConfig {
            workers: 1,
            ..virtbus_actors::CoreConfig::default()
        })
        .expect("core starts on test:///default");
        Front {
            guests: Arc::new(GuestTable::new(core)),
            system: Arc::new(SystemGroup::new("d".into(), "c".into(), "n".into(), "l".into())),
            communities: vec![b"public".to_vec()],
            max_message_size: 65_507,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(response) = futures::executor::block_on(front().answer(data)) else {
        return;
    };
    let request = CommunityMessage::decode(Bytes::copy_from_slice(data), DecodeConfig::default())
        .expect("an answered request decodes")
        .value;
    let response = CommunityMessage::decode(response, DecodeConfig::default())
        .expect("the answer decodes")
        .value;
    let (req, resp) = (request.pdu().standard().unwrap(), response.pdu().standard().unwrap());
    assert_eq!(resp.request_id(), req.request_id());
    assert_eq!(resp.error_status(), 0);
});
