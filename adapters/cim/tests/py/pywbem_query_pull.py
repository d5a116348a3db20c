"""OpenQueryInstances and PullInstances through pywbem: a WQL query in pages
of MaxObjectCount, the selected properties only, IterQueryInstances with
pull operations, and the errors (language, query, ReturnQueryResultClass,
a query context pulled as something else, after close).

Usage: pywbem_query_pull.py URL PREFIX COUNT
  the caller defined COUNT shut-off guests PREFIX0..PREFIX<COUNT-1> besides
  the test driver's running guest 'test'."""
import sys

import pywbem

url, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
NS = "root/virt"
conn = pywbem.WBEMConnection(url, default_namespace=NS, timeout=30)
want = sorted(f"{prefix}{i}" for i in range(count))


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def expect_error(code, fn, what):
    try:
        fn()
    except pywbem.CIMError as e:
        check(e.status_code == code, f"{what}: status {e.status_code} ({e.status_description})")
        return e
    check(False, f"{what} succeeded")


query = "SELECT Name, EnabledState FROM KVM_ComputerSystem WHERE EnabledState = 3"

# One instance per page: the first page, then PullInstances until the end.
res = conn.OpenQueryInstances("WQL", query, MaxObjectCount=1)
pages = [res.instances]
check(not res.eos and res.context is not None, f"first page ended the sequence: {res}")
check(res.query_result_class is None, "no QueryResultClass asked for")
ctx = res.context
while True:
    page = conn.PullInstances(ctx, MaxObjectCount=1)
    pages.append(page.instances)
    if page.eos:
        break
    ctx = page.context
    check(len(pages) <= count + 2, "the pull never ends")
insts = [i for p in pages for i in p]
check(all(len(p) <= 1 for p in pages), f"a page above MaxObjectCount: {[len(p) for p in pages]}")
check(sorted(i["Name"] for i in insts) == want, f"query result {[i['Name'] for i in insts]} != {want}")
for inst in insts:
    check(inst.classname == "KVM_ComputerSystem", f"class {inst.classname}")
    check(set(inst.keys()) == {"Name", "EnabledState"}, f"properties {list(inst.keys())}")
    check(inst["EnabledState"] == 3, f"EnabledState {inst['EnabledState']}")

# Everything in the first answer (MaxObjectCount large), superclass in FROM.
res = conn.OpenQueryInstances("WQL", "SELECT * FROM CIM_ComputerSystem WHERE Name = 'test'", MaxObjectCount=100)
check(res.eos and [i["Name"] for i in res.instances] == ["test"], f"one-shot query {res.instances}")
check("UUID" in res.instances[0], "SELECT * returns all properties")

# pywbem's iterator on pull operations gives the same as ExecQuery.
it_conn = pywbem.WBEMConnection(url, default_namespace=NS, timeout=30, use_pull_operations=True)
iterated = sorted(i["Name"] for i in it_conn.IterQueryInstances("WQL", query, MaxObjectCount=2).generator)
executed = sorted(i["Name"] for i in conn.ExecQuery("WQL", query))
check(iterated == executed == want, f"IterQueryInstances {iterated} vs ExecQuery {executed}")

# Errors; the server keeps serving through them.
expect_error(pywbem.CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED,
             lambda: conn.OpenQueryInstances("CQL", query), "CQL")
expect_error(pywbem.CIM_ERR_INVALID_QUERY,
             lambda: conn.OpenQueryInstances("WQL", "SELECT * FROM KVM_ComputerSystem WHERE a = 1 OR b = 2"), "OR")
expect_error(pywbem.CIM_ERR_INVALID_QUERY,
             lambda: conn.OpenQueryInstances("WQL", "SELECT Nope FROM KVM_ComputerSystem"), "unknown property")
expect_error(pywbem.CIM_ERR_INVALID_CLASS,
             lambda: conn.OpenQueryInstances("WQL", "SELECT * FROM KVM_NoSuchClass"), "unknown class")
e = expect_error(pywbem.CIM_ERR_NOT_SUPPORTED,
                 lambda: conn.OpenQueryInstances("WQL", query, ReturnQueryResultClass=True), "ReturnQueryResultClass")
check("ReturnQueryResultClass" in e.status_description, e.status_description)
res = conn.OpenQueryInstances("WQL", query, MaxObjectCount=0)
check(res.instances == [] and not res.eos, f"MaxObjectCount=0 {res}")
expect_error(pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT,
             lambda: conn.PullInstancesWithPath(res.context, MaxObjectCount=1), "query context pulled with paths")
conn.CloseEnumeration(res.context)
expect_error(pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT,
             lambda: conn.PullInstances(res.context, MaxObjectCount=1), "context after close")
check(len(conn.EnumerateInstanceNames("KVM_ComputerSystem")) == count + 1, "server still serving")
print("ok")
