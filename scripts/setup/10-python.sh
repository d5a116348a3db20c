# Python clients the end-to-end tests drive the agent with: pika (AMQP),
# pywbem and pywbemtools (CIM). Kept in a venv under target/ so reruns are
# quick and nothing touches the system Python.
VENV="$ROOT/target/test-venv"
PY_PACKAGES=(pika pywbem pywbemtools)
if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3 python3-venv
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
fi
if ! "$VENV/bin/python" -c 'import pika, pywbem' >/dev/null 2>&1 || [ ! -x "$VENV/bin/pywbemcli" ]; then
    log "pip install ${PY_PACKAGES[*]}"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}" >&2
fi
export VIRTBUS_TEST_PYTHON="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
