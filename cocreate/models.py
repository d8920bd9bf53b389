"""Imports every feature's tables so that SQLModel.metadata (Alembic, tests) sees them all."""

from cocreate.accounts.models import Identity, User
from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand, Invitation, Membership
from cocreate.campaigns.models import Campaign, Stage
from cocreate.fraud.models import FraudCase, FraudCaseVote
from cocreate.headtohead.models import HeadToHeadChoice, HeadToHeadStats  # noqa: F401
from cocreate.ideas.models import Idea, IdeaTerm
from cocreate.jobs.models import Job
from cocreate.jury.models import JuryCriterion, JuryOutcome, JuryPanel, JuryScore
from cocreate.moderation.models import (
    MergeCredit,
    ModerationClaim,
    ModerationDecision,
    ModerationFlag,
    ModerationSettings,
    Report,
)
from cocreate.notifications.models import OutboxEmail
from cocreate.results.models import Announcement, RoundCertification, RoundResult, VoteLogKey
from cocreate.sharing.models import ShareArrival  # noqa: F401
from cocreate.voting.models import (
    Ballot,
    DeclaredCountry,
    IdeaTally,
    Round,
    RoundEntrant,
    RoundPairwise,
    Vote,
)

__all__ = [
    "Announcement",
    "JuryCriterion",
    "JuryOutcome",
    "JuryPanel",
    "JuryScore",
    "RoundCertification",
    "RoundPairwise",
    "RoundResult",
    "VoteLogKey",
    "Ballot",
    "DeclaredCountry",
    "IdeaTally",
    "Round",
    "RoundEntrant",
    "Vote",
    "AuditEvent",
    "Brand",
    "Campaign",
    "FraudCase",
    "FraudCaseVote",
    "Idea",
    "IdeaTerm",
    "Job",
    "Identity",
    "Invitation",
    "Membership",
    "MergeCredit",
    "ModerationClaim",
    "ModerationDecision",
    "ModerationFlag",
    "ModerationSettings",
    "OutboxEmail",
    "Report",
    "Stage",
    "User",
]
