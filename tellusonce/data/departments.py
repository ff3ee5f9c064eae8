"""Queries about departments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.models import Department


_ALL = select(Department).order_by(Department.name)
_ACTIVE = _ALL.where(Department.active.is_(True))  # built once: every submission reads it


def list_departments(session: Session, *, include_inactive: bool = False) -> Sequence[Department]:
    return session.scalars(_ALL if include_inactive else _ACTIVE).all()


def get_department(session: Session, department_id: str) -> Department | None:
    return session.get(Department, department_id)


def departments_for_change_type(session: Session, change_type: str) -> list[Department]:
    return [d for d in list_departments(session) if d.accepts(change_type)]
