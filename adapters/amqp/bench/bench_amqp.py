"""AMQP benchmark peer (scripts/bench-amqp): round trips through virtbus
versus a bare RabbitMQ echo on the same broker, a query of every domain,
and the confirmed event rate. Prints one JSON object.
usage: bench_amqp.py URL AGENT ROUNDS EVENT_PAIRS"""

import json
import statistics
import sys
import threading
import time
import uuid

import pika

URL, AGENT, ROUNDS, PAIRS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
INSTANCE = AGENT.split(":")[2]
PROPS = dict(content_type="application/json", app_id="qmf2")


def echo_server(ready):
    conn = pika.BlockingConnection(pika.URLParameters(URL))
    ch = conn.channel()
    ch.queue_declare(queue="bench-echo", auto_delete=True)

    def on(ch, method, props, body):
        ch.basic_publish("", props.reply_to, body,
                         pika.BasicProperties(correlation_id=props.correlation_id, **PROPS))
        ch.basic_ack(method.delivery_tag)

    ch.basic_consume("bench-echo", on)
    ready.set()
    try:
        ch.start_consuming()
    except Exception:
        pass


class Client:
    def __init__(self):
        self.conn = pika.BlockingConnection(pika.URLParameters(URL))
        self.ch = self.conn.channel()
        self.q = self.ch.queue_declare(queue="", exclusive=True).method.queue
        self.got = {}
        self.ch.basic_consume(self.q, self.on, auto_ack=True)

    def on(self, ch, method, props, body):
        self.got.setdefault(props.correlation_id, []).append((props, body))

    def send(self, exchange, key, body, headers=None):
        cid = str(uuid.uuid4())
        self.ch.basic_publish(exchange, key, body, pika.BasicProperties(
            correlation_id=cid, reply_to=self.q, headers=headers, user_id="guest", **PROPS))
        return cid

    def wait(self, cid, final=True):
        while True:
            msgs = self.got.get(cid)
            if msgs and (not final or "partial" not in ((msgs[-1][0].headers) or {})):
                return self.got.pop(cid)
            self.conn.process_data_events(time_limit=0.01)


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


ready = threading.Event()
threading.Thread(target=echo_server, args=(ready,), daemon=True).start()
ready.wait(10)
c = Client()
H = lambda op: {"qmf.opcode": op, "method": "request"}
dom = json.loads(c.wait(c.send("qmf.default.direct", AGENT, json.dumps(
    {"_what": "OBJECT_ID", "_schema_id": {"_class_name": "domain"}, "_where": ["eq", "name", "test"]}),
    H("_query_request")))[0][1])[0]["_object_name"]
req = json.dumps({"_object_id": {"_object_name": dom}, "_method_name": "getXMLDesc"})


def rtts(exchange, key, headers):
    out = []
    for i in range(ROUNDS + 50):
        t = time.perf_counter()
        c.wait(c.send(exchange, key, req, headers))
        if i >= 50:  # warm-up
            out.append((time.perf_counter() - t) * 1e6)
    return out


# Interleave the two so both see the same broker conditions.
echo, virt = [], []
for _ in range(4):
    echo += rtts("", "bench-echo", H("_method_request"))
    virt += rtts("qmf.default.direct", AGENT, H("_method_request"))

t = time.perf_counter()
msgs = c.wait(c.send("qmf.default.direct", AGENT, json.dumps({"_what": "OBJECT", "_schema_id": {"_class_name": "domain"}}),
                     H("_query_request")))
query_s = time.perf_counter() - t
n_domains = sum(len(json.loads(b)) for _, b in msgs)

# Confirmed event rate: a subscriber queue, then define/undefine pairs sent
# pipelined (not waiting for each reply); time from the first request to
# the last event received.
sub = c.ch.queue_declare(queue="", exclusive=True).method.queue
c.ch.queue_bind(sub, "qmf.default.topic", "agent.ind.event.org_libvirt.domain.#.%s" % INSTANCE)
events = [0]
c.ch.basic_consume(sub, lambda ch, m, p, b: events.__setitem__(0, events[0] + 1), auto_ack=True)
XML = "<domain type='test'><name>bench-%d</name><memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
t = time.perf_counter()
cids = []
for i in range(PAIRS):
    cids.append(c.send("qmf.default.direct", AGENT, json.dumps(
        {"_object_id": {"_object_name": "node"}, "_method_name": "domainDefineXML", "_arguments": {"xmlDesc": XML % i}}),
        H("_method_request")))
for cid in cids:
    c.wait(cid)
deadline = time.time() + 120
while events[0] < PAIRS and time.time() < deadline:
    c.conn.process_data_events(time_limit=0.05)
event_s = time.perf_counter() - t
print(json.dumps({
    "rounds": ROUNDS * 4,
    "echo_p50_us": round(statistics.median(echo)), "echo_p99_us": round(pct(echo, 0.99)),
    "virtbus_p50_us": round(statistics.median(virt)), "virtbus_p99_us": round(pct(virt, 0.99)),
    "p50_ratio": round(statistics.median(virt) / statistics.median(echo), 2),
    "query_domains": n_domains, "query_s": round(query_s, 3),
    "events": events[0], "event_s": round(event_s, 3), "events_per_s": round(events[0] / event_s),
}))
