"""Names no model knows: words built from a small, regular syllable set, each used once.

A name is two or three consonant-vowel syllables with an optional final n, l or r ("Baro",
"Kelotin", "Misadel"). Sixty syllables and three codas are few enough
that a word-level or syllable-level tokenizer sees the same pieces again and again, and many
enough (over 800k three-syllable words) for a world of 100k articles.

Every word is handed out once per world by `NameMaker`, so two entities never share a word:
a city is never also a surname, and an organisation's core word belongs to it alone. That keeps
names unique after answer normalisation and keeps an answer's words out of its question unless
the question is about the answer itself (which the question builder refuses). People are the
exception by design: a first name and a surname are drawn from two small pools and combined,
each combination used once, so the vocabulary grows with the square root of the population.

Names are random strings and a few may spell an English word; none carries a real-world fact,
which is what matters: a model cannot answer from memory.
"""

from __future__ import annotations

import math
import random

__all__ = ["CODAS", "EVENT_TYPES", "ORGANISATION_TYPES", "SYLLABLES", "NameMaker"]

SYLLABLES: tuple[str, ...] = tuple(c + v for c in "bdfgklmnprst" for v in "aeiou")
"""The 60 syllables names are made of (consonant + vowel)."""

CODAS: tuple[str, ...] = ("", "n", "l", "r")
"""What may close a name's last syllable."""

ORGANISATION_TYPES: tuple[str, ...] = ("Guild", "Society", "Company", "Bank", "School", "League")
"""The noun after an organisation's core word: "the Orun Guild"."""

EVENT_TYPES: tuple[str, ...] = ("Fair", "Festival", "Race", "Summit", "Congress", "Cup")
"""The noun after an event's core word: "the Kelo Fair"."""

_MAX_TRIES = 10_000


class NameMaker:
    """Hands out capitalised syllable words, each at most once, from a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def word(self) -> str:
        """A word not handed out before (two or three syllables, optional coda)."""
        for _ in range(_MAX_TRIES):
            count = 2 if self._rng.random() < 0.5 else 3
            body = "".join(self._rng.choice(SYLLABLES) for _ in range(count))
            candidate = (body + self._rng.choice(CODAS)).capitalize()
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
        raise RuntimeError(f"no new name after {_MAX_TRIES} tries; the world is too large")

    def words(self, count: int) -> list[str]:
        """`count` distinct new words."""
        return [self.word() for _ in range(count)]

    def people(self, count: int) -> list[str]:
        """`count` distinct "First Last" names from two pools of about sqrt(2 * count) words."""
        pool = max(4, math.ceil(math.sqrt(2 * count)))
        firsts, lasts = self.words(pool), self.words(pool)
        pairs = [(f, s) for f in firsts for s in lasts]
        return [f"{f} {s}" for f, s in self._rng.sample(pairs, count)]
