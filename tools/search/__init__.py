"""The search tool: a JSONL corpus, a faiss index with BM25 beside it, async batched search,
and the adapter the tool loop calls (`<search>query</search>`).

    passages = load_corpus(Path("world.jsonl"))            # or: sparring index CORPUS OUT
    embedder = Embedder.minilm()
    index = SearchIndex.build(passages, embedder, DenseConfig(kind="auto"))
    searcher = Searcher(index, embedder, SearchConfig(k=3, mode="hybrid"))
    tools = {"search": SearchTool(searcher)}               # one per episode

Modules: corpus (loading), embedder (all-MiniLM-L6-v2), dense (faiss kinds), lexical (BM25),
fusion (RRF), index (build/save/load with checks), searcher (batching), documents (BM25 over a
few given documents, the RAG verifier's), tool (the adapter).
"""

from sparring.tools.search.corpus import Passage, load_corpus, write_corpus
from sparring.tools.search.dense import DenseConfig, build_dense
from sparring.tools.search.documents import DocumentSearcher
from sparring.tools.search.embedder import MINILM_NAME, Embedder, Encoder
from sparring.tools.search.errors import CorpusError, SearchIndexError
from sparring.tools.search.fusion import reciprocal_rank_fusion
from sparring.tools.search.index import IndexManifest, SearchIndex
from sparring.tools.search.lexical import Bm25
from sparring.tools.search.searcher import Hit, SearchConfig, Searcher, SearchMode
from sparring.tools.search.tool import Searches, SearchTool, format_hits

__all__ = [
    "MINILM_NAME",
    "Bm25",
    "CorpusError",
    "DenseConfig",
    "DocumentSearcher",
    "Embedder",
    "Encoder",
    "Hit",
    "IndexManifest",
    "Passage",
    "SearchConfig",
    "SearchIndex",
    "SearchIndexError",
    "SearchMode",
    "SearchTool",
    "Searcher",
    "Searches",
    "build_dense",
    "format_hits",
    "load_corpus",
    "reciprocal_rank_fusion",
    "write_corpus",
]
