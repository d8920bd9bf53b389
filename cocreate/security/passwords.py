"""Password hashing (argon2id) and the password rules, with messages people can act on."""

from __future__ import annotations

import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session

from cocreate.concurrency import Slots
from cocreate.db import release
from cocreate.i18n import gettext as _

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 takes any length, but a megabyte "password" is a denial of service

_hasher = PasswordHasher()
# argon2 takes ~0.2 s of one core: more hashes at once than cores only make each slower.
HASHING = Slots("password hashing", size=os.cpu_count() or 1)
# Verified against when the account does not exist, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")

COMMON_PASSWORDS = frozenset(
    """password password1 password12 password123 1234567890 12345678910 qwertyuiop
    azertyuiop iloveyou123 letmein123 welcome123 motdepasse administrator changeme123
    0123456789 1111111111 abcdefghij""".split()
)


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Every rule the password breaks, in the user's language; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("Use at least %(n)d characters.") % {"n": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        problems.append(_("Use at most %(n)d characters.") % {"n": MAX_LENGTH})
    if password and password.strip() == "":
        problems.append(_("A password cannot be only spaces."))
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        problems.append(_("This password is too easy to guess."))
    if email and password.lower() == email.lower():
        problems.append(_("Your password must not be your email address."))
    return problems


def hash_password(password: str, *, session: Session | None = None) -> str:
    """The argon2id hash of `password`. `session`: the caller's, whose transaction is ended
    first (nothing may be pending), so that no pooled connection waits for the hash."""
    if session is not None:
        release(session)
    with HASHING():
        return _hasher.hash(password)


def verify_password(
    password_hash: str | None, password: str, *, session: Session | None = None
) -> bool:
    """Whether `password` matches; the same time when there is no hash. `session` as for
    `hash_password`."""
    if session is not None:
        release(session)
    with HASHING():
        if password_hash is None:
            try:
                _hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            return False
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
