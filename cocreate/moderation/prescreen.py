"""Automatic pre-screening of an idea's text: pure functions, no database.

Each finding is a `Finding` with the kind of problem, what was found, and the action we
suggest to the moderator. `cocreate.moderation.screening.prescreen_idea` stores them as flags
and, when the brand asked for it, rejects spam automatically.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from cocreate.moderation.models import Action, FlagKind

MIN_TEXT_LENGTH = 25  # title and description together, once trimmed
CAPITALS_MIN_LETTERS = 12  # "OK" or an acronym is not shouting
CAPITALS_RATIO = 0.8

_LINK = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.(?:com|net|org|info|biz|io|co|fr|be|ch|ca|uk|de"
    r"|ru|cn|xyz|top|site|online|shop|store|click|link|ly|me|tv|app)\b(?:/\S*)?",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Nine or more digits, maybe with +, spaces, dots, dashes or brackets between them: phone
# numbers in English and French writing (+33 6 12 34 56 78, (555) 123-4567, 06.12.34.56.78).
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")


@dataclass(frozen=True)
class Finding:
    kind: FlagKind
    detail: str
    suggested_action: Action
    similar_idea_id: int | None = None


def fold(text: str) -> str:
    """Lower case without accents or odd spacing: "Crème  BRÛLÉE" -> "creme brulee"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))


def blocklisted(text: str, blocklist: Iterable[str]) -> list[str]:
    """The blocklist entries found as whole words (or whole phrases) in `text`."""
    folded = " " + " ".join(_words(text)) + " "
    found = []
    for entry in blocklist:
        phrase = " ".join(_words(entry))
        if phrase and f" {phrase} " in folded and phrase not in found:
            found.append(phrase)
    return found


def links(text: str) -> list[str]:
    without_emails = _EMAIL.sub(" ", text)
    return [m.group(0) for m in _LINK.finditer(without_emails)]


def emails(text: str) -> list[str]:
    return _EMAIL.findall(text)


def phone_numbers(text: str) -> list[str]:
    return [m.group(0).strip() for m in _PHONE.finditer(text)]


def too_short(title: str, description: str) -> bool:
    return len(f"{title.strip()} {description.strip()}".strip()) < MIN_TEXT_LENGTH


def all_capitals(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < CAPITALS_MIN_LETTERS:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= CAPITALS_RATIO


def screen(
    *,
    title: str,
    description: str,
    blocklist: Iterable[str],
    look_alike: tuple[int, str, str] | None = None,
) -> list[Finding]:
    """Every problem found in an idea. `look_alike`: (id, title, status) of the campaign's
    idea that its title most looks like (found by the ideas feature's similarity search)."""
    text = f"{title}\n{description}"
    findings: list[Finding] = []
    for word in blocklisted(text, blocklist):
        findings.append(Finding(FlagKind.BLOCKLIST, word, Action.REJECT))
    for link in links(text)[:3]:
        findings.append(Finding(FlagKind.LINK, link[:200], Action.REJECT))
    for address in emails(text)[:3]:
        findings.append(Finding(FlagKind.EMAIL, address[:200], Action.REJECT))
    for number in phone_numbers(text)[:3]:
        findings.append(Finding(FlagKind.PHONE, number[:200], Action.REJECT))
    if look_alike is not None:
        other_id, other_title, other_status = look_alike
        # Only an approved idea can receive a merge; a pending twin is for a person to judge.
        action = Action.MERGE if other_status == "approved" else Action.REJECT
        findings.append(Finding(FlagKind.DUPLICATE, other_title[:200], action, other_id))
    if too_short(title, description):
        findings.append(Finding(FlagKind.TOO_SHORT, "", Action.REQUEST_CHANGES))
    if all_capitals(text):
        findings.append(Finding(FlagKind.ALL_CAPS, "", Action.REQUEST_CHANGES))
    return findings
