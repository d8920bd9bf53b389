"""The pair a voter was shown, signed into the form, so that the choice posted is about a
pair the chooser offered to that voter in that round, not one the voter made up (pitting
a favourite against the weakest ideas again and again).

The token is itsdangerous-signed (the platform's secret key, a salt of its own) and dated:
a token older than `max_age` (an abandoned tab) or made for another round or voter is
refused, and the page shows a fresh pair. A choice posted twice from one token is stored
once (the voter's pair is unique in the database).
"""

from __future__ import annotations

from itsdangerous import BadData, URLSafeTimedSerializer

from cocreate.headtohead.chooser import Pair

SALT = "cocreate.head-to-head.pair"
MAX_AGE = 6 * 3600  # seconds a shown pair may wait for its answer


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def sign_pair(*, secret_key: str, round_id: int, voter_id: int, pair: Pair) -> str:
    """The token of the pair shown to this voter in this round."""
    payload = [round_id, voter_id, pair.left_idea_id, pair.right_idea_id]
    return str(_serializer(secret_key).dumps(payload))


def read_pair(
    *, secret_key: str, token: str, round_id: int, voter_id: int, max_age: int = MAX_AGE
) -> Pair | None:
    """The pair the token was made for, or None when it is forged, expired, or made for
    another round or voter."""
    try:
        payload = _serializer(secret_key).loads(token, max_age=max_age)
    except BadData:
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 4
        or not all(type(value) is int for value in payload)
        or payload[:2] != [round_id, voter_id]
    ):
        return None
    return Pair(payload[2], payload[3])
