"""cimtest's ComputerSystemIndication through pywbem: a WBEMListener and a
WBEMSubscriptionManager subscribe to KVM_ComputerSystemCreatedIndication,
ModifiedIndication (as CIM_InstModification WHERE SourceInstance ISA
KVM_ComputerSystem) and DeletedIndication; DefineSystem, RequestStateChange
and DestroySystem through CIM make them arrive, with SourceInstance and
PreviousInstance; removing the subscriptions removes the instances.

Usage: pywbem_indications.py URL GUEST"""
import queue
import socket
import sys

import pywbem

url, name = sys.argv[1], sys.argv[2]


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


received = queue.Queue()
port = free_port()
listener = pywbem.WBEMListener("127.0.0.1", http_port=port)
listener.add_callback(lambda indication, host: received.put(indication))
listener.start()

conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30)
server = pywbem.WBEMServer(conn)
sm = pywbem.WBEMSubscriptionManager("virtbustest")
try:
    sid = sm.add_server(server)
    dest = sm.add_destination(sid, f"http://127.0.0.1:{port}", destination_id="d1")
    check(dest["Destination"] == f"http://127.0.0.1:{port}", f"destination {dest}")
    queries = [
        "SELECT * FROM KVM_ComputerSystemCreatedIndication",
        "SELECT * FROM CIM_InstModification WHERE SourceInstance ISA KVM_ComputerSystem",
        "SELECT * FROM KVM_ComputerSystemDeletedIndication",
    ]
    for i, q in enumerate(queries):
        f = sm.add_filter(sid, "root/virt", q, filter_id=f"f{i}")
        sm.add_subscriptions(sid, f.path, [dest.path])
    subs = conn.EnumerateInstances("CIM_IndicationSubscription", namespace="root/interop")
    check(len(subs) == 3, f"subscriptions {subs}")
    refs = conn.ReferenceNames(dest.path, ResultClass="CIM_IndicationSubscription")
    check(len(refs) == 3, f"references of the destination {refs}")

    # A filter the server cannot evaluate is refused, not silently useless.
    try:
        sm.add_filter(sid, "root/virt", "SELECT * FROM CIM_Indication WHERE PerceivedSeverity = 2", filter_id="bad")
        check(False, "unsupported WHERE accepted")
    except pywbem.CIMError as e:
        check(e.status_code == pywbem.CIM_ERR_NOT_SUPPORTED, f"unsupported WHERE: {e.status_code}")
    # ModifyInstance disables and re-enables a subscription.
    sub = subs[0]
    sub["SubscriptionState"] = pywbem.Uint16(4)
    conn.ModifyInstance(sub, PropertyList=["SubscriptionState"])
    check(conn.GetInstance(sub.path)["SubscriptionState"] == 4, "subscription disabled")
    sub["SubscriptionState"] = pywbem.Uint16(2)
    conn.ModifyInstance(sub, PropertyList=["SubscriptionState"])
    check(conn.GetInstance(sub.path)["SubscriptionState"] == 2, "subscription enabled again")
    # A filter in use cannot be deleted.
    f0 = [f for f in sm.get_owned_filters(sid) if f["Name"].endswith(":f0")][0]
    try:
        conn.DeleteInstance(f0.path)
        check(False, "filter in use deleted")
    except pywbem.CIMError as e:
        check(e.status_code == pywbem.CIM_ERR_FAILED, f"delete of a filter in use: {e.status_code}")

    vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")[0]
    vssd = f'instance of KVM_VirtualSystemSettingData {{ VirtualSystemIdentifier = "{name}"; }};'
    got = []

    def wait_for(what, pred):
        """Collects indications until one satisfies pred; each step of the
        flow waits for its own indication, so the snapshot an indication is
        built from is the one that step made."""
        while True:
            try:
                ind = received.get(timeout=30)
            except queue.Empty:
                check(False, f"no {what}; indications so far: {[i.classname for i in got]}")
            got.append(ind)
            if pred(ind):
                return ind

    rc, out = conn.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[])
    check(rc == 0, f"DefineSystem rc {rc}")
    cs = out["ResultingSystem"]
    cs.namespace = "root/virt"
    wait_for("Created", lambda i: i.classname == "KVM_ComputerSystemCreatedIndication")
    rc, _ = conn.InvokeMethod("RequestStateChange", cs, RequestedState=pywbem.Uint16(2))
    check(rc == 0, "start")
    wait_for("Modified to EnabledState 2", lambda i: i.classname == "KVM_ComputerSystemModifiedIndication"
             and i["SourceInstance"]["EnabledState"] == 2)
    rc, _ = conn.InvokeMethod("DestroySystem", vsms, AffectedSystem=cs)
    check(rc == 0, "destroy")
    wait_for("Deleted", lambda i: i.classname == "KVM_ComputerSystemDeletedIndication")
    classes = [i.classname for i in got]
    check(classes[0] == "KVM_ComputerSystemCreatedIndication", f"first {classes}")
    check(classes[-1] == "KVM_ComputerSystemDeletedIndication", f"last {classes}")
    modified = [i for i in got if i.classname == "KVM_ComputerSystemModifiedIndication"]
    check(len(modified) >= 2, f"modified: {classes}")
    for ind in got:
        check(ind["SourceInstance"]["Name"] == name, f"SourceInstance of {ind.classname}")
        check(ind["IndicationTime"] is not None, "IndicationTime")
    check(len({i["IndicationIdentifier"] for i in got}) == len(got), "IndicationIdentifier unique")
    started = [m for m in modified if m["SourceInstance"]["EnabledState"] == 2]
    check(started and started[0]["PreviousInstance"]["EnabledState"] == 3,
          f"start as modified: {[(m['PreviousInstance']['EnabledState'], m['SourceInstance']['EnabledState']) for m in modified]}")
finally:
    sm.remove_all_servers()
    listener.stop()

for cls in ["CIM_IndicationSubscription", "CIM_IndicationFilter", "CIM_ListenerDestinationCIMXML"]:
    left = conn.EnumerateInstanceNames(cls, namespace="root/interop")
    check(left == [], f"{cls} left after remove_all_servers: {left}")
# Guests are not created with CreateInstance (DefineSystem is the way).
try:
    conn.CreateInstance(pywbem.CIMInstance("KVM_ComputerSystem", {"Name": "x", "CreationClassName": "KVM_ComputerSystem"}))
    check(False, "CreateInstance of a guest succeeded")
except pywbem.CIMError as e:
    check(e.status_code == pywbem.CIM_ERR_NOT_SUPPORTED, f"CreateInstance of a guest: {e.status_code}")
print("ok")
