"""bench's server_peak_mb: the sampler finds the private cluster's processes and sums their memory."""

from __future__ import annotations

import psycopg2

from python_enrich.pgcluster import ensure_server
from python_enrich.tools.bench import ServerMemorySampler, parent_pid


def test_the_memory_sampler_sees_the_servers_processes_and_a_peak() -> None:
    conn = psycopg2.connect(dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_backend_pid()")
            backend = cur.fetchone()[0]
        with ServerMemorySampler(ensure_server()) as memory:
            pids = memory.server_pids()
    finally:
        conn.close()
    print(f"server processes: {len(pids)}, peak {memory.peak_mb()} MB")
    assert memory.postmaster is not None and pids[0] == memory.postmaster
    assert backend in pids  # this connection's backend, a child of the postmaster
    assert all(parent_pid(pid) in (memory.postmaster, None) for pid in pids[1:])  # None: it ended meanwhile
    assert memory.peak_mb() is not None and memory.peak_mb() > 1  # sampled at least once, even so briefly
