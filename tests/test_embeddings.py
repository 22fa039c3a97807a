"""The fast encoder must give the vectors llama-index's HuggingFaceEmbedding gives."""

from __future__ import annotations

from index.embeddings import embed_query, embed_texts, get_embed_model


def test_encoder_matches_llama_index_huggingface_embedding() -> None:
    texts = [
        "Mexico extradited 29 drug traffickers to the United States.",
        "short",
        "A much longer passage " * 40,  # past 256 word pieces: both truncate the same way
    ]
    ours = embed_texts(texts)
    reference = get_embed_model().get_text_embedding_batch(texts)
    for a, b in zip(ours, reference, strict=True):
        assert len(a) == 384
        assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.9999
    q = embed_query("Who was extradited?")
    ref_q = get_embed_model().get_query_embedding("Who was extradited?")
    assert sum(x * y for x, y in zip(q, ref_q, strict=True)) > 0.9999
