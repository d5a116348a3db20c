"""End-to-end console test: locate, heartbeat, queries, every method of
every class, through pika against a running virtbus agent.
usage: console.py URL AGENT_NAME"""

import json
import sys
import time

import pika

from qmfclient import Console, TOPIC

URL, AGENT = sys.argv[1], sys.argv[2]
INSTANCE = AGENT.split(":")[2]
c = Console(URL)

# --- heartbeat: bind before anything else, wait for one of our agent ---
hb = c.ch.queue_declare(queue="", exclusive=True).method.queue
c.ch.queue_bind(queue=hb, exchange=TOPIC, routing_key="agent.ind.heartbeat.virtbus.agent")
deadline = time.time() + 10
beat = None
while time.time() < deadline and beat is None:
    m, props, body = c.ch.basic_get(hb, auto_ack=True)
    if m is None:
        time.sleep(0.1)
        continue
    v = json.loads(body)["_values"]
    if v["_name"] == AGENT:
        assert props.headers["qmf.opcode"] == "_agent_heartbeat_indication"
        assert props.headers["method"] == "indication"
        beat = v
assert beat is not None, "no heartbeat"
assert isinstance(beat["_timestamp"], int) and beat["_timestamp"] > 10**18, beat
assert beat["_heartbeat_interval"] == 1, beat
assert isinstance(beat["_epoch"], int)

# --- locate: broadcast on the topic exchange, with and without _where ---
cid = c.send(TOPIC, "console.request.agent_locate", "_agent_locate_request", {})
replies = c.collect(cid, timeout=3, until_final=False)
names = [json.loads(b)["_values"]["_name"] for p, b in replies
         if p.headers["qmf.opcode"] == "_agent_locate_response"]
assert AGENT in names, names
cid = c.send(TOPIC, "console.request.agent_locate", "_agent_locate_request",
             {"_where": ["and", ["eq", "_vendor", "virtbus"], ["eq", "_instance", INSTANCE]]})
replies = c.collect(cid, timeout=3, until_final=False)
names = [json.loads(b)["_values"]["_name"] for p, b in replies]
assert names == [AGENT], names
cid = c.send(TOPIC, "console.request.agent_locate", "_agent_locate_request",
             ["eq", "_instance", "nobody-has-this-name"])
replies = [r for r in c.collect(cid, timeout=2, until_final=False) if r[0].headers.get("qmf.agent") == AGENT]
assert replies == [], replies

# --- queries ---
node = c.query(AGENT, cls="node")
assert len(node) == 1 and node[0]["_object_id"]["_object_name"] == "node", node
nv = node[0]["_values"]
assert nv["cpus"] == 16 and nv["mhz"] == 1400 and nv["hypervisorType"] == "TEST", nv
assert nv["uri"] == "test:///default"
doms = c.query(AGENT, cls="domain")
assert [d["_values"]["name"] for d in doms] == ["test"], doms
d = doms[0]
assert d["_schema_id"]["_class_name"] == "domain" and d["_schema_id"]["_package_name"] == "org.libvirt"
assert d["_values"]["state"] == "running" and d["_values"]["active"] == "true"
assert d["_values"]["id"] == 1 and d["_values"]["numVcpus"] == 2
assert isinstance(d["_update_ts"], int) and d["_delete_ts"] == 0
DOM = d["_object_id"]["_object_name"]
assert DOM == "domain/" + d["_values"]["uuid"]
assert c.query(AGENT, cls="domain", where=["eq", "name", "nope"]) == []
assert len(c.query(AGENT, cls="domain", where=["re_match", "name", "^te"])) == 1
ids = c.query(AGENT, what="OBJECT_ID", cls="pool")
assert ids and all(set(i) == {"_agent_name", "_object_name"} for i in ids), ids
pools = c.query(AGENT, cls="pool")
POOL = [p for p in pools if p["_values"]["name"] == "default-pool"][0]["_object_id"]["_object_name"]
nets = c.query(AGENT, cls="network")
NET = [n for n in nets if n["_values"]["name"] == "default"][0]["_object_id"]["_object_name"]
by_id = c.query(AGENT, object_name=DOM)
assert len(by_id) == 1 and by_id[0]["_values"]["name"] == "test"
stats = c.query(AGENT, cls="domainStats")
assert len(stats) == 1 and stats[0]["_values"]["domain"]["_object_name"] == DOM, stats
allobjs = c.query(AGENT)
classes = {o["_schema_id"]["_class_name"] for o in allobjs}
assert {"node", "domain", "pool", "network"} <= classes, classes
sids = c.query(AGENT, what="SCHEMA_ID")
assert {"node", "domain", "pool", "volume", "network", "domainStats", "domainEvent"} <= {s["_class_name"] for s in sids}
schema = c.query(AGENT, what="SCHEMA", cls="domain")
assert len(schema) == 1 and "getXMLDesc" in schema[0]["_methods"] and "cpuTime" in schema[0]["_properties"]
assert c.query(AGENT, cls="noSuchClass") == []

# --- node methods ---
v = c.ok(AGENT, "node", "getVersion")
assert v["hypervisorType"] == "TEST" and v["hypervisorVersion"] == "0.0.2", v
DOMXML = """<domain type='test'><name>qmf-e2e</name><uuid>8f0a0a61-2c9e-4a55-9a6c-3c2b0d1e6f01</uuid>
<memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"""
out = c.ok(AGENT, "node", "domainDefineXML", {"xmlDesc": DOMXML})
NEWDOM = out["domain"]["_object_name"]
assert NEWDOM == "domain/8f0a0a61-2c9e-4a55-9a6c-3c2b0d1e6f01", out
assert c.query(AGENT, object_name=NEWDOM)[0]["_values"]["state"] == "shut off"
op, body = c.call(AGENT, "node", "findStoragePoolSources", {"type": "logical", "srcSpec": ""})
assert op == "_exception" and body["_values"]["error_code"] == 0x10000 + 3, body
POOLXML = """<pool type='dir'><name>qmf-pool</name><uuid>5b2e0f3c-8d3a-4d6b-9a1f-0c9d8e7f6a51</uuid>
<target><path>/qmf-pool</path></target></pool>"""
out = c.ok(AGENT, "node", "storagePoolDefineXML", {"xmlDesc": POOLXML})
NEWPOOL = out["pool"]["_object_name"]
NETXML = """<network><name>qmf-net</name><uuid>0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f</uuid>
<bridge name='qmfbr0'/></network>"""
out = c.ok(AGENT, "node", "networkDefineXML", {"xmlDesc": NETXML})
NEWNET = out["network"]["_object_name"]

# --- domain methods ---
assert "<name>qmf-e2e</name>" in c.ok(AGENT, NEWDOM, "getXMLDesc")["description"]
for m, state in [("create", "running"), ("suspend", "paused"), ("resume", "running"),
                 ("reboot", "running"), ("shutdown", "shut off"), ("create", "running"),
                 ("destroy", "shut off")]:
    c.ok(AGENT, NEWDOM, m)
    got = c.query(AGENT, object_name=NEWDOM)[0]["_values"]["state"]
    assert got == state, (m, got, state)
for m, args in [("save", {"filename": "/tmp/x"}), ("restore", {"filename": "/tmp/x"}), ("migrate", {})]:
    op, body = c.call(AGENT, NEWDOM, m, args)
    assert op == "_exception" and body["_values"]["error_code"] == 0x10000 + 3, (m, body)
c.ok(AGENT, NEWDOM, "undefine")
assert c.query(AGENT, object_name=NEWDOM) == []

# --- pool and volume methods ---
assert "<name>qmf-pool</name>" in c.ok(AGENT, NEWPOOL, "getXMLDesc")["description"]
c.ok(AGENT, NEWPOOL, "build")
c.ok(AGENT, NEWPOOL, "create")
assert c.query(AGENT, object_name=NEWPOOL)[0]["_values"]["state"] == "running"
c.ok(AGENT, NEWPOOL, "refresh")
VOLXML = "<volume><name>disk1.img</name><capacity unit='M'>10</capacity></volume>"
out = c.ok(AGENT, NEWPOOL, "createVolumeXML", {"xmlDesc": VOLXML})
VOL = out["volume"]["_object_name"]
vols = c.query(AGENT, object_name=VOL)
assert len(vols) == 1 and vols[0]["_values"]["capacity"] == 10 * 1024 * 1024, vols
assert vols[0]["_values"]["storagePool"]["_object_name"] == NEWPOOL
assert "disk1.img" in c.ok(AGENT, VOL, "getXMLDesc")["description"]
c.ok(AGENT, VOL, "delete")
assert c.query(AGENT, object_name=VOL) == []
c.ok(AGENT, NEWPOOL, "destroy")
c.ok(AGENT, NEWPOOL, "delete")
c.ok(AGENT, NEWPOOL, "undefine")
assert c.query(AGENT, object_name=NEWPOOL) == []
assert "default-pool" in c.ok(AGENT, POOL, "getXMLDesc")["description"]

# --- network methods ---
assert "qmf-net" in c.ok(AGENT, NEWNET, "getXMLDesc")["description"]
c.ok(AGENT, NEWNET, "create")
assert c.query(AGENT, object_name=NEWNET)[0]["_values"]["active"] is True
c.ok(AGENT, NEWNET, "destroy")
c.ok(AGENT, NEWNET, "undefine")
assert c.query(AGENT, object_name=NEWNET) == []
assert "default" in c.ok(AGENT, NET, "getXMLDesc")["description"]

# --- create-style node methods (transient objects) ---
out = c.ok(AGENT, "node", "domainCreateXML", {"xmlDesc": DOMXML.replace("qmf-e2e", "qmf-tr").replace("6f01", "6f02")})
TR = out["domain"]["_object_name"]
assert c.query(AGENT, object_name=TR)[0]["_values"]["persistent"] is False
c.ok(AGENT, TR, "destroy")
out = c.ok(AGENT, "node", "storagePoolCreateXML", {"xmlDesc": POOLXML.replace("qmf-pool", "qmf-pool2").replace("6a51", "6a52")})
c.ok(AGENT, out["pool"]["_object_name"], "destroy")
out = c.ok(AGENT, "node", "networkCreateXML", {"xmlDesc": NETXML.replace("qmf-net", "qmf-net2").replace("3e4f", "3e40").replace("qmfbr0", "qmfbr1")})
c.ok(AGENT, out["network"]["_object_name"], "destroy")

# --- direct reply-to works too ---
d2 = Console(URL, direct_reply_to=True)
assert d2.ok(AGENT, DOM, "getXMLDesc")["description"].startswith("<domain")
d2.close()
c.close()
print("console e2e ok")
