"""Two agents on one broker: a console sees both, each answers only for its
own objects. usage: two_agents.py URL AGENT_A AGENT_B"""

import json
import sys

from qmfclient import Console, TOPIC

URL, A, B = sys.argv[1], sys.argv[2], sys.argv[3]
c = Console(URL)
cid = c.send(TOPIC, "console.request.agent_locate", "_agent_locate_request", {})
names = {json.loads(b)["_values"]["_name"] for p, b in c.collect(cid, timeout=3, until_final=False)}
assert {A, B} <= names, names

# A broadcast query: both answer, each with objects named for itself.
cid = c.send(TOPIC, "console.query", "_query_request",
             {"_what": "OBJECT", "_schema_id": {"_class_name": "domain"}})
replies = c.collect(cid, timeout=3, until_final=False)
owners = {}
for props, body in replies:
    for obj in json.loads(body):
        owners.setdefault(props.headers["qmf.agent"], []).append(obj["_object_id"]["_agent_name"])
assert set(owners) >= {A, B}, owners
for agent, oids in owners.items():
    assert all(o == agent for o in oids), (agent, oids)

# Define a domain on A only; B does not have it.
XML = """<domain type='test'><name>only-on-a</name><uuid>1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b</uuid>
<memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"""
out = c.ok(A, "node", "domainDefineXML", {"xmlDesc": XML})
name = out["domain"]["_object_name"]
assert out["domain"]["_agent_name"] == A
assert len(c.query(A, object_name=name)) == 1
assert c.query(B, object_name=name) == []
op, body = c.call(B, name, "getXMLDesc")
assert op == "_exception" and body["_values"]["error_code"] == 1, body
# A method request for A's object sent on the topic: only A answers.
cid = c.send(TOPIC, "console.method", "_method_request",
             {"_object_id": {"_agent_name": A, "_object_name": name}, "_method_name": "getXMLDesc"})
replies = c.collect(cid, timeout=3, until_final=False)
assert [p.headers["qmf.agent"] for p, _ in replies] == [A], [p.headers for p, _ in replies]
c.ok(A, name, "undefine")
print("two agents ok")
