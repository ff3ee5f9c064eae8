"""Queries about departments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.models import Department


def list_departments(session: Session, *, include_inactive: bool = False) -> Sequence[Department]:
    query = select(Department).order_by(Department.name)
    if not include_inactive:
        query = query.where(Department.active.is_(True))
    return session.scalars(query).all()


def get_department(session: Session, department_id: str) -> Department | None:
    return session.get(Department, department_id)


def departments_for_change_type(session: Session, change_type: str) -> list[Department]:
    return [d for d in list_departments(session) if d.accepts(change_type)]
