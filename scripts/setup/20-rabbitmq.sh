# A private RabbitMQ node for the AMQP tests: its own node name, ports, data
# and log directories under $VIRTBUS_TEST_RUN, bound to 127.0.0.1, so tests
# may stop and restart it by name without touching a system broker (one may
# listen on 5672 already; it is never used).
#
# Exports:
#   VIRTBUS_TEST_AMQP_URL        amqp://guest:guest@127.0.0.1:PORT/%2f
#   VIRTBUS_TEST_RABBITMQ_NODE   the node name, for rabbitmqctl -n
#   VIRTBUS_TEST_RABBITMQ_ENV    a file to source before rabbitmq-server to
#                                restart the same node (tests do this)
#   VIRTBUS_TEST_RABBITMQ_BIN    the directory of rabbitmq-server/rabbitmqctl
if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
    apt_install rabbitmq-server
fi
# Debian's /usr/sbin wrappers switch to the rabbitmq user when run as root;
# the private node runs as the current user, so call the real scripts.
RMQ_BIN=/usr/lib/rabbitmq/bin
[ -x "$RMQ_BIN/rabbitmq-server" ] || RMQ_BIN=$(dirname "$(command -v rabbitmq-server || echo /usr/sbin/rabbitmq-server)")

# A free loopback TCP port, chosen by the kernel.
rabbitmq_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

RMQ_DIR="$VIRTBUS_TEST_RUN/rabbitmq"
mkdir -p "$RMQ_DIR/mnesia" "$RMQ_DIR/log"
RMQ_NODE="virtbus-test-$$@localhost"
RMQ_PORT=$(rabbitmq_free_port)
RMQ_DIST_PORT=$(rabbitmq_free_port)
# guest may log in from loopback only, which is all the tests need.
cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$RMQ_PORT
loopback_users.guest = true
log.console = false
log.file.level = warning
EOF
: >"$RMQ_DIR/enabled_plugins"
echo "[]." >"$RMQ_DIR/enabled_plugins"

cat >"$RMQ_DIR/env.sh" <<EOF
export RABBITMQ_NODENAME='$RMQ_NODE'
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$RMQ_PORT
export RABBITMQ_DIST_PORT=$RMQ_DIST_PORT
export RABBITMQ_MNESIA_BASE='$RMQ_DIR/mnesia'
export RABBITMQ_LOG_BASE='$RMQ_DIR/log'
export RABBITMQ_CONFIG_FILE='$RMQ_DIR/rabbitmq.conf'
export RABBITMQ_ENABLED_PLUGINS_FILE='$RMQ_DIR/enabled_plugins'
export RABBITMQ_PID_FILE='$RMQ_DIR/pid'
EOF

log "starting private rabbitmq node $RMQ_NODE on 127.0.0.1:$RMQ_PORT"
(
    # shellcheck source=/dev/null
    . "$RMQ_DIR/env.sh"
    # The node and rabbitmqctl share the cookie in $HOME/.erlang.cookie (both
    # run as this user); rabbitmq-server creates it when missing.
    setsid "$RMQ_BIN/rabbitmq-server" >"$RMQ_DIR/log/server.out" 2>&1 </dev/null &
)
on_exit "'$RMQ_BIN/rabbitmqctl' -q -n '$RMQ_NODE' stop >/dev/null 2>&1"
# await_startup fails at once until the node has registered, so retry.
rmq_deadline=$((SECONDS + 120))
until "$RMQ_BIN/rabbitmqctl" -q -n "$RMQ_NODE" await_startup --timeout 20 >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$rmq_deadline" ]; then
        log "private rabbitmq node did not start; its output:"
        tail -n 40 "$RMQ_DIR/log/server.out" >&2 || true
        exit 1
    fi
    sleep 1
done
export VIRTBUS_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$RMQ_PORT/%2f"
export VIRTBUS_TEST_RABBITMQ_NODE="$RMQ_NODE"
export VIRTBUS_TEST_RABBITMQ_ENV="$RMQ_DIR/env.sh"
export VIRTBUS_TEST_RABBITMQ_BIN="$RMQ_BIN"
