"""Brands with members, made straight in the database for tests that are not about creating them."""

from __future__ import annotations

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role


def make_brand(
    session: Session,
    slug: str = "acme",
    *,
    name: str | None = None,
    members: list[tuple[User, Role]] | None = None,
) -> Brand:
    brand = Brand(name=name or slug.replace("-", " ").title(), slug=slug)
    session.add(brand)
    session.flush()
    assert brand.id is not None
    for user, role in members or []:
        assert user.id is not None
        session.add(Membership(brand_id=brand.id, user_id=user.id, role=role.value))
    session.commit()
    return brand


def add_member(session: Session, brand: Brand, user: User, role: Role) -> Membership:
    assert brand.id is not None and user.id is not None
    membership = Membership(brand_id=brand.id, user_id=user.id, role=role.value)
    session.add(membership)
    session.commit()
    return membership
