"""The notice rule: which email a report's outcomes make due, once each."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tellusonce.domain.notices import Copy, NoticeKind, Standing, Told, may_change_notice, next_notice, standing


def copy(department: str, state: str, channel: str = "webhook", dead_at: str | None = None) -> Copy:
    return Copy(f"n-{department}", department, state, channel, dead_at or ("t1" if state == "dead" else None))


def test_an_organisation_that_acknowledges_has_received_it_only_once_it_says_so() -> None:
    assert standing("delivered", "webhook") is Standing.WAITING
    assert standing("delivered", "feed") is Standing.WAITING
    assert standing("acknowledged", "webhook") is Standing.RECEIVED
    assert standing("delivered", "email") is Standing.RECEIVED  # a mailbox does not acknowledge
    assert standing("dead", "email") is Standing.FAILED
    assert standing("cancelled", "feed") is Standing.WITHDRAWN
    assert [s for s in ("pending", "delivering", "retrying") if standing(s, "email") is not Standing.WAITING] == []


def test_only_outcomes_that_may_make_an_email_due_mark_a_report() -> None:
    assert not may_change_notice("delivered", "webhook")
    assert may_change_notice("delivered", "email")
    assert may_change_notice("acknowledged", "webhook") and may_change_notice("dead", "webhook")
    assert not may_change_notice("retrying", "webhook")


def test_every_organisation_received_makes_one_email_listing_them_all() -> None:
    copies = [copy("dvla", "acknowledged"), copy("tv-licensing", "delivered", "email")]
    notice, told = next_notice(copies, Told())
    assert notice is not None and notice.kind is NoticeKind.ALL_RECEIVED
    assert [c.department_id for c in notice.received] == ["dvla", "tv-licensing"]
    assert next_notice(copies, told) == (None, told)


def test_nothing_is_due_while_an_organisation_is_still_waiting() -> None:
    assert next_notice([copy("dvla", "acknowledged"), copy("hmrc", "delivered")], Told())[0] is None


def test_a_failure_is_told_at_once_with_the_others_as_they_stand() -> None:
    copies = [copy("dvla", "acknowledged"), copy("hmrc", "dead"), copy("dwp", "retrying")]
    notice, told = next_notice(copies, Told())
    assert notice is not None and notice.kind is NoticeKind.COULD_NOT_TELL
    assert [c.department_id for c in notice.failed_now] == ["hmrc"]
    assert [c.department_id for c in notice.received] == ["dvla"]
    assert [c.department_id for c in notice.waiting] == ["dwp"]
    assert not told.others_received
    # When the rest arrive, one more email says so and reminds them of the failure.
    later = [copy("dvla", "acknowledged"), copy("hmrc", "dead"), copy("dwp", "acknowledged")]
    notice, told = next_notice(later, told)
    assert notice is not None and notice.kind is NoticeKind.OTHERS_RECEIVED
    assert [c.department_id for c in notice.failed_before] == ["hmrc"]
    assert next_notice(later, told) == (None, told)


def test_a_failure_with_every_other_organisation_received_is_one_email_not_two() -> None:
    copies = [copy("dvla", "acknowledged"), copy("hmrc", "dead")]
    notice, told = next_notice(copies, Told())
    assert notice is not None and notice.kind is NoticeKind.COULD_NOT_TELL
    assert next_notice(copies, told) == (None, told)


def test_a_later_failure_is_told_on_its_own_and_an_earlier_one_not_again() -> None:
    _, told = next_notice([copy("hmrc", "dead"), copy("dwp", "pending")], Told())
    notice, told = next_notice([copy("hmrc", "dead"), copy("dwp", "dead")], told)
    assert notice is not None and [c.department_id for c in notice.failed_now] == ["dwp"]
    assert [c.department_id for c in notice.failed_before] == ["hmrc"]


def test_a_failure_replayed_and_received_makes_the_all_received_email() -> None:
    _, told = next_notice([copy("dvla", "acknowledged"), copy("hmrc", "dead")], Told())
    notice, _ = next_notice([copy("dvla", "acknowledged"), copy("hmrc", "acknowledged")], told)
    assert notice is not None and notice.kind is NoticeKind.ALL_RECEIVED


def test_a_failure_replayed_that_fails_again_is_told_again() -> None:
    _, told = next_notice([copy("hmrc", "dead", dead_at="t1")], Told())
    notice, _ = next_notice([copy("hmrc", "dead", dead_at="t2")], told)
    assert notice is not None and notice.kind is NoticeKind.COULD_NOT_TELL


def test_withdrawn_organisations_are_not_waited_for_and_nothing_is_said_when_none_was_told() -> None:
    notice, _ = next_notice([copy("dvla", "acknowledged"), copy("hmrc", "cancelled")], Told())
    assert notice is not None and [c.department_id for c in notice.received] == ["dvla"]
    assert next_notice([copy("hmrc", "cancelled")], Told())[0] is None


STATES = st.sampled_from(["pending", "delivering", "retrying", "delivered", "acknowledged", "dead", "cancelled"])


@given(st.lists(st.lists(st.tuples(STATES, st.sampled_from(["webhook", "email", "feed"])), min_size=3, max_size=3),
                min_size=1, max_size=8))
def test_whatever_the_order_of_outcomes_no_failure_is_told_twice_and_all_received_at_most_once(steps) -> None:
    told = Told()
    failures_told: list[str] = []
    all_received = 0
    for step in steps:
        copies = [Copy(f"n{i}", f"d{i}", state, channel, "t" if state == "dead" else None)
                  for i, (state, channel) in enumerate(step)]
        notice, told = next_notice(copies, told)
        if notice is None:
            continue
        failures_told += [c.failure for c in notice.failed_now]
        all_received += notice.kind is NoticeKind.ALL_RECEIVED
        assert notice.kind is not NoticeKind.ALL_RECEIVED or not notice.waiting
    assert len(failures_told) == len(set(failures_told))
    assert all_received <= 1
