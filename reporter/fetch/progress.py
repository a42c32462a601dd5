"""How far a fetch is: a redrawn line on a terminal, a log line now and then otherwise."""

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("reporter")

REDRAW_SECONDS = 0.1  # a terminal line is redrawn at most this often
LOG_SECONDS = 5.0  # without a terminal, a line at most this often ...
LOG_STEP = 0.10  # ... or when another tenth is done (but not more than once a second)


def _clock_text(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Progress of fetching ``total`` executions, on ``stream`` (default: stderr).

    On a terminal: one line redrawn with ``\\r`` (done/total, rate, ETA, retries). Otherwise
    (cron, CI, a pipe): a line on the ``reporter`` log at most every ~5 s or 10 %, such as
    ``fetched 1200/3200 executions (37%), 85/s, 4 retries``.

    Example::

        progress = Progress()
        progress.start(3200)
        progress.update(1200, retries=4)
        progress.finish()
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        what: str = "executions",
        clock: Callable[[], float] = time.monotonic,
        interactive: bool | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.what = what
        self._clock = clock
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self._lock = threading.Lock()
        self.total = self.done = self.retries = 0
        self._started = self._last_shown = 0.0
        self._last_done = 0
        self._width = 0

    def start(self, total: int, done: int = 0) -> None:
        """Begin counting towards ``total``."""
        with self._lock:
            self.total, self.done, self.retries = total, done, 0
            self._started = self._last_shown = self._clock()
            self._last_done = done

    def update(self, done: int, retries: int = 0) -> None:
        """``done`` of the total are finished, after ``retries`` retries so far."""
        with self._lock:
            self.done, self.retries = done, retries
            now = self._clock()
            since = now - self._last_shown
            if self.interactive:
                due = since >= REDRAW_SECONDS or done >= self.total
            else:
                step = self.total and (done - self._last_done) / self.total
                due = since >= LOG_SECONDS or (step >= LOG_STEP and since >= 1.0)
            if due:
                self._show(now)

    def finish(self) -> None:
        """Show the final count (and end the terminal line)."""
        with self._lock:
            if not self.total:
                return
            now = self._clock()
            self._show(now, final=True)
            if self.interactive:
                self.stream.write("\n")
                self.stream.flush()

    def line(self, now: float, final: bool = False) -> str:
        """The text shown for the current state."""
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        percent = 100 * self.done // self.total if self.total else 100
        retries = f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}"
        text = f"fetched {self.done}/{self.total} {self.what} ({percent}%), {rate:.0f}/s, {retries}"
        if final:
            return f"{text}, {elapsed:.1f} s"
        if self.interactive and 0 < self.done < self.total and rate > 0:
            text += f", ETA {_clock_text((self.total - self.done) / rate)}"
        return text

    def _show(self, now: float, final: bool = False) -> None:
        text = self.line(now, final)
        self._last_shown, self._last_done = now, self.done
        if self.interactive:
            # Pad over a longer previous line; \r returns to the start of the same line.
            self.stream.write("\r" + text.ljust(self._width))
            self.stream.flush()
            self._width = len(text)
        else:
            log.info("%s", text)
