"""scripts/bench-cim's client side: against a running `virtbus serve` with N
guests, times EnumerateInstances and OpenEnumerateInstances + PullInstancesWithPath
of KVM_ComputerSystem over plain HTTP (the server's time: request sent to
last byte received, on loopback), pywbem's own parse of the very same
response bytes (the tuple-tree SAX pass and TupleParser that
WBEMConnection runs on every reply), and the server's peak RSS above its
resident size before each operation (VmHWM after resetting it through
/proc/PID/clear_refs). Prints one JSON line.

Usage: bench_cim.py HOST:PORT SERVER_PID N PAGE"""
import http.client
import json
import sys
import time

from pywbem._tupleparse import TupleParser
from pywbem._tupletree import xml_to_tupletree_sax

addr, pid, n, page = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
host, port = addr.rsplit(":", 1)


def status_kb(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def reset_peak():
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def call(name, params):
    body = (
        '<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0">'
        '<MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
        f'<IMETHODCALL NAME="{name}"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/>'
        f'<NAMESPACE NAME="virt"/></LOCALNAMESPACEPATH>{params}</IMETHODCALL>'
        "</SIMPLEREQ></MESSAGE></CIM>"
    ).encode()
    conn = http.client.HTTPConnection(host, int(port), timeout=900)
    headers = {
        "Content-Type": 'application/xml; charset="utf-8"',
        "CIMOperation": "MethodCall",
        "CIMMethod": name,
        "CIMObject": "root%2Fvirt",
    }
    start = time.perf_counter()
    conn.request("POST", "/cimom", body, headers)
    resp = conn.getresponse()
    data = resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"{name}: HTTP {resp.status}: {data[:200]!r}")
    return data, elapsed


def parse(data):
    start = time.perf_counter()
    tup = TupleParser().parse_cim(xml_to_tupletree_sax(data, "CIM-XML response"))
    elapsed = time.perf_counter() - start
    if tup[0] != "CIM":
        raise SystemExit("unexpected parse result")
    return elapsed


CLASS = '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="KVM_ComputerSystem"/></IPARAMVALUE>'

# One small warm-up request (connection set-up paths, lazy statics).
call("EnumerateInstanceNames", '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="KVM_HostSystem"/></IPARAMVALUE>')

# The pull first, so that its peak is measured before the big response has
# grown the allocator's heap.
# Open + Pull in pages of PAGE.
before = status_kb("VmRSS")
rss_before_pull = before
reset_peak()
pull_server = 0.0
pull_parse = 0.0
pulled = 0
requests = 0
data, t = call("OpenEnumerateInstances", CLASS +
               f'<IPARAMVALUE NAME="MaxObjectCount"><VALUE>{page}</VALUE></IPARAMVALUE>')
while True:
    requests += 1
    pull_server += t
    pulled += data.count(b"<VALUE.INSTANCEWITHPATH>")
    pull_parse += parse(data)
    if b'NAME="EndOfSequence"><VALUE>TRUE' in data:
        break
    ctx = data.split(b'NAME="EnumerationContext"><VALUE>')[1].split(b"</VALUE>")[0].decode()
    if requests > n // max(page, 1) + 5:
        raise SystemExit("pull did not end")
    data, t = call("PullInstancesWithPath",
                   f'<IPARAMVALUE NAME="EnumerationContext"><VALUE>{ctx}</VALUE></IPARAMVALUE>'
                   f'<IPARAMVALUE NAME="MaxObjectCount"><VALUE>{page}</VALUE></IPARAMVALUE>')
pull_peak = status_kb("VmHWM") - before
if pulled != n:
    raise SystemExit(f"pull returned {pulled} instances, expected {n}")

# EnumerateInstances: one response with every guest.
before = status_kb("VmRSS")
reset_peak()
data, enum_server = call("EnumerateInstances", CLASS)
enum_peak = status_kb("VmHWM") - before
count = data.count(b"<VALUE.NAMEDINSTANCE>")
if count != n:
    raise SystemExit(f"EnumerateInstances returned {count} instances, expected {n}")
enum_bytes = len(data)
enum_parse = parse(data)
del data

print(json.dumps({
    "n": n,
    "enum_bytes": enum_bytes,
    "enum_server_s": enum_server,
    "enum_parse_s": enum_parse,
    "enum_peak_kb": enum_peak,
    "pull_page": page,
    "pull_requests": requests,
    "pull_server_s": pull_server,
    "pull_parse_s": pull_parse,
    "pull_peak_kb": pull_peak,
    "rss_kb": rss_before_pull,
}))
