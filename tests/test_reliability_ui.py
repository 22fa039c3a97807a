"""20 concurrent /ask calls through gradio_client while an ingest runs in the same server.

The other UI cases of issue 8 (upload traversal, size and type, login, bind address, HTML
escaping) are in tests/test_ui.py and tests/test_ui_browser.py; hostile documents in LLM mode
are in tests/test_llm.py. This one is about concurrency: readers answering from the index
while a writer changes it, in one process, through the real HTTP API.
"""

from __future__ import annotations

import json
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client

from tests.conftest import CORPUS
from tests.test_reliability_crash import write_corpus
from tests.test_ui import serve, stop

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

QUESTIONS = [
    "How many drug traffickers did Mexico extradite to the US?",
    "When did Mexico extradite the 29 prisoners?",
    "Who was extradited to the United States?",
    "Which cartel was designated as a terrorist organisation?",
]


def test_20_concurrent_asks_while_an_ingest_runs(tmp_path: Path) -> None:
    served = serve(tmp_path / "data", [CORPUS])
    try:
        engine = served.engine
        corpus_paths = {str(d.path) for d in engine.sources()}
        baseline = {q: engine.ask(q) for q in QUESTIONS}
        asked = [q for q in QUESTIONS if baseline[q].answered and baseline[q].citations]
        assert len(asked) >= 2, "pick questions the corpus answers"

        more = tmp_path / "more"
        write_corpus(more, 80, random.Random(20))  # unrelated documents, some several chunks
        ingest_done, paused, resume = threading.Event(), threading.Event(), threading.Event()
        ingest_error: list[BaseException] = []

        def hold(done: int, total: int, _name: str) -> None:
            """Pause the ingest half-way (writer lock held), however fast the machine is."""
            if 0 < done < total and not resume.is_set():
                paused.set()
                resume.wait(300)

        def ingest() -> None:
            try:
                engine.ingest([more], progress=hold)
            except BaseException as e:  # surfaced in the assertions below
                ingest_error.append(e)
            finally:
                ingest_done.set()

        def ask(i: int) -> tuple[dict[str, Any], bool]:
            client = Client(served.url, verbose=False)
            out = json.loads(client.predict(asked[i % len(asked)], api_name="/ask"))
            return out, not ingest_done.is_set()

        writer = threading.Thread(target=ingest)
        writer.start()
        assert paused.wait(300), "the ingest never reported progress"
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(ask, range(20)))
        resume.set()
        writer.join(timeout=600)
        assert not ingest_error, ingest_error
        during = sum(d for _, d in results)
        print(f"{during}/20 answers came back while the ingest was still running")
        assert during, "the ingest ended before any answer"

        for out, _ in results:
            assert out["answered"], out
            assert out["citations"], out
            for c in out["citations"]:
                assert c["path"] in corpus_paths
                assert engine.document_text(c["path"])[c["start"] : c["end"]] == c["quote"]
            assert out["answer"] == baseline[out["question"]].text  # not disturbed by the writer

        store = engine.store
        assert len(engine.sources()) == len(corpus_paths) + 80
        assert store.count_chunks() == store.count_vectors()
    finally:
        stop(served)
