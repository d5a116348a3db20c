"""AMQP benchmark peer (scripts/bench-amqp): round trips through virtbus
versus a bare RabbitMQ echo on the same broker, and a query of every
domain. Prints one JSON object. (The event rate is measured by
scripts/bench-amqp with ctl_churn and the Rust qmf_console example.)
usage: bench_amqp.py URL AGENT ROUNDS"""

import json
import statistics
import sys
import threading
import time
import uuid

import pika

URL, AGENT, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
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

print(json.dumps({
    "rounds": ROUNDS * 4,
    "echo_p50_us": round(statistics.median(echo)), "echo_p99_us": round(pct(echo, 0.99)),
    "virtbus_p50_us": round(statistics.median(virt)), "virtbus_p99_us": round(pct(virt, 0.99)),
    "p50_ratio": round(statistics.median(virt) / statistics.median(echo), 2),
    "query_domains": n_domains, "query_s": round(query_s, 3),
}))
