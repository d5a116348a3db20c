"""The substance of libvirt-cim's cimtest groups, through pywbem against a
running `virtbus serve`:

- ComputerSystem: enumeration equals the agent's guest list (argv[3], the
  names `virtbus ctl list --all` printed), GetInstance with bad keys is
  CIM_ERR_NOT_FOUND, state transitions (define -> 3, start -> 2, pause -> 9,
  resume -> 2, reset (11) -> still 2, reboot (10), invalid transitions).
- VirtualSystemManagementService: DefineSystem with a name and devices
  (MOF and CIM-XML embedded instances), define -> RequestStateChange(2) ->
  EnabledState 2 -> DestroySystem, destroy of a missing system.
- SystemDevice, VirtualSystemSettingDataComponent, SettingsDefineState:
  forward and reverse, with the ids libvirt-cim forms.

Usage: cimtest_groups.py URL GUEST NAMES_CSV. Leaves GUEST undefined.
Exits non-zero with a message on the first mismatch."""
import sys

import pywbem

url, name, listed = sys.argv[1], sys.argv[2], sys.argv[3]
conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=60)
NS = "root/virt"


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def expect_error(code, fn, what):
    try:
        fn()
    except pywbem.CIMError as e:
        check(e.status_code == code, f"{what}: status {e.status_code} ({e.status_description})")
        return e
    check(False, f"{what} succeeded")


def cs_name(guest, ccn="KVM_ComputerSystem"):
    return pywbem.CIMInstanceName("KVM_ComputerSystem", {"CreationClassName": ccn, "Name": guest}, namespace=NS)


def state_change(path, value):
    rc, _ = conn.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(value))
    check(rc == 0, f"RequestStateChange({value}) rc {rc}")
    return conn.GetInstance(path)


# --- ComputerSystem/01_enum: the CIM view equals the agent's own list.
systems = conn.EnumerateInstances("KVM_ComputerSystem")
got = sorted(s["Name"] for s in systems)
check(got == sorted(listed.split(",")), f"enumerated {got}, ctl lists {listed}")
for s in systems:
    check(s["CreationClassName"] == "KVM_ComputerSystem", f"CreationClassName of {s['Name']}")
    check(s["ElementName"] == s["Name"], f"ElementName of {s['Name']}")

# --- ComputerSystem/03_defineVS & 22_define_suspendedVS: GetInstance bad keys.
expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(cs_name("no-such-guest")), "bad Name")
expect_error(pywbem.CIM_ERR_NOT_FOUND,
             lambda: conn.GetInstance(cs_name(got[0], "Wrong_ComputerSystem")), "bad CreationClassName")

# --- VSMS/01_definesystem_name: DefineSystem with a name and devices.
vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")
check(len(vsms) == 1, f"one management service, got {vsms}")
vsms = vsms[0]
vssd = f'instance of KVM_VirtualSystemSettingData {{ VirtualSystemIdentifier = "{name}"; }};'
mem = ('instance of KVM_MemResourceAllocationSettingData { ResourceType = 4; '
       'VirtualQuantity = 128; AllocationUnits = "MegaBytes"; };')
proc = pywbem.CIMInstance("KVM_ProcResourceAllocationSettingData",
                          {"ResourceType": pywbem.Uint16(3), "VirtualQuantity": pywbem.Uint64(2)}).tocimxmlstr()
disk = ('instance of KVM_DiskResourceAllocationSettingData { ResourceType = 17; '
        'VirtualDevice = "hda"; Address = "/var/lib/virtbus-test/disk.img"; };')
net = ('instance of KVM_NetResourceAllocationSettingData { ResourceType = 10; '
       'Address = "52:54:00:12:34:56"; NetworkType = "network"; PoolID = "NetworkPool/default"; };')
rc, out = conn.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[mem, proc, disk, net])
check(rc == 0, f"DefineSystem rc {rc}")
path = out["ResultingSystem"]
check(path["Name"] == name and path.classname == "KVM_ComputerSystem", f"ResultingSystem {path}")
path.namespace = NS
cs = conn.GetInstance(path)
check(cs["EnabledState"] == 3, f"defined guest EnabledState {cs['EnabledState']}")

# --- SystemDevice/01_forward and 02_reverse.
devices = conn.AssociatorNames(path, AssocClass="KVM_SystemDevice")
ids = sorted(d["DeviceID"] for d in devices)
want = sorted([f"{name}/0", f"{name}/1", f"{name}/mem", f"{name}/hda", f"{name}/52:54:00:12:34:56"])
check(all(i in ids for i in want), f"SystemDevice devices {ids}, want at least {want}")
for d in devices:
    check(d["SystemName"] == name and d["SystemCreationClassName"] == "KVM_ComputerSystem", f"device keys {d}")
    back = conn.AssociatorNames(d, AssocClass="KVM_SystemDevice")
    check([b["Name"] for b in back] == [name], f"SystemDevice reverse of {d['DeviceID']}: {back}")

# --- VSSDComponent/01_forward and 02_reverse.
vssd_path = pywbem.CIMInstanceName("KVM_VirtualSystemSettingData", {"InstanceID": f"KVM:{name}"}, namespace=NS)
rasds = conn.Associators(vssd_path, AssocClass="KVM_VirtualSystemSettingDataComponent")
rasd_ids = sorted(r["InstanceID"] for r in rasds)
for rid in [f"{name}/proc", f"{name}/mem", f"{name}/hda", f"{name}/52:54:00:12:34:56"]:
    check(rid in rasd_ids, f"VSSDComponent: {rid} not in {rasd_ids}")
by_id = {r["InstanceID"]: r for r in rasds}
check(by_id[f"{name}/mem"]["VirtualQuantity"] == 131072, f"mem RASD {by_id[f'{name}/mem']['VirtualQuantity']}")
check(by_id[f"{name}/proc"]["VirtualQuantity"] == 2, "proc RASD")
check(by_id[f"{name}/hda"]["Address"] == "/var/lib/virtbus-test/disk.img", "disk RASD Address")
for r in rasds:
    back = conn.AssociatorNames(r.path, AssocClass="KVM_VirtualSystemSettingDataComponent")
    check([b["InstanceID"] for b in back] == [f"KVM:{name}"], f"VSSDComponent reverse of {r['InstanceID']}")

# --- SettingsDefineState: guest <-> VSSD, device <-> RASD.
state = conn.AssociatorNames(path, AssocClass="KVM_SettingsDefineState")
check([s["InstanceID"] for s in state] == [f"KVM:{name}"], f"SettingsDefineState guest -> {state}")
back = conn.AssociatorNames(vssd_path, AssocClass="KVM_SettingsDefineState")
check([b["Name"] for b in back] == [name], f"SettingsDefineState VSSD -> {back}")
mem_dev = [d for d in devices if d["DeviceID"] == f"{name}/mem"][0]
mem_rasd = conn.AssociatorNames(mem_dev, AssocClass="KVM_SettingsDefineState")
check([m["InstanceID"] for m in mem_rasd] == [f"{name}/mem"], f"SettingsDefineState mem -> {mem_rasd}")
back = conn.AssociatorNames(mem_rasd[0], AssocClass="KVM_SettingsDefineState")
check([b["DeviceID"] for b in back] == [f"{name}/mem"], f"SettingsDefineState mem RASD -> {back}")

# --- ComputerSystem state transitions (04_defineStartVS, 06_paused_active_suspend, ...).
expect_error(pywbem.CIM_ERR_FAILED, lambda: state_change(path, 9), "pause of a defined guest")
expect_error(pywbem.CIM_ERR_FAILED, lambda: state_change(path, 11), "reset of a defined guest")
cs = state_change(path, 2)
check(cs["EnabledState"] == 2 and cs["RequestedState"] == 2, f"after start {cs['EnabledState']}/{cs['RequestedState']}")
cs = state_change(path, 9)
check(cs["EnabledState"] == 9 and cs["RequestedState"] == 9, f"after pause {cs['EnabledState']}")
expect_error(pywbem.CIM_ERR_FAILED, lambda: state_change(path, 4), "shutdown of a paused guest")
cs = state_change(path, 2)
check(cs["EnabledState"] == 2, f"after resume {cs['EnabledState']}")
cs = state_change(path, 11)
check(cs["EnabledState"] == 2 and cs["RequestedState"] == 11, f"after reset {cs['EnabledState']}/{cs['RequestedState']}")
cs = state_change(path, 10)
check(cs["EnabledState"] == 2, f"after reboot {cs['EnabledState']}")
expect_error(pywbem.CIM_ERR_FAILED, lambda: state_change(path, 2), "start of a running guest")
expect_error(pywbem.CIM_ERR_NOT_SUPPORTED, lambda: state_change(path, 6), "RequestedState 6 (offline)")

# --- VSMS/02_destroysystem: a running guest is destroyed and undefined.
rc, _ = conn.InvokeMethod("DestroySystem", vsms, AffectedSystem=path)
check(rc == 0, f"DestroySystem rc {rc}")
expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(path), "destroyed guest still there")
expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(vssd_path), "destroyed guest's VSSD still there")
expect_error(pywbem.CIM_ERR_NOT_FOUND,
             lambda: conn.InvokeMethod("DestroySystem", vsms, AffectedSystem=path), "destroy of a missing system")
after = sorted(s["Name"] for s in conn.EnumerateInstances("KVM_ComputerSystem"))
check(after == got, f"after destroy {after}, before {got}")
print("ok")
