"""Rate-limited progress lines for long downloads and conversions."""

from __future__ import annotations

import logging
import time


def format_bytes(count: float) -> str:
    """Format a byte count with a binary unit, for example ``"12.3 MiB"``."""
    if abs(count) < 1024:
        return f"{count:.0f} B"
    for unit in ("KiB", "MiB"):
        count /= 1024
        if abs(count) < 1024:
            return f"{count:.1f} {unit}"
    return f"{count / 1024:.1f} GiB"


def format_duration(seconds: float) -> str:
    """Format a duration as ``"42s"``, ``"3m 05s"`` or ``"1h 02m"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


class Progress:
    """Log the progress of one task: one line per ``interval`` seconds at most.

    Parameters
    ----------
    logger : logging.Logger
        Logger that receives the lines at INFO level.
    label : str
        Name of the task, for example a file name.
    total : int or None
        Expected final count, or None when unknown.
    unit : {"bytes", "images"}
        Unit of the counts. Byte counts are shown in KiB/MiB/GiB.
    start : int, default 0
        Count already done before this run, for example the size of a partial
        download that is being resumed. It is excluded from the rate.
    interval : float, default 2.0
        Minimum number of seconds between two lines.
    """

    def __init__(
        self,
        logger: logging.Logger,
        label: str,
        total: int | None,
        unit: str = "images",
        start: int = 0,
        interval: float = 2.0,
    ) -> None:
        self.logger = logger
        self.label = label
        self.total = total
        self.unit = unit
        self.done = start
        self.start = start
        self.interval = interval
        self.started_at = time.monotonic()
        self.logged_at = self.started_at

    def update(self, count: int) -> None:
        """Add ``count`` to the finished amount and log a line if one is due."""
        self.done += count
        now = time.monotonic()
        if now - self.logged_at >= self.interval:
            self.logged_at = now
            self.logger.info("%s", self.describe(now))

    def finish(self) -> None:
        """Log the final line with the total time taken."""
        elapsed = time.monotonic() - self.started_at
        self.logger.info(
            "%s: %s done in %s",
            self.label,
            self._amount(self.done),
            format_duration(elapsed),
        )

    def describe(self, now: float | None = None) -> str:
        """Return the current progress line: amount, share, rate and time left."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started_at, 1e-9)
        rate = (self.done - self.start) / elapsed
        if self.total:
            share = 100 * self.done / self.total
            line = (
                f"{self.label}: {self._number(self.done)} of {self._amount(self.total)}"
            )
            line += f" ({share:.1f}%)"
        else:
            line = f"{self.label}: {self._amount(self.done)}"
        line += f", {self._amount(rate)}/s"
        if self.total and rate > 0:
            line += f", {format_duration((self.total - self.done) / rate)} left"
        return line

    def _number(self, count: float) -> str:
        """Format a count; byte counts carry their unit, image counts do not."""
        if self.unit == "bytes":
            return format_bytes(count)
        return f"{count:.0f}"

    def _amount(self, count: float) -> str:
        """Format a count with its unit."""
        if self.unit == "bytes":
            return format_bytes(count)
        return f"{count:.0f} {self.unit}"
