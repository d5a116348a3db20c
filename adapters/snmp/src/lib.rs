//! virtbus-snmp: the SNMP adapter (issue: SNMP adapter). Not built yet; the
//! agent refuses `--snmp-listen` values other than `off` until it is.
