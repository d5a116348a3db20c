# net-snmp's command-line tools (snmpget, snmpwalk, snmpbulkwalk, snmpset,
# snmptranslate) and snmptrapd: the real managers and trap receiver the SNMP
# adapter's tests drive the agent with. Debian's snmp-mibs-downloader is not
# needed: the tests load only our own MIB files from schemas/mibs/ on top of
# the standard modules net-snmp ships (SNMPv2-SMI/TC/CONF/MIB).
if ! command -v snmpget >/dev/null 2>&1 || ! command -v snmptrapd >/dev/null 2>&1 \
    || ! command -v snmpd >/dev/null 2>&1; then
    apt_install snmp snmptrapd snmpd
fi
# snmptrapd lives in /usr/sbin, which is not on every PATH.
export VIRTBUS_TEST_SNMPTRAPD="$(command -v snmptrapd || echo /usr/sbin/snmptrapd)"
export VIRTBUS_TEST_SNMP_MIBS="$ROOT/schemas/mibs"
# snmpd is the AgentX master of the subagent tests (agentx_*.rs); it too
# lives in /usr/sbin.
export VIRTBUS_TEST_SNMPD="$(command -v snmpd || echo /usr/sbin/snmpd)"
