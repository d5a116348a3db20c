"""Event subscriber with a durable queue. Two modes:
  subscriber.py bind URL QUEUE PATTERN      declare + bind, then exit
  subscriber.py drain URL QUEUE COUNT SECS  read until COUNT distinct events
                                            (or SECS pass); print a JSON summary
Events are told apart by (epoch, seq): a repeat is counted in "dups" and
dropped. "events" lists the distinct ones in arrival order.
"""

import json
import sys
import time

import pika

mode, url, queue = sys.argv[1], sys.argv[2], sys.argv[3]
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
if mode == "bind":
    ch.queue_declare(queue=queue, durable=True)
    ch.queue_bind(queue=queue, exchange="qmf.default.topic", routing_key=sys.argv[4])
    print("bound")
    sys.exit(0)

want, limit = int(sys.argv[4]), float(sys.argv[5])
events, keys, dups = [], set(), 0
seen = set()
deadline = time.time() + limit
ch.basic_qos(prefetch_count=1000)
for m, props, body in ch.consume(queue, auto_ack=True, inactivity_timeout=1):
    if len(seen) >= want or time.time() >= deadline:
        break
    if m is None:
        continue
    assert props.headers["qmf.opcode"] == "_data_indication", props.headers
    assert props.headers["qmf.content"] == "_event", props.headers
    assert props.delivery_mode == 2
    v = json.loads(body)[0]["_values"]
    key = (v["epoch"], v["seq"])
    if key in seen:
        dups += 1
        continue
    seen.add(key)
    assert props.message_id == "%d-%d" % key, props.message_id
    keys.add(m.routing_key)
    events.append({"seq": v["seq"], "epoch": v["epoch"], "event": v["event"], "name": v["name"],
                   "detail": v.get("detail"), "key": m.routing_key})
ch.cancel()
print(json.dumps({"events": events, "dups": dups, "keys": sorted(keys)}))
