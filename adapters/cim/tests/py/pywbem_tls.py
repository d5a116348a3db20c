"""pywbem over HTTPS with Basic auth: the server's certificate verifies
against the test CA (argv[2]) and not against the system CAs; no or wrong
credentials are refused (401 -> pywbem.AuthError); the right ones work.

Usage: pywbem_tls.py HTTPS_URL CA_PEM USER PASSWORD"""
import sys

import pywbem

url, ca, user, password = sys.argv[1:5]


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


good = pywbem.WBEMConnection(url, creds=(user, password), default_namespace="root/virt", ca_certs=ca, timeout=30)
names = [s["Name"] for s in good.EnumerateInstances("KVM_ComputerSystem")]
check(names == ["test"], f"systems over https {names}")
pulled = list(good.IterEnumerateInstancePaths("KVM_ComputerSystem", MaxObjectCount=1))
check([p["Name"] for p in pulled] == ["test"], "pull over https")

for creds, what in [(None, "no credentials"), ((user, "wrong"), "wrong password"), (("nobody", password), "unknown user")]:
    conn = pywbem.WBEMConnection(url, creds=creds, default_namespace="root/virt", ca_certs=ca, timeout=30)
    try:
        conn.EnumerateInstanceNames("KVM_ComputerSystem")
        check(False, f"{what} accepted")
    except pywbem.AuthError as e:
        check("401" in str(e) or "nauthorized" in str(e), f"{what}: {e}")

# Without the test CA the certificate does not verify.
conn = pywbem.WBEMConnection(url, creds=(user, password), default_namespace="root/virt", timeout=30)
try:
    conn.EnumerateInstanceNames("KVM_ComputerSystem")
    check(False, "certificate accepted without the test CA")
except pywbem.ConnectionError as e:
    check("CERTIFICATE_VERIFY_FAILED" in str(e) or "certificate verify failed" in str(e), f"no CA: {e}")
print("ok")
