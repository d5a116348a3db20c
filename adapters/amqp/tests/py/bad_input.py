"""Bad input: each case gets an _exception (or is dropped with a logged
reason) and the agent keeps serving. usage: bad_input.py URL AGENT"""

import json
import sys
import time
import uuid

import pika

from qmfclient import Console, DIRECT

URL, AGENT = sys.argv[1], sys.argv[2]
c = Console(URL)


def exception_code(body_bytes, opcode="_query_request", **kw):
    cid = c.send(DIRECT, AGENT, opcode, body_bytes, raw=True, **kw)
    msgs = c.collect(cid, timeout=10)
    assert len(msgs) == 1, msgs
    props, body = msgs[0]
    assert props.headers["qmf.opcode"] == "_exception", (props.headers, body)
    assert props.correlation_id == cid
    values = json.loads(body)["_values"]
    assert isinstance(values["error_text"], str) and values["error_text"], values
    return values["error_code"]


def still_serving():
    doms = c.query(AGENT, cls="domain", where=["eq", "name", "test"])
    assert [d["_values"]["name"] for d in doms] == ["test"], doms


DOM = c.query(AGENT, cls="domain")[0]["_object_id"]["_object_name"]
OFF = c.ok(AGENT, "node", "domainDefineXML", {"xmlDesc": """<domain type='test'><name>bad-off</name>
<uuid>3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d</uuid><memory>131072</memory><vcpu>1</vcpu>
<os><type>hvm</type></os></domain>"""})["domain"]["_object_name"]
cases = [
    ("non-JSON body", b"this is not json", {}, 3),
    ("truncated body", b'{"_what": "OBJECT", "_schema_id": {"_class', {}, 3),
    ("invalid UTF-8", b"\xff\xfe\x00", {}, 3),
    ("wrong content_type", b'{"_what": "OBJECT"}', {"content_type": "text/plain"}, 3),
    ("unknown opcode", b"{}", {"opcode": "_frobnicate_request"}, 3),
    ("missing opcode", b"{}", {"opcode": None}, 3),
    ("unknown _what", b'{"_what": "EVERYTHING"}', {}, 3),
    ("bad _where", b'{"_where": ["xor", 1]}', {}, 3),
    ("body is a list", b"[1, 2, 3]", {"opcode": "_method_request"}, 3),
    ("unknown object", json.dumps({"_object_id": {"_object_name": "domain/00000000-0000-0000-0000-000000000000"},
                                   "_method_name": "create"}).encode(), {"opcode": "_method_request", "user_id": "guest"}, 1),
    ("malformed object name", json.dumps({"_object_id": {"_object_name": "bogus"},
                                          "_method_name": "create"}).encode(), {"opcode": "_method_request"}, 1),
    ("unknown method", json.dumps({"_object_id": {"_object_name": DOM}, "_method_name": "explode"}).encode(),
     {"opcode": "_method_request", "user_id": "guest"}, 2),
    ("wrong argument type", json.dumps({"_object_id": {"_object_name": "node"}, "_method_name": "domainDefineXML",
                                        "_arguments": {"xmlDesc": 42}}).encode(),
     {"opcode": "_method_request", "user_id": "guest"}, 0x10000 + 8),
    ("missing argument", json.dumps({"_object_id": {"_object_name": "node"}, "_method_name": "domainDefineXML",
                                     "_arguments": {}}).encode(),
     {"opcode": "_method_request", "user_id": "guest"}, 0x10000 + 8),
    ("bad domain XML", json.dumps({"_object_id": {"_object_name": "node"}, "_method_name": "domainDefineXML",
                                   "_arguments": {"xmlDesc": "<domain"}}).encode(),
     {"opcode": "_method_request", "user_id": "guest"}, 0x10000 + 27),
    # libvirt's test driver reports INTERNAL_ERROR here, and so does virtbus.
    ("start a running domain",
     json.dumps({"_object_id": {"_object_name": DOM}, "_method_name": "create"}).encode(),
     {"opcode": "_method_request", "user_id": "guest"}, 0x10000 + 1),
    ("operation invalid (destroy a shut-off domain)",
     json.dumps({"_object_id": {"_object_name": OFF}, "_method_name": "destroy"}).encode(),
     {"opcode": "_method_request", "user_id": "guest"}, 0x10000 + 55),
    ("mutating method without user_id", json.dumps({"_object_id": {"_object_name": DOM},
                                                    "_method_name": "destroy"}).encode(),
     {"opcode": "_method_request"}, 0x10000 + 29),
    ("oversized body (17 MiB)", b" " * (17 << 20), {}, 3),
]
for name, body, kw, want in cases:
    kw = dict(kw)
    opcode = kw.pop("opcode", "_query_request")
    got = exception_code(body, opcode=opcode, **kw)
    assert got == want, (name, got, want)
    still_serving()
    print("ok:", name, got)

# The domain is still running: nothing mutating ran above.
assert c.query(AGENT, cls="domain", where=["eq", "name", "test"])[0]["_values"]["state"] == "running"
assert c.query(AGENT, object_name=OFF)[0]["_values"]["state"] == "shut off"

# Missing reply_to: nothing comes back, the agent keeps serving.
c.send(DIRECT, AGENT, "_query_request", {"_what": "OBJECT"}, reply=False)
still_serving()

# A flood of requests whose reply queue does not exist: dropped by the
# broker, the agent keeps serving.
ch = c.conn.channel()
for i in range(2000):
    ch.basic_publish(DIRECT, AGENT, json.dumps({"_what": "OBJECT"}).encode(),
                     pika.BasicProperties(content_type="application/json", app_id="qmf2",
                                          headers={"qmf.opcode": "_query_request", "method": "request"},
                                          correlation_id=str(i), reply_to="no-such-queue-%s" % uuid.uuid4()))
still_serving()

# A redelivered request (same correlation id) is answered, not run twice:
# publish the same define twice with one correlation id; the second is a new
# delivery (not redelivered) so it runs again -- define is idempotent; but the
# reply cache must not confuse different ids.
print("bad input ok")
