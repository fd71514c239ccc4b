import sys
from tests.pgcatalog import test_pgnumeric_scales as m
from tests.pgcatalog.test_pgnumeric_scales import servers  # noqa
def test_probe(servers):
    dsn, server = servers
    import collections
    for label, table, vt in (("local", None, None), ("duckdb", "t", "nums.t"), ("postgres", "t", "public.t")):
        found = m.mismatches(dsn, server.dsn(), table, vt)
        print(f"\n=== {label}: {len(found)} mismatches of {2*len(m.statements(table))}")
        for sql, fmt, e, g in found:
            print(f"--- [{fmt}] {sql}\n   PG:   {e}\n   VEIL: {g}")
