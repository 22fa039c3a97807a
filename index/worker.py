"""Parse files in a forked worker process with a time limit and a memory ceiling.

A parser that hangs, loops or swells on one hostile file must cost that file only: the
worker reads, checks and chunks each file, and the ingest waits for its answer at most
`parse_timeout` seconds, then kills it and reports the file. Its address space may grow by
`parse_memory_mb` (RLIMIT_AS), so a bomb fails with MemoryError inside the worker instead
of swapping the machine. Nothing of a failed file reaches the store: only a finished
parse is sent back, and the parent writes it.

Why fork: the worker starts in a few milliseconds holding everything the parent imported
(llama-index's splitter, the tokenizer), one worker serves a whole ingest and is replaced
only after it was killed, and the loader it runs is the one the caller passed in. It runs
only the loaders and the splitter, which no other thread of the parent runs during an
ingest; it drops the parent's file descriptors (the ingest lock among them) and dies with
the thread that forked it, so a killed ingest never leaves a worker holding the lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import Any

from index.chunking import Chunk
from index.errors import LoadError
from index.limits import (
    LimitError,
    Limits,
    check_chunks,
    check_expansion,
    check_html_depth,
    check_text,
)
from index.loaders import LoadedDocument

log = logging.getLogger(__name__)

Loader = Callable[..., LoadedDocument]  # load(path, max_bytes=...)
Chunker = Callable[[LoadedDocument, str], list[Chunk]]  # (document, doc_id) -> chunks


@dataclass
class Parsed:
    doc: LoadedDocument
    chunks: list[Chunk]


def parse_file(path: Path, doc_id: str, limits: Limits, load: Loader, chunk: Chunker) -> Parsed:
    """Check, read and chunk one file, refusing it at the first limit it is over."""
    check_expansion(path, limits)
    check_html_depth(path, limits)
    doc = load(path, max_bytes=limits.max_file_bytes)
    check_text(len(doc.text), limits)
    chunks = chunk(doc, doc_id)
    check_chunks(len(chunks), limits)
    return Parsed(doc, chunks)


def explain(e: BaseException, limits: Limits) -> str:
    """A one-line reason for a failed parse; the limit behind it when one was hit."""
    seen: BaseException | None = e
    while seen is not None:  # loaders re-raise as LoadError `from None`: the cause stays here
        if isinstance(seen, MemoryError):
            return (
                f"parsing needed more than {limits.parse_memory_mb:g} MB of memory "
                f"({limits.setting('parse_memory_mb')}); stopped"
            )
        if isinstance(seen, RecursionError):
            return "nested too deeply to parse (RecursionError)"
        if type(seen).__name__ == "LimitReachedError":  # pypdf's own output limits
            return f"over a safety limit of the PDF reader (pypdf): {str(seen).splitlines()[0]}"
        seen = seen.__cause__ or seen.__context__
    if isinstance(e, LoadError):
        return str(e)
    return f"cannot parse this file ({type(e).__name__})"


class ParseWorker:
    """One worker process, reused across files; a new one replaces any that was killed.

    Without a time or memory limit, files are parsed in this process instead.
    """

    def __init__(
        self,
        limits: Limits,
        load: Loader,
        chunk: Chunker,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        self.limits, self.load, self.chunk = limits, load, chunk
        self.prepare = prepare  # run once before the first fork: what every worker inherits
        limited = limits.parse_timeout is not None or limits.parse_memory_mb is not None
        self.isolated = limited and hasattr(os, "fork")  # no fork (Windows): parsed in-process
        self.pid = 0
        self.conn: Connection | None = None
        self.started = 0  # workers forked so far (1 unless some were killed)

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def parse(self, path: Path, doc_id: str) -> Parsed:
        """Raises LoadError (LimitError for a limit) with the reason the file failed."""
        if not self.isolated:
            try:
                return parse_file(path, doc_id, self.limits, self.load, self.chunk)
            except (MemoryError, RecursionError, LoadError) as e:
                raise LoadError(explain(e, self.limits)) from None
        conn = self._connection()
        try:
            conn.send((path, doc_id))
        except OSError:  # it died between two files: say how, and start afresh next time
            raise LoadError(self._died()) from None
        timeout = self.limits.parse_timeout
        if not conn.poll(timeout):
            self._kill()
            raise LimitError(
                f"parsing took longer than {timeout:g} s "
                f"({self.limits.setting('parse_timeout')}); stopped"
            )
        try:
            ok, payload = conn.recv()
        except (EOFError, OSError):
            raise LoadError(self._died()) from None
        if ok == "restart":  # it answered, then left: its heap hit the ceiling
            self._reap()
            raise LoadError(payload)
        if ok != "ok":
            raise LoadError(payload)
        assert isinstance(payload, Parsed)
        return payload

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()  # the worker reads EOF and exits
            self.conn = None
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0

    # ---- the process ---------------------------------------------------------------------
    def _connection(self) -> Connection:
        if self.conn is not None:
            return self.conn
        if self.prepare is not None:
            self.prepare()
            self.prepare = None
        ours, theirs = Pipe(duplex=True)
        ppid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the caller's code
            code = 0
            try:
                ours.close()
                _serve(theirs, ppid, self.limits, self.load, self.chunk)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        self.pid, self.conn = pid, ours
        self.started += 1
        return ours

    def _kill(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._reap()

    def _reap(self) -> int:
        status = 0
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.pid:
            _, status = os.waitpid(self.pid, 0)
            self.pid = 0
        return status

    def _died(self) -> str:
        status = self._reap()
        if os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            if sig == "SIGABRT" and self.limits.parse_memory_mb is not None:
                # A native parser (PDFium) aborts when an allocation fails under the ceiling.
                return (
                    f"the parser aborted, most likely at the {self.limits.parse_memory_mb:g} MB "
                    f"memory ceiling ({self.limits.setting('parse_memory_mb')}); a hostile file?"
                )
            return f"the parser crashed ({sig}); a hostile or broken file?"
        return f"the parser stopped unexpectedly (exit {os.WEXITSTATUS(status)})"


# ---- inside the worker ---------------------------------------------------------------------
def _serve(conn: Connection, ppid: int, limits: Limits, load: Loader, chunk: Chunker) -> None:
    _detach(conn, ppid)
    _cap_memory(limits.parse_memory_bytes)
    while True:
        try:
            path, doc_id = conn.recv()
        except (EOFError, OSError):
            return  # the ingest is over (or gone)
        reply: tuple[str, Any]
        try:
            reply = ("ok", parse_file(path, doc_id, limits, load, chunk))
        except BaseException as e:  # a MemoryError leaves the heap at its ceiling: restart
            reply = ("restart" if _has_memory_error(e) else "failed", explain(e, limits))
        try:
            conn.send(reply)
        except MemoryError:  # the answer itself did not fit
            reply = ("restart", explain(MemoryError(), limits))
            conn.send(reply)
        if reply[0] == "restart":
            return


def _has_memory_error(e: BaseException | None) -> bool:
    while e is not None:
        if isinstance(e, MemoryError):
            return True
        e = e.__cause__ or e.__context__
    return False


def _detach(conn: Connection, ppid: int) -> None:
    """Die with the forking thread, keep no descriptor of the parent's, ignore Ctrl-C."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != ppid:
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the ingest decides; it kills us if need be
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    gc.freeze()  # the parent's objects are never collected here, so none closes a fd of ours
    keep = conn.fileno()
    os.closerange(3, keep)
    most = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    os.closerange(keep + 1, 1 << 20 if most == resource.RLIM_INFINITY else most)


def _cap_memory(extra: int | None) -> None:
    """Let the address space grow by `extra` bytes past what the fork inherited."""
    if extra is None:
        return
    try:
        with open("/proc/self/statm") as fh:
            size = int(fh.read().split()[0]) * resource.getpagesize()
    except OSError:  # no /proc (macOS, which does not enforce RLIMIT_AS either): time limit only
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = size + extra
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))
