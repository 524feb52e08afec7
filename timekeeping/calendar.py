"""The clocks' units: working days in England and Wales, and calendar months.

Two kinds of working day, because the law and the partnership count differently:

* statutory clocks (the 5-working-day notification, the 15-working-day Rapid Review, the copy sent
  7 working days before publication) skip weekends and England and Wales bank holidays only:
  `working_days_after`;
* local deadlines (agency returns, chases, reminders) also skip the partnership's own closure days
  (configuration): `local_working_days_after`.

Diagram authors use these in timer expressions and gateway conditions; workers import the same
functions from here. Every result is a deadline *moment*: the day at 09:00 UK time, as an ISO 8601
string a timer understands.
"""

from __future__ import annotations

import calendar as _calendar
import threading
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from timekeeping.clock import now

UK = ZoneInfo("Europe/London")
DEADLINE_TIME = time(9, 0)
MAX_DAYS = 5000


class BusinessCalendar:
    """England and Wales bank holidays (from the `holidays` package) plus the partnership's own
    closure days (configuration)."""

    def __init__(self, closures: Iterable[date] = ()) -> None:
        self._lock = threading.Lock()
        self._bank = holidays.country_holidays("GB", subdiv="ENG")
        self.closures = frozenset(closures)

    def is_statutory_working_day(self, day: date) -> bool:
        """Not a weekend, not an England and Wales bank holiday (the law's working day)."""
        if day.weekday() >= 5:
            return False
        with self._lock:                      # holidays fills its cache lazily, year by year
            return day not in self._bank

    def is_working_day(self, day: date) -> bool:
        """The partnership's working day: a statutory working day that is not one of its closure days."""
        return day not in self.closures and self.is_statutory_working_day(day)

    def add_working_days(self, start: date, n: int, *, statutory: bool = False) -> date:
        """The n-th working day after `start` (start itself is day 0). Negative n counts back.
        `statutory=True` counts the law's working days (closure days count as working days)."""
        works = self.is_statutory_working_day if statutory else self.is_working_day
        step = 1 if n >= 0 else -1
        day, left = start, abs(n)
        for _ in range(MAX_DAYS):
            if left == 0:
                return day
            day += timedelta(days=step)
            if works(day):
                left -= 1
        raise ValueError(f"{n} working days is out of range")


def add_months(start: date, n: int) -> date:
    """Calendar months, month-end clamped: 31 August + 6 months = 28 (or 29) February."""
    month_index = start.month - 1 + n
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, _calendar.monthrange(year, month)[1]))


def to_date(value: object) -> date:
    """A date from a date, a datetime (its UK calendar day) or an ISO string."""
    if isinstance(value, datetime):
        return (value.astimezone(UK) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            return to_date(datetime.fromisoformat(text.replace("Z", "+00:00")))
    raise ValueError(f"expected a date, got {type(value).__name__}")


def at_deadline_time(day: date) -> str:
    return datetime.combine(day, DEADLINE_TIME, UK).isoformat()


_calendar_lock = threading.Lock()
_current = BusinessCalendar()


def configure(closures: Iterable[date]) -> None:
    """Set the partnership's own closure days (in addition to bank holidays)."""
    global _current
    with _calendar_lock:
        _current = BusinessCalendar(closures)


def current() -> BusinessCalendar:
    return _current


# ---- the functions diagrams call -------------------------------------------------------------

def working_days_after(start: object, n: int) -> str:
    """`working_days_after(sin_sent_on, 15)`: a statutory clock, the 15th working day after the date
    (weekends and bank holidays skipped, the partnership's closure days counted), at 09:00 UK time.
    A negative n counts back: `working_days_after(planned_publication_date, -7)`."""
    return at_deadline_time(_current.add_working_days(to_date(start), int(n), statutory=True))


def local_working_days_after(start: object, n: int) -> str:
    """`local_working_days_after(requested_on, 5)`: a local deadline, the 5th of the partnership's
    working days after the date (its closure days skipped too), at 09:00 UK time."""
    return at_deadline_time(_current.add_working_days(to_date(start), int(n)))


def calendar_months_after(start: object, n: int) -> str:
    """`calendar_months_after(decision_date, 6)`: the same day n months later (month-end clamped),
    at 09:00 UK time."""
    return at_deadline_time(add_months(to_date(start), int(n)))


def is_working_day(day: object) -> bool:
    """The partnership's working day (closure days are not)."""
    return _current.is_working_day(to_date(day))


def is_statutory_working_day(day: object) -> bool:
    """The law's working day: not a weekend, not a bank holiday."""
    return _current.is_statutory_working_day(to_date(day))


def today() -> str:
    """Today's date in the UK, as an ISO string (from the engine clock)."""
    return now().astimezone(UK).date().isoformat()


DIAGRAM_FUNCTIONS = {"working_days_after": working_days_after, "local_working_days_after": local_working_days_after,
                     "calendar_months_after": calendar_months_after, "is_working_day": is_working_day,
                     "is_statutory_working_day": is_statutory_working_day, "today": today}
