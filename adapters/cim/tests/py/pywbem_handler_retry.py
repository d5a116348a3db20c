"""Indication subscriptions made by hand with CreateInstance (no
WBEMSubscriptionManager): one filter, a CIM_IndicationHandlerCIMXML pointing
at a pywbem WBEMListener, and a CIM_ListenerDestinationCIMXML pointing at a
listener that answers 503 to its first two requests. DefineSystem makes a
Created indication; the WBEMListener receives it through the handler, and
the failing listener gets the same indication (same IndicationIdentifier,
with Content-Length) again until it answers 200 — the retries. Unknown or
mistyped properties at CreateInstance are refused.

Usage: pywbem_handler_retry.py URL GUEST"""
import http.server
import queue
import re
import socket
import sys
import threading

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
listen_port = free_port()
listener = pywbem.WBEMListener("127.0.0.1", http_port=listen_port)
listener.add_callback(lambda indication, host: received.put(indication))
listener.start()

posts = []
delivered = threading.Event()


class Flaky(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = self.headers.get("Content-Length")
        body = self.rfile.read(int(length)) if length is not None else b""
        ident = re.search(rb'<PROPERTY NAME="IndicationIdentifier"[^>]*><VALUE>([^<]*)</VALUE>', body)
        posts.append((length is not None, self.headers.get("CIMExportMethod"), ident.group(1) if ident else None))
        status = 503 if len(posts) <= 2 else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if status == 200:
            delivered.set()

    def log_message(self, *args):
        pass


flaky = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
threading.Thread(target=flaky.serve_forever, daemon=True).start()
flaky_port = flaky.server_address[1]

conn = pywbem.WBEMConnection(url, default_namespace="root/virt", timeout=30)
interop = "root/interop"


def create(cls, props):
    return conn.CreateInstance(pywbem.CIMInstance(cls, props), namespace=interop)


def expect_error(code, fn, what):
    try:
        fn()
    except pywbem.CIMError as e:
        check(e.status_code == code, f"{what}: status {e.status_code} ({e.status_description})")
        return
    check(False, f"{what} succeeded")


created = []
try:
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create("CIM_IndicationHandlerCIMXML",
                                {"Name": "bogus", "Destination": f"http://127.0.0.1:{listen_port}",
                                 "NoSuchProperty": "x"}),
                 "a handler with an unknown property")
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create("CIM_IndicationFilter", {"Name": "nofrom", "Query": "SELECT *",
                                                         "QueryLanguage": "WQL"}),
                 "a filter whose query has no FROM")
    f = create("CIM_IndicationFilter", {"Name": "handtest", "QueryLanguage": "WQL",
                                        "Query": "SELECT * FROM KVM_ComputerSystemCreatedIndication"})
    created.append(f)
    h = create("CIM_IndicationHandlerCIMXML", {"Name": "handler", "Destination": f"http://127.0.0.1:{listen_port}"})
    created.append(h)
    d = create("CIM_ListenerDestinationCIMXML", {"Name": "flaky", "Destination": f"http://127.0.0.1:{flaky_port}"})
    created.append(d)
    for dest in (h, d):
        created.insert(0, create("CIM_IndicationSubscription", {"Filter": f, "Handler": dest}))
    expect_error(pywbem.CIM_ERR_INVALID_PARAMETER,
                 lambda: create("CIM_IndicationSubscription", {"Filter": "not a reference", "Handler": h}),
                 "a subscription whose Filter is a string")
    handlers = conn.EnumerateInstances("CIM_IndicationHandlerCIMXML", namespace=interop)
    check([x["Name"] for x in handlers] == ["handler"], f"handlers {handlers}")

    vsms = conn.EnumerateInstanceNames("KVM_VirtualSystemManagementService")[0]
    vssd = f'instance of KVM_VirtualSystemSettingData {{ VirtualSystemIdentifier = "{name}"; }};'
    rc, _ = conn.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[])
    check(rc == 0, f"DefineSystem rc {rc}")
    try:
        ind = received.get(timeout=30)
    except queue.Empty:
        check(False, "nothing arrived through the CIM_IndicationHandlerCIMXML")
    check(ind.classname == "KVM_ComputerSystemCreatedIndication" and ind["SourceInstance"]["Name"] == name,
          f"through the handler: {ind.classname}")
    check(delivered.wait(30), f"the failing listener never got a request it accepted: {posts}")
    check(len(posts) == 3, f"three attempts: {posts}")
    check(all(has_length and method == "ExportIndication" for has_length, method, _ in posts), f"requests {posts}")
    idents = {i for _, _, i in posts}
    check(len(idents) == 1 and None not in idents and idents == {ind["IndicationIdentifier"].encode()},
          f"the same indication each time: {posts} vs {ind['IndicationIdentifier']}")
    cs = pywbem.CIMInstanceName("KVM_ComputerSystem", {"CreationClassName": "KVM_ComputerSystem", "Name": name},
                                namespace="root/virt")
    rc, _ = conn.InvokeMethod("DestroySystem", vsms, AffectedSystem=cs)
    check(rc == 0, "DestroySystem")
finally:
    for path in created:
        conn.DeleteInstance(path)
    listener.stop()
    flaky.shutdown()
for cls in ["CIM_IndicationSubscription", "CIM_IndicationFilter", "CIM_IndicationHandlerCIMXML",
            "CIM_ListenerDestinationCIMXML"]:
    left = conn.EnumerateInstanceNames(cls, namespace=interop)
    check(left == [], f"{cls} left: {left}")
print("ok")
