"""The blocklist shipped with cocreate: common English and French profanity and insults.

Written folded (lower case, no accents) as `prescreen.fold` leaves text, so "Enculé" and
"ENCULE" both match "encule". Brands add their own words on the moderation settings page.
A match only flags an idea for a person to read (or rejects it when the brand asked for
that): it never silently deletes anything, so a short list of unambiguous words is better
than a long one full of false positives ("Scunthorpe").
"""

from __future__ import annotations

ENGLISH = (
    "fuck",
    "fucking",
    "fucker",
    "motherfucker",
    "shit",
    "bullshit",
    "bitch",
    "cunt",
    "asshole",
    "arsehole",
    "dickhead",
    "wanker",
    "bastard",
    "slut",
    "whore",
    "retard",
    "piss off",
    "kill yourself",
)

FRENCH = (
    "merde",
    "putain",
    "pute",
    "connard",
    "connasse",
    "salope",
    "salaud",
    "encule",
    "enculer",
    "batard",
    "niquer",
    "nique ta mere",
    "fils de pute",
    "ta gueule",
    "pd",
    "abruti",
    "debile",
)

DEFAULT_BLOCKLIST: tuple[str, ...] = ENGLISH + FRENCH
