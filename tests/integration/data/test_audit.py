"""The audit trail: a hash chain per actor that shows a changed or removed event."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from tellusonce.data.audit import record_event, verify_chain
from tellusonce.models import AuditEvent


def test_audit_chain_verifies_and_detects_tampering(db_session):
    for i in range(3):
        record_event(db_session, actor="test", action="thing.done", subject_type="thing", subject_id=i, details={"n": i})
    assert verify_chain(db_session).ok
    middle = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[-2]
    db_session.execute(update(AuditEvent).where(AuditEvent.id == middle.id).values(details={"n": 99}))
    db_session.expire_all()
    check = verify_chain(db_session)
    assert not check.ok and check.broken_at == middle.id


def test_audit_events_chain_per_actor_and_removing_one_is_detected(db_session):
    for actor in ("citizen:a", "citizen:b", "citizen:a", "citizen:a"):
        record_event(db_session, actor=actor, action="x", subject_type="t", subject_id=1)
    check = verify_chain(db_session)
    assert check.ok and check.checked == 4 and check.chains == 2
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.chain == "citizen:a").order_by(AuditEvent.id)).all()
    assert events[1].prev_hash == events[0].hash
    db_session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    db_session.expire_all()
    check = verify_chain(db_session)
    assert not check.ok and check.broken_at == events[2].id
