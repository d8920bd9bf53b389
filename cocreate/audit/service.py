from __future__ import annotations

from typing import Any

from sqlmodel import Session

from cocreate.audit.models import AuditEvent


def record(
    *,
    session: Session,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: int | None,
    **data: Any,
) -> AuditEvent:
    """Add an audit event to the caller's transaction (it commits or rolls back with it)."""
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        data=data,
    )
    session.add(event)
    return event
