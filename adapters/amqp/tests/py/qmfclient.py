"""A small QMF console over pika, as any AMQP client would write it
(see docs/amqp.md). Used by the end-to-end tests."""

import json
import time
import uuid

import pika

DIRECT = "qmf.default.direct"
TOPIC = "qmf.default.topic"


class Console:
    def __init__(self, url, direct_reply_to=False):
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.ch = self.conn.channel()
        self.direct_reply_to = direct_reply_to
        if direct_reply_to:
            self.reply_to = "amq.rabbitmq.reply-to"
        else:
            self.reply_to = self.ch.queue_declare(queue="", exclusive=True).method.queue
        self.replies = []
        self.ch.basic_consume(queue=self.reply_to, on_message_callback=self._on_reply, auto_ack=True)

    def _on_reply(self, ch, method, props, body):
        self.replies.append((props, body))

    def send(self, exchange, key, opcode, body, content_type="application/json", reply=True,
             user_id=None, correlation_id=None, raw=False, headers=None):
        correlation_id = correlation_id or str(uuid.uuid4())
        hdrs = {"method": "request"}
        if opcode is not None:
            hdrs["qmf.opcode"] = opcode
        if headers:
            hdrs.update(headers)
        props = pika.BasicProperties(
            content_type=content_type, app_id="qmf2", headers=hdrs,
            correlation_id=correlation_id, reply_to=self.reply_to if reply else None,
            user_id=user_id)
        payload = body if raw else json.dumps(body).encode()
        self.ch.basic_publish(exchange=exchange, routing_key=key, body=payload, properties=props)
        return correlation_id

    def collect(self, correlation_id, timeout=10.0, until_final=True, agent=None):
        """Replies to one request: until a message without `partial`
        (or the timeout when until_final is False)."""
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.conn.process_data_events(time_limit=0.05)
            keep = []
            for props, body in self.replies:
                if props.correlation_id != correlation_id:
                    keep.append((props, body))
                    continue
                if agent is not None and (props.headers or {}).get("qmf.agent") != agent:
                    continue
                got.append((props, body))
            self.replies = keep
            if until_final and got and "partial" not in (got[-1][0].headers or {}):
                return got
        if until_final:
            raise AssertionError("no final reply for %s within %ss (got %d)" % (correlation_id, timeout, len(got)))
        return got

    def request(self, agent, opcode, body, **kw):
        """Direct request to one agent; returns (opcode, decoded bodies)."""
        timeout = kw.pop("timeout", 10.0)
        cid = self.send(DIRECT, agent, opcode, body, **kw)
        msgs = self.collect(cid, timeout=timeout)
        ops = {m[0].headers["qmf.opcode"] for m in msgs}
        assert len(ops) == 1, ops
        for props, _ in msgs:
            assert props.content_type == "application/json", props.content_type
            assert props.app_id == "qmf2", props.app_id
            assert props.headers["qmf.agent"] == agent, props.headers
        return ops.pop(), [json.loads(m[1]) for m in msgs], msgs

    def query(self, agent, what="OBJECT", cls=None, object_name=None, where=None):
        body = {"_what": what}
        if cls:
            body["_schema_id"] = {"_package_name": "org.libvirt", "_class_name": cls}
        if object_name:
            body["_object_id"] = {"_agent_name": agent, "_object_name": object_name}
        if where is not None:
            body["_where"] = where
        op, bodies, _ = self.request(agent, "_query_request", body)
        assert op == "_query_response", (op, bodies)
        out = []
        for b in bodies:
            out.extend(b)
        return out

    def call(self, agent, object_name, method, args=None, user_id="guest"):
        body = {"_object_id": {"_agent_name": agent, "_object_name": object_name},
                "_method_name": method, "_arguments": args or {}}
        op, bodies, _ = self.request(agent, "_method_request", body, user_id=user_id)
        return op, bodies[0]

    def ok(self, agent, object_name, method, args=None):
        op, body = self.call(agent, object_name, method, args)
        assert op == "_method_response", (object_name, method, body)
        return body["_arguments"]

    def close(self):
        self.conn.close()
