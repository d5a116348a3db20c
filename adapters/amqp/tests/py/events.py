"""Topic subscriptions get exactly the events they asked for.
usage: events.py URL AGENT_INSTANCE STATE_DIR VIRTBUS_BIN"""

import json
import subprocess
import sys
import time

import pika

URL, INSTANCE, STATE, BIN = sys.argv[1:5]
conn = pika.BlockingConnection(pika.URLParameters(URL))
ch = conn.channel()
patterns = {
    "all": "agent.ind.event.org_libvirt.#.%s" % INSTANCE,
    "stopped": "agent.ind.event.org_libvirt.domain.stopped.*.virtbus.agent.%s" % INSTANCE,
    "network": "agent.ind.event.org_libvirt.network.#.%s" % INSTANCE,
}
queues = {}
for name, pattern in patterns.items():
    q = ch.queue_declare(queue="", exclusive=True).method.queue
    ch.queue_bind(queue=q, exchange="qmf.default.topic", routing_key=pattern)
    queues[name] = q


def ctl(*args):
    subprocess.run([BIN, "ctl", "--state-dir", STATE] + list(args), check=True, capture_output=True)


ctl("destroy", "test")
ctl("start", "test")
ctl("net-destroy", "default")
ctl("net-start", "default")


def drain(q, want, secs=10):
    got = []
    deadline = time.time() + secs
    while time.time() < deadline and len(got) < want:
        m, props, body = ch.basic_get(q, auto_ack=True)
        if m is None:
            time.sleep(0.05)
            continue
        v = json.loads(body)[0]["_values"]
        got.append((m.routing_key, v))
    # Nothing more must arrive.
    time.sleep(0.5)
    m, _, _ = ch.basic_get(q, auto_ack=True)
    assert m is None, "unexpected extra event on %s" % q
    return got


allev = drain(queues["all"], 4)
assert [(v["class"], v["event"]) for _, v in allev] == [
    ("domain", "STOPPED"), ("domain", "STARTED"), ("network", "STOPPED"), ("network", "STARTED")], allev
k, v = allev[0]
assert k == "agent.ind.event.org_libvirt.domain.stopped.notice.virtbus.agent.%s" % INSTANCE, k
assert v["detail"] == "DESTROYED" and v["detail_code"] == 1 and v["name"] == "test", v
assert v["object_id"]["_object_name"] == "domain/" + v["uuid"]
assert isinstance(v["timestamp"], int) and v["timestamp"] > 10**18
seqs = [v["seq"] for _, v in allev]
assert seqs == list(range(seqs[0], seqs[0] + 4)), seqs
stopped = drain(queues["stopped"], 1)
assert [v["event"] for _, v in stopped] == ["STOPPED"], stopped
net = drain(queues["network"], 2)
assert [v["event"] for _, v in net] == ["STOPPED", "STARTED"] and all(v["class"] == "network" for _, v in net), net
print("events ok")
