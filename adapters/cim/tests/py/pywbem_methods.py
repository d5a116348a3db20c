"""cimtest's VirtualSystemManagementService and ComputerSystem state flow
through pywbem: DefineSystem (MOF embedded instances) -> RequestStateChange(2)
-> EnabledState 2 -> 9 paused -> 2 -> 4 shut down -> DestroySystem; destroy of a missing
system; invalid transitions and values."""
import sys

import pywbem

url, name = sys.argv[1], sys.argv[2]
conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30)


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


vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")[0]
vssd = f'instance of KVM_VirtualSystemSettingData {{ VirtualSystemIdentifier = "{name}"; }};'
mem = ('instance of KVM_MemResourceAllocationSettingData { ResourceType = 4; '
       'VirtualQuantity = 256; AllocationUnits = "MegaBytes"; };')
proc = 'instance of KVM_ProcResourceAllocationSettingData { ResourceType = 3; VirtualQuantity = 2; };'
rc, out = conn.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[mem, proc])
check(rc == 0, f"DefineSystem rc {rc}")
cs_path = out["ResultingSystem"]
check(cs_path["Name"] == name, f"ResultingSystem {cs_path}")

cs = conn.GetInstance(cs_path)
check(cs["EnabledState"] == 3, f"defined guest EnabledState {cs['EnabledState']}")
memrasd = conn.GetInstance(pywbem.CIMInstanceName(
    "KVM_MemResourceAllocationSettingData", {"InstanceID": f"{name}/mem"}, namespace="root/virt"))
check(memrasd["VirtualQuantity"] == 262144, f"memory {memrasd['VirtualQuantity']}")


rc, _ = conn.InvokeMethod("RequestStateChange", cs_path, RequestedState=pywbem.Uint16(2))
check(rc == 0, f"RequestStateChange(2) rc {rc}")
cs = conn.GetInstance(cs_path)
check(cs["EnabledState"] == 2 and cs["RequestedState"] == 2, f"after start {cs['EnabledState']}/{cs['RequestedState']}")

rc, _ = conn.InvokeMethod("RequestStateChange", cs_path, RequestedState=pywbem.Uint16(9))
check(rc == 0 and conn.GetInstance(cs_path)["EnabledState"] == 9, "pause")
expect_error(pywbem.CIM_ERR_FAILED,
             lambda: conn.InvokeMethod("RequestStateChange", cs_path, RequestedState=pywbem.Uint16(4)),
             "shutdown of a paused guest")
rc, _ = conn.InvokeMethod("RequestStateChange", cs_path, RequestedState=pywbem.Uint16(2))
check(rc == 0 and conn.GetInstance(cs_path)["EnabledState"] == 2, "resume")
expect_error(pywbem.CIM_ERR_NOT_SUPPORTED,
             lambda: conn.InvokeMethod("RequestStateChange", cs_path, RequestedState=pywbem.Uint16(32768)),
             "unsupported RequestedState")
expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
             lambda: conn.InvokeMethod("RequestStateChange", cs_path, RequestedState="two"),
             "non-numeric RequestedState")
expect_error(pywbem.CIM_ERR_METHOD_NOT_FOUND,
             lambda: conn.InvokeMethod("Explode", cs_path), "unknown method")

# Shut down (4) a running guest: the test driver's guest stops at once.
check(conn.GetInstance(cs_path)["EnabledState"] == 2, "running before shutdown")
rc, _ = conn.InvokeMethod("RequestStateChange", cs_path, RequestedState=pywbem.Uint16(4))
cs = conn.GetInstance(cs_path)
check(rc == 0 and cs["EnabledState"] == 3 and cs["RequestedState"] == 4,
      f"after shutdown rc {rc}, {cs['EnabledState']}/{cs['RequestedState']}")
rc, _ = conn.InvokeMethod("DestroySystem", vsms, AffectedSystem=cs_path)
check(rc == 0, f"DestroySystem rc {rc}")
expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(cs_path), "destroyed guest still there")
expect_error(pywbem.CIM_ERR_NOT_FOUND,
             lambda: conn.InvokeMethod("DestroySystem", vsms, AffectedSystem=cs_path), "destroy of a missing system")
expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
             lambda: conn.InvokeMethod("DefineSystem", vsms, SystemSettings="instance of X {", ResourceSettings=[]),
             "DefineSystem with broken MOF")
print("ok")
