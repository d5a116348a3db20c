"""Mutating methods only for broker-validated writers.
usage: writers.py URL_AS_READER URL_AS_WRITER AGENT
The reader is a broker user not in [amqp] writers; the writer is listed."""

import json
import sys

import pika

from qmfclient import Console

READER_URL, WRITER_URL, AGENT = sys.argv[1], sys.argv[2], sys.argv[3]
reader, writer = Console(READER_URL), Console(WRITER_URL)
dom = reader.query(AGENT, cls="domain", where=["eq", "name", "test"])[0]["_object_id"]["_object_name"]

# Reads are open to the reader.
op, body = reader.call(AGENT, dom, "getXMLDesc", user_id="reader")
assert op == "_method_response" and "<name>test</name>" in body["_arguments"]["description"], body

# A mutating method with the reader's own (validated) user_id: refused.
op, body = reader.call(AGENT, dom, "suspend", user_id="reader")
assert op == "_exception", (op, body)
assert body["_values"]["error_code"] == 0x10000 + 29, body
assert "writers" in body["_values"]["error_text"], body
print("ok: reader refused with OPERATION_DENIED")

# The reader cannot pass for the writer: RabbitMQ checks user_id against
# the connection's user and closes the channel (406 PRECONDITION_FAILED);
# the request never reaches the agent.
forger = reader.conn.channel()
forger.confirm_delivery()  # publishes wait for the broker's verdict
try:
    forger.basic_publish("qmf.default.direct", AGENT, json.dumps(
        {"_object_id": {"_object_name": dom}, "_method_name": "suspend"}),
        pika.BasicProperties(content_type="application/json", user_id="guest",
                             headers={"qmf.opcode": "_method_request", "method": "request"},
                             reply_to=reader.reply_to))
    raise AssertionError("broker accepted a forged user_id")
except pika.exceptions.ChannelClosedByBroker as err:
    assert err.reply_code == 406, err
print("ok: forged user_id refused by the broker")

# Nothing changed; the writer may suspend and resume.
assert writer.query(AGENT, object_name=dom)[0]["_values"]["state"] == "running"
assert writer.call(AGENT, dom, "suspend", user_id="guest")[0] == "_method_response"
assert writer.query(AGENT, object_name=dom)[0]["_values"]["state"] == "paused"
assert writer.call(AGENT, dom, "resume", user_id="guest")[0] == "_method_response"
print("writers ok")
