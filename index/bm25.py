"""BM25 over the cache's FTS5 table: the query built from a question, and the search."""

from __future__ import annotations

import re
import sqlite3

# Function words: evidence of nothing, so neither retrieval nor scoring counts them.
_STOPWORDS_TEXT = """
a about according after also an and any are as at be been before being but by can could
did do does doing for from had has have having he her him his how i if in into is it its
many me much my not of on or our said say she so tell than that the their them then there
these they this those to was we were what when where which who whom whose why will with
would you your
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"\w+", re.UNICODE)

# BM25 leaves out a query term found in more chunks than both of these (see bm25_match) ...
PRUNE_MIN_ROWS = 2000
PRUNE_SHARE = 0.05
# ... but always keeps this many of the query's rarest terms.
KEEP_RAREST = 2


def bm25_match(conn: sqlite3.Connection, query: str) -> str:
    """The FTS5 query for `query`: its terms OR-ed together, less the very common ones.

    FTS5 scores every chunk that holds any query term, so at 50K chunks a few terms found in
    a tenth of them cost BM25 more than the whole dense search takes. Such a term tells little
    about which chunk answers (idf log((N-n+.5)/(n+.5)) is ~2 at 10% of chunks, ~10 for a
    term in one chunk), so it is left out when it is in more than PRUNE_MIN_ROWS chunks *and*
    more than PRUNE_SHARE of all chunks; the KEEP_RAREST rarest terms always stay. Chunks
    holding only left-out terms then drop off the end of the BM25 list. A corpus under
    PRUNE_MIN_ROWS chunks gets the full query. Counts come from the index on every call, by
    MATCH (an fts5vocab table lists porter stems, which only SQLite's tokenizer knows how to
    make from the words; and it is no faster): nothing is cached that could go stale while
    other processes write, and the schema is unchanged.
    """
    words = _WORD.findall(query.lower())
    terms = list(dict.fromkeys([t for t in words if t not in STOPWORDS] or words))
    phrases = ['"' + t.replace('"', "") + '"' for t in terms]
    if len(phrases) <= KEEP_RAREST:
        return " OR ".join(phrases)
    total = int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
    cut = int(max(PRUNE_MIN_ROWS, PRUNE_SHARE * total))
    if total > cut:
        count = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?"
        rows = [conn.execute(count, (p,)).fetchone()[0] for p in phrases]
        rarest = sorted(range(len(phrases)), key=rows.__getitem__)[:KEEP_RAREST]
        phrases = [p for i, p in enumerate(phrases) if rows[i] <= cut or i in rarest]
    return " OR ".join(phrases)


def bm25_search(conn: sqlite3.Connection, query: str, n: int) -> list[tuple[str, float]]:
    """(chunk_id, BM25 score), best first; FTS5 ranks are negated so higher is better."""
    match = bm25_match(conn, query)
    if not match:
        return []
    rows = conn.execute(
        "SELECT c.chunk_id, bm25(chunks_fts) AS r FROM chunks_fts "
        "JOIN chunks c ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? "
        "ORDER BY r LIMIT ?",
        (match, n),
    )
    return [(cid, -rank) for cid, rank in rows]
