//! virtbus-cim: the CIM-XML/WBEM adapter (issue: CIM adapter). Not built
//! yet; the agent refuses `--cim-listen` values other than `off` until it is.
