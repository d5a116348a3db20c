"""Modified indications of a burst of changes made faster than delivery:
a slow pywbem WBEMListener (each indication takes 50 ms to handle)
subscribes to CIM_InstModification of KVM_ComputerSystem, prints "ready",
then prints, for each of the first COUNT Modified indications about GUEST,
"ind IDENTIFIER PREVIOUS SOURCE" with the EnabledState of PreviousInstance
and SourceInstance, in the order they arrived; the caller makes the changes
and checks the sequence.

Usage: pywbem_burst_indications.py URL GUEST COUNT"""
import queue
import socket
import sys
import time

import pywbem

url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


received = queue.Queue()


def slow(indication, host):
    time.sleep(0.05)
    received.put(indication)


port = free_port()
listener = pywbem.WBEMListener("127.0.0.1", http_port=port)
listener.add_callback(slow)
listener.start()
conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30)
sm = pywbem.WBEMSubscriptionManager("virtbusburst")
try:
    sid = sm.add_server(pywbem.WBEMServer(conn))
    dest = sm.add_destination(sid, f"http://127.0.0.1:{port}", destination_id="burst")
    f = sm.add_filter(sid, "root/virt",
                      "SELECT * FROM CIM_InstModification WHERE SourceInstance ISA KVM_ComputerSystem",
                      filter_id="burst")
    sm.add_subscriptions(sid, f.path, [dest.path])
    print("ready", flush=True)
    seen = 0
    while seen < count:
        try:
            ind = received.get(timeout=60)
        except queue.Empty:
            fail(f"only {seen} of {count} Modified indications arrived")
        if ind.classname != "KVM_ComputerSystemModifiedIndication" or ind["SourceInstance"]["Name"] != name:
            continue
        prev = ind["PreviousInstance"]
        print("ind", ind["IndicationIdentifier"], prev["EnabledState"] if prev is not None else "none",
              ind["SourceInstance"]["EnabledState"], flush=True)
        seen += 1
finally:
    sm.remove_all_servers()
    listener.stop()
print("ok", flush=True)
