"""Indications to https:// listener destinations: two pywbem WBEMListeners
on HTTPS, one with a certificate for 127.0.0.1 from the CA the agent trusts
(listener_ca_file), one from another CA. A DefineSystem's Created indication
reaches the first at https://127.0.0.1:PORT; the second never gets one, and
neither does the first through https://localhost:PORT, a name its
certificate does not carry (the agent's TLS verification refuses both,
which the caller sees in the agent's log).

Usage: pywbem_https_listener.py URL PKI_DIR GUEST
  PKI_DIR holds server.pem/server.key (signed by the trusted CA) and
  rogue-server.pem/rogue-server.key (signed by another CA).
  Prints 'delivered <untrusted port> <trusted port>' once the trusted
  listener has its indication, then waits for a line on stdin before
  cleaning up."""
import os
import queue
import socket
import sys

import pywbem

url, pki, name = sys.argv[1:4]
NS = "root/virt"


def check(cond, msg):
    if not cond:
        print("FAIL:", msg, flush=True)
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def https_listener(prefix):
    port = free_port()
    got = queue.Queue()
    listener = pywbem.WBEMListener("127.0.0.1", https_port=port,
                                   certfile=os.path.join(pki, f"{prefix}server.pem"),
                                   keyfile=os.path.join(pki, f"{prefix}server.key"))
    listener.add_callback(lambda indication, host: got.put(indication))
    listener.start()
    return listener, port, got


trusted, trusted_port, trusted_got = https_listener("")
rogue, rogue_port, rogue_got = https_listener("rogue-")
conn = pywbem.WBEMConnection(url, default_namespace=NS, timeout=30)
sm = pywbem.WBEMSubscriptionManager("virtbushttps")
try:
    sid = sm.add_server(pywbem.WBEMServer(conn))
    flt = sm.add_filter(sid, NS, "SELECT * FROM KVM_ComputerSystemCreatedIndication", filter_id="created")
    for host, port, dest_id in [("127.0.0.1", trusted_port, "trusted"), ("127.0.0.1", rogue_port, "rogue"),
                                ("localhost", trusted_port, "byname")]:
        dest = sm.add_destination(sid, f"https://{host}:{port}", destination_id=dest_id)
        check(dest["Destination"] == f"https://{host}:{port}", f"destination {dest}")
        sm.add_subscriptions(sid, flt.path, [dest.path])

    vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")[0]
    vssd = f'instance of KVM_VirtualSystemSettingData {{ VirtualSystemIdentifier = "{name}"; }};'
    rc, out = conn.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[])
    check(rc == 0, f"DefineSystem rc {rc}")
    # A bound on the wait, not a timing assertion: delivery takes milliseconds.
    try:
        ind = trusted_got.get(timeout=60)
    except queue.Empty:
        check(False, "no indication at the trusted https listener")
    check(ind.classname == "KVM_ComputerSystemCreatedIndication", f"class {ind.classname}")
    check(ind["SourceInstance"]["Name"] == name, f"SourceInstance {ind['SourceInstance']}")
    print(f"delivered {rogue_port} {trusted_port}", flush=True)
    sys.stdin.readline()
    # The agent has given up on both refused destinations by now.
    check(rogue_got.empty(), "the listener with an untrusted certificate got an indication")
    check(trusted_got.empty(), "the trusted listener got a second indication, through a name not in its certificate")
    cs = out["ResultingSystem"]
    cs.namespace = NS
    conn.InvokeMethod("DestroySystem", vsms, AffectedSystem=cs)
finally:
    sm.remove_all_servers()
    trusted.stop()
    rogue.stop()
print("ok", flush=True)
