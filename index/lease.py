"""One writer at a time across processes and machines: a lease record in Chroma.

Chroma has no compare-and-swap, so a writer never overwrites another's record: each
contender writes a record of its own (`claim`, with an expiry), then lists the records. Whoever
sees no other live record holds the lease (and marks its record `held`); whoever sees another
deletes its own and backs off, and a contender that sees a `held` record is told at once that
the index is busy. For any two contenders the later of the two listings happens after both
claims were written, so at most one of them can see no other: two writers never both hold it.
Two that see each other both back off and retry after a random pause (a few times, then
"busy"): liveness is traded for safety, never the other way round.

Expiry and renewal: a record lives `ttl` seconds (default 30) and the holder renews it every
ttl/3 from a thread. A holder that dies (kill -9, a lost machine) stops renewing and its record
expires; the next writer deletes it and repairs what the dead one left (index.commit). A holder
on the same host whose process is gone is recognised at once (its pid no longer exists), so a
crashed local ingest blocks nobody. The race accepted: a holder stalled longer than `ttl`
(a suspended VM) can lose the lease to another writer while it still believes it holds it;
it finds out at its next renewal or commit (`check`), which raises StoreLocked, so at most the
batch in flight overlaps: chunks first and records last keep the index readable even then,
and the next writer's repair removes any leftovers. Expiry uses each machine's wall clock:
clocks must agree to well within `ttl`.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from typing import Any

from index.chroma_store import ChromaStore
from index.errors import StoreLocked

TTL = 30.0
ATTEMPTS = 6


class Lease:
    def __init__(self, chroma: ChromaStore, *, ttl: float = TTL, busy_message: str) -> None:
        self.chroma = chroma
        self.ttl = ttl
        self.busy_message = busy_message
        self.host = socket.gethostname()
        self.id = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.took_over = False  # a dead writer's lease was cleared: its leftovers need repair
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        self.took_over = False
        for _ in range(ATTEMPTS):
            live = self._live_others()
            if any(m.get("state") == "held" for m in live.values()):
                raise StoreLocked(self.busy_message)
            self._write("claim")
            live = self._live_others()
            if not live:
                self._write("held")
                self._start_renewal()
                return
            self._delete()
            if any(m.get("state") == "held" for m in live.values()):
                raise StoreLocked(self.busy_message)
            time.sleep(random.uniform(0.05, 0.4))
        raise StoreLocked(self.busy_message)

    def check(self) -> None:
        """Raise if the lease was lost (expired while this writer stalled)."""
        if self.lost:
            raise StoreLocked("the write lease expired while this ingest ran; ingest again")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._delete()

    # ---- records ----------------------------------------------------------------------------
    def _write(self, state: str) -> None:
        now = time.time()
        meta = {
            "host": self.host,
            "pid": os.getpid(),
            "state": state,
            "expires": now + self.ttl,
            "since": now,
        }
        self.chroma.call("lease", "upsert", ids=[self.id], embeddings=[[1.0]], metadatas=[meta])

    def _delete(self) -> None:
        self.chroma.call("lease", "delete", ids=[self.id])

    def _live_others(self) -> dict[str, dict[str, Any]]:
        """Other writers' live records; dead ones are deleted (and noted in took_over)."""
        got = self.chroma.call("lease", "get", include=["metadatas"])
        live, dead = {}, []
        for rid, meta in zip(got["ids"], got["metadatas"], strict=True):
            if rid == self.id:
                continue
            if self._dead(meta):
                dead.append(rid)
                self.took_over |= meta.get("state") == "held"
            else:
                live[rid] = meta
        if dead:
            self.chroma.call("lease", "delete", ids=dead)
        return live

    def _dead(self, meta: dict[str, Any]) -> bool:
        if float(meta.get("expires") or 0) < time.time():
            return True
        if meta.get("host") != self.host:
            return False
        try:
            os.kill(int(meta.get("pid") or 0), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, OverflowError):
            return False
        return False

    # ---- renewal ----------------------------------------------------------------------------
    def _start_renewal(self) -> None:
        self._stop.clear()
        self.lost = False
        self._thread = threading.Thread(target=self._renew, name="lease-renewal", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        deadline = time.time() + self.ttl
        while not self._stop.wait(self.ttl / 3):
            try:
                got = self.chroma.call("lease", "get", ids=[self.id], include=[])
                if not got["ids"] or time.time() > deadline:
                    self.lost = True  # deleted as dead by another writer, or expired unrenewed
                    return
                self._write("held")
                deadline = time.time() + self.ttl
            except Exception:  # the server is away: keep trying until the lease would expire
                if time.time() > deadline:
                    self.lost = True
                    return
