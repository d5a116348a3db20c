# CIM peers: sblim wbemcli (Debian's sblim-wbemcli). pywbem and pywbemcli
# come from 10-python.sh (the venv on PATH, $VIRTBUS_TEST_PYTHON). The HTTPS
# tests make their test CA and certificates with the openssl CLI.
if ! command -v wbemcli >/dev/null 2>&1; then
    apt_install sblim-wbemcli
fi
if ! command -v openssl >/dev/null 2>&1; then
    apt_install openssl
fi
