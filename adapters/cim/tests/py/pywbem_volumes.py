"""KVM_ResourcePoolConfigurationService.CreateResourceInPool and
DeleteResourceInPool through pywbem (cimtest RPCS/10, 11, 13 and 14):
storage volumes in a disk pool, with the bad-input cases.

Usage: pywbem_volumes.py URL POOL VOLUME create|delete
  create: creates VOLUME (1 GiB raw, 512 MiB allocated) in POOL, checks the
          returned Resource and the RASD instance, then the errors; leaves
          VOLUME in place for the caller to find in `virtbus ctl vol-list`.
  delete: deletes VOLUME, then the delete errors."""
import sys

import pywbem

url, pool_name, vol, phase = sys.argv[1:5]
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
pools = {p["InstanceID"]: p for p in conn.EnumerateInstances("KVM_DiskPool")}
pool = pools[f"DiskPool/{pool_name}"]
pool_path = pool.path
pool_dir = pool["Path"]
vol_path = f"{pool_dir}/{vol}"


def settings(**props):
    base = {"ResourceType": pywbem.Uint16(32768), "VolumeName": vol, "Path": vol_path,
            "FormatType": pywbem.Uint16(1), "Capacity": pywbem.Uint64(1), "AllocationUnits": "G"}
    base.update(props)
    inst = pywbem.CIMInstance("KVM_StorageVolumeResourceAllocationSettingData",
                              {k: v for k, v in base.items() if v is not None})
    return inst.tocimxmlstr()


def create(**kw):
    return conn.InvokeMethod("CreateResourceInPool", rpcs, **kw)


missing_pool = pywbem.CIMInstanceName("KVM_DiskPool", {"InstanceID": "DiskPool/no-such-pool"}, namespace=NS)
net_pool = pywbem.CIMInstanceName("KVM_NetworkPool", {"InstanceID": "NetworkPool/default"}, namespace=NS)

if phase == "create":
    # cimtest sends MOF text (its Path is the pool's directory).
    mof = (f'instance of KVM_StorageVolumeResourceAllocationSettingData {{ ResourceType = 32768; '
           f'VolumeName = "{vol}"; Path = "{pool_dir}"; FormatType = 1; Capacity = 1024; '
           f'AllocationQuantity = 512; AllocationUnits = "MiB"; }};')
    rc, out = create(Settings=mof, Pool=pool_path)
    check(rc == 0, f"CreateResourceInPool rc {rc}")
    res = out["Resource"]
    check(res.classname == "KVM_StorageVolumeResourceAllocationSettingData", f"Resource class {res}")
    check(res["InstanceID"] == vol_path, f"Resource InstanceID {res['InstanceID']} != {vol_path}")
    res.namespace = NS
    inst = conn.GetInstance(res)
    check(inst["VolumeName"] == vol and inst["Path"] == vol_path, f"volume RASD {inst}")
    check(inst["Capacity"] == 1024 ** 3 and inst["AllocationUnits"] == "Bytes", f"capacity {inst['Capacity']}")
    check(inst["AllocationQuantity"] == 512 * 1024 ** 2, f"allocation {inst['AllocationQuantity']}")
    check(inst["FormatType"] == 1 and inst["PoolID"] == f"DiskPool/{pool_name}", f"format/pool {inst}")
    ids = [i["InstanceID"] for i in conn.EnumerateInstanceNames("KVM_StorageVolumeResourceAllocationSettingData")]
    check(vol_path in ids, f"{vol_path} not enumerated: {ids}")
    # The same name again: CIM_ERR_FAILED, as libvirt-cim answers (cimtest RPCS/11).
    expect_error(pywbem.CIM_ERR_FAILED, lambda: create(Settings=settings(), Pool=pool_path),
                 "duplicate volume", "Unable to create storage volume")
    # Bad input; none of it creates anything.
    for name in ["a/b", "..", "."]:
        expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                     lambda: create(Settings=settings(VolumeName=name, Path=None), Pool=pool_path),
                     f"VolumeName {name!r}")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create(Settings=settings(VolumeName="x.img", Path="/etc/x.img"), Pool=pool_path),
                 "Path outside the pool")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create(Settings=settings(VolumeName="x.img", Path=None, FormatType=pywbem.Uint16(77)),
                                Pool=pool_path), "FormatType 77", "FormatType 77")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create(Settings=settings(VolumeName="x.img", Path=None, Capacity=None), Pool=pool_path),
                 "no Capacity")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create(Settings=settings(VolumeName=None, Path=None), Pool=pool_path), "no VolumeName")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create(Settings=settings(VolumeName="x.img", Path=None, AllocationUnits="parsecs"),
                                Pool=pool_path), "bad AllocationUnits")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create(Settings="instance of KVM_StorageVolumeResourceAllocationSettingData {",
                                Pool=pool_path), "truncated MOF")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER, lambda: create(Pool=pool_path), "no Settings")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER, lambda: create(Settings=settings(VolumeName="x.img")),
                 "no Pool")
    expect_error(pywbem.CIM_ERR_NOT_FOUND,
                 lambda: create(Settings=settings(VolumeName="x.img", Path=None), Pool=missing_pool),
                 "unknown pool", "no-such-pool")
    expect_error(pywbem.CIM_ERR_NOT_SUPPORTED,
                 lambda: create(Settings=settings(VolumeName="x.img", Path=None), Pool=net_pool),
                 "network pool")
    disk = ('instance of KVM_DiskResourceAllocationSettingData { ResourceType = 17; '
            'Address = "/tmp/x.img"; };')
    expect_error(pywbem.CIM_ERR_NOT_SUPPORTED, lambda: create(Settings=disk, Pool=pool_path), "disk RASD")
    ids = [i["InstanceID"] for i in conn.EnumerateInstanceNames("KVM_StorageVolumeResourceAllocationSettingData")]
    check(not any(i.endswith("/x.img") or i.endswith("/a/b") for i in ids), f"a bad call created a volume: {ids}")
elif phase == "delete":
    res = pywbem.CIMInstanceName("KVM_StorageVolumeResourceAllocationSettingData", {"InstanceID": vol_path},
                                 namespace=NS)
    inst = conn.GetInstance(res)
    # As an embedded-instance parameter (pywbem sends the INSTANCE), and as
    # text of the instance with its path (VALUE.OBJECTWITHLOCALPATH).
    resource = inst
    check(inst.tocimxmlstr().startswith("<VALUE.OBJECTWITHLOCALPATH>"), inst.tocimxmlstr()[:40])

    def delete(**kw):
        return conn.InvokeMethod("DeleteResourceInPool", rpcs, **kw)

    # cimtest RPCS/14: a RASD whose Address names no volume, none at all, missing arguments.
    junk = 'instance of KVM_DiskResourceAllocationSettingData { ResourceType = 17; Address = "Junkvol_path"; };'
    expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: delete(Resource=junk, Pool=pool_path), "junk Address",
                 "no storage vol with matching path")
    nothing = 'instance of KVM_DiskResourceAllocationSettingData { ResourceType = 17; };'
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER, lambda: delete(Resource=nothing, Pool=pool_path), "no Address")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER, lambda: delete(Pool=pool_path), "no Resource")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER, lambda: delete(Resource=resource), "no Pool")
    expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: delete(Resource=resource, Pool=missing_pool), "unknown pool")
    conn.GetInstance(res)  # still there after all of that

    rc, out = delete(Resource=inst.tocimxmlstr(), Pool=pool_path)
    check(rc == 0, f"DeleteResourceInPool rc {rc}")
    expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: conn.GetInstance(res), "deleted volume still there")
    expect_error(pywbem.CIM_ERR_NOT_FOUND, lambda: delete(Resource=resource, Pool=pool_path), "deleting it again")
else:
    check(False, f"unknown phase {phase}")
# The server still answers after every refusal.
check(conn.EnumerateInstanceNames("KVM_DiskPool"), "server still serving")
print("ok")
