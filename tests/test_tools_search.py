"""The search tool: corpus loading, the faiss kinds, BM25, hybrid fusion, the saved index and its
checks, batched async search, the tool-loop adapter and `sparring index`, on the real MiniLM."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from pathlib import Path

import pytest

from sparring.cli import build_parser, main
from sparring.messages import ChatMessage
from sparring.policy import SamplingParams, ScriptedPolicy
from sparring.roles.tool_loop import run_tool_loop
from sparring.tools.errors import ToolError
from sparring.tools.search import (
    MINILM_NAME,
    CorpusError,
    DenseConfig,
    DocumentSearcher,
    Embedder,
    Hit,
    Passage,
    SearchConfig,
    Searcher,
    SearchIndex,
    SearchIndexError,
    SearchTool,
    _progress,
    format_hits,
    load_corpus,
    reciprocal_rank_fusion,
    write_corpus,
)
from sparring.tools.search.dense import build_dense
from sparring.tools.search.searcher import Query, SearchMode

# A small fictional world: no model has seen these facts, several passages share a theme, and
# one made-up word ("Quexalith") occurs in exactly one passage.
TEXTS = {
    "Velmora Guild": "The Velmora Guild of weavers was founded in 1412 by Oren Pell in Ashford.",
    "Ashford": "Ashford is a river town in the northern province of Lenmark, known for wool.",
    "Oren Pell": "Oren Pell was a master weaver born in Dunmere who later moved to Ashford.",
    "Quexalith": "The Quexalith stone is a green mineral mined only in the hills above Carrow.",
    "Carrow": "Carrow is a mining village famous for its copper and its lantern festival.",
    "Lenmark Observatory": "The Lenmark Observatory tracks comets from Mount Sarn since 1788.",
    "Mount Sarn": "Mount Sarn is the highest peak of Lenmark, snow-capped most of the year.",
    "Dunmere": "Dunmere is a fishing harbour on the western coast, rebuilt after a fire.",
    "Ilsa Marrow": "Ilsa Marrow, an astronomer, discovered the comet Harrow-7 at the observatory.",
    "Comet Harrow-7": "Comet Harrow-7 returns every 61 years; its tail was last seen in 1990.",
    "Lantern Festival": "Each autumn Carrow's miners float paper lanterns down the Tessel river.",
    "Tessel River": "The Tessel river flows from Mount Sarn through Carrow to the sea at Dunmere.",
    "Brannic Order": "The Brannic Order is a society of scribes who copy maps by hand.",
    "Copper Trade": "Copper from Carrow was sold at the Ashford markets for three centuries.",
    "Wool Markets": "Ashford's wool markets open at dawn; weavers of the Velmora Guild buy there.",
    "Pell Bridge": "Pell Bridge, named after Oren Pell, crosses the Tessel river at Ashford.",
    "Sarn Railway": "The Sarn Railway carries ore from the Carrow mines down to Dunmere harbour.",
    "Harbour Fire": "The great fire of Dunmere in 1650 burned the harbour and its warehouses.",
    "Map Vault": "The Brannic Order keeps its oldest maps in a vault under Ashford's library.",
    "Lenmark": "Lenmark is a cold northern province whose capital is Ashford.",
}
PASSAGES = [Passage(id=f"p{i}", title=t, text=x) for i, (t, x) in enumerate(TEXTS.items())]
QUERIES = [
    "who founded the weavers' guild?",
    "where is the green mineral mined?",
    "how often does the comet come back?",
    "what burned down the harbour?",
    "what is the capital of the province?",
    "which railway carries ore?",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.minilm()


@pytest.fixture(scope="module")
def index(embedder: Embedder) -> SearchIndex:
    return SearchIndex.build(PASSAGES, embedder, DenseConfig(kind="flat"))


def _ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def _query(text: str, mode: SearchMode) -> Query:
    return Query(text, 5, mode)


# --- corpus ---------------------------------------------------------------------------------


def test_a_corpus_reads_back_what_was_written_ignoring_extra_keys_and_blank_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.jsonl"
    write_corpus(path, PASSAGES[:3])
    with path.open("a") as f:
        f.write("\n" + json.dumps({"id": 7, "title": "T", "text": "x", "url": "u"}) + "\n")
    loaded = load_corpus(path)
    assert loaded[:3] == PASSAGES[:3]
    assert loaded[3] == Passage(id="7", title="T", text="x")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"id": "a", "text": "x"}', "missing title"),
        ('{"id": "", "title": "T", "text": "x"}', "id must be a non-empty string"),
        ('{"id": true, "title": "T", "text": "x"}', "id must be a non-empty string"),
        ('{"id": "a", "title": 3, "text": "x"}', "title must be a string, got int"),
        ('{"id": "a", "title": "T", "text": "  "}', "empty text"),
        ('{"id": "p0", "title": "T", "text": "x"}', "duplicate id 'p0' (first on line 1)"),
    ],
)
def test_a_bad_corpus_line_is_refused_with_its_line_number(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = tmp_path / "c.jsonl"
    write_corpus(path, PASSAGES[:2])
    path.write_text(path.read_text() + "\n" + line + "\n")
    with pytest.raises(CorpusError) as info:
        load_corpus(path)
    assert info.value.line == 4
    assert problem in str(info.value) and f"{path}:4" in str(info.value)


def test_an_empty_or_missing_corpus_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(CorpusError, match="holds no passages"):
        load_corpus(tmp_path / "empty.jsonl")
    with pytest.raises(CorpusError, match="no such file"):
        load_corpus(tmp_path / "absent.jsonl")


# --- the dense index ------------------------------------------------------------------------


def test_the_embedder_gives_unit_vectors_of_the_minilm_dimension(embedder: Embedder) -> None:
    vectors = embedder.encode(["a weaver", "a comet"])
    assert embedder.name == MINILM_NAME and vectors.shape == (2, 384) == (2, embedder.dim)
    assert abs(float((vectors**2).sum(axis=1).max()) - 1.0) < 1e-4


async def test_dense_search_finds_the_passage_a_paraphrase_asks_for(
    embedder: Embedder, index: SearchIndex
) -> None:
    searcher = Searcher(index, embedder)
    expected = ["p0", "p3", "p9", "p17", "p19", "p16"]
    for query, pid in zip(QUERIES, expected, strict=True):
        hits = await searcher.search(query, k=3)
        assert hits[0].id == pid, (query, _ids(hits))
        assert hits[0].score >= hits[1].score >= hits[2].score


def test_ivf_and_hnsw_agree_with_exact_search_on_a_small_corpus(
    embedder: Embedder, index: SearchIndex
) -> None:
    vectors = embedder.encode([p.indexed_text for p in PASSAGES])
    queries = embedder.encode(QUERIES)
    _, exact = index.dense.search(queries, 5)
    # nprobe = nlist scans every list, so IVF must be exact; HNSW on 20 points with a wide
    # candidate list finds the true neighbours too.
    for config in (
        DenseConfig(kind="ivf", nlist=4, nprobe=4),
        DenseConfig(kind="hnsw", hnsw_m=8, ef_search=64),
    ):
        approx = build_dense(vectors, config)
        _, rows = approx.search(queries, 5)
        assert rows.tolist() == exact.tolist(), config.kind


def test_auto_is_exact_for_small_corpora_and_hnsw_above_flat_max(embedder: Embedder) -> None:
    vectors = embedder.encode([p.indexed_text for p in PASSAGES])
    assert type(build_dense(vectors, DenseConfig())).__name__ == "IndexFlatIP"
    assert type(build_dense(vectors, DenseConfig(flat_max=10))).__name__ == "IndexHNSWFlat"


def test_ivf_refuses_more_lists_than_passages(embedder: Embedder) -> None:
    vectors = embedder.encode([p.indexed_text for p in PASSAGES[:5]])
    with pytest.raises(SearchIndexError, match="nlist=8 IVF lists cannot be trained on 5"):
        build_dense(vectors, DenseConfig(kind="ivf", nlist=8))


# --- BM25 and hybrid ------------------------------------------------------------------------


async def test_bm25_finds_the_one_passage_with_the_exact_rare_term(
    embedder: Embedder, index: SearchIndex
) -> None:
    searcher = Searcher(index, embedder)
    hits = await searcher.search("Quexalith", k=5, mode="bm25")
    assert _ids(hits) == ["p3"] and hits[0].score > 0
    assert await searcher.search("zzyzx unknownword", mode="bm25") == []


def test_rrf_adds_reciprocal_ranks_and_counts_a_row_found_by_one_list() -> None:
    fused = dict(reciprocal_rank_fusion([[3, 1, 7], [7, 2]], k=60))
    assert fused[7] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[3] == pytest.approx(1 / 61) and fused[2] == pytest.approx(1 / 62)
    # 1 and 2 tie at 1/62: the row seen first (1, in the first ranking) stays first.
    assert [row for row, _ in reciprocal_rank_fusion([[3, 1, 7], [7, 2]])] == [7, 3, 1, 2]


async def test_hybrid_ranks_first_what_both_rankings_agree_on(
    embedder: Embedder, index: SearchIndex
) -> None:
    searcher = Searcher(index, embedder)
    query = "Quexalith green mineral"
    dense = await searcher.search(query, k=20, mode="dense")
    bm25 = await searcher.search(query, k=20, mode="bm25")
    hybrid = await searcher.search(query, k=20, mode="hybrid")
    assert dense[0].id == bm25[0].id == hybrid[0].id == "p3"
    expected = dict(reciprocal_rank_fusion([_ids(dense), _ids(bm25)]))
    assert {h.id: h.score for h in hybrid} == pytest.approx(expected)


async def test_bm25_modes_are_refused_on_an_index_built_without_it(embedder: Embedder) -> None:
    index = SearchIndex.build(PASSAGES[:4], embedder, bm25=False)
    with pytest.raises(ToolError, match="needs BM25"):
        await Searcher(index, embedder).search("weaver", mode="hybrid")


# --- saving and loading ---------------------------------------------------------------------


def test_a_saved_index_loads_and_searches_the_same(
    tmp_path: Path, embedder: Embedder, index: SearchIndex
) -> None:
    index.save(tmp_path / "ix")
    loaded = SearchIndex.load(tmp_path / "ix", embedder)
    assert loaded.passages == index.passages and loaded.manifest == index.manifest
    searcher, again = Searcher(index, embedder), Searcher(loaded, embedder)
    queries = [*QUERIES, "Quexalith"]
    for mode in ("dense", "bm25", "hybrid"):
        first = searcher.search_batch([_query(q, mode) for q in queries])
        assert again.search_batch([_query(q, mode) for q in queries]) == first


def test_a_saved_hnsw_index_keeps_its_search_setting(tmp_path: Path, embedder: Embedder) -> None:
    built = SearchIndex.build(PASSAGES, embedder, DenseConfig(kind="hnsw", ef_search=77))
    built.save(tmp_path / "ix")
    loaded = SearchIndex.load(tmp_path / "ix", embedder)
    assert loaded.manifest.kind == "hnsw" and loaded.dense.hnsw.efSearch == 77


def test_loading_with_another_embedding_model_is_an_error_that_says_what_to_do(
    tmp_path: Path, embedder: Embedder, index: SearchIndex
) -> None:
    index.save(tmp_path / "ix")
    other = Embedder(embedder.model, name="acme/other-model")
    with pytest.raises(SearchIndexError) as info:
        SearchIndex.load(tmp_path / "ix", other)
    message = str(info.value)
    assert MINILM_NAME in message and "acme/other-model" in message
    assert "sparring index CORPUS" in message
    with pytest.raises(SearchIndexError, match="queried with 'acme/other-model'"):
        Searcher(index, other)


def test_a_manifest_with_another_dimension_is_refused(
    tmp_path: Path, embedder: Embedder, index: SearchIndex
) -> None:
    index.save(tmp_path / "ix")
    manifest = tmp_path / "ix" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"dim": 384', '"dim": 768'))
    with pytest.raises(SearchIndexError, match=r"\(768 dims\), but the encoder given is"):
        SearchIndex.load(tmp_path / "ix", embedder)


def test_a_folder_mixing_two_builds_or_without_a_manifest_is_refused(
    tmp_path: Path, embedder: Embedder, index: SearchIndex
) -> None:
    index.save(tmp_path / "ix")
    passages = tmp_path / "ix" / "passages.jsonl"
    passages.write_text("".join(passages.read_text().splitlines(keepends=True)[:-1]))
    mixed = r"passages\.jsonl holds 19 passages, the manifest 20"
    with pytest.raises(SearchIndexError, match=mixed):
        SearchIndex.load(tmp_path / "ix", embedder)
    (tmp_path / "ix" / "manifest.json").unlink()
    with pytest.raises(SearchIndexError, match=r"no manifest\.json"):
        SearchIndex.load(tmp_path / "ix", embedder)
    with pytest.raises(SearchIndexError, match="no such folder"):
        SearchIndex.load(tmp_path / "absent", embedder)


def test_saving_into_a_folder_holding_other_files_is_refused(
    tmp_path: Path, index: SearchIndex
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SearchIndexError, match="not empty and holds no index"):
        index.save(tmp_path)


# --- batching -------------------------------------------------------------------------------


async def test_concurrent_searches_from_many_episodes_share_one_embedding_call(
    embedder: Embedder, index: SearchIndex
) -> None:
    searcher = Searcher(index, embedder, SearchConfig(k=2))
    alone = [await searcher.search(q) for q in QUERIES]
    calls, batches = embedder.calls, searcher.batches
    together = await asyncio.gather(*(searcher.search(q) for q in QUERIES * 2))
    assert embedder.calls - calls == 1 and searcher.batches - batches == 1
    # Same passages in the same order; scores agree to float noise (a batch pads differently).
    assert [_ids(h) for h in together] == [_ids(h) for h in alone * 2]
    for mine, single in zip(together, alone * 2, strict=True):
        assert [h.score for h in mine] == pytest.approx([h.score for h in single], abs=1e-5)
    await searcher.aclose()


async def test_one_batch_mixes_modes_and_depths_and_answers_each_as_asked(
    embedder: Embedder, index: SearchIndex
) -> None:
    searcher = Searcher(index, embedder)
    calls = embedder.calls
    dense, bm25, hybrid = await asyncio.gather(
        searcher.search(QUERIES[0], k=1),
        searcher.search("Quexalith", k=4, mode="bm25"),
        searcher.search(QUERIES[2], k=5, mode="hybrid"),
    )
    assert embedder.calls - calls == 1  # bm25 needs no vector; dense and hybrid share one call
    assert (len(dense), _ids(bm25), len(hybrid)) == (1, ["p3"], 5)


async def test_an_empty_query_is_refused_without_reaching_the_batch(
    embedder: Embedder, index: SearchIndex
) -> None:
    searcher = Searcher(index, embedder)
    with pytest.raises(ToolError, match="empty search query"):
        await searcher.search("   ")
    assert searcher.batches == 0


# --- the tool-loop adapter ------------------------------------------------------------------


def test_hits_are_formatted_as_title_and_text_lines_cut_at_a_word() -> None:
    hits = [
        Hit(id="a", title="Oren Pell", text="Oren Pell was a\nmaster weaver.", score=0.9),
        Hit(
            id="b", title="Carrow", text="Carrow is a mining village famous for copper.", score=0.5
        ),
    ]
    assert format_hits(hits, max_chars=30) == (
        "[Oren Pell] Oren Pell was a master weaver.\n[Carrow] Carrow is a mining village..."
    )
    assert format_hits([]) == "no results"


async def test_the_tool_loop_calls_the_search_tool_and_masks_its_passages(
    embedder: Embedder, index: SearchIndex
) -> None:
    replies = itertools.chain(
        ["<search>who founded the weavers' guild?</search>", "<search>Oren Pell</search>"],
        itertools.repeat("<answer>Oren Pell</answer>"),
    )
    policy = ScriptedPolicy(lambda _messages: next(replies))
    tool = SearchTool(Searcher(index, embedder), k=2, max_chars=60)
    ask = [ChatMessage(role="user", content="Who founded the Velmora Guild?")]
    result = await run_tool_loop(
        policy, "solver", ask, {"search": tool}, SamplingParams(max_new_tokens=64), budget=1024
    )
    assert (result.outcome, result.answer, result.turns) == ("answer", "Oren Pell", 3)
    first, second = result.call.tool_calls
    assert first.result.startswith("[Velmora Guild] The Velmora Guild of weavers was founded")
    assert first.result == format_hits(tool.calls[0][1], max_chars=60)
    # The record keeps which passages came back, by id, title and score.
    hits = tool.calls[0][1]
    assert first.data == {
        "hits": [{"id": h.id, "title": h.title, "score": round(h.score, 4)} for h in hits]
    }
    assert [q for q, _ in tool.calls] == ["who founded the weavers' guild?", "Oren Pell"]
    assert len({h.id for h in tool.documents}) == len(tool.documents) >= 2
    text = result.call.generation.text
    ids, mask = result.call.generation.completion_ids, result.call.mask()
    masked = [t for t, m in zip(ids, mask, strict=True) if not m]
    assert (
        policy.decode(masked) == f"<result>{first.result}</result><result>{second.result}</result>"
    )
    assert "<result>[Velmora Guild]" in text


def test_without_a_terminal_build_progress_is_printed_as_plain_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_progress, "_PLAIN_EVERY_S", 0.0)
    with _progress.Bar("embedding", 4, "passages", enabled=True) as bar:
        bar.advance(2)
        bar.advance(2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("index: embedding 2/4 passages, ") and lines[0].endswith("s left")
    assert lines[-1].startswith("index: embedding 4/4 passages, ")
    with _progress.Bar("embedding", 4, "passages", enabled=False) as bar:
        bar.advance(4)
    assert capsys.readouterr().out == ""


# --- sparring index -------------------------------------------------------------------------


def test_sparring_index_builds_a_folder_the_searcher_loads(
    tmp_path: Path, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "world.jsonl"
    write_corpus(corpus, PASSAGES)
    out = tmp_path / "ix"
    assert main(["index", str(corpus), str(out), "--kind", "hnsw", "--ef-search", "40"]) == 0
    printed = capsys.readouterr().out
    assert "index: embedding 20/20 passages" in printed
    assert f"index: 20 passages, hnsw + BM25, {MINILM_NAME} (384 dims) -> {out}" in printed
    loaded = SearchIndex.load(out, embedder)
    assert loaded.manifest.dense.ef_search == 40 and loaded.bm25 is not None
    assert loaded.passages == PASSAGES


def test_sparring_index_reports_a_bad_corpus_line_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('{"id": "a", "title": "T", "text": "x"}\n{"id": "b"}\n')
    assert main(["index", str(corpus), str(tmp_path / "ix"), "--no-bm25"]) == 1
    assert f"corpus {corpus}:2: missing title, text" in capsys.readouterr().err
    assert not (tmp_path / "ix").exists()


def test_sparring_index_refuses_a_bad_option_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "world.jsonl"
    write_corpus(corpus, PASSAGES[:2])
    assert main(["index", str(corpus), str(tmp_path / "ix"), "--nprobe", "0"]) == 1
    assert "--nprobe: Input should be greater than or equal to 1" in capsys.readouterr().err


def test_the_index_help_states_the_defaults_the_build_uses() -> None:
    (sub,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in sub.choices["index"]._actions}
    defaults = DenseConfig()
    for field in ("flat_max", "nprobe", "hnsw_m", "ef_construction", "ef_search"):
        assert helps[field].endswith(f"({getattr(defaults, field)})"), field


# Search over a few given documents (the RAG verifier's).


async def test_a_document_searcher_finds_only_among_its_documents_best_first() -> None:
    docs = [
        Hit("a", "Baro Kelotin", "Baro Kelotin was born in Misadel.", 0.0),
        Hit("b", "Misadel", "Misadel is a city in Rotele.", 0.0),
        Hit("c", "Orun Guild", "The Orun Guild was founded by Baro Kelotin.", 0.0),
    ]
    searcher = DocumentSearcher(docs)
    best = await searcher.search("Baro Kelotin", k=2)
    assert [h.id for h in best] == ["a", "c"] and best[0].score >= best[1].score > 0
    assert [h.id for h in await searcher.search("Misadel")] == ["b"]  # k defaults to 1
    assert await searcher.search("Amsel") == []  # in no document: nothing, not a guess
    assert await DocumentSearcher([]).search("Misadel") == []
    with pytest.raises(ToolError, match="empty search query"):
        await searcher.search("  ")
    tool = SearchTool(searcher, k=1)
    out = await tool("Misadel")
    assert out.text == "[Misadel] Misadel is a city in Rotele."
    assert [d.id for d in tool.documents] == ["b"]
