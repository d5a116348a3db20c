"""A real qemu guest seen through QMF: the agent runs the native qemu driver;
this console binds to the domain events, starts the (defined) guest with
`virtbus ctl`, then queries it and suspends it through QMF.
usage: qemu_guest.py URL AGENT_NAME STATE_DIR VIRTBUS_BIN GUEST_NAME"""

import json
import subprocess
import sys
import time

from qmfclient import Console, TOPIC

URL, AGENT, STATE, BIN, GUEST = sys.argv[1:6]
INSTANCE = AGENT.split(":")[2]
c = Console(URL)

events = c.ch.queue_declare(queue="", exclusive=True).method.queue
c.ch.queue_bind(queue=events, exchange=TOPIC,
                routing_key="agent.ind.event.org_libvirt.domain.#.%s" % INSTANCE)


def ctl(*args):
    out = subprocess.run([BIN, "ctl", "--state-dir", STATE] + list(args), capture_output=True, text=True)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout


def next_events(want, secs=20):
    got = []
    deadline = time.time() + secs
    while time.time() < deadline and len(got) < want:
        m, props, body = c.ch.basic_get(events, auto_ack=True)
        if m is None:
            time.sleep(0.05)
            continue
        got.append((m.routing_key, json.loads(body)[0]["_values"]))
    assert len(got) == want, ("events", want, got)
    return got


def domain():
    found = c.query(AGENT, cls="domain", where=["eq", "name", GUEST])
    assert len(found) == 1, found
    return found[0]


# Defined, not running: shut off in QMF too.
d = domain()
assert d["_values"]["state"] == "shut off" and d["_values"]["active"] == "false", d["_values"]

ctl("start", GUEST)
# libvirt's qemu driver order for a start: RESUMED/UNPAUSED, then STARTED/BOOTED.
started = next_events(2)
assert [(v["event"], v["detail"]) for _, v in started] == [("RESUMED", "UNPAUSED"), ("STARTED", "BOOTED")], started
key, v = started[1]
assert key == "agent.ind.event.org_libvirt.domain.started.notice.virtbus.agent.%s" % INSTANCE, key
assert v["name"] == GUEST and v["class"] == "domain", v

d = domain()
values = d["_values"]
assert values["state"] == "running" and values["active"] == "true", values
assert values["numVcpus"] == 1, values
assert isinstance(values["id"], int) and values["id"] >= 1, values
assert values["maximumMemory"] == 65536, values
OBJ = d["_object_id"]["_object_name"]
assert OBJ == "domain/" + values["uuid"], OBJ
assert "<emulator>" in c.ok(AGENT, OBJ, "getXMLDesc")["description"]

# Suspend through QMF: qemu's vcpus stop; the event and the state follow.
c.ok(AGENT, OBJ, "suspend")
suspended = next_events(1)
assert [(v["event"], v["detail"]) for _, v in suspended] == [("SUSPENDED", "PAUSED")], suspended
assert domain()["_values"]["state"] == "paused"
assert ctl("domstate", GUEST).strip() == "paused"

# Nothing else arrived (no duplicate STOP from qemu's own event).
time.sleep(0.5)
m, _, _ = c.ch.basic_get(events, auto_ack=True)
assert m is None, "unexpected extra event"
print("qemu guest ok")
