"""Demo data: a brand, a campaign with a few approved ideas, and one account per role.

Running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.accounts.service import get_user_by_email
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.clock import Clock, system_clock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.search import reindex_terms
from cocreate.ideas.service import random_seed
from cocreate.ideas.similarity import fold
from cocreate.security.passwords import hash_password

BRAND_SLUG = "crispy-co"
CAMPAIGN_SLUG = "pick-our-next-flavour"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str


ACCOUNTS = (
    DemoAccount("consumer", "consumer@demo.example.com", "demo-consumer-pass"),
    DemoAccount("marketer", "marketer@demo.example.com", "demo-marketer-pass"),
    DemoAccount("moderator", "moderator@demo.example.com", "demo-moderator-pass"),
    DemoAccount("admin", "admin@demo.example.com", "demo-admin-pass"),
)

BRIEF = """We are Crispy Co, and our next crisps flavour is yours to invent.

Tell us the flavour you would buy every week. The best ideas go to a public vote, our jury
tastes the finalists, and the winner goes on sale next summer."""

RULES = """- Up to **3 ideas** per person, each with a name and a short description.
- Ideas must be your own, and fit for the whole family.
- Voting: pick as many ideas as you like, once a day."""

# The ideas' author: an account of its own, without a password (nobody logs in as it).
IDEA_AUTHOR_EMAIL = "ideas@demo.example.com"
# (title, category, description), newest first. Already approved, so the gallery and the
# look-alike hint on the submission form have something to show ("fraises" finds "Fraise
# des bois").
IDEAS = (
    (
        "Sea salt & cider vinegar",
        "Savoury",
        "The classic, made with **Normandy cider vinegar** for a rounder, fruitier tang.",
    ),
    ("Smoky paprika", "Spicy", "Sweet smoked paprika from La Vera, with a little garlic."),
    (
        "Fraise des bois",
        "Surprising",
        "Wild strawberry and a pinch of black pepper: sweet, then a gentle kick.",
    ),
    ("Truffle & parmesan", "Savoury", "Black truffle oil and aged parmesan, for special days."),
)

PRIZES = """The winner's flavour goes on sale with **their name on the bag**, and they get a year of
Crispy Co crisps. The two runners-up get a tasting box."""


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def _demo_timeline(campaign_id: int, clock: Clock) -> list[Stage]:
    """Ideas open since a few days and for three more weeks, then a vote, then the winners."""
    hour = clock.now().replace(minute=0, second=0, microsecond=0)
    steps = [
        (StageKind.SUBMISSION, "", hour - timedelta(days=3), hour + timedelta(days=21)),
        (StageKind.VOTING, "Public vote", hour + timedelta(days=23), hour + timedelta(days=37)),
        (StageKind.ANNOUNCEMENT, "", hour + timedelta(days=37), hour + timedelta(days=60)),
    ]
    return [
        Stage(
            campaign_id=campaign_id,
            position=position,
            kind=kind,
            title=title,
            opens_at=opens,
            closes_at=closes,
        )
        for position, (kind, title, opens, closes) in enumerate(steps)
    ]


def load_demo(session: Session, *, clock: Clock = system_clock) -> list[DemoAccount]:
    # Hashed first, with nothing written yet: a hash holds no database connection.
    missing = [a for a in ACCOUNTS if get_user_by_email(session=session, email=a.email) is None]
    hashes = {a.email: hash_password(a.password, session=session) for a in missing}
    brand = session.exec(select(Brand).where(Brand.slug == BRAND_SLUG)).first()
    if brand is None:
        brand = Brand(name="Crispy Co", slug=BRAND_SLUG, primary_color="#b3261e")
        session.add(brand)
        session.flush()
    campaign = session.exec(select(Campaign).where(Campaign.slug == CAMPAIGN_SLUG)).first()
    if campaign is None:
        campaign = Campaign(
            brand_id=_id(brand.id),
            slug=CAMPAIGN_SLUG,
            title="Pick our next flavour",
            summary="Invent the next Crispy Co flavour, then vote for your favourites.",
            brief=BRIEF,
            rules=RULES,
            prizes=PRIZES,
            categories=["Sweet", "Savoury", "Spicy", "Surprising"],
            languages=["en", "fr"],
            timezone="Europe/Paris",
            status=CampaignStatus.PUBLISHED,
            created_at=clock.now(),
            published_at=clock.now(),
        )
        session.add(campaign)
        session.flush()
    has_stages = session.exec(select(Stage.id).where(Stage.campaign_id == campaign.id)).first()
    if has_stages is None:
        session.add_all(_demo_timeline(_id(campaign.id), clock))
    _add_demo_ideas(session, _id(campaign.id), clock)
    for account in ACCOUNTS:
        user = get_user_by_email(session=session, email=account.email)
        if user is None:
            user = User(
                email=account.email,
                display_name=f"Demo {account.role}",
                password_hash=hashes[account.email],
                email_verified_at=clock.now(),
                is_admin=account.role == "admin",
                created_at=clock.now(),
            )
            session.add(user)
            session.flush()
        role = {"marketer": Role.MARKETER, "moderator": Role.MODERATOR}.get(account.role)
        if role is not None:
            member = session.exec(
                select(Membership).where(
                    Membership.brand_id == brand.id, Membership.user_id == user.id
                )
            ).first()
            if member is None:
                session.add(Membership(brand_id=_id(brand.id), user_id=_id(user.id), role=role))
    session.commit()
    return list(ACCOUNTS)


def _add_demo_ideas(session: Session, campaign_id: int, clock: Clock) -> None:
    author = get_user_by_email(session=session, email=IDEA_AUTHOR_EMAIL)
    if author is None:
        author = User(
            email=IDEA_AUTHOR_EMAIL,
            display_name="Camille (demo)",
            password_hash=None,
            email_verified_at=clock.now(),
            created_at=clock.now(),
        )
        session.add(author)
        session.flush()
    existing = set(
        session.exec(
            select(Idea.title).where(Idea.campaign_id == campaign_id, Idea.author_id == author.id)
        ).all()
    )
    for hours_ago, (title, category, description) in enumerate(IDEAS, start=1):
        if title in existing:
            continue
        when = clock.now() - timedelta(hours=hours_ago)
        idea = Idea(
            campaign_id=campaign_id,
            author_id=_id(author.id),
            title=title,
            description=description,
            category=category,
            status=IdeaStatus.APPROVED,
            search_key=fold(title),
            random_key=random_seed(),
            created_at=when,
            submitted_at=when,
            updated_at=when,
        )
        session.add(idea)
        session.flush()
        reindex_terms(session=session, idea=idea)
