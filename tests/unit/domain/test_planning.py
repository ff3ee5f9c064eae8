from datetime import UTC, date, datetime

from tellusonce.domain.planning import furthest_ahead, months_after, planned_time

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_three_months_ahead_is_the_same_day_three_calendar_months_later():
    assert furthest_ahead(date(2026, 11, 22)) == date(2027, 2, 22)
    assert months_after(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert months_after(date(2027, 11, 30), 3) == date(2028, 2, 29)


def test_a_planned_notification_is_due_at_the_start_of_the_day_in_the_uk():
    # 3 February 2027 is in winter time: midnight in the UK is midnight UTC.
    assert planned_time(date(2027, 2, 3), notice_days=0, channel="webhook", now=NOW) == datetime(2027, 2, 3, tzinfo=UTC)
    # In summer time midnight in the UK is 11pm UTC the day before.
    summer = planned_time(date(2027, 6, 1), notice_days=0, channel="email", now=datetime(2027, 4, 1, tzinfo=UTC))
    assert summer == datetime(2027, 5, 31, 23, 0, tzinfo=UTC)


def test_notice_days_bring_the_planned_time_forward():
    assert planned_time(date(2027, 2, 3), notice_days=14, channel="webhook", now=NOW) == datetime(2027, 1, 20, tzinfo=UTC)


def test_nothing_is_planned_when_the_time_has_come_or_there_is_no_date_or_the_organisation_pulls_a_feed():
    assert planned_time(date(2026, 11, 22), notice_days=0, channel="webhook", now=NOW) is None
    assert planned_time(date(2026, 12, 1), notice_days=14, channel="webhook", now=NOW) is None
    assert planned_time(None, notice_days=0, channel="webhook", now=NOW) is None
    assert planned_time(date(2027, 2, 3), notice_days=0, channel="feed", now=NOW) is None
