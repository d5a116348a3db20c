"""Subscriptions outlive an agent restart. Two phases, one per agent run:

  pywbem_persist.py subscribe URL PORT  -> creates a (not owned) filter,
      destination http://127.0.0.1:PORT and subscription, then exits
  pywbem_persist.py receive URL PORT GUEST -> listens on PORT, defines
      GUEST through CIM and waits for its KVM_ComputerSystemCreatedIndication"""
import queue
import sys

import pywbem

mode, url, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30)


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


if mode == "subscribe":
    sm = pywbem.WBEMSubscriptionManager("persist")
    sid = sm.add_server(pywbem.WBEMServer(conn))
    dest = sm.add_destination(sid, f"http://127.0.0.1:{port}", owned=False, name="persist-dest")
    f = sm.add_filter(sid, "root/virt", "SELECT * FROM KVM_ComputerSystemCreatedIndication",
                      owned=False, name="persist-filter")
    sm.add_subscriptions(sid, f.path, [dest.path], owned=False)
    print("ok")
    sys.exit(0)

name = sys.argv[4]
subs = conn.EnumerateInstances("CIM_IndicationSubscription", namespace="root/interop")
check(len(subs) == 1, f"subscriptions after restart: {subs}")
received = queue.Queue()
listener = pywbem.WBEMListener("127.0.0.1", http_port=port)
listener.add_callback(lambda indication, host: received.put(indication))
listener.start()
try:
    vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")[0]
    vssd = f'instance of KVM_VirtualSystemSettingData {{ VirtualSystemIdentifier = "{name}"; }};'
    rc, _ = conn.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[])
    check(rc == 0, f"DefineSystem rc {rc}")
    try:
        ind = received.get(timeout=30)
    except queue.Empty:
        check(False, "no indication after restart")
    check(ind.classname == "KVM_ComputerSystemCreatedIndication", ind.classname)
    check(ind["SourceInstance"]["Name"] == name, "SourceInstance")
finally:
    listener.stop()
print("ok")
