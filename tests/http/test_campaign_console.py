"""The brand's campaign console over HTTP: who may use it, every form rule, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.clock import FrozenClock
from tests.campaigns_support import (
    add_member,
    add_stages,
    make_brand,
    make_campaign,
    visible_text,
)
from tests.conftest import log_in, post_form, reload

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; Paris is UTC+1 then
DAY = timedelta(days=1)
CONSOLE = "/brands/acme/campaigns"

CAMPAIGN_FORM = {
    "title": "Summer flavours",
    "slug": "summer-flavours",
    "summary": "Invent the taste of summer.",
    "brief": "Tell us **everything**.",
    "rules": "Be kind.",
    "prizes": "A year of crisps.",
    "primary_color": "#1a5fb4",
    "categories": "Sweet\nSavoury",
    "languages": ["en", "fr"],
    "submission_limit": "2",
    "timezone": "Europe/Paris",
}


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


@pytest.fixture
def acme(session: Session) -> Brand:
    return make_brand(session, "acme", "Acme")


@pytest.fixture
def marketer(session: Session, make_user: Any, acme: Brand) -> User:
    user: User = make_user("mia@example.com", name="Mia Marketer")
    add_member(session, acme, user, Role.MARKETER)
    return user


@pytest.fixture
def as_marketer(client: TestClient, marketer: User) -> TestClient:
    log_in(client, marketer)
    return client


@pytest.fixture
def draft(session: Session, acme: Brand) -> Campaign:
    return make_campaign(session, acme, "summer", title="Summer", timezone="Europe/Paris")


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return post_form(client, path, data, page="/")


def stage_form(kind: str, opens: str, closes: str, title: str = "") -> dict[str, str]:
    return {"kind": kind, "title": title, "opens_at": opens, "closes_at": closes}


# --- Who may use the console ---------------------------------------------------------------

CONSOLE_PAGES = [
    ("GET", CONSOLE),
    ("GET", CONSOLE + "/new"),
    ("POST", CONSOLE + "/new"),
    ("GET", CONSOLE + "/summer/edit"),
    ("POST", CONSOLE + "/summer/edit"),
    ("POST", CONSOLE + "/summer/status"),
    ("GET", CONSOLE + "/summer/timeline"),
    ("POST", CONSOLE + "/summer/stages"),
    ("GET", CONSOLE + "/summer/stages/{stage}/edit"),
    ("POST", CONSOLE + "/summer/stages/{stage}/edit"),
    ("POST", CONSOLE + "/summer/stages/{stage}/remove"),
    ("POST", CONSOLE + "/summer/stages/{stage}/move"),
    ("GET", CONSOLE + "/summer/stages/{stage}/close"),
    ("POST", CONSOLE + "/summer/stages/{stage}/close"),
    ("GET", CONSOLE + "/summer/stages/{stage}/open"),
    ("POST", CONSOLE + "/summer/stages/{stage}/open"),
    ("GET", CONSOLE + "/summer/stages/{stage}/extend"),
    ("POST", CONSOLE + "/summer/stages/{stage}/extend"),
]


@pytest.fixture
def draft_stage(session: Session, draft: Campaign) -> Stage:
    (stage,) = add_stages(session, draft, [(StageKind.SUBMISSION, T0 + DAY, T0 + 10 * DAY)])
    return stage


def request(client: TestClient, method: str, path: str) -> Any:
    if method == "GET":
        return client.get(path)
    return post(client, path, {})


@pytest.mark.parametrize("role", [None, "consumer", Role.MODERATOR, Role.JURY, "other-marketer"])
def test_only_the_brand_owners_and_marketers_reach_the_console(
    client: TestClient,
    session: Session,
    make_user: Any,
    acme: Brand,
    draft_stage: Stage,
    role: Role | str | None,
) -> None:
    if role is not None:
        user = make_user()
        if role == "other-marketer":
            add_member(session, make_brand(session, "globex", "Globex"), user, Role.MARKETER)
        elif isinstance(role, Role):
            add_member(session, acme, user, role)
        log_in(client, user)
    for method, path in CONSOLE_PAGES:
        response = request(client, method, path.format(stage=draft_stage.id))
        if role is None:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login")
        else:
            assert response.status_code == 403, (method, path)
            assert "You do not have permission" in response.text
    reload(session, draft_stage)
    assert draft_stage.opens_at == T0 + DAY  # nothing changed


@pytest.mark.parametrize("role", [Role.OWNER, Role.MARKETER, "admin"])
def test_owners_marketers_and_admins_use_the_console(
    client: TestClient, session: Session, make_user: Any, acme: Brand, draft_stage: Stage, role: Any
) -> None:
    user = make_user(admin=role == "admin")
    if role != "admin":
        add_member(session, acme, user, role)
    log_in(client, user)
    for method, path in CONSOLE_PAGES:
        if method == "GET":
            response = client.get(path.format(stage=draft_stage.id))
            assert response.status_code == 200, (path, response.text[:300])


def test_a_marketer_cannot_reach_another_brands_campaign_through_their_own_brand(
    as_marketer: TestClient, session: Session
) -> None:
    globex = make_brand(session, "globex", "Globex")
    secret = make_campaign(session, globex, "secret-plan", title="Secret plan")
    (stage,) = add_stages(session, secret, [(StageKind.SUBMISSION, T0 + DAY, T0 + 2 * DAY)])
    for path in (
        f"{CONSOLE}/secret-plan/edit",
        f"{CONSOLE}/secret-plan/timeline",
        f"{CONSOLE}/secret-plan/preview",
        f"{CONSOLE}/secret-plan/stages/{stage.id}/edit",
    ):
        assert as_marketer.get(path).status_code == 404, path
    assert as_marketer.get("/brands/globex/campaigns/secret-plan/preview").status_code == 403
    assert as_marketer.get("/c/secret-plan").status_code == 404
    response = post(as_marketer, f"{CONSOLE}/secret-plan/status", {"to": "published"})
    assert response.status_code == 404
    assert "Secret plan" not in as_marketer.get(CONSOLE).text


def test_an_acme_stage_id_under_another_acme_campaign_is_not_found(
    as_marketer: TestClient, session: Session, acme: Brand, draft_stage: Stage
) -> None:
    make_campaign(session, acme, "winter")
    path = f"{CONSOLE}/winter/stages/{draft_stage.id}/edit"
    assert as_marketer.get(path).status_code == 404


# --- Creating and editing a campaign --------------------------------------------------------


def test_create_a_campaign_build_its_timeline_publish_it(
    as_marketer: TestClient, session: Session, marketer: User
) -> None:
    response = post(as_marketer, CONSOLE + "/new", CAMPAIGN_FORM)
    assert response.status_code == 303
    assert response.headers["location"] == CONSOLE + "/summer-flavours/timeline"
    page = as_marketer.get(response.headers["location"])
    assert "Campaign created as a draft" in page.text
    assert "Add at least one stage" in page.text
    assert as_marketer.get("/c/summer-flavours").status_code == 404  # a draft is not public

    stages = CONSOLE + "/summer-flavours/stages"
    # Typed in Paris time (UTC+1 in March): 10:00 in Paris is 09:00 UTC.
    assert (
        post(
            as_marketer, stages, stage_form("submission", "2026-03-02T10:00", "2026-03-20T18:00")
        ).status_code
        == 303
    )
    assert (
        post(
            as_marketer,
            stages,
            stage_form("voting", "2026-03-21T10:00", "2026-03-28T18:00", "Final vote"),
        ).status_code
        == 303
    )
    campaign = session.exec(select(Campaign).where(Campaign.slug == "summer-flavours")).one()
    saved = session.exec(select(Stage).where(Stage.campaign_id == campaign.id)).all()
    assert sorted((s.position, s.kind, s.opens_at) for s in saved) == [
        (0, "submission", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        (1, "voting", datetime(2026, 3, 21, 9, 0, tzinfo=UTC)),
    ]
    response = post(as_marketer, CONSOLE + "/summer-flavours/status", {"to": "published"})
    assert response.status_code == 303
    assert "everyone can see it now" in as_marketer.get(response.headers["location"]).text

    public = as_marketer.get("/c/summer-flavours")
    assert public.status_code == 200
    assert "Summer flavours" in public.text and "<strong>everything</strong>" in public.text
    assert "Final vote" in public.text
    assert "Mar 2, 2026, 10:00\u202fAM CET" in public.text  # shown in the campaign's zone
    reload(session, campaign)
    assert campaign.categories == ["Sweet", "Savoury"] and campaign.languages == ["en", "fr"]
    assert campaign.submission_limit == 2 and campaign.primary_color == "#1a5fb4"
    actions = session.exec(
        select(AuditEvent.action).where(AuditEvent.actor_id == marketer.id)
    ).all()
    assert {"campaign.created", "stage.added", "campaign.published"} <= set(actions)


def test_the_console_lists_the_brands_drafts(as_marketer: TestClient, draft: Campaign) -> None:
    page = as_marketer.get(CONSOLE)
    assert "Summer" in page.text and "draft" in page.text and "/c/summer" in page.text


def test_a_taken_address_gets_a_clear_error(
    as_marketer: TestClient, session: Session, draft: Campaign
) -> None:
    globex = make_brand(session, "globex", "Globex")
    make_campaign(session, globex, "taken")
    response = post(as_marketer, CONSOLE + "/new", {**CAMPAIGN_FORM, "slug": "taken"})
    assert response.status_code == 400
    assert "Another campaign already uses this address" in response.text
    response = post(as_marketer, CONSOLE + "/summer/edit", {**CAMPAIGN_FORM, "slug": "taken"})
    assert response.status_code == 400
    assert "Another campaign already uses this address" in response.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "Summer Flavours", "Use lower-case letters, digits and single hyphens"),
        ("slug", "new", "This address is reserved"),
        ("primary_color", "#12345g", "Enter a colour as # and six hex digits"),
        ("primary_color", "javascript:alert(1)", "Enter a colour as # and six hex digits"),
        ("timezone", "Europe/Atlantis", "Choose a time zone from the list"),
        ("timezone", "../../../etc/passwd", "Choose a time zone from the list"),
        ("submission_limit", "-1", "Enter a whole number from 1 to 100"),
        ("submission_limit", "1e3", "Enter a whole number from 1 to 100"),
        ("title", "", "This field is required"),
        ("title", "x" * 1_000_000, "Use at most 160 characters"),
        ("summary", "x" * 1_000_000, "Use at most 300 characters"),
        ("brief", "x" * 1_000_000, "Use at most 20000 characters"),
        ("rules", "x" * 1_000_000, "Use at most 20000 characters"),
        ("prizes", "x" * 1_000_000, "Use at most 20000 characters"),
        ("categories", "x" * 1_000_000, "at most"),
        ("slug", "x" * 1_000_000, "Use at most 80 characters"),
        ("timezone", "x" * 1_000_000, "Use at most 64 characters"),
        ("languages", [], "Choose at least one language"),
    ],
)
def test_bad_campaign_details_get_a_form_error_not_a_crash(
    as_marketer: TestClient, session: Session, draft: Campaign, field: str, value: Any, message: str
) -> None:
    for path in (CONSOLE + "/new", CONSOLE + "/summer/edit"):
        response = post(as_marketer, path, {**CAMPAIGN_FORM, field: value})
        assert response.status_code == 400, path
        assert message in response.text
        assert 'aria-invalid="true"' in response.text
        assert len(response.text) < 200_000  # a megabyte is not echoed back
    reload(session, draft)
    assert draft.title == "Summer"


def test_a_megabyte_in_a_multipart_form_is_refused_politely(
    as_marketer: TestClient, draft: Campaign
) -> None:
    from tests.conftest import csrf_from

    token = csrf_from(as_marketer, "/")
    response = as_marketer.post(
        CONSOLE + "/summer/edit",
        data={**CAMPAIGN_FORM, "csrf_token": token},
        files={"brief": ("brief.txt", b"x" * 2_000_000, "text/plain")},
    )
    assert response.status_code == 400
    assert "Expected text here, not a file" in response.text or "Bad request" in response.text


SCRIPT = '<script>alert("x")</script>'


def test_script_in_every_text_field_is_shown_as_text(
    as_marketer: TestClient, session: Session, acme: Brand
) -> None:
    text_fields = ("title", "summary", "brief", "rules", "prizes", "categories")
    hostile = {**CAMPAIGN_FORM, **{name: f"{name} {SCRIPT}" for name in text_fields}}
    # The form comes back with an error elsewhere: every value is escaped on the way back.
    response = post(as_marketer, CONSOLE + "/new", {**hostile, "primary_color": SCRIPT})
    assert response.status_code == 400
    assert SCRIPT not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
    assert post(as_marketer, CONSOLE + "/new", hostile).status_code == 303
    stages = CONSOLE + "/summer-flavours/stages"
    form = stage_form("submission", "2026-03-02T10:00", "2026-03-20T18:00", title=SCRIPT[:120])
    assert post(as_marketer, stages, form).status_code == 303
    assert (
        post(as_marketer, CONSOLE + "/summer-flavours/status", {"to": "published"}).status_code
        == 303
    )
    for path in (
        "/",
        "/c/summer-flavours",
        CONSOLE,
        CONSOLE + "/summer-flavours/edit",
        CONSOLE + "/summer-flavours/timeline",
        CONSOLE + "/summer-flavours/preview",
    ):
        page = as_marketer.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
    page = as_marketer.get("/c/summer-flavours").text
    assert "&lt;script&gt;" in page
    assert "<script" not in page.replace('<script src="/static/', "")


def test_the_address_is_fixed_once_published(
    as_marketer: TestClient, session: Session, draft: Campaign
) -> None:
    draft.status = CampaignStatus.PUBLISHED
    session.add(draft)
    session.commit()
    response = post(as_marketer, CONSOLE + "/summer/edit", {**CAMPAIGN_FORM, "slug": "autumn"})
    assert response.status_code == 400
    assert "cannot change after publishing" in response.text
    form = {**CAMPAIGN_FORM, "slug": "summer", "title": "Summer, improved"}
    assert post(as_marketer, CONSOLE + "/summer/edit", form).status_code == 303
    reload(session, draft)
    assert draft.title == "Summer, improved"


def test_the_console_speaks_french(as_marketer: TestClient, draft: Campaign) -> None:
    post(as_marketer, "/language", {"locale": "fr", "next": "/"})
    response = post(as_marketer, CONSOLE + "/new", {**CAMPAIGN_FORM, "primary_color": "rouge"})
    assert response.status_code == 400
    assert "Indiquez une couleur" in response.text
    page = as_marketer.get(CONSOLE + "/summer/timeline")
    assert "Ajouter une étape" in page.text


# --- The timeline editor -------------------------------------------------------------------


def test_stage_dates_in_the_wrong_order_or_overlapping_are_explained(
    as_marketer: TestClient, session: Session, draft: Campaign
) -> None:
    stages = CONSOLE + "/summer/stages"
    response = post(
        as_marketer, stages, stage_form("submission", "2026-03-10T10:00", "2026-03-09T10:00")
    )
    assert response.status_code == 400
    assert "The stage must close after it opens." in response.text
    assert 'value="2026-03-10T10:00"' in response.text  # what was typed comes back
    assert (
        post(
            as_marketer, stages, stage_form("submission", "2026-03-03T10:00", "2026-03-10T10:00")
        ).status_code
        == 303
    )
    response = post(
        as_marketer, stages, stage_form("voting", "2026-03-09T10:00", "2026-03-15T10:00")
    )
    assert response.status_code == 400
    assert "Stage 2 opens before stage 1 closes: stages must not overlap." in response.text
    assert 'id="f-opens_at-error"' in response.text
    response = post(
        as_marketer, stages, stage_form("voting", "2026-03-01T10:00", "2026-03-02T10:00")
    )
    assert response.status_code == 400
    assert "put a submission stage before it" in response.text
    for bad in ("", "soon", "2026-02-30T10:00", "99999-01-01T10:00", "x" * 1_000_000):
        response = post(as_marketer, stages, stage_form("jury", bad, "2026-03-20T10:00"))
        assert response.status_code == 400, bad
        assert 'id="f-opens_at-error"' in response.text
    response = post(
        as_marketer, stages, stage_form("party", "2026-03-11T10:00", "2026-03-12T10:00")
    )
    assert response.status_code == 400 and "Choose one of the options." in response.text
    assert len(session.exec(select(Stage)).all()) == 1


def test_edit_move_and_remove_stages(
    as_marketer: TestClient, session: Session, draft: Campaign
) -> None:
    submission, jury = add_stages(
        session,
        draft,
        [
            (StageKind.SUBMISSION, T0 + DAY, T0 + 10 * DAY),
            (StageKind.JURY, T0 + 10 * DAY, T0 + 12 * DAY),
        ],
    )
    base = f"{CONSOLE}/summer/stages"
    page = as_marketer.get(f"{base}/{submission.id}/edit")
    assert 'value="2026-03-03T10:00"' in page.text  # 09:00 UTC shown as Paris time
    response = post(
        as_marketer,
        f"{base}/{submission.id}/edit",
        stage_form("submission", "2026-03-03T10:00", "2026-03-13T10:00"),
    )
    assert response.status_code == 400 and "must not overlap" in response.text
    response = post(
        as_marketer,
        f"{base}/{submission.id}/edit",
        stage_form("submission", "2026-03-03T10:00", "2026-03-09T10:00", "Ideas, please"),
    )
    assert response.status_code == 303
    assert post(as_marketer, f"{base}/{jury.id}/move", {"direction": "up"}).status_code == 303
    reload(session, jury)
    assert jury.position == 0 and jury.opens_at == T0 + DAY
    response = post(as_marketer, f"{base}/{jury.id}/move", {"direction": "up"})
    assert response.status_code == 400 and "cannot move further" in response.text
    response = post(as_marketer, f"{base}/{jury.id}/move", {"direction": "sideways"})
    assert response.status_code == 400 and "Choose one of the options." in response.text
    assert post(as_marketer, f"{base}/{submission.id}/remove", {}).status_code == 303
    session.rollback()  # see the other connection's commits
    remaining = session.exec(select(Stage)).all()
    assert [(s.position, s.kind) for s in remaining] == [(0, "jury")]
    timeline = as_marketer.get(f"{CONSOLE}/summer/timeline").text
    assert "Stage removed" in timeline and "Stage moved" in timeline and "Mia Marketer" in timeline


@pytest.fixture
def live(session: Session, draft: Campaign) -> tuple[Stage, Stage]:
    draft.status = CampaignStatus.PUBLISHED
    session.add(draft)
    session.commit()
    submission, voting = add_stages(
        session,
        draft,
        [
            (StageKind.SUBMISSION, T0 - 2 * DAY, T0 + 5 * DAY),
            (StageKind.VOTING, T0 + 7 * DAY, T0 + 14 * DAY),
        ],
    )
    return submission, voting


def test_close_a_stage_early_with_a_reason(
    as_marketer: TestClient,
    session: Session,
    live: tuple[Stage, Stage],
    marketer: User,
    frozen: FrozenClock,
) -> None:
    submission, _voting = live
    path = f"{CONSOLE}/summer/stages/{submission.id}/close"
    assert "Close it now" in as_marketer.get(path).text
    response = post(as_marketer, path, {"reason": ""})
    assert response.status_code == 400 and "This field is required." in response.text
    response = post(as_marketer, path, {"reason": "x" * 1_000_000})
    assert response.status_code == 400 and "Use at most 500 characters." in response.text
    reload(session, submission)
    assert submission.closes_at == T0 + 5 * DAY
    response = post(as_marketer, path, {"reason": f"Too many duplicates {SCRIPT}"})
    assert response.status_code == 303
    reload(session, submission)
    assert submission.closes_at == T0
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "stage.closed_early")).one()
    assert event.actor_id == marketer.id and event.at == T0
    assert event.data["reason"] == f"Too many duplicates {SCRIPT}"
    timeline = as_marketer.get(f"{CONSOLE}/summer/timeline").text
    assert "Closed early" in timeline and "Too many duplicates &lt;script&gt;" in timeline
    assert "Close early" not in timeline  # nothing is open any more
    public = as_marketer.get("/c/summer").text
    assert "Voting opens in 7 days" in visible_text(public) and "/c/summer/ideas/new" not in public
    frozen.advance(minutes=1)
    response = post(as_marketer, path, {"reason": "Again, please"})
    assert (
        response.status_code == 400 and "Only an open stage can be closed early." in response.text
    )


def test_open_the_next_stage_now_after_closing_one_early(
    as_marketer: TestClient,
    session: Session,
    live: tuple[Stage, Stage],
    marketer: User,
    frozen: FrozenClock,
) -> None:
    submission, voting = live
    path = f"{CONSOLE}/summer/stages/{voting.id}/open"
    timeline_path = f"{CONSOLE}/summer/timeline"
    # While submission is open, opening voting would overlap it: no link, a clear refusal.
    assert path not in as_marketer.get(timeline_path).text
    page = as_marketer.get(path).text
    assert "opening this one now would overlap it" in page and "Open it now" not in page
    response = post(as_marketer, path, {"reason": "Impatient"})
    assert response.status_code == 400 and "would overlap it" in response.text
    reload(session, voting)
    assert voting.opens_at == T0 + 7 * DAY

    post(as_marketer, f"{CONSOLE}/summer/stages/{submission.id}/close", {"reason": "Enough"})
    frozen.advance(minutes=10)
    timeline = as_marketer.get(timeline_path).text
    assert f'href="{path}"' in timeline and "Open it now" in timeline
    assert "Open it now" in as_marketer.get(path).text
    response = post(as_marketer, path, {"reason": ""})
    assert response.status_code == 400 and "This field is required." in response.text
    response = post(as_marketer, path, {"reason": f"No gap {SCRIPT}"})
    assert response.status_code == 303
    assert "The stage is open." in as_marketer.get(response.headers["location"]).text
    reload(session, voting)
    assert (voting.opens_at, voting.closes_at) == (frozen.now(), T0 + 14 * DAY)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "stage.opened_early")).one()
    assert event.actor_id == marketer.id and event.data["reason"] == f"No gap {SCRIPT}"
    timeline = as_marketer.get(timeline_path).text
    assert "Opened early" in timeline and "No gap &lt;script&gt;" in timeline
    assert "Voting closes in" in visible_text(as_marketer.get("/c/summer").text)


def test_extend_a_stage_with_a_reason_up_to_the_next_one(
    as_marketer: TestClient, session: Session, live: tuple[Stage, Stage]
) -> None:
    submission, _voting = live
    path = f"{CONSOLE}/summer/stages/{submission.id}/extend"
    assert 'value="2026-03-07T10:00"' in as_marketer.get(path).text
    response = post(as_marketer, path, {"closes_at": "2026-03-09T11:00", "reason": "Holidays"})
    assert response.status_code == 400 and "overlap the next stage" in response.text
    response = post(as_marketer, path, {"closes_at": "2026-03-06T10:00", "reason": "Holidays"})
    assert response.status_code == 400 and "later than the current one" in response.text
    response = post(as_marketer, path, {"closes_at": "2026-03-08T10:00", "reason": ""})
    assert response.status_code == 400 and "This field is required." in response.text
    response = post(
        as_marketer, path, {"closes_at": "2026-03-09T10:00", "reason": "School holidays"}
    )
    assert response.status_code == 303
    reload(session, submission)
    assert submission.closes_at == T0 + 7 * DAY
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "stage.extended")).one()
    assert event.data["before"]["closes_at"] == (T0 + 5 * DAY).isoformat()
    assert event.data["after"]["closes_at"] == (T0 + 7 * DAY).isoformat()
    assert event.data["reason"] == "School holidays"


def test_a_published_campaigns_open_stage_cannot_be_edited_or_removed(
    as_marketer: TestClient, session: Session, live: tuple[Stage, Stage]
) -> None:
    submission, voting = live
    base = f"{CONSOLE}/summer/stages"
    response = post(
        as_marketer,
        f"{base}/{submission.id}/edit",
        stage_form("submission", "2026-02-28T10:00", "2026-03-20T10:00"),
    )
    assert response.status_code == 400 and "close it early or extend it" in response.text
    response = post(as_marketer, f"{base}/{submission.id}/remove", {})
    assert response.status_code == 400 and "close it early or extend it" in response.text
    response = post(as_marketer, f"{base}/{voting.id}/move", {"direction": "up"})
    assert response.status_code == 400
    reload(session, submission)
    assert submission.opens_at == T0 - 2 * DAY


def test_publishing_an_invalid_timeline_says_why(
    as_marketer: TestClient, session: Session, draft: Campaign
) -> None:
    response = post(as_marketer, CONSOLE + "/summer/status", {"to": "published"})
    assert response.status_code == 400
    assert "Add at least one stage to the timeline before publishing." in response.text
    response = post(as_marketer, CONSOLE + "/summer/status", {"to": "deleted"})
    assert response.status_code == 400 and "Choose one of the options." in response.text
    reload(session, draft)
    assert draft.status == CampaignStatus.DRAFT


def test_archive_and_back_to_draft(
    as_marketer: TestClient, session: Session, live: tuple[Stage, Stage], draft: Campaign
) -> None:
    assert post(as_marketer, CONSOLE + "/summer/status", {"to": "archived"}).status_code == 303
    assert as_marketer.get("/c/summer").status_code == 404
    assert "summer" not in as_marketer.get("/").text.lower()
    timeline = as_marketer.get(CONSOLE + "/summer/timeline").text
    assert "Add a stage" not in timeline and "Close early" not in timeline
    response = post(as_marketer, CONSOLE + "/summer/edit", {**CAMPAIGN_FORM, "slug": "summer"})
    assert response.status_code == 400 and "Archived campaigns cannot be changed" in response.text
    assert post(as_marketer, CONSOLE + "/summer/status", {"to": "draft"}).status_code == 303
    reload(session, draft)
    assert draft.status == CampaignStatus.DRAFT
    assert as_marketer.get("/c/summer").status_code == 404
    assert as_marketer.get(CONSOLE + "/summer/preview").status_code == 200
