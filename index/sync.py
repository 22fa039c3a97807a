"""Bring the local cache up to Chroma: the documents whose record stamp changed, and no more.

A reader calls this when Chroma's generation differs from the one its cache records. It
lists the document records (metadata only), fetches the full records and the chunks of the
new or changed ones, and drops the ones gone, a slice of documents per SQLite transaction
(so a fresh replica's rebuild neither holds everything in memory nor loses its progress if
stopped). A document is taken only with exactly the chunks its record names (its version and
count): chunks written ahead of a record that is not there yet (an ingest in flight, or one
killed mid-batch) are never used. The generation is recorded only when every document came
through complete, so an incomplete one is fetched again at the next check.
"""

from __future__ import annotations

from collections import defaultdict

from index.cache import Cache, ChunkRow, set_meta
from index.chroma_store import ChromaStore, Head
from index.records import DocRecord

SLICE = 200  # documents fetched and written per transaction


def sync(cache: Cache, chroma: ChromaStore, head: Head) -> int:
    """Returns how many documents were added, replaced or dropped in the cache."""
    with cache.db() as db:
        if cache.meta("collection_id") != head.collection_id:  # new, or reset elsewhere
            Cache.clear(db)
            set_meta(db, "collection_id", head.collection_id)
            set_meta(db, "generation", "-1")
    remote = chroma.record_heads()
    local = cache.stamps()
    gone = [d for d in local if d not in remote]
    todo = sorted(d for d, r in remote.items() if local.get(d) != r.stamp)
    complete = True
    changed = 0
    with cache.db() as db:
        for doc_id in gone:
            Cache.delete(db, doc_id)
            changed += 1
    for i in range(0, len(todo), SLICE):
        fetched = _fetch(chroma, todo[i : i + SLICE])
        complete &= len(fetched) == len(todo[i : i + SLICE])
        with cache.db() as db:
            for record, rows in fetched:
                Cache.put(db, record, rows)
        changed += len(fetched)
    if complete:  # the cache now equals Chroma at this generation: nothing half-written
        with cache.db() as db:
            set_meta(db, "generation", str(head.generation))
            set_meta(db, "dirty", "0")
    return changed


def _fetch(chroma: ChromaStore, doc_ids: list[str]) -> list[tuple[DocRecord, list[ChunkRow]]]:
    """The records with their chunks, leaving out any whose chunks are not all there."""
    records = {r.doc_id: r for r in chroma.records(doc_ids)}
    rows: dict[str, list[ChunkRow]] = defaultdict(list)
    for cid, text, meta in chroma.chunks_of(list(records)):
        record = records.get(str(meta.get("doc_id")))
        if record is None or meta.get("sha") != record.version:
            continue  # another version's chunk: in flight, or a leftover for repair
        page = meta.get("page")
        rows[record.doc_id].append(
            (
                cid,
                record.doc_id,
                int(meta["idx"]),
                int(meta["start"]),
                int(meta["end"]),
                int(page) if page is not None else None,
                text,
            )
        )
    out = []
    for doc_id, record in records.items():
        got = sorted(rows.get(doc_id, []), key=lambda r: r[2])
        if len(got) == record.chunks:
            out.append((record, got))
    return out
