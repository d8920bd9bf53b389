"""Text folding for look-alike titles and search: pure functions, no database.

"Crème brûlée" and "creme brulees" must meet, and so must "Fraise" and "fraises". Every
title is folded once when it is saved (`Idea.search_key`) and split into terms (`IdeaTerm`)
that the database can look up by prefix; the query is folded the same way, candidates are
fetched by shared term prefixes, and rapidfuzz ranks the few hundred candidates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import fuzz, process

# Terms are made of these characters only, so that a prefix range `term BETWEEN p AND p||"zz…"`
# means "starts with p" under any collation that orders digits and letters as ASCII does.
_NON_TERM = re.compile(r"[^0-9a-z]+")
TERM_MAX_LENGTH = 40
_PREFIX_END = "z" * TERM_MAX_LENGTH
# Short words that would match everything: English and French articles, prepositions, links.
STOPWORDS = frozenset(
    """a an and at by for from in into is it of on or the to with without
    au aux avec ce ces d de des du en et l la le les ou par pour sans sur un une""".split()
)
# Ranked candidates scoring below this (0-100, rapidfuzz WRatio) do not look alike.
SIMILAR_SCORE_CUTOFF = 80.0


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def singular(word: str) -> str:
    """A crude, symmetric stem: the singular and plural of a word fold to the same string.

    It need not be a real word, only the same for both forms: "fraise"/"fraises" -> "frais",
    "brûlée"/"brûlés" -> "brul", "berries" -> "berry", "gâteaux" -> "gateau",
    "peaches" -> "peach", "glasses" -> "glass", "chevaux" -> "cheval".
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("eaux", "eux", "oux")):
        return word[:-1]
    if word.endswith("aux"):
        return word[:-3] + "al"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    # French feminine and English silent e ("brûlée" ~ "brûlé", "peache" ~ "peach").
    while word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Folded words: NFKD, accents removed, lower case, split on anything but letters/digits."""
    folded = strip_accents(text).casefold()
    return [w for w in _NON_TERM.split(folded) if w]


def fold(text: str) -> str:
    """The search key of a title: singular folded words without stop words, space separated."""
    all_words = [singular(w)[:TERM_MAX_LENGTH] for w in words(text)]
    kept = [w for w in all_words if w not in STOPWORDS]
    return " ".join(kept or all_words)[:200]


def terms(text: str, *, limit: int = 64) -> list[str]:
    """Distinct folded words worth looking up (no stop words, at least 2 characters)."""
    seen: dict[str, None] = {}
    for word in words(text):
        stem = singular(word)[:TERM_MAX_LENGTH]
        if len(stem) >= 2 and stem not in STOPWORDS:
            seen.setdefault(stem, None)
            if len(seen) >= limit:
                break
    return list(seen)


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds for `term BETWEEN low AND high` meaning "term starts with prefix"."""
    return prefix, prefix + _PREFIX_END


def rank_similar(
    query: str, candidates: Iterable[tuple[int, str]], *, limit: int = 5
) -> list[tuple[int, float]]:
    """(id, score) of the candidates (id, search_key) whose key looks like the folded query."""
    key = fold(query)
    if not key:
        return []
    choices = dict(candidates)
    found = process.extract(
        key, choices, scorer=fuzz.WRatio, score_cutoff=SIMILAR_SCORE_CUTOFF, limit=limit
    )
    return [(int(idea_id), float(score)) for _choice, score, idea_id in found]
