"""Answer matching: normalised exact match and token F1 as SQuAD v1.1 defines them.

The judge of the search game scores an answer by exact match after normalisation and records
token F1 beside it, the two metrics of the SQuAD v1.1 evaluation (Rajpurkar et al. 2016,
"SQuAD: 100,000+ Questions for Machine Comprehension of Text"), which Search-R1 and Search
Self-Play (arXiv 2510.18821) reuse for open-domain QA. Following the published definition:

1. lowercase;
2. delete every ASCII punctuation character (Python's `string.punctuation`) without putting a
   space in its place, so "a-b" becomes "ab" and "U.S." becomes "us";
3. replace the articles "a", "an" and "the" by a space where they are whole words ("theater"
   keeps its "the");
4. collapse runs of whitespace to single spaces and strip the ends.

Unicode punctuation (curly quotes, dashes, "…") is not in `string.punctuation` and is kept, as
the v1.1 script keeps it; matching it away would change the metric every published number uses.

Exact match is 1.0 when the normalised strings are equal. F1 is the harmonic mean of token
precision and recall over the multisets of normalised tokens, and 0.0 when no token is shared,
which includes the case of a prediction and a gold that are both empty after normalisation
(v1.1 scores that 0; only the SQuAD 2.0 script scores it 1). Both take the maximum over the gold
answers.

    >>> exact_match("The Orun Guild!", ["orun guild"])
    1.0
    >>> round(f1("Orun Guild of Amsel", "the Orun Guild"), 3)
    0.667
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

__all__ = ["exact_match", "f1", "normalize_answer"]

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """The SQuAD v1.1 normal form: lowercase, no ASCII punctuation, no articles, single spaces."""
    lowered = text.lower()
    unpunctuated = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", unpunctuated).split())


def exact_match(prediction: str, golds: str | Sequence[str]) -> float:
    """1.0 if the prediction equals some gold answer after normalisation, else 0.0."""
    predicted = normalize_answer(prediction)
    return max(float(predicted == normalize_answer(gold)) for gold in _golds(golds))


def f1(prediction: str, golds: str | Sequence[str]) -> float:
    """The best token F1 of the prediction against any gold answer (0.0 when none overlaps)."""
    tokens = normalize_answer(prediction).split()
    return max(_token_f1(tokens, normalize_answer(gold).split()) for gold in _golds(golds))


def _token_f1(predicted: list[str], gold: list[str]) -> float:
    """F1 over token multisets: a token counts as often as it occurs in both."""
    shared = sum((Counter(predicted) & Counter(gold)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(predicted)
    recall = shared / len(gold)
    return 2 * precision * recall / (precision + recall)


def _golds(golds: str | Sequence[str]) -> tuple[str, ...]:
    """One gold answer or several; an empty list is a caller's bug, not a score of 0."""
    found = (golds,) if isinstance(golds, str) else tuple(golds)
    if not found:
        raise ValueError("no gold answers given: pass at least one")
    return found
