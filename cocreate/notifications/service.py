"""The email outbox: mails are rows written with the change that caused them, then sent.

If the SMTP server is down nothing is lost: a failed send is retried later with back-off.
With several workers on PostgreSQL, SKIP LOCKED keeps two senders off the same mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from cocreate import i18n
from cocreate.clock import Clock, system_clock
from cocreate.notifications.models import OutboxEmail

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
EMAIL_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "emails"

_env = Environment(
    loader=FileSystemLoader(EMAIL_TEMPLATES),
    autoescape=False,  # plain-text mail
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    keep_trailing_newline=True,
)
_env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)


def queue_email(
    *, session: Session, to: str, template: str, locale: str | None = None, **context: Any
) -> OutboxEmail:
    """Render `templates/emails/<template>.txt` (first line: subject) and add it to the outbox.

    The caller commits: the mail exists exactly when the change that caused it does.
    """
    with i18n.using_locale(locale or i18n.current_locale()):
        text = _env.get_template(f"{template}.txt").render(**context)
    subject, _, body = text.partition("\n")
    mail = OutboxEmail(to=to, subject=subject.strip()[:255], body=body.strip() + "\n")
    session.add(mail)
    return mail


def deliver_due(
    engine: Engine,
    smtp_url: str | None,
    mail_from: str,
    *,
    clock: Clock = system_clock,
    limit: int = 50,
) -> int:
    """Send due mails; returns how many were sent. Safe to run in several processes."""
    sent = 0
    with Session(engine, expire_on_commit=False) as session:
        query = (
            select(OutboxEmail)
            .where(
                col(OutboxEmail.sent_at).is_(None),
                or_(
                    col(OutboxEmail.next_attempt_at).is_(None),
                    col(OutboxEmail.next_attempt_at) <= clock.now(),
                ),
                col(OutboxEmail.attempts) < MAX_ATTEMPTS,
            )
            .order_by(col(OutboxEmail.id))
            .limit(limit)
        )
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        due = list(session.exec(query))
        if not due:
            return 0
        try:
            transport = _connect(smtp_url) if smtp_url else None
        except (smtplib.SMTPException, OSError) as exc:
            for mail in due:  # the server is down: keep every mail, try again later
                _defer(mail, exc, clock)
                session.add(mail)
            session.commit()
            log.warning("SMTP server unreachable (%s); %d mails deferred", exc, len(due))
            return 0
        try:
            for mail in due:
                try:
                    if transport is None:
                        _print_mail(mail, mail_from)
                    else:
                        transport.send_message(_message(mail, mail_from))
                except (smtplib.SMTPException, OSError) as exc:
                    _defer(mail, exc, clock)
                    log.warning("sending mail %s failed: %s", mail.id, mail.last_error)
                else:
                    mail.attempts += 1
                    mail.sent_at = clock.now()
                    mail.last_error = None
                    sent += 1
                session.add(mail)
                session.commit()  # one mail at a time: a crash never re-sends the ones before
        finally:
            if transport is not None:
                try:
                    transport.quit()
                except (smtplib.SMTPException, OSError):
                    pass
    return sent


def _defer(mail: OutboxEmail, exc: Exception, clock: Clock) -> None:
    mail.attempts += 1
    mail.last_error = f"{type(exc).__name__}: {exc}"[:500]
    mail.next_attempt_at = clock.now() + _backoff(mail.attempts)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def _connect(smtp_url: str) -> smtplib.SMTP:
    url = urlsplit(smtp_url)
    options = parse_qs(url.query)
    host = url.hostname or "localhost"
    if url.scheme == "smtps":
        transport: smtplib.SMTP = smtplib.SMTP_SSL(
            host, url.port or 465, timeout=10, context=ssl.create_default_context()
        )
    elif url.scheme == "smtp":
        transport = smtplib.SMTP(host, url.port or 25, timeout=10)
        if options.get("starttls", ["0"])[0] in ("1", "true"):
            transport.starttls(context=ssl.create_default_context())
    else:
        raise ValueError(f"COCREATE_SMTP_URL must start with smtp:// or smtps://, not {url.scheme}")
    if url.username:
        transport.login(unquote(url.username), unquote(url.password or ""))
    return transport


def _message(mail: OutboxEmail, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(idstring=f"outbox{mail.id}", domain="cocreate.invalid")
    message.set_content(mail.body)
    return message


def _print_mail(mail: OutboxEmail, mail_from: str) -> None:
    print(  # noqa: T201  (dev mode: the console is the mail server)
        f"\n----- email (dev mode, not sent) -----\nFrom: {mail_from}\nTo: {mail.to}\n"
        f"Subject: {mail.subject}\n\n{mail.body}--------------------------------------\n",
        flush=True,
    )
