"""The engine's clock is the shared one (timekeeping.clock): tests move it instead of sleeping."""

from timekeeping.clock import Clock, clock, now

__all__ = ["Clock", "clock", "now"]
