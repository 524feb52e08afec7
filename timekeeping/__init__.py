"""Time for the engine and the workers alike: the one clock, and the business calendar.

Shared by `engine` and `workers` (which may not import each other), so a worker computing a
reminder date and a diagram's timer agree to the day.
"""

from timekeeping.calendar import (
                                  BusinessCalendar,
                                  add_months,
                                  calendar_months_after,
                                  configure,
                                  is_statutory_working_day,
                                  is_working_day,
                                  local_working_days_after,
                                  to_date,
                                  today,
                                  working_days_after,
)
from timekeeping.clock import Clock, clock, now

__all__ = ["BusinessCalendar", "Clock", "add_months", "calendar_months_after", "clock", "configure",
           "is_statutory_working_day", "is_working_day",
           "local_working_days_after", "now", "to_date", "today", "working_days_after"]
