"""pywbem against virtbus's CIM server: WBEMServer discovery, enumerations,
GetInstance, associations and pull (Iter*) operations. Exits non-zero with a
message on the first mismatch."""
import sys
import time

import pywbem

url = sys.argv[1]
conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30)


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


# WBEMServer finds interop, the namespaces, the brand and the profiles.
server = pywbem.WBEMServer(conn)
check(server.interop_ns == "root/interop", f"interop ns {server.interop_ns}")
check(set(server.namespaces) == {"root/interop", "root/virt"}, f"namespaces {server.namespaces}")
check(server.brand == "virtbus", f"brand {server.brand}")
profiles = server.get_selected_profiles("DMTF", "System Virtualization")
check(len(profiles) == 1, f"profiles {profiles}")

# The test driver's default node has one running guest named 'test'.
systems = conn.EnumerateInstances("KVM_ComputerSystem")
check([s["Name"] for s in systems] == ["test"], f"systems {[s['Name'] for s in systems]}")
cs = systems[0]
check(cs["EnabledState"] == 2, f"EnabledState {cs['EnabledState']}")
check(cs["CreationClassName"] == "KVM_ComputerSystem", "CreationClassName")
names = conn.EnumerateInstanceNames("CIM_ComputerSystem")
check(sorted(n.classname for n in names) == ["KVM_ComputerSystem", "KVM_HostSystem"], f"names {names}")

got = conn.GetInstance(cs.path)
check(got["UUID"] == cs["UUID"], "GetInstance UUID")

# GetInstance with a bad key value -> CIM_ERR_NOT_FOUND (cimtest ComputerSystem/03).
bad = pywbem.CIMInstanceName("KVM_ComputerSystem", {"CreationClassName": "KVM_ComputerSystem", "Name": "nosuch"},
                             namespace="root/virt")
try:
    conn.GetInstance(bad)
    check(False, "GetInstance of a missing guest succeeded")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_NOT_FOUND, f"missing guest status {e.status_code}")

# Unknown class and namespace.
try:
    conn.EnumerateInstances("KVM_NoSuchClass")
    check(False, "unknown class enumerated")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_INVALID_CLASS, f"unknown class status {e.status_code}")
try:
    conn.EnumerateInstances("KVM_ComputerSystem", namespace="root/nowhere")
    check(False, "unknown namespace enumerated")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_INVALID_NAMESPACE, f"unknown ns status {e.status_code}")

# Settings and devices.
vssd = conn.EnumerateInstances("KVM_VirtualSystemSettingData")
check([v["InstanceID"] for v in vssd] == ["KVM:test"], f"vssd {[v['InstanceID'] for v in vssd]}")
rasds = conn.EnumerateInstanceNames("CIM_ResourceAllocationSettingData")
ids = sorted(r["InstanceID"] for r in rasds)
check("test/proc" in ids and "test/mem" in ids, f"rasd ids {ids}")

# Associations (cimtest SystemDevice, VSSDComponent, SettingsDefineState).
devices = conn.AssociatorNames(cs.path, AssocClass="KVM_SystemDevice")
check(any(d.classname == "KVM_Memory" for d in devices), f"SystemDevice {devices}")
check(all(d["SystemName"] == "test" for d in devices), "device SystemName")
parts = conn.Associators(vssd[0].path, AssocClass="KVM_VirtualSystemSettingDataComponent")
check(sorted(p["InstanceID"] for p in parts) == ids, f"VSSDComponent {sorted(p['InstanceID'] for p in parts)}")
state = conn.Associators(cs.path, AssocClass="KVM_SettingsDefineState", ResultClass="KVM_VirtualSystemSettingData")
check([s["InstanceID"] for s in state] == ["KVM:test"], "SettingsDefineState")
refs = conn.ReferenceNames(cs.path, ResultClass="KVM_HostedDependency")
check(len(refs) == 1 and refs[0]["Antecedent"].classname == "KVM_HostSystem", f"HostedDependency {refs}")
host = conn.Associators(cs.path, AssocClass="KVM_HostedDependency", Role="Dependent", ResultRole="Antecedent")
check(len(host) == 1 and host[0].classname == "KVM_HostSystem", "host via HostedDependency")
pools = conn.Associators(devices[0], AssocClass="KVM_ElementAllocatedFromPool")
check(len(pools) == 1, f"pool of {devices[0]}: {pools}")

# Pull operations, in pages of one.
pulled = list(conn.IterEnumerateInstances("CIM_ResourceAllocationSettingData", MaxObjectCount=1))
check(sorted(p["InstanceID"] for p in pulled) == ids, "pulled RASDs")
paths = list(conn.IterEnumerateInstancePaths("KVM_ComputerSystem", MaxObjectCount=1))
check([p["Name"] for p in paths] == ["test"], "pulled paths")
result = conn.OpenEnumerateInstances("CIM_LogicalDevice", MaxObjectCount=1)
check(not result.eos and len(result.instances) == 1, "open returns one and a context")
conn.CloseEnumeration(result.context)
try:
    conn.PullInstancesWithPath(result.context, MaxObjectCount=1)
    check(False, "pull after close succeeded")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT, f"pull after close {e.status_code}")

# Pull association operations (pywbem forced to pull, no fallback).
pull = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30, use_pull_operations=True)
pulled = list(pull.IterAssociatorInstances(cs.path, AssocClass="KVM_SystemDevice", MaxObjectCount=1))
check(sorted(str(p.path) for p in pulled) == sorted(str(d) for d in devices), f"pulled associators {pulled}")
check(all(p["SystemName"] == "test" for p in pulled), "pulled associator instances")
pulled = list(pull.IterAssociatorInstancePaths(vssd[0].path, AssocClass="KVM_VirtualSystemSettingDataComponent",
                                               MaxObjectCount=2))
check(sorted(p["InstanceID"] for p in pulled) == ids, f"pulled associator paths {pulled}")
pulled = list(pull.IterReferenceInstances(cs.path, ResultClass="KVM_HostedDependency", MaxObjectCount=1))
check(len(pulled) == 1 and pulled[0]["Antecedent"].classname == "KVM_HostSystem", f"pulled refs {pulled}")
pulled = list(pull.IterReferenceInstancePaths(cs.path, ResultClass="KVM_SystemDevice", MaxObjectCount=3))
check(len(pulled) == len(devices) and all(p.classname == "KVM_SystemDevice" for p in pulled), "pulled ref paths")
result = pull.OpenReferenceInstancePaths(cs.path, MaxObjectCount=0)
check(not result.eos and result.paths == [], "open with MaxObjectCount 0 returns a context")
more = pull.PullInstancePaths(result.context, MaxObjectCount=1000)
check(more.eos and len(more.paths) >= len(devices), "pull to the end")
try:
    pull.PullInstancePaths(result.context, MaxObjectCount=1)
    check(False, "pull after the end succeeded")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT, f"pull after end {e.status_code}")
# A context left alone past its OperationTimeout is gone.
result = pull.OpenEnumerateInstances("CIM_LogicalDevice", MaxObjectCount=1, OperationTimeout=1)
check(not result.eos, "timeout context open")
time.sleep(2.5)
try:
    pull.PullInstancesWithPath(result.context, MaxObjectCount=1)
    check(False, "pull after timeout succeeded")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT, f"pull after timeout {e.status_code}")
try:
    pull.OpenEnumerateInstances("KVM_ComputerSystem", FilterQueryLanguage="DMTF:FQL", FilterQuery="Name = 'x'")
    check(False, "filtered open succeeded")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED, f"filtered open {e.status_code}")

# ExecQuery, WQL subset.
got = conn.ExecQuery("WQL", "SELECT Name, EnabledState FROM KVM_ComputerSystem WHERE EnabledState = 2")
check([g["Name"] for g in got] == ["test"] and "UUID" not in got[0], f"ExecQuery {got}")
check(got[0].path["Name"] == "test", "ExecQuery path")
got = conn.ExecQuery("WQL", "SELECT * FROM CIM_ResourceAllocationSettingData WHERE InstanceID = 'test/mem'")
check([g["InstanceID"] for g in got] == ["test/mem"], f"ExecQuery RASD {got}")
check(conn.ExecQuery("WQL", "SELECT * FROM KVM_ComputerSystem WHERE Name = 'nosuch'") == [], "empty query")
for lang, query, code in [("CQL", "SELECT * FROM KVM_ComputerSystem", pywbem.CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED),
                          ("WQL", "SELECT * FROM KVM_ComputerSystem WHERE a = 1 OR b = 2", pywbem.CIM_ERR_INVALID_QUERY),
                          ("WQL", "SELECT Nope FROM KVM_ComputerSystem", pywbem.CIM_ERR_INVALID_QUERY),
                          ("WQL", "SELECT * FROM KVM_Nothing", pywbem.CIM_ERR_INVALID_CLASS)]:
    try:
        conn.ExecQuery(lang, query)
        check(False, f"{query} accepted")
    except pywbem.CIMError as e:
        check(e.status_code == code, f"{lang} {query}: {e.status_code}")

# Classes.
cls = conn.GetClass("KVM_ComputerSystem", LocalOnly=False)
check("RequestStateChange" in cls.methods, "RequestStateChange in class")
check(cls.properties["Name"].qualifiers["Key"].value is True, "Name is a key")
check("KVM_ComputerSystem" in conn.EnumerateClassNames(ClassName="CIM_ComputerSystem"), "class names")
print("ok")
