"""Disk pools and volumes on the qemu driver, where they are real
directories and files (qemu-img): CreateChildResourcePool of a dir pool
(Autostart), CreateResourceInPool of a raw and a qcow2 volume, checked on
disk, and DeleteResourceInPool; a pool whose directory is missing does not
start and is not left defined. The pool 'cimdir' is left in place.

Usage: pywbem_qemu_storage.py URL DIR   (DIR/pool exists, DIR/missing not)"""
import os
import sys

import pywbem

url, base = sys.argv[1], sys.argv[2]
NS = "root/virt"
conn = pywbem.WBEMConnection(url, default_namespace=NS, timeout=60)


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


rpcs = conn.EnumerateInstanceNames("KVM_ResourcePoolConfigurationService")[0]


def pool_settings(path, autostart=1):
    return (f'instance of KVM_DiskPoolResourceAllocationSettingData {{ Type = 1; Path = "{path}"; '
            f'Autostart = {autostart}; }};')


# A directory that is not there: the pool does not start, and is undefined again.
missing = os.path.join(base, "missing")
e = expect_error(pywbem.CIM_ERR_FAILED,
                 lambda: conn.InvokeMethod("CreateChildResourcePool", rpcs, ElementName="cimmissing",
                                           Settings=[pool_settings(missing)]), "pool on a missing directory")
check(missing in e.status_description, e.status_description)
ids = [p["InstanceID"] for p in conn.EnumerateInstanceNames("KVM_DiskPool")]
check("DiskPool/cimmissing" not in ids, f"the pool that did not start is still defined: {ids}")
expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
             lambda: conn.InvokeMethod("CreateChildResourcePool", rpcs, ElementName="cimbad",
                                       Settings=[pool_settings(missing, 5)]), "Autostart 5")

pool_dir = os.path.join(base, "pool")
rc, out = conn.InvokeMethod("CreateChildResourcePool", rpcs, ElementName="cimdir", Settings=[pool_settings(pool_dir)])
check(rc == 0, f"CreateChildResourcePool rc {rc}")
pool = out["Pool"]
pool.namespace = NS
check(conn.GetInstance(pool)["Path"] == pool_dir, "pool path")


def volume(name, fmt, mib):
    return (f'instance of KVM_StorageVolumeResourceAllocationSettingData {{ VolumeName = "{name}"; '
            f'FormatType = {fmt}; Capacity = {mib}; AllocationUnits = "MiB"; }};')


created = {}
for name, fmt in [("raw.img", 1), ("disk.qcow2", 2)]:
    rc, out = conn.InvokeMethod("CreateResourceInPool", rpcs, Settings=volume(name, fmt, 4), Pool=pool)
    check(rc == 0, f"CreateResourceInPool {name} rc {rc}")
    path = out["Resource"]["InstanceID"]
    check(path == os.path.join(pool_dir, name), f"Resource {path}")
    check(os.path.isfile(path), f"{path} is not on disk")
    created[name] = path
with open(created["raw.img"], "rb") as f:
    f.seek(0, os.SEEK_END)
    check(f.tell() == 4 * 1024 * 1024, f"raw volume size {f.tell()}")
with open(created["disk.qcow2"], "rb") as f:
    check(f.read(4) == b"QFI\xfb", "the qcow2 volume has no qcow2 header")
res = pywbem.CIMInstanceName("KVM_StorageVolumeResourceAllocationSettingData",
                             {"InstanceID": created["disk.qcow2"]}, namespace=NS)
got = conn.GetInstance(res)
check(got["FormatType"] == 2 and got["Capacity"] == 4 * 1024 * 1024, f"qcow2 RASD {got}")
# A file of that name is there already: the driver refuses, nothing is overwritten.
expect_error(pywbem.CIM_ERR_FAILED,
             lambda: conn.InvokeMethod("CreateResourceInPool", rpcs, Settings=volume("raw.img", 1, 8), Pool=pool),
             "duplicate raw.img")
with open(created["raw.img"], "rb") as f:
    f.seek(0, os.SEEK_END)
    check(f.tell() == 4 * 1024 * 1024, "the duplicate call changed raw.img")

for name, path in created.items():
    resource = f'instance of KVM_DiskResourceAllocationSettingData {{ Address = "{path}"; }};'
    rc, _ = conn.InvokeMethod("DeleteResourceInPool", rpcs, Resource=resource, Pool=pool)
    check(rc == 0, f"DeleteResourceInPool {name} rc {rc}")
    check(not os.path.exists(path), f"{path} still on disk")
# The pool stays, for the caller to check its autostart flag in the core.
print("ok")
