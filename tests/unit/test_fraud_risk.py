"""Layer 1 of the fraud checks: each risk signal, the policy, the proof-of-work challenge."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cocreate.fraud import challenge, risk
from cocreate.fraud.policy import Decision, FraudPolicy
from cocreate.fraud.risk import RiskInputs, assess
from cocreate.security.ratelimit import RateLimiter
from cocreate.security.windows import MemoryWindows, Window

NOW = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"

# An ordinary voter: confirmed address at a real provider, a month-old account, a browser.
HONEST = RiskInputs(
    email="vera@example.org",
    verified=True,
    account_created_at=NOW - timedelta(days=30),
    now=NOW,
    user_agent=BROWSER,
    network_votes=1,
    device_votes=1,
    account_votes=1,
)


def test_an_ordinary_voter_scores_zero() -> None:
    found = assess(HONEST)
    assert found.score == 0.0 and found.signals == {}


def test_an_unconfirmed_email_adds_its_weight() -> None:
    found = assess(replace(HONEST, verified=False))
    assert found.signals == {"unverified_email": risk.UNVERIFIED}


@pytest.mark.parametrize(
    ("age", "weight"),
    [
        (timedelta(hours=2), risk.NEW_ACCOUNT_DAY),
        (timedelta(days=3), risk.NEW_ACCOUNT_WEEK),
        (timedelta(days=7), None),
    ],
)
def test_a_new_account_adds_less_as_it_ages(age: timedelta, weight: float | None) -> None:
    found = assess(replace(HONEST, account_created_at=NOW - age))
    assert found.signals.get("new_account") == weight


@pytest.mark.parametrize(
    ("email", "disposable"),
    [
        ("x@mailinator.com", True),
        ("x@MAILINATOR.COM", True),
        ("x@eu.mailinator.com", True),  # a subdomain of a throwaway domain
        ("x@gmail.com", False),
        ("x@example.org", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_disposable_email_domains_come_from_the_maintained_list(
    email: str | None, disposable: bool
) -> None:
    assert risk.is_disposable(email) is disposable
    found = assess(replace(HONEST, email=email))
    assert ("disposable_email" in found.signals) is disposable


@pytest.mark.parametrize(
    ("agent", "signal"),
    [
        ("curl/8.5.0", "scripted_user_agent"),
        ("python-requests/2.32.3", "scripted_user_agent"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/130.0 Safari/537.36",
            "scripted_user_agent",
        ),
        ("Go-http-client/1.1", "scripted_user_agent"),
        ("Wget/1.21", "scripted_user_agent"),
        ("", "empty_user_agent"),
        ("   ", "empty_user_agent"),
        (None, "empty_user_agent"),
        (BROWSER, None),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1", None),
        ("Mozilla/5.0 (compatible; ExampleBot/2.1)", None),  # "bot" only as a word
        ("Mozilla/5.0 (compatible; Example BOT 2.1)", "scripted_user_agent"),
        # Longer than the agents whose signal is remembered: searched each time, alike.
        (BROWSER + " x" * risk.REMEMBERED_AGENT_LENGTH, None),
        ("x" * risk.REMEMBERED_AGENT_LENGTH + " PhantomJS/2.1", "scripted_user_agent"),
    ],
)
def test_scripted_and_missing_user_agents(agent: str | None, signal: str | None) -> None:
    for _twice in range(2):  # the second time, from what was remembered
        found = assess(replace(HONEST, user_agent=agent))
        assert list(found.signals) == ([signal] if signal else [])


@pytest.mark.parametrize(
    ("field", "signal", "free", "weight"),
    [
        ("network_votes", "shared_network", risk.NETWORK_FREE, risk.SHARED_NETWORK),
        ("device_votes", "shared_device", risk.DEVICE_FREE, risk.SHARED_DEVICE),
        ("account_votes", "velocity", risk.VELOCITY_FREE, risk.VELOCITY),
    ],
)
def test_window_counts_fire_past_their_free_count_and_ramp_up(
    field: str, signal: str, free: int, weight: float
) -> None:
    assert signal not in assess(replace(HONEST, **{field: free})).signals
    a_bit = assess(replace(HONEST, **{field: free + 1})).signals[signal]
    half = assess(replace(HONEST, **{field: free + free // 2})).signals[signal]
    full = assess(replace(HONEST, **{field: 10 * free})).signals[signal]
    assert 0 < a_bit < half < full == pytest.approx(weight)


@pytest.mark.parametrize("field", ["network_votes", "device_votes", "account_votes"])
def test_a_method_whose_ballot_takes_many_actions_moves_the_free_counts(field: str) -> None:
    # Head to head: thirty choices a minute is a person judging pairs, not a script.
    free = {
        "network_votes": risk.NETWORK_FREE,
        "device_votes": risk.DEVICE_FREE,
        "account_votes": risk.VELOCITY_FREE,
    }[field]
    quick = replace(HONEST, **{field: 3 * free})
    assert assess(quick).signals  # at a ballot of votes' pace: too fast
    assert not assess(replace(quick, pace=3.0)).signals
    assert assess(replace(quick, **{field: 3 * free + 1}, pace=3.0)).signals  # still a limit
    assert assess(replace(quick, pace=0.1)).signals == assess(quick).signals  # never below


def test_accounts_of_one_mailbox_voting_in_the_round() -> None:
    one = assess(replace(HONEST, mailbox_siblings=1)).signals["mailbox_siblings"]
    many = assess(replace(HONEST, mailbox_siblings=5)).signals["mailbox_siblings"]
    assert one == pytest.approx(risk.MAILBOX_SIBLING)
    assert many == pytest.approx(2 * risk.MAILBOX_SIBLING)  # capped


def test_the_score_adds_the_signals_and_is_capped_at_one() -> None:
    two = assess(replace(HONEST, verified=False, account_created_at=NOW))
    assert two.score == pytest.approx(risk.UNVERIFIED + risk.NEW_ACCOUNT_DAY)
    everything = assess(
        replace(
            HONEST,
            verified=False,
            account_created_at=NOW,
            email="x@mailinator.com",
            user_agent="curl/8",
            network_votes=1000,
            device_votes=1000,
            account_votes=1000,
            mailbox_siblings=3,
        )
    )
    assert everything.score == 1.0 and len(everything.signals) == 8
    assert json.loads(json.dumps(everything.as_json())) == everything.as_json()


# --- The policy --------------------------------------------------------------------------------


def test_the_default_policy_counts_checks_and_refuses() -> None:
    policy = FraudPolicy.from_json({})
    assert (policy.challenge_above, policy.refuse_above, policy.middle) == (50, 90, "challenge")
    assert policy.decide(0.0) == Decision.COUNT
    assert policy.decide(0.5) == Decision.COUNT  # at the threshold: still counts
    assert policy.decide(0.51) == Decision.CHALLENGE
    assert policy.decide(0.7, solved=True) == Decision.COUNT
    assert policy.decide(0.9) == Decision.CHALLENGE
    assert policy.decide(0.91) == Decision.REFUSE
    assert policy.decide(1.0, solved=True) == Decision.REFUSE  # solving does not save it


def test_a_hold_policy_and_thresholds_turned_off() -> None:
    hold = FraudPolicy.from_json({"challenge_above": 20, "refuse_above": 60, "middle": "hold"})
    assert hold.decide(0.3) == Decision.HOLD and hold.decide(0.3, solved=True) == Decision.HOLD
    assert hold.decide(0.61) == Decision.REFUSE
    off = FraudPolicy.from_json({"challenge_above": 100, "refuse_above": 100})
    assert off.decide(1.0) == Decision.COUNT


@pytest.mark.parametrize(
    "damaged",
    [
        None,
        [],
        {"challenge_above": "50"},
        {"challenge_above": True},
        {"challenge_above": 150},
        {"middle": "block"},
    ],
)
def test_a_damaged_policy_reads_as_the_defaults(damaged: object) -> None:
    assert FraudPolicy.from_json(damaged) == FraudPolicy()


def test_a_refusal_threshold_below_the_check_one_is_raised_to_it() -> None:
    policy = FraudPolicy.from_json({"challenge_above": 70, "refuse_above": 40})
    assert policy.refuse_above == 70
    assert FraudPolicy.from_json(policy.as_json()) == policy


# --- The proof of work -------------------------------------------------------------------------

KEY = "unit-test-secret-key-" + "k" * 20
BINDING = challenge.Binding(round_id=3, voter_id=7, idea_id=11)


def solved(binding: challenge.Binding = BINDING, now: datetime = NOW) -> str:
    made = challenge.create(secret_key=KEY, binding=binding, now=now, max_number=2000)
    solution = challenge.solve(made)
    assert solution is not None
    return challenge.encode(solution)


def check(payload: str, *, store: RateLimiter, now: datetime = NOW, **changes: int) -> str:
    return challenge.verify(
        payload, secret_key=KEY, binding=replace(BINDING, **changes), now=now, store=store
    )


def test_a_solved_challenge_is_accepted_once() -> None:
    store = RateLimiter()
    payload = solved()
    assert check(payload, store=store) == challenge.Check.SOLVED
    assert check(payload, store=store) == challenge.Check.REPLAYED


def test_the_challenge_has_the_altcha_shape() -> None:
    made = challenge.create(secret_key=KEY, binding=BINDING, now=NOW, max_number=5000)
    assert set(made) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert made["algorithm"] == "SHA-256" and made["maxnumber"] == 5000
    assert "?expires=" in made["salt"] and "&r=3&v=7&i=11" in made["salt"]
    assert len(made["challenge"]) == 64 and len(made["signature"]) == 64


def test_a_challenge_is_only_good_for_its_voter_round_and_idea() -> None:
    store = RateLimiter()
    payload = solved()
    assert check(payload, store=store, idea_id=12) == challenge.Check.INVALID
    assert check(payload, store=store, voter_id=8) == challenge.Check.INVALID
    assert check(payload, store=store, round_id=4) == challenge.Check.INVALID
    assert check(payload, store=store) == challenge.Check.SOLVED  # not spent by the failures


def test_an_expired_challenge_is_refused() -> None:
    payload = solved()
    later = NOW + timedelta(seconds=challenge.LIFETIME_SECONDS + 1)
    assert check(payload, store=RateLimiter(), now=later) == challenge.Check.EXPIRED


def _edit(payload: str, **changes: object) -> str:
    data = json.loads(base64.b64decode(payload))
    data.update(changes)
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_forged_and_damaged_solutions_are_invalid() -> None:
    store = RateLimiter()
    payload = solved()
    data = json.loads(base64.b64decode(payload))
    wrong_number = _edit(payload, number=data["number"] + 1)
    # A challenge of one's own making, with a number one knows: the signature gives it away.
    own_salt = data["salt"].replace("i=11", "i=11&x=1")
    own = challenge._sha256(f"{own_salt}1")
    forged = _edit(payload, salt=own_salt, challenge=own, number=1)
    other_key = challenge.create(secret_key="another-key-" + "x" * 30, binding=BINDING, now=NOW)
    signed_elsewhere = challenge.encode(challenge.solve({**other_key, "maxnumber": 100_000}) or {})
    for bad in (
        wrong_number,
        forged,
        signed_elsewhere,
        _edit(payload, algorithm="SHA-1"),
        _edit(payload, number="7"),
        _edit(payload, number=True),
        "",
        "%%%not base64",
        base64.b64encode(b"[1, 2]").decode(),
        "A" * (challenge.PAYLOAD_MAX + 1),
    ):
        assert check(bad, store=store) == challenge.Check.INVALID, bad
    assert check(payload, store=store) == challenge.Check.SOLVED


def test_the_solver_finds_the_number_the_server_hid() -> None:
    made = challenge.create(secret_key=KEY, binding=BINDING, now=NOW, max_number=3000)
    solution = challenge.solve(made)
    assert solution is not None
    assert challenge._sha256(f"{made['salt']}{solution['number']}") == made["challenge"]
    assert challenge.solve({**made, "challenge": "0" * 64, "maxnumber": 50}) is None


# --- The counting windows ----------------------------------------------------------------------


def test_window_counts_grow_with_each_hit_and_can_be_read_without_one() -> None:
    windows = RateLimiter().windows
    hour = Window("unit-window", 3600)
    assert [windows.counts([(hour, "k")]) for _ in range(3)] == [[1], [2], [3]]
    assert windows.counts([(hour, "k")], hit=False) == [3]
    assert windows.counts([(hour, "other"), (hour, "k")]) == [1, 4]


def test_the_sliding_window_forgets_the_previous_window_as_it_slides() -> None:
    now = [3600.0 * 1000]  # the start of a fixed window
    windows = MemoryWindows(clock=lambda: now[0])
    hour = Window("unit-slide", 3600)
    for _ in range(10):
        windows.counts([(hour, "k")], hit=True)
    now[0] += 3600  # the next fixed window starts: all ten still in the sliding hour
    assert windows.counts([(hour, "k")], hit=False) == [10]
    now[0] += 1800  # half way: half of them
    assert windows.counts([(hour, "k")], hit=False) == [5]
    now[0] += 1800 + 3600  # two windows later: none
    assert windows.counts([(hour, "k")], hit=False) == [0]


def test_stale_keys_are_swept_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    windows = MemoryWindows(clock=lambda: now[0])
    minute = Window("unit-sweep", 60)
    monkeypatch.setattr("cocreate.security.windows.SWEEP_EVERY", 3)
    windows.counts([(minute, "old")], hit=True)
    now[0] = 1000.0
    windows.counts([(minute, "new")], hit=True)
    windows.counts([(minute, "new")], hit=True)
    assert windows.keys() == ["unit-sweep/new"]


def test_first_use_is_true_once() -> None:
    store = RateLimiter()
    assert store.first_use("unit-once", 60) is True
    assert store.first_use("unit-once", 60) is False
    assert store.first_use("unit-twice", 60) is True
