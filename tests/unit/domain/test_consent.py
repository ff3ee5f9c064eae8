"""The consent decision over any sequence of grants, withdrawals and expiries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tellusonce.domain.consent import GrantView, decide, minimise

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REPORT = uuid.UUID(int=1)
OTHER_REPORT = uuid.UUID(int=2)


@dataclass
class Dept:
    id: str = "dvla"
    active: bool = True
    receives: dict = field(default_factory=lambda: {"address": ["given_names", "postcode", "town"], "name": ["given_names"]})
    needs_protected_address: bool = False


def grant(**overrides) -> GrantView:
    values = dict(id=uuid.uuid4(), department_id="dvla", scope="standing", change_types=frozenset({"address"}),
                  granted_at=T0, receipt_id=uuid.uuid4())
    values.update(overrides)
    return GrantView(**values)


def test_with_no_grant_the_answer_is_no():
    assert not decide([], Dept(), "address", now=T0).allowed


def test_standing_grant_allows_its_change_types_only():
    g = grant()
    assert decide([g], Dept(), "address", now=T0).allowed
    assert not decide([g], Dept(), "name", now=T0).allowed


def test_grant_for_another_department_does_not_count():
    assert not decide([grant(department_id="hmrc")], Dept(), "address", now=T0).allowed


def test_one_off_grant_covers_only_its_report():
    g = grant(scope="one_off", report_id=REPORT)
    assert decide([g], Dept(), "address", now=T0, report_id=REPORT).allowed
    assert not decide([g], Dept(), "address", now=T0, report_id=OTHER_REPORT).allowed
    assert not decide([g], Dept(), "address", now=T0).allowed


def test_withdrawn_and_expired_grants_do_not_count():
    assert not decide([grant(withdrawn_at=T0)], Dept(), "address", now=T0 + timedelta(seconds=1)).allowed
    assert not decide([grant(expires_at=T0 + timedelta(days=1))], Dept(), "address", now=T0 + timedelta(days=2)).allowed
    assert decide([grant(expires_at=T0 + timedelta(days=1))], Dept(), "address", now=T0 + timedelta(hours=1)).allowed


def test_inactive_department_or_unhandled_type_is_not_handled():
    assert decide([grant()], Dept(active=False), "address", now=T0).reason == "not_handled"
    assert decide([grant(change_types=frozenset({"death"}))], Dept(), "death", now=T0).reason == "not_handled"


def test_allowed_decision_names_exactly_the_registry_fields_and_the_receipt():
    g = grant()
    decision = decide([g], Dept(), "address", now=T0)
    assert decision.fields == ("given_names", "postcode", "town")
    assert decision.receipt_id == g.receipt_id


def test_protected_address_is_withheld_unless_needed():
    withheld = decide([grant()], Dept(), "address", now=T0, protected_address=True)
    assert withheld.fields == ("given_names",) and set(withheld.withheld) == {"postcode", "town"}
    needed = decide([grant()], Dept(needs_protected_address=True), "address", now=T0, protected_address=True)
    assert needed.withheld == ()


def test_minimise_keeps_only_allowed_fields_and_flags_protection():
    data = {"given_names": "Ada", "postcode": "LS1 1AA", "ni_number": "AB123456C"}
    assert minimise(data, ["given_names", "postcode"], protected_address=False) == {"given_names": "Ada", "postcode": "LS1 1AA"}
    assert minimise(data, ["given_names"], protected_address=True) == {"given_names": "Ada", "protected_address": True}


# -- properties over sequences ----------------------------------------------------------

DEPARTMENTS = ("dvla", "hmrc")
TYPES = ("address", "name")
hours = st.integers(min_value=0, max_value=100)


@st.composite
def histories(draw):
    """Grants made at random hours, some withdrawn or expiring later, some one-off."""
    grants = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(hours)
        scope = draw(st.sampled_from(["standing", "one_off"]))
        withdrawn = draw(st.none() | st.integers(start, 120))
        expires = draw(st.none() | st.integers(start + 1, 130)) if scope == "standing" else None
        grants.append(grant(
            department_id=draw(st.sampled_from(DEPARTMENTS)),
            scope=scope,
            change_types=frozenset(draw(st.sets(st.sampled_from(TYPES), min_size=1))),
            report_id=draw(st.sampled_from([REPORT, OTHER_REPORT])) if scope == "one_off" else None,
            granted_at=T0 + timedelta(hours=start),
            withdrawn_at=None if withdrawn is None else T0 + timedelta(hours=withdrawn),
            expires_at=None if expires is None else T0 + timedelta(hours=expires),
        ))
    return grants


def reference_model(grants, department, change_type, now, report_id):
    """The rule in words: some grant for this department and type, started, not withdrawn, not
    expired, and standing or for this very report."""
    return any(
        g.department_id == department and change_type in g.change_types
        and g.granted_at <= now
        and (g.withdrawn_at is None or g.withdrawn_at > now)
        and (g.expires_at is None or g.expires_at > now)
        and (g.scope == "standing" or g.report_id == report_id)
        for g in grants
    )


@settings(max_examples=300, deadline=None)
@given(histories(), st.sampled_from(DEPARTMENTS), st.sampled_from(TYPES), st.integers(0, 140),
       st.sampled_from([REPORT, OTHER_REPORT, None]))
def test_decision_matches_the_rule_for_any_history(grants, department, change_type, hour, report_id):
    now = T0 + timedelta(hours=hour)
    dept = Dept(id=department)
    decision = decide(grants, dept, change_type, now=now, report_id=report_id)
    assert decision.allowed == reference_model(grants, department, change_type, now, report_id)
    if decision.allowed:
        chosen = next(g for g in grants if g.id == decision.grant_id)
        assert chosen.department_id == department and change_type in chosen.change_types


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(0, 140))
def test_withdrawing_every_grant_means_no_one_is_told(grants, hour):
    now = T0 + timedelta(hours=hour)
    withdrawn = [GrantView(**{**g.__dict__, "withdrawn_at": min(g.granted_at, now)}) for g in grants]
    for department in DEPARTMENTS:
        for change_type in TYPES:
            assert not decide(withdrawn, Dept(id=department), change_type, now=now, report_id=REPORT).allowed


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(0, 140))
def test_time_passing_never_revives_a_withdrawn_grant(grants, hour):
    """If a department may not be told at some moment after every grant started, no later moment says yes
    unless a grant starts later."""
    last_start = max((g.granted_at for g in grants), default=T0)
    now = max(last_start, T0 + timedelta(hours=hour))
    for department in DEPARTMENTS:
        for change_type in TYPES:
            if not decide(grants, Dept(id=department), change_type, now=now, report_id=REPORT).allowed:
                later = now + timedelta(hours=50)
                assert not decide(grants, Dept(id=department), change_type, now=later, report_id=REPORT).allowed
