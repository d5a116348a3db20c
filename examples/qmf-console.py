#!/usr/bin/env python3
"""A QMF console for virtbus agents on RabbitMQ, with pika (docs/amqp.md).

usage:
  qmf-console.py URL locate                      agents that answer within 2 s
  qmf-console.py URL list AGENT                  the agent's domains
  qmf-console.py URL call AGENT OBJECT METHOD [JSON-ARGUMENTS]
                                                 run a method, print its out arguments
  qmf-console.py URL tail [PATTERN] [COUNT]      print events as JSON lines

URL is an AMQP URL (amqp://user:pass@host:5672/%2f); AGENT an agent name
(virtbus:agent:INSTANCE, as `locate` prints it); OBJECT an object name
(node, domain/UUID, pool/UUID, ...). PATTERN is a topic pattern
(default agent.ind.event.#, every virtbus event); tail stops after COUNT
events when given. A method's failure (_exception) is printed on stderr
and the exit status is 1. Replies come back through RabbitMQ's direct
reply-to; methods that change something need the connection's user in the
agent's [amqp] writers, and are sent with user_id set to it.

pip install pika   (tested with pika 1.3)
"""

import json
import sys
import time
import uuid

import pika

DIRECT, TOPIC, REPLY_TO = "qmf.default.direct", "qmf.default.topic", "amq.rabbitmq.reply-to"


class Console:
    def __init__(self, url):
        self.params = pika.URLParameters(url)
        self.conn = pika.BlockingConnection(self.params)
        self.ch = self.conn.channel()
        self.replies = []
        self.ch.basic_consume(REPLY_TO, lambda ch, m, props, body: self.replies.append((props, body)),
                              auto_ack=True)

    def send(self, exchange, key, opcode, body):
        cid = str(uuid.uuid4())
        props = pika.BasicProperties(content_type="application/json", app_id="qmf2",
                                     reply_to=REPLY_TO, correlation_id=cid,
                                     user_id=self.params.credentials.username,
                                     headers={"qmf.opcode": opcode, "method": "request"})
        self.ch.basic_publish(exchange, key, json.dumps(body), props)
        return cid

    def gather(self, cid, seconds):
        """Reply messages for cid until one without `partial` (or seconds pass)."""
        out, deadline = [], time.time() + seconds
        while time.time() < deadline:
            self.conn.process_data_events(time_limit=0.05)
            while self.replies:
                props, body = self.replies.pop(0)
                if props.correlation_id != cid:
                    continue
                headers = props.headers or {}
                if headers.get("qmf.opcode") == "_exception":
                    raise RuntimeError("_exception %s" % json.dumps(json.loads(body)["_values"]))
                out.append(json.loads(body))
                if "partial" not in headers:
                    return out
        raise RuntimeError("no complete reply within %d s" % seconds)

    def locate(self):
        cid = self.send(TOPIC, "console.request.agent_locate", "_agent_locate_request", {})
        agents, deadline = [], time.time() + 2
        while time.time() < deadline:
            self.conn.process_data_events(time_limit=0.1)
            while self.replies:
                props, body = self.replies.pop(0)
                if props.correlation_id == cid:
                    agents.append(json.loads(body)["_values"])
        return agents

    def query(self, agent, cls):
        cid = self.send(DIRECT, agent, "_query_request",
                        {"_what": "OBJECT", "_schema_id": {"_package_name": "org.libvirt", "_class_name": cls}})
        return [obj for batch in self.gather(cid, 30) for obj in batch]

    def call(self, agent, object_name, method, arguments):
        cid = self.send(DIRECT, agent, "_method_request",
                        {"_object_id": {"_agent_name": agent, "_object_name": object_name},
                         "_method_name": method, "_arguments": arguments})
        return self.gather(cid, 30)[0].get("_arguments", {})


def tail(url, pattern, count):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    queue = ch.queue_declare(queue="", exclusive=True).method.queue
    ch.queue_bind(queue=queue, exchange=TOPIC, routing_key=pattern)
    print("tailing %s" % pattern, file=sys.stderr, flush=True)
    seen = 0
    for method, props, body in ch.consume(queue, auto_ack=True):
        for event in json.loads(body):
            print(json.dumps(event["_values"]), flush=True)
        seen += 1
        if count is not None and seen >= count:
            break
    ch.cancel()
    conn.close()


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    url, cmd, rest = argv[0], argv[1], argv[2:]
    try:
        if cmd == "locate" and not rest:
            for a in Console(url).locate():
                print("%s\t%s\tepoch %d" % (a["_name"], a.get("uri", ""), a["_epoch"]))
        elif cmd == "list" and len(rest) == 1:
            print("%-24s %-12s %s" % ("NAME", "STATE", "OBJECT"))
            for obj in Console(url).query(rest[0], "domain"):
                print("%-24s %-12s %s" % (obj["_values"]["name"], obj["_values"]["state"],
                                          obj["_object_id"]["_object_name"]))
        elif cmd == "call" and len(rest) in (3, 4):
            arguments = json.loads(rest[3]) if len(rest) == 4 else {}
            print(json.dumps(Console(url).call(rest[0], rest[1], rest[2], arguments), indent=2))
        elif cmd == "tail" and len(rest) <= 2:
            tail(url, rest[0] if rest else "agent.ind.event.#", int(rest[1]) if len(rest) == 2 else None)
        else:
            sys.exit(__doc__)
    except RuntimeError as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
