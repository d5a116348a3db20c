//! Fuzzes the AgentX PDU decoder of the SNMP adapter's subagent
//! (`virtbus_snmp::agentx::pdu`): any bytes either decode or give an error,
//! never a panic, and what decodes encodes again and decodes to the same PDU.
#![no_main]

use libfuzzer_sys::fuzz_target;
use virtbus_snmp::agentx::pdu::Pdu;

fuzz_target!(|data: &[u8]| {
    if let Ok(pdu) = Pdu::decode(data) {
        let bytes = pdu.encode().expect("a decoded pdu encodes");
        assert_eq!(Pdu::decode(&bytes).as_ref(), Ok(&pdu));
    }
});
