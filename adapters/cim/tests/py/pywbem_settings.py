"""cimtest's VirtualSystemManagementService settings cases through pywbem:
AddResourceSettings (disk and NIC; duplicates; memory refused),
ModifyResourceSettings (memory, processors, a disk's media),
RemoveResourceSettings (a NIC; a missing device; memory refused) and
ModifySystemSettings (boot order, lifecycle actions, clock, kernel boot,
emulator, autostart; UUID and name fixed), each visible in the RASDs, the
devices and the VSSD afterwards.

Usage: pywbem_settings.py URL GUEST"""
import sys

import pywbem

url, name = sys.argv[1], sys.argv[2]
NS = "root/virt"
conn = pywbem.WBEMConnection(url, default_namespace=NS, timeout=30)


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def expect_error(code, fn, what):
    try:
        fn()
    except pywbem.CIMError as e:
        check(e.status_code == code, f"{what}: status {e.status_code} ({e.status_description})")
        return
    check(False, f"{what} succeeded")


def rasd(cls, dev):
    return conn.GetInstance(pywbem.CIMInstanceName(cls, {"InstanceID": f"{name}/{dev}"}, namespace=NS))


vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")[0]
vssd = f'instance of KVM_VirtualSystemSettingData {{ VirtualSystemIdentifier = "{name}"; }};'
rc, out = conn.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[])
check(rc == 0, f"DefineSystem rc {rc}")
cs = out["ResultingSystem"]
cs.namespace = NS
vssd_path = pywbem.CIMInstanceName("KVM_VirtualSystemSettingData", {"InstanceID": f"KVM:{name}"}, namespace=NS)

# --- AddResourceSettings (cimtest VSMS/06_addresource).
disk = ('instance of KVM_DiskResourceAllocationSettingData { ResourceType = 17; '
        'VirtualDevice = "vdb"; Address = "/var/lib/virtbus-test/vdb.img"; };')
mac = "52:54:00:aa:bb:cc"
net = pywbem.CIMInstance("KVM_NetResourceAllocationSettingData", {
    "ResourceType": pywbem.Uint16(10), "Address": mac, "NetworkType": "network",
    "PoolID": "NetworkPool/default"}).tocimxmlstr()
rc, out = conn.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=vssd_path, ResourceSettings=[disk, net])
check(rc == 0, f"AddResourceSettings rc {rc}")
got = sorted(p["InstanceID"] for p in out["ResultingResourceSettings"])
check(got == sorted([f"{name}/vdb", f"{name}/{mac}"]), f"ResultingResourceSettings {got}")
check(rasd("KVM_DiskResourceAllocationSettingData", "vdb")["Address"] == "/var/lib/virtbus-test/vdb.img", "added disk")
check(rasd("KVM_NetResourceAllocationSettingData", mac)["NetworkName"] == "default", "added NIC")
devices = [d["DeviceID"] for d in conn.AssociatorNames(cs, AssocClass="KVM_SystemDevice")]
check(f"{name}/vdb" in devices and f"{name}/{mac}" in devices, f"devices after add {devices}")
expect_error(pywbem.CIM_ERR_ALREADY_EXISTS,
             lambda: conn.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=vssd_path,
                                       ResourceSettings=[disk]), "adding the same disk twice")
mem = ('instance of KVM_MemResourceAllocationSettingData { ResourceType = 4; VirtualQuantity = 64; };')
expect_error(pywbem.CIM_ERR_NOT_SUPPORTED,
             lambda: conn.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=vssd_path,
                                       ResourceSettings=[mem]), "adding memory")
missing = pywbem.CIMInstanceName("KVM_VirtualSystemSettingData", {"InstanceID": "KVM:no-such-guest"}, namespace=NS)
expect_error(pywbem.CIM_ERR_NOT_FOUND,
             lambda: conn.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=missing,
                                       ResourceSettings=[disk]), "adding to a missing guest")

# --- ModifyResourceSettings (cimtest VSMS/08_modifyresource).
mem = pywbem.CIMInstance("KVM_MemResourceAllocationSettingData", {
    "InstanceID": f"{name}/mem", "ResourceType": pywbem.Uint16(4),
    "VirtualQuantity": pywbem.Uint64(256), "AllocationUnits": "MegaBytes"}).tocimxmlstr()
proc = (f'instance of KVM_ProcResourceAllocationSettingData {{ InstanceID = "{name}/proc"; '
        'ResourceType = 3; VirtualQuantity = 3; };')
media = (f'instance of KVM_DiskResourceAllocationSettingData {{ InstanceID = "{name}/vdb"; ResourceType = 17; '
         'VirtualDevice = "vdb"; Address = "/var/lib/virtbus-test/other.img"; };')
rc, out = conn.InvokeMethod("ModifyResourceSettings", vsms, ResourceSettings=[mem, proc, media])
check(rc == 0, f"ModifyResourceSettings rc {rc}")
check(len(out["ResultingResourceSettings"]) == 3, f"modify result {out}")
check(rasd("KVM_MemResourceAllocationSettingData", "mem")["VirtualQuantity"] == 262144, "memory after modify")
check(rasd("KVM_ProcResourceAllocationSettingData", "proc")["VirtualQuantity"] == 3, "processors after modify")
check(rasd("KVM_DiskResourceAllocationSettingData", "vdb")["Address"] == "/var/lib/virtbus-test/other.img", "media")
procs = [d for d in conn.AssociatorNames(cs, AssocClass="KVM_SystemDevice") if d.classname == "KVM_Processor"]
check(len(procs) == 3, f"processors after modify {procs}")
bad = f'instance of KVM_MemResourceAllocationSettingData {{ InstanceID = "nope"; VirtualQuantity = 1; }};'
expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
             lambda: conn.InvokeMethod("ModifyResourceSettings", vsms, ResourceSettings=[bad]), "bad InstanceID")

# --- ModifyInstance of a RASD: only the listed property changes (units stay KiloBytes).
memrasd = rasd("KVM_MemResourceAllocationSettingData", "mem")
memrasd["VirtualQuantity"] = pywbem.Uint64(393216)
memrasd["AllocationUnits"] = "GigaBytes"
conn.ModifyInstance(memrasd, PropertyList=["VirtualQuantity"])
check(rasd("KVM_MemResourceAllocationSettingData", "mem")["VirtualQuantity"] == 393216, "ModifyInstance memory")
netrasd = rasd("KVM_NetResourceAllocationSettingData", mac)
expect_error(pywbem.CIM_ERR_NOT_SUPPORTED, lambda: conn.ModifyInstance(netrasd), "ModifyInstance of a NIC")
expect_error(pywbem.CIM_ERR_NOT_SUPPORTED, lambda: conn.ModifyInstance(conn.GetInstance(cs)),
             "ModifyInstance of a guest")

# --- RemoveResourceSettings.
net_path = pywbem.CIMInstanceName("KVM_NetResourceAllocationSettingData", {"InstanceID": f"{name}/{mac}"},
                                  namespace=NS)
rc, _ = conn.InvokeMethod("RemoveResourceSettings", vsms, ResourceSettings=[net_path])
check(rc == 0, f"RemoveResourceSettings rc {rc}")
expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(net_path), "removed NIC still there")
expect_error(pywbem.CIM_ERR_NOT_FOUND,
             lambda: conn.InvokeMethod("RemoveResourceSettings", vsms, ResourceSettings=[net_path]),
             "removing a missing NIC")
mem_path = pywbem.CIMInstanceName("KVM_MemResourceAllocationSettingData", {"InstanceID": f"{name}/mem"},
                                  namespace=NS)
expect_error(pywbem.CIM_ERR_NOT_SUPPORTED,
             lambda: conn.InvokeMethod("RemoveResourceSettings", vsms, ResourceSettings=[mem_path]),
             "removing memory")

# --- ModifySystemSettings (boot order).
vs = pywbem.CIMInstance("KVM_VirtualSystemSettingData", {
    "InstanceID": f"KVM:{name}", "BootDevices": ["cdrom", "hd"]}).tocimxmlstr()
rc, _ = conn.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=vs)
check(rc == 0, f"ModifySystemSettings rc {rc}")
check(conn.GetInstance(vssd_path)["BootDevices"] == ["cdrom", "hd"], "boot order")
vs = pywbem.CIMInstance("KVM_VirtualSystemSettingData", {
    "InstanceID": f"KVM:{name}", "BootDevices": ["tape"]}).tocimxmlstr()
expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
             lambda: conn.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=vs), "bad boot device")
# --- ModifySystemSettings beyond the boot order: the VSSD fetched, edited and
# sent back whole (pywbem writes it with its path); every supported setting.
vs = conn.GetInstance(vssd_path)
uuid = vs["UUID"]
vs["AutomaticShutdownAction"] = pywbem.Uint16(3)
vs["AutomaticRecoveryAction"] = pywbem.Uint16(123)
vs["ClockOffset"] = pywbem.Uint16(1)
vs["Kernel"] = "/var/lib/virtbus-test/vmlinuz"
vs["Ramdisk"] = "/var/lib/virtbus-test/initrd.img"
vs["CommandLine"] = "console=ttyS0 root=/dev/vda"
vs["Emulator"] = "/usr/bin/qemu-system-x86_64"
vs["AutoStart"] = pywbem.Uint16(1)
rc, _ = conn.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=vs.tocimxmlstr())
check(rc == 0, f"ModifySystemSettings (all) rc {rc}")
got = conn.GetInstance(vssd_path)
for prop, want in [("AutomaticShutdownAction", 3), ("AutomaticRecoveryAction", 123), ("ClockOffset", 1),
                   ("Kernel", "/var/lib/virtbus-test/vmlinuz"), ("Ramdisk", "/var/lib/virtbus-test/initrd.img"),
                   ("CommandLine", "console=ttyS0 root=/dev/vda"), ("Emulator", "/usr/bin/qemu-system-x86_64"),
                   ("AutoStart", 1), ("UUID", uuid), ("BootDevices", ["cdrom", "hd"])]:
    check(got[prop] == want, f"{prop} after ModifySystemSettings: {got[prop]!r} != {want!r}")
# MOF with just one property: only it changes; an empty Kernel removes it.
mof = f'instance of KVM_VirtualSystemSettingData {{ InstanceID = "KVM:{name}"; Kernel = ""; }};'
rc, _ = conn.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=mof)
check(rc == 0, f"ModifySystemSettings (Kernel) rc {rc}")
got = conn.GetInstance(vssd_path)
check(got["Kernel"] is None and got["Ramdisk"] == "/var/lib/virtbus-test/initrd.img", f"kernel removed {got}")
check(got["AutomaticShutdownAction"] == 3 and got["ClockOffset"] == 1, "other settings kept")


def bad_vssd(code, what, **props):
    inst = pywbem.CIMInstance("KVM_VirtualSystemSettingData", {"InstanceID": f"KVM:{name}", **props})
    expect_error(code, lambda: conn.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=inst.tocimxmlstr()),
                 what)


bad_vssd(pywbem.CIM_ERR_FAILED, "another UUID", UUID="00000000-0000-0000-0000-000000000001")
bad_vssd(pywbem.CIM_ERR_INVALID_PARAMETER, "AutomaticShutdownAction 7", AutomaticShutdownAction=pywbem.Uint16(7))
bad_vssd(pywbem.CIM_ERR_INVALID_PARAMETER, "AutomaticRecoveryAction 9", AutomaticRecoveryAction=pywbem.Uint16(9))
bad_vssd(pywbem.CIM_ERR_INVALID_PARAMETER, "ClockOffset 5", ClockOffset=pywbem.Uint16(5))
bad_vssd(pywbem.CIM_ERR_INVALID_PARAMETER, "relative Kernel", Kernel="vmlinuz")
bad_vssd(pywbem.CIM_ERR_INVALID_PARAMETER, "relative Emulator", Emulator="qemu")
bad_vssd(pywbem.CIM_ERR_INVALID_PARAMETER, "AutoStart 2", AutoStart=pywbem.Uint16(2))
bad_vssd(pywbem.CIM_ERR_NOT_SUPPORTED, "renaming", VirtualSystemIdentifier="other-name")
bad_vssd(pywbem.CIM_ERR_NOT_SUPPORTED, "another Arch", Arch="s390x")
bad_vssd(pywbem.CIM_ERR_NOT_SUPPORTED, "Bootloader", Bootloader="/usr/bin/pygrub")
bad_vssd(pywbem.CIM_ERR_NOT_SUPPORTED, "nothing to change", Caption="x")
expect_error(pywbem.CIM_ERR_NOT_FOUND,
             lambda: conn.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=pywbem.CIMInstance(
                 "KVM_VirtualSystemSettingData", {"InstanceID": "KVM:no-such-guest", "ClockOffset": pywbem.Uint16(0)}
             ).tocimxmlstr()), "a missing guest")
got = conn.GetInstance(vssd_path)
check(got["AutomaticRecoveryAction"] == 123 and got["UUID"] == uuid, f"refused calls changed the guest: {got}")

# --- ResourcePoolConfigurationService (cimtest RPCS/07_CreateChildResourcePool, 08_DeleteResourcePool).
rpcs = conn.EnumerateInstanceNames("KVM_ResourcePoolConfigurationService")[0]
pool_settings = ('instance of KVM_DiskPoolResourceAllocationSettingData { Type = 1; '
                 'Path = "/var/lib/virtbus-test/cimpool"; };')
rc, out = conn.InvokeMethod("CreateChildResourcePool", rpcs, ElementName="cimpool", Settings=[pool_settings])
check(rc == 0, f"CreateChildResourcePool rc {rc}")
pool_path = out["Pool"]
pool_path.namespace = NS
check(pool_path["InstanceID"] == "DiskPool/cimpool", f"Pool {pool_path}")
check(conn.GetInstance(pool_path)["InstanceID"] == "DiskPool/cimpool", "new pool instance")
netfs = pool_settings.replace("Type = 1", "Type = 3")
expect_error(pywbem.CIM_ERR_NOT_SUPPORTED,
             lambda: conn.InvokeMethod("CreateChildResourcePool", rpcs, ElementName="p2", Settings=[netfs]),
             "netfs pool")
rc, _ = conn.InvokeMethod("DeleteResourcePool", rpcs, Pool=pool_path)
check(rc == 0, f"DeleteResourcePool rc {rc}")
expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(pool_path), "deleted pool still there")
expect_error(pywbem.CIM_ERR_NOT_FOUND,
             lambda: conn.InvokeMethod("DeleteResourcePool", rpcs, Pool=pool_path), "deleting a missing pool")
print("ok")
