"""Every class and association of the model through pywbem, on a guest with
one device of each kind ('full', defined by the caller: 2 vCPUs, 512 MiB,
disk vda in default-pool, a NIC on network 'default' with MAC
52:54:00:aa:bb:cc, VNC on port 5901, a USB tablet, a pty console, a USB
controller index 0): keys and InstanceIDs as libvirt-cim forms them, each
association from both ends, the capabilities (allocation capabilities and
their Minimum/Maximum/Increment/Default settings), the interop classes,
GetClass/EnumerateClasses with IncludeQualifiers/IncludeClassOrigin/
PropertyList/DeepInheritance, and PropertyList on instances.

A second dir pool 'second-pool' (target /second-pool) is defined by the
caller too, to show each disk pool's templates built for it.

Usage: pywbem_model.py URL HOSTNAME"""
import sys

import pywbem

url, host = sys.argv[1], sys.argv[2]
conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30)
g = "full"
mac = "52:54:00:aa:bb:cc"


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def ids(class_name, key="InstanceID", guest=g, ns="root/virt"):
    names = conn.EnumerateInstanceNames(class_name, namespace=ns)
    return sorted(n[key] for n in names if guest is None or str(n[key]).startswith(guest))


# RASDs: InstanceID <guest>/<devid>.
for cls, want in [
    ("KVM_ProcResourceAllocationSettingData", [f"{g}/proc"]),
    ("KVM_MemResourceAllocationSettingData", [f"{g}/mem"]),
    ("KVM_DiskResourceAllocationSettingData", [f"{g}/vda"]),
    ("KVM_NetResourceAllocationSettingData", [f"{g}/{mac}"]),
    ("KVM_GraphicsResourceAllocationSettingData", [f"{g}/vnc:5901"]),
    ("KVM_InputResourceAllocationSettingData", [f"{g}/tablet:usb"]),
    ("KVM_ConsoleResourceAllocationSettingData", [f"{g}/charconsole:0"]),
    ("KVM_ControllerResourceAllocationSettingData", [f"{g}/controller:usb:0"]),
]:
    got = ids(cls)
    check(got == want, f"{cls}: {got}")
    inst = conn.GetInstance(pywbem.CIMInstanceName(cls, {"InstanceID": want[0]}, namespace="root/virt"))
    check(inst["InstanceID"] == want[0], f"GetInstance {cls}")
mem = conn.GetInstance(pywbem.CIMInstanceName("KVM_MemResourceAllocationSettingData", {"InstanceID": f"{g}/mem"},
                                              namespace="root/virt"))
check(mem["VirtualQuantity"] == 512 * 1024 and mem["AllocationUnits"] == "KiloBytes", f"mem RASD {mem.items()}")
proc = conn.GetInstance(pywbem.CIMInstanceName("KVM_ProcResourceAllocationSettingData", {"InstanceID": f"{g}/proc"},
                                               namespace="root/virt"))
check(proc["VirtualQuantity"] == 2 and proc["PoolID"] == "ProcessorPool/0", f"proc RASD {proc.items()}")

# Devices: DeviceID <guest>/<devid>, one processor per vCPU.
for cls, want in [
    ("KVM_Processor", [f"{g}/0", f"{g}/1"]),
    ("KVM_Memory", [f"{g}/mem"]),
    ("KVM_LogicalDisk", [f"{g}/vda"]),
    ("KVM_NetworkPort", [f"{g}/{mac}"]),
    ("KVM_DisplayController", [f"{g}/vnc:5901"]),
    ("KVM_PointingDevice", [f"{g}/tablet:usb"]),
    ("KVM_Controller", [f"{g}/controller:usb:0"]),
]:
    names = [n for n in conn.EnumerateInstanceNames(cls) if n["SystemName"] == g]
    got = sorted(n["DeviceID"] for n in names)
    check(got == want, f"{cls}: {got}")
    check(all(n["SystemCreationClassName"] == "KVM_ComputerSystem" and n["CreationClassName"] == cls
              for n in names), f"{cls} keys {names}")

# Pools.
for cls, want in [
    ("KVM_ProcessorPool", ["ProcessorPool/0"]),
    ("KVM_MemoryPool", ["MemoryPool/0"]),
    ("KVM_GraphicsPool", ["GraphicsPool/0"]),
    ("KVM_InputPool", ["InputPool/0"]),
    ("KVM_ControllerPool", ["ControllerPool/0"]),
]:
    check(ids(cls, guest=None) == want, f"{cls}: {ids(cls, guest=None)}")
check("DiskPool/default-pool" in ids("KVM_DiskPool", guest=None), "DiskPool/default-pool")
check("NetworkPool/default" in ids("KVM_NetworkPool", guest=None), "NetworkPool/default")
all_pools = sorted(str(p["InstanceID"]) for p in conn.EnumerateInstanceNames("CIM_ResourcePool"))

# Host, services, capabilities.
hs = conn.EnumerateInstanceNames("KVM_HostSystem")
check([h["Name"] for h in hs] == [host], f"host {hs}")
vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")
check([s["Name"] for s in vsms] == ["Management Service"] and vsms[0]["SystemName"] == host, f"VSMS {vsms}")
rpcs = conn.EnumerateInstanceNames("KVM_ResourcePoolConfigurationService")
check([s["Name"] for s in rpcs] == ["RPCS"], f"RPCS {rpcs}")
check(ids("KVM_EnabledLogicalElementCapabilities") == [g], "ELEC")
elec = conn.GetInstance(pywbem.CIMInstanceName("KVM_EnabledLogicalElementCapabilities", {"InstanceID": g},
                                               namespace="root/virt"))
check(sorted(elec["RequestedStatesSupported"]) == [2, 3, 4, 9, 10, 11], f"ELEC {elec['RequestedStatesSupported']}")
check(ids("KVM_VirtualSystemManagementCapabilities", guest=None) == ["ManagementCapabilities"], "VSMC")
ac = conn.EnumerateInstances("KVM_AllocationCapabilities")
check(sorted(a["InstanceID"] for a in ac) == all_pools, f"one AllocationCapabilities per pool: {ac} vs {all_pools}")
check(all(a["ResourceType"] is not None for a in ac), "AllocationCapabilities ResourceType")

cs = pywbem.CIMInstanceName("KVM_ComputerSystem", {"CreationClassName": "KVM_ComputerSystem", "Name": g},
                            namespace="root/virt")
vssd = pywbem.CIMInstanceName("KVM_VirtualSystemSettingData", {"InstanceID": f"KVM:{g}"}, namespace="root/virt")
host_path = hs[0]


def assoc(source, assoc_class, **kw):
    return conn.AssociatorNames(source, AssocClass=assoc_class, **kw)


def classes(paths):
    return sorted(p.classname for p in paths)


# Each association from both ends.
devs = assoc(cs, "KVM_SystemDevice")
check(classes(devs) == sorted(["KVM_Processor", "KVM_Processor", "KVM_Memory", "KVM_LogicalDisk", "KVM_NetworkPort",
                               "KVM_DisplayController", "KVM_PointingDevice", "KVM_Controller"]), f"SystemDevice {devs}")
for d in devs:
    check([p["Name"] for p in assoc(d, "KVM_SystemDevice")] == [g], f"SystemDevice back from {d}")
rasds = assoc(vssd, "KVM_VirtualSystemSettingDataComponent")
check(len(rasds) == 8, f"VSSDComponent {rasds}")
for r in rasds:
    check([p["InstanceID"] for p in assoc(r, "KVM_VirtualSystemSettingDataComponent")] == [f"KVM:{g}"],
          f"VSSDComponent back from {r}")
check([p["InstanceID"] for p in assoc(cs, "KVM_ElementSettingData")] == [f"KVM:{g}"], "ElementSettingData")
check([p["Name"] for p in assoc(vssd, "KVM_ElementSettingData")] == [g], "ElementSettingData back")
disk = [d for d in devs if d.classname == "KVM_LogicalDisk"][0]
check([p["InstanceID"] for p in assoc(disk, "KVM_SettingsDefineState")] == [f"{g}/vda"], "SDS disk → RASD")
check(classes(assoc(vssd, "KVM_SettingsDefineState")) == ["KVM_ComputerSystem"], "SDS VSSD → guest")
check(g in [p["Name"] for p in assoc(host_path, "KVM_HostedDependency")], "HostedDependency host → guests")
check([p["InstanceID"] for p in assoc(disk, "KVM_ElementAllocatedFromPool")] == ["DiskPool/default-pool"],
      "EAFP disk → pool")
from_proc_pool = assoc(pywbem.CIMInstanceName("KVM_ProcessorPool", {"InstanceID": "ProcessorPool/0"},
                                              namespace="root/virt"), "KVM_ElementAllocatedFromPool")
check(sum(1 for p in from_proc_pool if p["SystemName"] == g) == 2, f"EAFP pool → processors {from_proc_pool}")
nic_rasd = pywbem.CIMInstanceName("KVM_NetResourceAllocationSettingData", {"InstanceID": f"{g}/{mac}"},
                                  namespace="root/virt")
check([p["InstanceID"] for p in assoc(nic_rasd, "KVM_ResourceAllocationFromPool")] == ["NetworkPool/default"],
      "RAFP NIC RASD → network pool")
hosted_pools = assoc(host_path, "KVM_HostedResourcePool")
check(sorted(str(p["InstanceID"]) for p in hosted_pools) == all_pools, f"HostedResourcePool {hosted_pools}")
check([p["Name"] for p in assoc(hosted_pools[0], "KVM_HostedResourcePool")] == [host], "HostedResourcePool back")
services = assoc(host_path, "KVM_HostedService")
check(classes(services) == ["KVM_ResourcePoolConfigurationService", "KVM_VirtualSystemManagementService"],
      f"HostedService {services}")
check([p["Name"] for p in assoc(services[0], "KVM_HostedService")] == [host], "HostedService back")
check([p["InstanceID"] for p in assoc(cs, "KVM_ElementCapabilities")] == [g], "ElementCapabilities guest → ELEC")
check(classes(assoc(vsms[0], "KVM_ElementCapabilities")) == ["KVM_VirtualSystemManagementCapabilities"],
      "ElementCapabilities VSMS → VSMC")
mem_pool = pywbem.CIMInstanceName("KVM_MemoryPool", {"InstanceID": "MemoryPool/0"}, namespace="root/virt")
mem_ac = assoc(mem_pool, "KVM_ElementCapabilities")
check([(p.classname, p["InstanceID"]) for p in mem_ac] == [("KVM_AllocationCapabilities", "MemoryPool/0")],
      f"ElementCapabilities pool → AllocationCapabilities {mem_ac}")
check([p["InstanceID"] for p in assoc(mem_ac[0], "KVM_ElementCapabilities")] == ["MemoryPool/0"],
      "ElementCapabilities AllocationCapabilities → pool")

# SettingsDefineCapabilities: AllocationCapabilities → the setting templates.
ranges = {"Default": (0, 0), "Minimum": (3, 1), "Maximum": (3, 2), "Increment": (3, 3)}
for pool_id, rasd_class, units in [("MemoryPool/0", "KVM_MemResourceAllocationSettingData", "KiloBytes"),
                                   ("ProcessorPool/0", "KVM_ProcResourceAllocationSettingData", "Processors")]:
    acp = pywbem.CIMInstanceName("KVM_AllocationCapabilities", {"InstanceID": pool_id}, namespace="root/virt")
    templates = conn.Associators(acp, AssocClass="KVM_SettingsDefineCapabilities")
    check(sorted(t["InstanceID"] for t in templates) == sorted(ranges), f"SDC templates of {pool_id}: {templates}")
    check(all(t.classname == rasd_class and t["PoolID"] == pool_id and t["AllocationUnits"] == units
              for t in templates), f"template classes of {pool_id}")
    by_id = {t["InstanceID"]: t["VirtualQuantity"] for t in templates}
    check(by_id["Minimum"] <= by_id["Default"] <= by_id["Maximum"] and by_id["Increment"] > 0,
          f"template quantities of {pool_id}: {by_id}")
    for ref in conn.References(acp, ResultClass="KVM_SettingsDefineCapabilities"):
        role = ranges[ref["PartComponent"]["InstanceID"]]
        check((ref["ValueRole"], ref["ValueRange"], ref["PropertyPolicy"]) == (*role, 0),
              f"SDC {ref['PartComponent']['InstanceID']}: {ref.items()}")
    # A template leads back to its capabilities, as an ordinary association end.
    back = conn.AssociatorNames(templates[0].path, AssocClass="KVM_SettingsDefineCapabilities")
    check([p["InstanceID"] for p in back] == [pool_id], f"SDC back from a template of {pool_id}: {back}")
mem_default = [t for t in conn.Associators(pywbem.CIMInstanceName("KVM_AllocationCapabilities",
                                                                  {"InstanceID": "MemoryPool/0"},
                                                                  namespace="root/virt"),
                                           AssocClass="KVM_SettingsDefineCapabilities")
               if t["InstanceID"] == "Default"][0]
check(mem_default["VirtualQuantity"] == 256 * 1024, f"memory Default {mem_default['VirtualQuantity']}")

# The other pools' templates, each built for its pool under libvirt-cim's
# InstanceIDs (the caller defined a second dir pool, 'second-pool').
def caps_path(pool_id):
    return pywbem.CIMInstanceName("KVM_AllocationCapabilities", {"InstanceID": pool_id}, namespace="root/virt")


def role_of(iid):
    word = next(w for w in ["Default", "Increment", "Maximum", "Minimum"] if w in iid)
    return ranges[word]


kinds = ["Minimum", "Maximum", "Default", "Increment"]
disk_pools = [str(p["InstanceID"]) for p in conn.EnumerateInstanceNames("KVM_DiskPool")]
check(sorted(disk_pools) == ["DiskPool/default-pool", "DiskPool/second-pool"], f"disk pools {disk_pools}")
for pool_id, path in [("DiskPool/default-pool", "/default-pool"), ("DiskPool/second-pool", "/second-pool")]:
    templates = conn.Associators(caps_path(pool_id), AssocClass="KVM_SettingsDefineCapabilities")
    got = sorted((t.classname, t["InstanceID"]) for t in templates)
    want = sorted([("KVM_DiskResourceAllocationSettingData", f"{k}{sfx}") for k in kinds
                   for sfx in ["", " CDROM", " floppy"]]
                  + [("KVM_StorageVolumeResourceAllocationSettingData", f"New Storage Volume {k}") for k in kinds])
    check(got == want, f"SDC templates of {pool_id}: {got}")
    check(all(t["PoolID"] == pool_id for t in templates), f"PoolID of {pool_id}'s templates")
    check(all(t.path["InstanceID"] == t["InstanceID"] and t.path.classname == t.classname for t in templates),
          f"template paths of {pool_id}")
    disks = {t["InstanceID"]: t for t in templates if t.classname == "KVM_DiskResourceAllocationSettingData"}
    check(all(disks[k]["ResourceType"] == 17 and disks[k]["AllocationUnits"] == "MegaBytes"
              and disks[k]["EmulatedType"] == 0 and disks[k]["VirtualDevice"] == "hda" for k in kinds),
          f"disk templates of {pool_id}: {disks}")
    q = {k: disks[k]["VirtualQuantity"] for k in kinds}
    check(q["Default"] == 5000 and q["Increment"] == 250 and q["Minimum"] <= 2000 and q["Minimum"] <= q["Maximum"],
          f"disk template sizes of {pool_id}: {q}")
    check((disks["Default CDROM"]["EmulatedType"], disks["Default CDROM"]["VirtualDevice"]) == (1, "hdc")
          and (disks["Maximum floppy"]["EmulatedType"], disks["Maximum floppy"]["VirtualDevice"]) == (2, "fda")
          and disks["Default CDROM"].get("VirtualQuantity") is None, f"CD-ROM/floppy templates of {pool_id}")
    vols = {t["InstanceID"]: t for t in templates if t.classname == "KVM_StorageVolumeResourceAllocationSettingData"}
    check(all(v["Path"] == path and v["ResourceType"] == 32768 and v["VolumeName"] == "tmp.img"
              for v in vols.values()), f"new-volume templates of {pool_id}: {vols}")
    refs = conn.References(caps_path(pool_id), ResultClass="KVM_SettingsDefineCapabilities")
    check(len(refs) == len(want), f"SDC references of {pool_id}: {len(refs)}")
    for ref in refs:
        check(ref["GroupComponent"]["InstanceID"] == pool_id, f"SDC GroupComponent {ref.items()}")
        iid = ref["PartComponent"]["InstanceID"]
        check((ref["ValueRole"], ref["ValueRange"], ref["PropertyPolicy"]) == (*role_of(iid), 0),
              f"SDC {pool_id} {iid}: {ref.items()}")
    # Pull operations give the same templates.
    pulled = list(conn.IterAssociatorInstances(caps_path(pool_id), AssocClass="KVM_SettingsDefineCapabilities",
                                       MaxObjectCount=5))
    check(sorted((t.classname, t["InstanceID"], t["PoolID"]) for t in pulled)
          == sorted((t.classname, t["InstanceID"], t["PoolID"]) for t in templates), f"pulled templates of {pool_id}")
# GetInstance of a template path: the template as built for the first disk pool.
got = conn.GetInstance(pywbem.CIMInstanceName("KVM_DiskResourceAllocationSettingData", {"InstanceID": "Default"},
                                              namespace="root/virt"))
check(got["PoolID"] == disk_pools[0] and got["VirtualQuantity"] == 5000, f"GetInstance disk Default {got.items()}")
got = conn.GetInstance(pywbem.CIMInstanceName("KVM_StorageVolumeResourceAllocationSettingData",
                                              {"InstanceID": "New Storage Volume Maximum"}, namespace="root/virt"))
check(got["PoolID"] == disk_pools[0], f"GetInstance new-volume Maximum {got.items()}")

net = conn.Associators(caps_path("NetworkPool/default"), AssocClass="KVM_SettingsDefineCapabilities")
check(sorted(t["InstanceID"] for t in net) == sorted(kinds), f"network templates {net}")
check(all(t.classname == "KVM_NetResourceAllocationSettingData" and t["ResourceType"] == 10
          and t["ResourceSubType"] == "e1000" and t["NetworkType"] == "network" and t["NetworkName"] == "default"
          and t["PoolID"] == "NetworkPool/default" for t in net), f"network template values {net}")
nq = {t["InstanceID"]: t["VirtualQuantity"] for t in net}
check(nq == {"Minimum": 0, "Maximum": 8, "Default": 1, "Increment": 1}, f"NIC counts {nq}")
for ref in conn.References(caps_path("NetworkPool/default"), ResultClass="KVM_SettingsDefineCapabilities"):
    check((ref["ValueRole"], ref["ValueRange"], ref["PropertyPolicy"]) == (*ranges[ref["PartComponent"]["InstanceID"]], 0),
          f"network SDC {ref.items()}")
got = conn.GetInstance(net[0].path)
check(got.classname == "KVM_NetResourceAllocationSettingData" and got["PoolID"] == "NetworkPool/default",
      f"GetInstance net template {got.items()}")

# Graphics: sdl and vnc (IPv4 and IPv6 addresses) templates share each path.
gfx = conn.Associators(caps_path("GraphicsPool/0"), AssocClass="KVM_SettingsDefineCapabilities")
check(sorted((t["InstanceID"], t["ResourceSubType"], t.get("Address")) for t in gfx)
      == sorted((k, *v) for k in kinds for v in [("sdl", None), ("vnc", "127.0.0.1:-1"), ("vnc", "[::1]:-1")]),
      f"graphics templates {gfx}")
check(all(t.get("KeyMap") == ("en-us" if t["ResourceSubType"] == "vnc" else None) and t["ResourceType"] == 24
          for t in gfx), "graphics template KeyMap/ResourceType")
gfx_names = conn.AssociatorNames(caps_path("GraphicsPool/0"), AssocClass="KVM_SettingsDefineCapabilities")
check(sorted(p["InstanceID"] for p in gfx_names) == sorted(kinds), f"graphics template paths named once {gfx_names}")
check(conn.GetInstance(gfx[0].path)["ResourceSubType"] == "sdl", "GetInstance graphics template: the first (sdl)")
inp = conn.Associators(caps_path("InputPool/0"), AssocClass="KVM_SettingsDefineCapabilities")
check(sorted((t["InstanceID"], t["ResourceSubType"], t["BusType"], t["Caption"]) for t in inp)
      == sorted((k, *v) for k in kinds for v in [("mouse", "ps2", "PS2 Mouse"), ("mouse", "usb", "USB Mouse"),
                                                 ("tablet", "usb", "USB Tablet")]), f"input templates {inp}")
check(all(t["ResourceType"] == 13 for t in inp), "input template ResourceType")
# libvirt-cim has no controller templates.
check(conn.Associators(caps_path("ControllerPool/0"), AssocClass="KVM_SettingsDefineCapabilities") == [],
      "no controller templates")
# A template path that no pool has.
try:
    conn.GetInstance(pywbem.CIMInstanceName("KVM_DiskResourceAllocationSettingData", {"InstanceID": "Medium"},
                                            namespace="root/virt"))
    check(False, "GetInstance of an unknown template")
except pywbem.CIMError as err:
    check(err.status_code == pywbem.CIM_ERR_NOT_FOUND, f"unknown template: {err}")
# Templates are not guests' settings: enumerations do not list them.
check(all("/" in str(i) for i in ids("KVM_MemResourceAllocationSettingData", guest=None)), "no templates enumerated")

# root/interop.
nss = conn.EnumerateInstances("CIM_Namespace", namespace="root/interop")
check(sorted(n["Name"] for n in nss) == ["root/interop", "root/virt"], f"CIM_Namespace {nss}")
om = conn.EnumerateInstances("CIM_ObjectManager", namespace="root/interop")
check(len(om) == 1 and om[0]["ElementName"] == "virtbus", f"ObjectManager {om}")
profiles = conn.EnumerateInstances("KVM_RegisteredProfile", namespace="root/interop")
vs = [p for p in profiles if p["InstanceID"] == "CIM:DSP1057-VirtualSystem-1.0.0a"]
check(len(vs) == 1 and vs[0]["RegisteredName"] == "Virtual System Profile", f"profiles {profiles}")
conforming = conn.AssociatorNames(vs[0].path, AssocClass="KVM_ElementConformsToProfile")
check(g in [p["Name"] for p in conforming if p.classname == "KVM_ComputerSystem"], f"ECTP {conforming}")
back = conn.AssociatorNames(cs, AssocClass="KVM_ElementConformsToProfile")
check([p["InstanceID"] for p in back] == ["CIM:DSP1057-VirtualSystem-1.0.0a"] and back[0].namespace == "root/interop",
      f"ECTP back {back}")

# Classes: qualifiers and class origin on request, DeepInheritance, PropertyList.
cls = conn.GetClass("KVM_ComputerSystem", LocalOnly=False, IncludeQualifiers=True, IncludeClassOrigin=True)
check(cls.properties["Name"].qualifiers.get("Key") is not None, "Key qualifier")
check(cls.properties["Name"].class_origin is not None, f"class origin {cls.properties['Name'].class_origin}")
bare = conn.GetClass("KVM_ComputerSystem", LocalOnly=False, IncludeQualifiers=False, IncludeClassOrigin=False)
check(not bare.properties["Name"].qualifiers and bare.properties["Name"].class_origin is None,
      f"qualifiers/class origin not asked for: {bare.properties['Name'].qualifiers} {bare.properties['Name'].class_origin}")
some = conn.GetClass("KVM_ComputerSystem", LocalOnly=False, PropertyList=["Name", "EnabledState"])
check(sorted(some.properties) == ["EnabledState", "Name"], f"class PropertyList {list(some.properties)}")
direct = [c.classname for c in conn.EnumerateClasses(ClassName="CIM_ResourceAllocationSettingData")]
deep = [c.classname for c in conn.EnumerateClasses(ClassName="CIM_ResourceAllocationSettingData",
                                                    DeepInheritance=True)]
check("KVM_MemResourceAllocationSettingData" in deep and set(direct) <= set(deep), f"EnumerateClasses {direct} {deep}")
names = conn.EnumerateClassNames(DeepInheritance=True)
for c in ["KVM_AllocationCapabilities", "KVM_SettingsDefineCapabilities", "KVM_ComputerSystem"]:
    check(c in names, f"{c} in EnumerateClassNames")
inst = conn.GetInstance(cs, PropertyList=["Name", "EnabledState"])
check(sorted(inst.keys()) == ["EnabledState", "Name"], f"instance PropertyList {list(inst.keys())}")
insts = conn.EnumerateInstances("KVM_Memory", PropertyList=["DeviceID"])
check(all(list(i.keys()) == ["DeviceID"] for i in insts), "EnumerateInstances PropertyList")
# A PropertyList naming a property the class lacks is not an error (DSP0200): it is ignored.
inst = conn.GetInstance(cs, PropertyList=["Name", "NoSuchProperty"])
check(list(inst.keys()) == ["Name"], f"unknown property in PropertyList {list(inst.keys())}")
print("ok")
