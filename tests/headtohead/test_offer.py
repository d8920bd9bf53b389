"""The signed pair: a choice can only be about a pair that was shown to that voter."""

from __future__ import annotations

import time

from itsdangerous import URLSafeTimedSerializer

from cocreate.headtohead.chooser import Pair
from cocreate.headtohead.offer import SALT, read_pair, sign_pair

KEY = "test-secret-key-" + "x" * 32


def test_the_shown_pair_comes_back_with_its_sides() -> None:
    token = sign_pair(secret_key=KEY, round_id=3, voter_id=7, pair=Pair(12, 5))
    assert read_pair(secret_key=KEY, token=token, round_id=3, voter_id=7) == Pair(12, 5)


def test_another_round_voter_key_or_an_edited_token_is_refused() -> None:
    token = sign_pair(secret_key=KEY, round_id=3, voter_id=7, pair=Pair(12, 5))
    assert read_pair(secret_key=KEY, token=token, round_id=4, voter_id=7) is None
    assert read_pair(secret_key=KEY, token=token, round_id=3, voter_id=8) is None
    assert read_pair(secret_key=KEY + "y", token=token, round_id=3, voter_id=7) is None
    assert read_pair(secret_key=KEY, token=token[:-2] + "xx", round_id=3, voter_id=7) is None
    assert read_pair(secret_key=KEY, token="", round_id=3, voter_id=7) is None


def test_a_signed_payload_of_another_shape_is_refused() -> None:
    forged = URLSafeTimedSerializer(KEY, salt=SALT)
    for payload in ([3, 7, 12], [3, 7, "12", 5], {"a": 1}, [3, 7, 12.0, 5], [3, 7, True, 5]):
        token = str(forged.dumps(payload))
        assert read_pair(secret_key=KEY, token=token, round_id=3, voter_id=7) is None


def test_an_old_token_is_refused() -> None:
    token = sign_pair(secret_key=KEY, round_id=3, voter_id=7, pair=Pair(1, 2))
    time.sleep(1.1)
    assert read_pair(secret_key=KEY, token=token, round_id=3, voter_id=7, max_age=0) is None
    assert read_pair(secret_key=KEY, token=token, round_id=3, voter_id=7, max_age=60) == Pair(1, 2)
