"""A realistic round's vote log with three injected attacks, as `VoteLog` + `Accounts`.

Honest side (seeded, vectorised):
- voters with heavy-tailed activity (log-normal weights: most vote a few times, some
  hundreds); votes grouped in sessions of a few votes, at hours drawn from a daily rhythm
  (quiet nights, lunch bump, evening peak), busier first and last days;
- ideas with Zipf-Mandelbrot popularity `(rank + 30) ** -1.05`: a long tail and a head of
  several close contenders (which is what makes a top 3 worth cheating for);
- households (1-5 accounts) on a home /24 shared with a few other households; mobile carriers'
  CGNAT prefixes (a few hundred), each shared by hundreds of voters; offices and universities
  (Zipf sizes, up to a few thousand); sessions pick one network each;
- mostly one device per account, some two or three, family devices shared in a household;
  a device keeps its user agent, drawn from a few dozen common ones;
- mailboxes from a synthetic name list in the usual spellings (first.last, firstlast,
  flast, birth years, gmail dots, honest plus-addressing), namesakes suffixed with a number
  as a provider would require (so honest accounts share mailbox patterns), 1% disposable;
- account ages: most accounts months to years old, 20% signed up during the round just before
  their first vote;
- honest look-alikes of fraud: viral spikes (an idea shared on social media: hundreds of votes
  in an hour or two from everywhere), fan clubs voting for one idea within the hour after a
  post, colleagues voting for a colleague's idea from the office network, fan communities
  voting for their favourite ideas over the round, families voting together for a few ideas
  on one device, lectures voting for a classmate's idea from a campus /24 within the hour
  (half on accounts made on the spot).

Attacks (each labelled vote by vote and account by account):
- ``ring``: 200 accounts, mostly aged (bought or farmed), a fifth made days before, behind
  residential proxies (prefixes drawn from honest home and mobile pools), one device each,
  user agents from the honest mix, ordinary mailboxes; within a three-hour evening window,
  paced by hand (minutes between votes), each votes for the 3 target ideas (a quarter for
  only 2) and casts 4-15 camouflage votes on popular ideas at ordinary hours over the round;
- ``sockpuppets``: 50 accounts signed up by one operator over an evening before the round,
  30% of them months before (mailbox series on one name, a few plus-addressed, a few random
  at a disposable domain), three devices of the operator plus private-browsing sessions, the
  operator's home /24 and phone on a big CGNAT prefix; every evening the operator logs into
  most of them in turn and votes for the target (daily ballots allow one vote per idea per
  day), with a few camouflage votes;
- ``burst``: 800 accounts registered by a script in the 40 minutes before it votes from one
  datacenter /24 (rotating addresses, fresh cookies, user agents from the honest mix, a fifth
  left scripted, random mailboxes): all vote for the target within 35 minutes at 21:00, a
  quarter also vote for one popular idea.

`hard=True` makes every attack stealthier: the ring spreads over five hours, skips more
targets and camouflages inside its voting session too; the sockpuppet operator signs up over
three evenings, uses a short mailbox series and unrelated names, private browsing 70% of the
time and his phone's CGNAT prefix for 60% of the votes; the burst's accounts were registered
1-10 days earlier and 40% of them warmed up with a few votes on popular ideas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cocreate.fraud.log import Accounts, VoteLog, canonical_mailbox, mailbox_pattern

HOUR = 3600.0
DAY = 86400.0
ROUND_OPENS = 1_777_852_800.0  # 2026-05-04 00:00 UTC, a Monday
HONEST, RING, SOCKPUPPETS, BURST = 0, 1, 2, 3
ATTACKS = {RING: "ring", SOCKPUPPETS: "sockpuppets", BURST: "burst"}

# Share of a day's votes by hour (UTC, one time zone): quiet nights, lunch, evening peak.
HOURLY = np.array(
    [1.2, 0.6, 0.35, 0.25, 0.25, 0.4, 1.0, 2.2, 3.4, 4.0, 4.2, 4.6]
    + [5.6, 5.4, 4.6, 4.4, 4.6, 5.2, 6.4, 7.8, 8.6, 8.4, 6.4, 3.2]
)
HOURLY = HOURLY / HOURLY.sum()

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Generated:
    log: VoteLog
    accounts: Accounts
    vote_label: IntArray  # per vote: HONEST or an attack
    account_label: IntArray  # per account row
    targets: dict[int, list[int]]  # attack -> target idea ids
    honest_rank: dict[int, int]  # target idea id -> rank among honest votes only
    user_agents: list[str]  # user agent code -> string


class _Codes:
    """Fresh integer codes for signals."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, n: int) -> IntArray:
        out = np.arange(self.next, self.next + n, dtype=np.int64)
        self.next += n
        return out


def _names(rng: np.random.Generator, n: int) -> list[str]:
    syllables = [
        "an", "ar", "be", "bo", "ca", "ce", "da", "de", "el", "em", "fa", "ga", "ha", "il",
        "jo", "ka", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "na", "ne", "ni",
        "no", "ol", "pa", "pe", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te",
        "ti", "to", "va", "vi", "yo", "za",
    ]  # fmt: skip
    out: set[str] = set()
    while len(out) < n:
        k = int(rng.integers(2, 4))
        out.add("".join(syllables[int(i)] for i in rng.integers(0, len(syllables), k)))
    return sorted(out)


DOMAINS = [
    ("gmail.com", 0.45), ("outlook.com", 0.13), ("yahoo.com", 0.07), ("orange.fr", 0.06),
    ("free.fr", 0.05), ("icloud.com", 0.05), ("laposte.net", 0.03), ("proton.me", 0.02),
]  # fmt: skip
SMALL_DOMAINS = 60  # companies, universities, small providers: 13% together
DISPOSABLE = ["trashmail.example", "tempinbox.example", "minutemail.example"]

# User agents by code: 40 ordinary browsers (code 0 the most common), then scripted clients.
_PLATFORMS = [
    "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64",
    "iPhone; CPU iPhone OS 17_4 like Mac OS X", "Linux; Android 14; Pixel 8",
]  # fmt: skip
BROWSERS = [
    f"Mozilla/5.0 ({_PLATFORMS[k % 5]}) AppleWebKit/537.36 (KHTML, like Gecko) "
    + (f"Chrome/{118 + k // 5}.0.0.0 Safari/537.36" if k % 2 else f"Firefox/{118 + k // 5}.0")
    for k in range(40)
]
SCRIPTED_AGENTS = [
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
]
USER_AGENTS = BROWSERS + SCRIPTED_AGENTS


def _zipf_choice(rng: np.random.Generator, n: int, size: int, s: float) -> IntArray:
    w = np.arange(1, n + 1, dtype=np.float64) ** -s
    return rng.choice(n, size=size, p=w / w.sum()).astype(np.int64)


def _rhythm_times(rng: np.random.Generator, size: int, days: int) -> FloatArray:
    """Times over the round following the daily rhythm, busier first and last days."""
    day_w = np.ones(days)
    day_w[0], day_w[-1] = 1.6, 1.8
    if days > 2:
        day_w[1], day_w[-2] = 1.2, 1.3
    day = rng.choice(days, size=size, p=day_w / day_w.sum())
    hour = rng.choice(24, size=size, p=HOURLY)
    return ROUND_OPENS + day * DAY + hour * HOUR + rng.uniform(0, HOUR, size)


def _human_times(rng: np.random.Generator, size: int, days: int) -> FloatArray:
    """Waking-hour times (the rhythm without the nights), for attackers posing as humans."""
    hourly = HOURLY.copy()
    hourly[1:7] = 0.0
    day = rng.integers(0, days, size)
    hour = rng.choice(24, size=size, p=hourly / hourly.sum())
    return ROUND_OPENS + day * DAY + hour * HOUR + rng.uniform(0, HOUR, size)


class _Builder:
    """Columns of accounts and votes being generated."""

    def __init__(self, rng: np.random.Generator, days: int) -> None:
        self.rng = rng
        self.days = days
        self.device_codes = _Codes()
        self.prefix_codes = _Codes()
        # accounts
        self.created: list[FloatArray] = []
        self.verified: list[NDArray[np.bool_]] = []
        self.emails: list[str] = []
        self.account_label: list[IntArray] = []
        self.n_accounts = 0
        # votes
        self.v_acc: list[IntArray] = []
        self.v_idea: list[IntArray] = []
        self.v_at: list[FloatArray] = []
        self.v_ip: list[IntArray] = []
        self.v_prefix: list[IntArray] = []
        self.v_device: list[IntArray] = []
        self.v_ua: list[IntArray] = []
        self.v_label: list[IntArray] = []

    def add_accounts(
        self, created: FloatArray, verified: NDArray[np.bool_], emails: list[str], label: int
    ) -> IntArray:
        n = created.shape[0]
        rows = np.arange(self.n_accounts, self.n_accounts + n, dtype=np.int64)
        self.n_accounts += n
        self.created.append(created)
        self.verified.append(verified)
        self.emails.extend(emails)
        self.account_label.append(np.full(n, label, dtype=np.int64))
        return rows

    def add_votes(
        self,
        acc: IntArray,
        idea: IntArray,
        at: FloatArray,
        prefix: IntArray,
        host: IntArray,
        device: IntArray,
        ua: IntArray,
        label: int,
    ) -> None:
        self.v_acc.append(acc)
        self.v_idea.append(idea)
        self.v_at.append(at)
        self.v_prefix.append(prefix)
        self.v_ip.append(prefix * 256 + host)
        self.v_device.append(device)
        self.v_ua.append(ua)
        self.v_label.append(np.full(acc.shape[0], label, dtype=np.int64))


def _emails(
    rng: np.random.Generator, n: int, first: list[str], last: list[str], taken: set[str]
) -> list[str]:
    """Ordinary people's addresses; a taken mailbox gets a number, as providers require."""
    f_idx = _zipf_choice(rng, len(first), n, 0.9)
    l_idx = _zipf_choice(rng, len(last), n, 0.7)
    forms = rng.choice(6, size=n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1])
    years = rng.integers(60, 105, n) % 100
    digits = rng.random(n) < 0.3
    plus = rng.random(n) < 0.03
    dom_names = [d for d, _ in DOMAINS] + [f"mail{k}.example" for k in range(SMALL_DOMAINS)]
    dom_w = np.array([w for _, w in DOMAINS] + [0.13 / SMALL_DOMAINS] * SMALL_DOMAINS)
    dom_w[0] += 1.0 - dom_w.sum() - 0.01
    dom_names.extend(DISPOSABLE)
    dom_w = np.concatenate([dom_w, np.full(len(DISPOSABLE), 0.01 / len(DISPOSABLE))])
    doms = rng.choice(len(dom_names), size=n, p=dom_w / dom_w.sum())
    out = []
    for k in range(n):
        f, la = first[f_idx[k]], last[l_idx[k]]
        local = [f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}_{la}", f"{la}.{f}", f"{f}"][forms[k]]
        if digits[k] or forms[k] == 5:
            local += f"{years[k]:02d}"
        domain = dom_names[doms[k]]
        email = f"{local}@{domain}"
        n_try = 1
        while canonical_mailbox(email) in taken:
            n_try += 1
            email = f"{local}{n_try}@{domain}"
        taken.add(canonical_mailbox(email))
        if plus[k]:
            email = f"{local}{'' if n_try == 1 else n_try}+cocreate@{domain}"
        if domain == "gmail.com" and rng.random() < 0.1:
            # Gmail ignores dots: the same mailbox written another way. (Inserting the dot
            # only after a leading first name: elsewhere it made another person's mailbox.)
            if "." in local:
                email = email.replace(".", "", 1)
            elif local.startswith(f) and len(local) > len(f):
                email = f"{f}.{email[len(f) :]}"
        out.append(email)
    return out


def generate(
    *,
    voters: int = 100_000,
    ideas: int = 10_000,
    votes: int = 1_000_000,
    seed: int = 1,
    hard: bool = False,
) -> Generated:
    rng = np.random.default_rng(seed)
    days = 14
    b = _Builder(rng, days)
    first, last = _names(rng, 400), _names(rng, 3000)
    taken: set[str] = set()

    # Ideas: Zipf-Mandelbrot popularity over a shuffled order of ids.
    weights = (np.arange(1, ideas + 1) + 30.0) ** -1.05
    popularity = np.zeros(ideas)
    idea_by_rank = rng.permutation(ideas)
    popularity[idea_by_rank] = weights / weights.sum()

    # Networks.
    # Households of 1-5 accounts (more than five voters in one home is rare).
    sizes = rng.choice([1, 2, 3, 4, 5], size=voters, p=[0.55, 0.25, 0.1, 0.07, 0.03])
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), voters)) + 1]
    n_households = int(sizes.shape[0])
    household = rng.permutation(np.repeat(np.arange(n_households), sizes)[:voters])
    home_pool = b.prefix_codes.take(int(n_households * 0.7))
    mobile_pool = b.prefix_codes.take(max(voters // 400, 3))
    office_pool = b.prefix_codes.take(max(voters // 250, 3))
    house_prefix = home_pool[rng.integers(0, home_pool.shape[0], n_households)]
    house_host = rng.integers(0, 256, n_households)
    has_mobile = rng.random(voters) < 0.6
    mobile = mobile_pool[_zipf_choice(rng, mobile_pool.shape[0], voters, 0.6)]
    has_office = rng.random(voters) < 0.25
    office = office_pool[_zipf_choice(rng, office_pool.shape[0], voters, 1.0)]

    # Devices: 1-3 per account, a shared family device for some households.
    n_dev = rng.choice([1, 2, 3], size=voters, p=[0.65, 0.28, 0.07])
    dev_base = b.device_codes.take(int(n_dev.sum()))[np.cumsum(n_dev) - n_dev]
    family_device = b.device_codes.take(n_households)
    uses_family = rng.random(voters) < 0.15
    ua_pool = 40
    device_ua = _zipf_choice(rng, ua_pool, b.device_codes.next + 10_000, 1.1)

    # Accounts.
    old = ROUND_OPENS - DAY * np.floor(rng.power(0.6, voters) * 3 * 365 + 1)
    new_during = rng.random(voters) < 0.2
    verified = rng.random(voters) < 0.92
    honest_rows = b.add_accounts(
        old.astype(np.float64), verified, _emails(rng, voters, first, last, taken), HONEST
    )

    # Honest activity, sessions and votes (viral spikes, offices and families come later).
    special = votes // 40
    n_base = max(votes - special, voters)
    activity = rng.lognormal(0.0, 1.3, voters)
    per_voter = 1 + rng.multinomial(n_base - voters, activity / activity.sum())
    sessions = np.maximum(1, np.round(per_voter / 3.5 * rng.lognormal(0, 0.4, voters))).astype(
        np.int64
    )
    sessions = np.minimum(sessions, per_voter)
    s_first = np.cumsum(sessions) - sessions
    n_sessions = int(sessions.sum())
    s_voter = np.repeat(np.arange(voters), sessions)
    s_start = _rhythm_times(rng, n_sessions, days)
    r = rng.random(n_sessions)
    sv = s_voter
    s_prefix = house_prefix[household[sv]].copy()
    s_host = house_host[household[sv]].copy()
    on_mobile = has_mobile[sv] & (r >= 0.55) & (r < 0.9)
    on_office = has_office[sv] & (r >= 0.9)
    s_prefix[on_mobile] = mobile[sv][on_mobile]
    s_host[on_mobile] = rng.integers(0, 256, int(on_mobile.sum()))
    s_prefix[on_office] = office[sv][on_office]
    s_host[on_office] = rng.integers(0, 16, int(on_office.sum()))
    s_device = dev_base[sv] + (rng.random(n_sessions) * n_dev[sv]).astype(np.int64)
    family = uses_family[sv] & (rng.random(n_sessions) < 0.4)
    s_device[family] = family_device[household[sv][family]]
    v_voter = np.repeat(np.arange(voters), per_voter)
    v_session = s_first[v_voter] + (rng.random(v_voter.shape[0]) * sessions[v_voter]).astype(
        np.int64
    )
    v_at = s_start[v_session] + rng.uniform(0.0, 900.0, v_voter.shape[0])
    v_idea = rng.choice(ideas, size=v_voter.shape[0], p=popularity)

    def honest_votes(voter: IntArray, idea: IntArray, at: FloatArray) -> None:
        session = s_first[voter] + (rng.random(voter.shape[0]) * sessions[voter]).astype(np.int64)
        dev = s_device[session]
        b.add_votes(
            honest_rows[voter],
            idea,
            at,
            s_prefix[session],
            s_host[session],
            dev,
            device_ua[dev],
            HONEST,
        )

    honest_votes(v_voter, v_idea, v_at)
    # Viral spikes: mid-table ideas shared on social media, voters from everywhere.
    spikes = 6
    budget = special // 4
    for _ in range(spikes):
        idea = int(idea_by_rank[int(rng.integers(20, 300))])
        size = budget // spikes
        start = float(_human_times(rng, 1, days)[0])
        who = rng.choice(voters, size=size, replace=False, p=activity / activity.sum())
        at = start + rng.exponential(2400.0, size)
        honest_votes(who, np.full(size, idea), at)
    # Colleagues voting for a colleague's idea from the office network over a working day.
    offices_left = special // 4
    for _ in range(10_000):
        if offices_left <= 0:
            break
        office_code = office_pool[int(rng.integers(0, office_pool.shape[0]))]
        staff = np.flatnonzero(has_office & (office == office_code))
        if staff.shape[0] < 10:
            continue
        n = min(int(rng.integers(8, 30)), staff.shape[0])
        who = rng.choice(staff, size=n, replace=False)
        idea = int(idea_by_rank[int(rng.integers(min(300, ideas - 1), min(5000, ideas)))])
        day = int(rng.integers(0, days))
        at = ROUND_OPENS + day * DAY + rng.uniform(9 * HOUR, 18 * HOUR, n)
        dev = dev_base[who]
        b.add_votes(
            honest_rows[who],
            np.full(n, idea),
            at,
            np.full(n, office_code),
            rng.integers(0, 16, n),
            dev,
            device_ua[dev],
            HONEST,
        )
        offices_left -= n
    # Fan communities (a forum, a club): members vote for the community's 2-4 favourite ideas,
    # each at their own time over the round.
    community_left = special // 4
    while community_left > 0:
        size = int(rng.integers(30, 150))
        favourites = idea_by_rank[rng.integers(50, min(2000, ideas), int(rng.integers(2, 5)))]
        who = rng.choice(voters, size=size, replace=False)
        voter = np.repeat(who, favourites.shape[0])
        idea = np.tile(favourites, size)
        keep = rng.random(voter.shape[0]) < 0.8
        voter, idea = voter[keep], idea[keep]
        honest_votes(voter, idea, _rhythm_times(rng, voter.shape[0], days))
        community_left -= int(voter.shape[0])
    # Fan clubs: a post on the club's page, and members vote for that one idea within the hour
    # (from wherever they are; what the votes share is the idea and the hour).
    for _ in range(5):
        size = int(rng.integers(150, 400))
        idea = int(idea_by_rank[int(rng.integers(30, 1000))])
        who = rng.choice(voters, size=size, replace=False)
        post = float(_human_times(rng, 1, days)[0])
        honest_votes(
            who, np.full(size, idea), post + np.minimum(rng.exponential(900.0, size), 3500)
        )
    # Families: a household's members voting together for one to four ideas, one after the
    # other, often on one device.
    families_left = votes - n_base - budget - special // 4 - special // 4
    multi = np.flatnonzero(np.bincount(household, minlength=n_households) >= 2)
    members_of = np.argsort(household, kind="stable")
    first_of = np.searchsorted(household[members_of], multi)
    while families_left > 0 and multi.shape[0]:
        h = int(rng.integers(0, multi.shape[0]))
        lo = first_of[h]
        hh = multi[h]
        hi = int(np.searchsorted(household[members_of], hh, side="right"))
        who = members_of[lo:hi]
        k = int(rng.choice([1, 2, 3, 4], p=[0.5, 0.25, 0.15, 0.1]))
        picks = [
            int(rng.choice(ideas, p=popularity))
            if rng.random() < 0.5
            else int(idea_by_rank[int(rng.integers(100, ideas))])
            for _ in range(k)
        ]
        voter = np.repeat(who, k)
        m = voter.shape[0]
        at = float(_human_times(rng, 1, days)[0]) + np.cumsum(rng.uniform(20.0, 90.0, m))
        shared = rng.random() < 0.6
        dev = np.full(m, family_device[hh]) if shared else dev_base[voter]
        b.add_votes(
            honest_rows[voter],
            np.tile(np.array(picks, dtype=np.int64), who.shape[0]),
            at,
            np.full(m, house_prefix[hh]),
            np.full(m, house_host[hh]),
            dev,
            device_ua[dev],
            HONEST,
        )
        families_left -= m

    # New accounts sign up just before their first vote.
    all_acc = np.concatenate(b.v_acc)
    all_at = np.concatenate(b.v_at)
    first_vote = np.full(voters, np.inf)
    np.minimum.at(first_vote, all_acc, all_at)
    created = np.concatenate(b.created)
    created[new_during] = first_vote[new_during] - rng.exponential(1200.0, int(new_during.sum()))
    b.created = [created]

    # Lectures: a teacher shows a student's idea and the class votes for it from the campus
    # /24 within the hour, half of them signing up on the spot (not all confirm their email
    # before voting), some voting for a few other ideas while at it.
    for _ in range(3):
        n = int(rng.integers(60, 250))
        hour = float(rng.choice([9, 10, 11, 14, 15, 16]))
        start = ROUND_OPENS + int(rng.integers(0, days)) * DAY + hour * HOUR
        at = start + rng.uniform(300.0, 3300.0, n)
        on_spot = rng.random(n) < 0.5
        created_l = np.where(
            on_spot, at - rng.uniform(60.0, 900.0, n), ROUND_OPENS - DAY * rng.uniform(30, 900, n)
        )
        verified_l = np.where(on_spot, rng.random(n) < 0.6, rng.random(n) < 0.92)
        rows = b.add_accounts(created_l, verified_l, _emails(rng, n, first, last, taken), HONEST)
        campus = b.prefix_codes.take(1)[0]
        dev_l = b.device_codes.take(n)
        ua_l = _zipf_choice(rng, 40, n, 1.1)
        idea = int(idea_by_rank[int(rng.integers(100, 3000))])
        extra = rng.integers(0, 4, n)
        k = int(extra.sum())
        voter = np.concatenate([np.arange(n), np.repeat(np.arange(n), extra)])
        m = voter.shape[0]
        b.add_votes(
            rows[voter],
            np.concatenate([np.full(n, idea), rng.choice(ideas, size=k, p=popularity)]),
            np.concatenate([at, np.repeat(at, extra) + rng.uniform(20.0, 300.0, k)]),
            np.full(m, campus),
            rng.integers(0, 256, m),
            dev_l[voter],
            ua_l[voter],
            HONEST,
        )

    # The targets: by rank among honest votes.
    honest_counts = np.bincount(np.concatenate(b.v_idea), minlength=ideas)
    order = np.argsort(-honest_counts, kind="stable")
    rank_of = {int(idea): k + 1 for k, idea in enumerate(order[:200])}
    # Contenders just outside the top 3, where a few hundred votes change the podium.
    ring_targets = [int(order[k]) for k in (3, 5, 8)]  # honest ranks 4, 6, 9
    sock_target = int(order[4])  # rank 5
    burst_target = int(order[6])  # rank 7
    popular = order[:150]

    pools = (home_pool, mobile_pool)
    _ring(b, rng, ring_targets, popular, honest_counts, first, last, taken, pools, hard)
    _sockpuppets(b, rng, sock_target, popular, honest_counts, first, last, taken, pools, hard)
    _burst(b, rng, burst_target, popular, honest_counts, hard)

    return _assemble(
        b,
        ideas,
        targets={RING: ring_targets, SOCKPUPPETS: [sock_target], BURST: [burst_target]},
        honest_rank={i: rank_of[i] for i in [*ring_targets, sock_target, burst_target]},
        rng=rng,
    )


def _popular_choice(
    rng: np.random.Generator, popular: IntArray, counts: IntArray, size: int
) -> IntArray:
    w = counts[popular].astype(np.float64)
    return popular[rng.choice(popular.shape[0], size=size, p=w / w.sum())]


def _ring(
    b: _Builder,
    rng: np.random.Generator,
    targets: list[int],
    popular: IntArray,
    counts: IntArray,
    first: list[str],
    last: list[str],
    taken: set[str],
    pools: tuple[IntArray, IntArray],
    hard: bool,
) -> None:
    n = 200
    home_pool, mobile_pool = pools
    start = ROUND_OPENS + 8 * DAY + 19 * HOUR + 30 * 60  # day 9, 19:30
    # Mostly bought aged accounts, a fifth made in the days before (with verified emails).
    created = ROUND_OPENS - DAY * rng.uniform(30, 700, n)
    fresh = rng.random(n) < 0.2
    created[fresh] = start - DAY * rng.uniform(2, 6, int(fresh.sum()))
    rows = b.add_accounts(created, rng.random(n) < 0.85, _emails(rng, n, first, last, taken), RING)
    device = b.device_codes.take(n)
    ua = _zipf_choice(rng, 40, n, 1.1)  # the honest mix
    window = 5 * HOUR if hard else 3 * HOUR
    for k in range(n):
        acc = rows[k]
        moment = start + rng.uniform(0, window - 1800)
        tg = list(rng.permutation(targets))
        if rng.random() < (0.35 if hard else 0.25):
            tg = tg[:2]
        if hard:  # camouflage in the same session too
            extra = int(rng.integers(1, 4)) if rng.random() < 0.5 else 0
        else:
            extra = 1 if rng.random() < 0.3 else 0
        ideas = np.array(tg + list(_popular_choice(rng, popular, counts, extra)), dtype=np.int64)
        # A person paid per vote, not a script: a few minutes between votes, jittered.
        at = moment + np.cumsum(rng.exponential(240.0, ideas.shape[0]) + 15.0)
        camo = int(rng.integers(4, 16))
        camo_ideas = np.unique(_popular_choice(rng, popular, counts, camo))
        camo_at = _human_times(rng, camo_ideas.shape[0], b.days)
        all_ideas = np.concatenate([ideas, camo_ideas])
        all_at = np.concatenate([at, camo_at])
        m = all_ideas.shape[0]
        # Residential proxies: a different ordinary address for every session.
        pool = mobile_pool if rng.random() < 0.3 else home_pool
        prefix = pool[rng.integers(0, pool.shape[0], m)]
        prefix[: ideas.shape[0]] = prefix[0]
        b.add_votes(
            np.full(m, acc),
            all_ideas,
            all_at,
            prefix,
            rng.integers(0, 256, m),
            np.full(m, device[k]),
            np.full(m, ua[k]),
            RING,
        )


def _sockpuppets(
    b: _Builder,
    rng: np.random.Generator,
    target: int,
    popular: IntArray,
    counts: IntArray,
    first: list[str],
    last: list[str],
    taken: set[str],
    pools: tuple[IntArray, IntArray],
    hard: bool,
) -> None:
    n = 50
    mobile_pool = pools[1]
    signup = ROUND_OPENS - 3 * DAY + 19 * HOUR
    # Hard: accounts made over three evenings instead of one.
    spread = rng.integers(0, 3, n) * DAY if hard else np.zeros(n)
    created = signup + np.sort(rng.uniform(0, 2.5 * HOUR, n)) + spread
    # Some made long ago and kept for such occasions.
    aged = rng.random(n) < 0.3
    created[aged] = ROUND_OPENS - DAY * rng.uniform(60, 400, int(aged.sum()))
    f, la = first[int(rng.integers(0, len(first)))], last[int(rng.integers(0, len(last)))]
    emails = []
    for k in range(n):
        r = rng.random()
        if hard:  # a short series, then unrelated names
            r = 0.55 * r / 0.25 if r < 0.25 else 0.7 + 0.3 * (r - 0.25) / 0.75
        if r < 0.55:
            form = [f"{f}.{la}{k + 1}", f"{f}{la}{k + 1}", f"{f}.{la}.{k + 1}", f"{f}_{la}{k}"]
            emails.append(f"{form[int(rng.integers(0, 4))]}@gmail.com")
        elif r < 0.7:
            emails.append(f"{f}{la}+v{k}@outlook.com")
        elif r < 0.85:
            local = "".join(chr(97 + int(c)) for c in rng.integers(0, 26, 9))
            emails.append(f"{local}@{DISPOSABLE[0]}")
        else:
            emails.extend(_emails(rng, 1, first, last, taken))
    rows = b.add_accounts(created, rng.random(n) < 0.8, emails, SOCKPUPPETS)
    home = b.prefix_codes.take(1)[0]
    phone_net = mobile_pool[int(rng.integers(0, 5))]  # a big carrier
    devices = b.device_codes.take(3)  # laptop (two browsers) and phone
    device_ua = np.array([0, 2, 1])
    incognito = rng.random(n) < (0.7 if hard else 0.4)
    for day in range(b.days):
        evening = ROUND_OPENS + day * DAY + rng.uniform(18 * HOUR, 22.5 * HOUR)
        voting = rows[rng.random(n) < rng.uniform(0.6, 0.9)]
        voting = rng.permutation(voting)
        m = voting.shape[0]
        at = evening + np.cumsum(rng.uniform(60, 240, m))
        which = rng.choice(3, size=m, p=[0.2, 0.2, 0.6] if hard else [1 / 3, 1 / 3, 1 / 3])
        dev = devices[which]
        fresh = incognito[voting - rows[0]]
        dev[fresh] = b.device_codes.take(int(fresh.sum()))
        ua = device_ua[which]
        on_phone = which == 2
        prefix = np.where(on_phone, phone_net, home)
        host = np.where(on_phone, rng.integers(0, 256, m), 17)
        ideas = np.full(m, target)
        camo = rng.random(m) < 0.12
        extra_ideas = _popular_choice(rng, popular, counts, int(camo.sum()))
        b.add_votes(voting, ideas, at, prefix, host, dev, ua, SOCKPUPPETS)
        b.add_votes(
            voting[camo],
            extra_ideas,
            at[camo] + 30,
            prefix[camo],
            host[camo],
            dev[camo],
            ua[camo],
            SOCKPUPPETS,
        )


def _burst(
    b: _Builder,
    rng: np.random.Generator,
    target: int,
    popular: IntArray,
    counts: IntArray,
    hard: bool,
) -> None:
    n = 800
    start = ROUND_OPENS + 10 * DAY + 21 * HOUR
    if hard:  # registered over the previous ten days
        created = start - rng.uniform(DAY, 10 * DAY, n)
    else:
        created = start - 40 * 60 + np.sort(rng.uniform(0, 40 * 60, n))
    domains = ["gmail.com", "outlook.com", DISPOSABLE[1], DISPOSABLE[2]]
    emails = []
    for _ in range(n):
        local = "".join(chr(97 + int(c)) for c in rng.integers(0, 26, int(rng.integers(8, 13))))
        emails.append(f"{local}{int(rng.integers(0, 100))}@{domains[int(rng.integers(0, 4))]}")
    rows = b.add_accounts(created, rng.random(n) < 0.35, emails, BURST)
    subnet = b.prefix_codes.take(1)[0]
    at = np.maximum(start + np.sort(rng.uniform(0, 35 * 60, n)), created + 60)
    at = at[rng.permutation(n)] if hard else at
    devices = b.device_codes.take(n)
    # Browser strings copied from the honest mix; a fifth left scripted.
    ua = _zipf_choice(rng, 40, n, 1.1)
    scripted = rng.random(n) < 0.2
    ua[scripted] = len(BROWSERS) + rng.integers(0, len(SCRIPTED_AGENTS), int(scripted.sum()))
    hosts = rng.integers(0, 256, n)
    b.add_votes(rows, np.full(n, target), at, np.full(n, subnet), hosts, devices, ua, BURST)
    if hard:  # 40% warmed up with a few earlier votes on popular ideas
        warm = np.flatnonzero(rng.random(n) < 0.4)
        per = rng.integers(1, 4, warm.shape[0])
        who = np.repeat(warm, per)
        when = np.minimum(_human_times(rng, who.shape[0], 10), start - HOUR)
        when = np.maximum(when, created[who] + 600)
        b.add_votes(
            rows[who],
            _popular_choice(rng, popular, counts, who.shape[0]),
            when,
            np.full(who.shape[0], subnet),
            hosts[who],
            devices[who],
            ua[who],
            BURST,
        )
    camo = rng.random(n) < 0.25
    k = int(camo.sum())
    b.add_votes(
        rows[camo],
        _popular_choice(rng, popular, counts, k),
        at[camo] + 20,
        np.full(k, subnet),
        hosts[camo],
        devices[camo],
        ua[camo],
        BURST,
    )


def _assemble(
    b: _Builder,
    ideas: int,
    *,
    targets: dict[int, list[int]],
    honest_rank: dict[int, int],
    rng: np.random.Generator,
) -> Generated:
    acc = np.concatenate(b.v_acc)
    idea = np.concatenate(b.v_idea)
    at = np.concatenate(b.v_at)
    label = np.concatenate(b.v_label)
    prefix = np.concatenate(b.v_prefix)
    ip = np.concatenate(b.v_ip)
    device = np.concatenate(b.v_device)
    ua = np.concatenate(b.v_ua)
    # Votes after the round closes do not exist; one live vote per voter, idea and day.
    close = ROUND_OPENS + b.days * DAY
    at = np.minimum(at, close - 1.0)
    day = np.floor((at - ROUND_OPENS) / DAY).astype(np.int64)
    key = (acc * ideas + idea) * (b.days + 1) + day
    _, keep = np.unique(key, return_index=True)
    order = keep[np.argsort(at[keep], kind="stable")]
    n_acc = b.n_accounts
    user_id = rng.permutation(n_acc).astype(np.int64) + 1
    emails = b.emails
    mailbox_codes: dict[str, int] = {}
    pattern_codes: dict[str, int] = {}
    domain_codes: dict[str, int] = {}
    mailbox = np.empty(n_acc, dtype=np.int64)
    pattern = np.empty(n_acc, dtype=np.int64)
    domain = np.empty(n_acc, dtype=np.int64)
    disposable = np.zeros(n_acc, dtype=bool)
    for k, email in enumerate(emails):
        canon = canonical_mailbox(email)
        mailbox[k] = mailbox_codes.setdefault(canon, len(mailbox_codes))
        pattern[k] = pattern_codes.setdefault(mailbox_pattern(email), len(pattern_codes))
        dom = canon.rpartition("@")[2]
        domain[k] = domain_codes.setdefault(dom, len(domain_codes))
        disposable[k] = dom in DISPOSABLE
    log = VoteLog(
        vote_id=np.arange(1, order.shape[0] + 1, dtype=np.int64),
        voter=user_id[acc[order]],
        idea=idea[order] + 1,
        at=at[order],
        ip=ip[order],
        ip_prefix=prefix[order],
        device=device[order],
        user_agent=ua[order],
    )
    accounts = Accounts(
        user_id=user_id,
        created_at=np.concatenate(b.created),
        verified=np.concatenate(b.verified),
        mailbox=mailbox,
        email_domain=domain,
        disposable=disposable,
        mailbox_pattern=pattern,
    )
    return Generated(
        log=log,
        accounts=accounts,
        vote_label=label[order],
        account_label=np.concatenate(b.account_label),
        targets={a: [t + 1 for t in ts] for a, ts in targets.items()},
        honest_rank={t + 1: r for t, r in honest_rank.items()},
        user_agents=USER_AGENTS,
    )
