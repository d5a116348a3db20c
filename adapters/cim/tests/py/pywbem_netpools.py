"""Network pools through KVM_ResourcePoolConfigurationService
(cimtest RPCS/04 and 07 for networks): CreateChildResourcePool from a
KVM_NetPoolResourceAllocationSettingData and DeleteResourcePool of
NetworkPool/<net>, with the bad-input cases.

Usage: pywbem_netpools.py URL NAME create|delete|unsupported
  create:      creates network pool NAME (10.77.0.1/24, range .10-.20,
               routed) and leaves it for the caller to find in the core.
  delete:      deletes it, then the delete errors.
  unsupported: a driver without networks (qemu): CIM_ERR_NOT_SUPPORTED
               with the driver's message."""
import sys

import pywbem

url, name, phase = sys.argv[1:4]
NS = "root/virt"
conn = pywbem.WBEMConnection(url, default_namespace=NS, timeout=30)


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def expect_error(code, fn, what, text=None):
    try:
        fn()
    except pywbem.CIMError as e:
        check(e.status_code == code, f"{what}: status {e.status_code} ({e.status_description})")
        if text is not None:
            check(text in e.status_description, f"{what}: description {e.status_description!r}")
        return
    check(False, f"{what} succeeded")


rpcs = conn.EnumerateInstanceNames("KVM_ResourcePoolConfigurationService")[0]


def netpool(**props):
    base = {"ResourceType": pywbem.Uint16(10), "Address": "10.77.0.1", "Netmask": "255.255.255.0",
            "IPRangeStart": "10.77.0.10", "IPRangeEnd": "10.77.0.20", "ForwardMode": pywbem.Uint16(2)}
    base.update(props)
    return pywbem.CIMInstance("KVM_NetPoolResourceAllocationSettingData",
                              {k: v for k, v in base.items() if v is not None})


def create(pool_name, settings):
    return conn.InvokeMethod("CreateChildResourcePool", rpcs, ElementName=pool_name, Settings=[settings])


pool_path = pywbem.CIMInstanceName("KVM_NetworkPool", {"InstanceID": f"NetworkPool/{name}"}, namespace=NS)


def pool_ids():
    return [p["InstanceID"] for p in conn.EnumerateInstanceNames("KVM_NetworkPool")]


if phase == "create":
    before = pool_ids()
    # Bad settings first: none of them defines anything.
    for props, what in [({"Address": "10.77.0.300"}, "bad Address"),
                        ({"Netmask": "255.0.255.0"}, "non-contiguous Netmask"),
                        ({"IPRangeStart": "10.78.0.10"}, "range outside the network"),
                        ({"IPRangeStart": "10.77.0.30"}, "range start above end"),
                        ({"ForwardMode": pywbem.Uint16(7)}, "ForwardMode 7"),
                        ({"ForwardDevice": "eth0/x"}, "bad ForwardDevice"),
                        ({"ForwardMode": pywbem.Uint16(0), "ForwardDevice": "eth0"}, "device without forwarding")]:
        expect_error(pywbem.CIM_ERR_INVALID_PARAMETER, lambda: create(name, netpool(**props)), what)
    check(pool_ids() == before, f"a refused call defined a network: {pool_ids()}")
    # MOF text as cimtest sends it, and the network appears as a pool.
    mof = ('instance of KVM_NetPoolResourceAllocationSettingData { ResourceType = 10; '
           'Address = "10.77.0.1"; Netmask = "255.255.255.0"; IPRangeStart = "10.77.0.10"; '
           'IPRangeEnd = "10.77.0.20"; ForwardMode = 2; };')
    rc, out = create(name, mof)
    check(rc == 0, f"CreateChildResourcePool rc {rc}")
    check(out["Pool"]["InstanceID"] == f"NetworkPool/{name}", f"Pool {out['Pool']}")
    got = conn.GetInstance(pool_path)
    check(got["ResourceType"] == 10 and got["PoolID"] == f"NetworkPool/{name}", f"pool instance {got}")
    check(f"NetworkPool/{name}" in pool_ids(), f"not enumerated: {pool_ids()}")
    expect_error(pywbem.CIM_ERR_ALREADY_EXISTS, lambda: create(name, netpool()), "the same name again")
elif phase == "delete":
    rc, _ = conn.InvokeMethod("DeleteResourcePool", rpcs, Pool=pool_path)
    check(rc == 0, f"DeleteResourcePool rc {rc}")
    expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(pool_path), "deleted pool still there")
    expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.InvokeMethod("DeleteResourcePool", rpcs, Pool=pool_path),
                 "deleting it again", name)
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER, lambda: conn.InvokeMethod("DeleteResourcePool", rpcs),
                 "no Pool")
elif phase == "unsupported":
    # Valid settings; the driver has no virtual networks.
    expect_error(pywbem.CIM_ERR_NOT_SUPPORTED, lambda: create(name, netpool()), "network pool on qemu",
                 "the qemu driver")
    check(f"NetworkPool/{name}" not in pool_ids(), "a network pool appeared")
    expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.InvokeMethod("DeleteResourcePool", rpcs, Pool=pool_path),
                 "deleting a network pool that is not there")
else:
    check(False, f"unknown phase {phase}")
check(conn.EnumerateInstanceNames("KVM_DiskPool") is not None, "server still serving")
print("ok")
