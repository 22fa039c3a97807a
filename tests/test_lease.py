"""The write lease (index.lease) on a real Chroma: never two holders, dead holders cleared."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from index.chroma_store import ChromaStore
from index.errors import StoreLocked
from index.lease import Lease


def chroma(tmp_path: Path) -> ChromaStore:
    return ChromaStore("leasetest", {"test": 1}, path=tmp_path / "chroma")


def test_contenders_never_hold_the_lease_together(tmp_path: Path) -> None:
    store = chroma(tmp_path)
    lock = threading.Lock()
    state = {"holding": 0, "most": 0, "held": 0, "busy": 0}

    def contender() -> None:
        lease = Lease(store, busy_message="busy")
        for _ in range(8):
            try:
                lease.acquire()
            except StoreLocked:
                with lock:
                    state["busy"] += 1
                continue
            with lock:
                state["holding"] += 1
                state["held"] += 1
                state["most"] = max(state["most"], state["holding"])
            time.sleep(0.02)
            with lock:
                state["holding"] -= 1
            lease.release()

    threads = [threading.Thread(target=contender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert state["most"] == 1, state
    assert state["held"] >= 4 and state["busy"] >= 1, state  # both outcomes happened
    assert store.call("lease", "get", include=[])["ids"] == []


def test_an_expired_or_dead_holder_is_cleared_and_repair_is_asked_for(tmp_path: Path) -> None:
    store = chroma(tmp_path)
    now = time.time()
    records = {
        "expired": {"host": "elsewhere", "pid": 1, "state": "held", "expires": now - 1},
        "dead-pid": {
            "host": Lease(store, busy_message="").host,
            "pid": 2**22 + 12345,
            "state": "held",
            "expires": now + 600,
        },
    }
    for rid, meta in records.items():
        store.call("lease", "upsert", ids=[rid], embeddings=[[1.0]], metadatas=[meta])
    lease = Lease(store, busy_message="busy")
    lease.acquire()
    assert lease.took_over  # a held lease was taken from a dead writer: repair its leftovers
    assert store.call("lease", "get", include=[])["ids"] == [lease.id]
    other = Lease(store, busy_message="the index is busy")
    try:
        other.acquire()
        raise AssertionError("a second writer got in")
    except StoreLocked as e:
        assert str(e) == "the index is busy"
    lease.release()
    other.acquire()
    assert not other.took_over
    other.release()
