"""How far a long rendering stage is: a redrawn line on a terminal, one log line otherwise.

The PDF and Excel stages of a big run take seconds to minutes. On a terminal they say what they
are doing and how far they are, on one line redrawn in place (``PDF: laying out page 37``,
``Excel: Patches 60,000/150,000 rows``); off a terminal (cron, CI, a pipe) a stage writes one
line on the ``reporter`` log when it ends, with its time (``PDF: written in 12.3 s``), as the
fetch does.
"""

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO

log = logging.getLogger("reporter")

STAGE_REDRAW_SECONDS = 0.1  # a terminal line is redrawn at most this often (but see step)

# WeasyPrint announces its steps on this logger; the words a reader is shown for each.
WEASYPRINT_PROGRESS = "weasyprint.progress"
WEASYPRINT_STEPS = {
    "Step 1": "reading the document",
    "Step 2": "reading the styles",
    "Step 3": "applying the styles",
    "Step 4": "building the boxes",
    "Step 6": "drawing the pages",
    "Step 7": "adding the attachments and metadata",
}


class StageProgress:
    """Progress of one rendering stage named ``stage`` (``"PDF"``, ``"Excel"``), on ``stream``.

    Use it as a context manager around the stage: leaving it normally ends the terminal line
    (or logs the stage's time); leaving it on an error only ends the terminal line, so the
    error starts a line of its own.

    Example::

        with StageProgress("Excel") as progress:
            progress.step("sheet Servers")
            progress.count("Patches", 60_000, 150_000, "rows")
            progress.result("13 sheets")
    """

    def __init__(
        self,
        stage: str,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interactive: bool | None = None,
    ) -> None:
        self.stage = stage
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.summary = ""
        self._started = clock()
        self._last_shown: float | None = None
        self._width = 0

    def step(self, text: str) -> None:
        """The stage moved on to ``text`` (shown at once on a terminal)."""
        self._show(text, force=True)

    def tick(self, text: str) -> None:
        """A frequent update, such as a page number (redrawn at most every 0.1 s)."""
        self._show(text, force=False)

    def count(self, what: str, done: int, total: int, unit: str = "rows") -> None:
        """``done`` of ``total`` ``unit`` of ``what`` are written (the last one always shown)."""
        self._show(f"{what} {done:,}/{total:,} {unit}", force=done >= total)

    def result(self, summary: str) -> None:
        """What the stage made, said when it ends (``"98 pages"``)."""
        self.summary = summary

    def elapsed(self) -> float:
        """Seconds since the stage began."""
        return self._clock() - self._started

    def final_line(self) -> str:
        """The line that ends the stage: what it made and how long it took."""
        made = f"{self.summary}, " if self.summary else ""
        return f"{self.stage}: {made}written in {self.elapsed():.1f} s"

    def __enter__(self) -> "StageProgress":
        self._started = self._clock()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            if self.interactive:
                self._draw(self.final_line())
            else:
                log.info("%s", self.final_line())
        if self.interactive and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def _show(self, text: str, *, force: bool) -> None:
        if not self.interactive:
            return
        now = self._clock()
        if (
            not force
            and self._last_shown is not None
            and now - self._last_shown < STAGE_REDRAW_SECONDS
        ):
            return
        self._last_shown = now
        self._draw(f"{self.stage}: {text} ({now - self._started:.0f} s)")

    def _draw(self, line: str) -> None:
        # Pad over a longer previous line; \r returns to the start of the same line.
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)


class _WeasyPrintSteps(logging.Handler):
    """Turns WeasyPrint's step messages into :class:`StageProgress` updates (in this process
    only: a forked worker inherits the handler but must not draw on the parent's line)."""

    def __init__(self, progress: StageProgress, what: str) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.what = what
        self.pid = os.getpid()
        self.pages = 0

    def emit(self, record: logging.LogRecord) -> None:
        if os.getpid() != self.pid:
            return
        message = str(record.msg)
        if message.startswith("Step 5"):
            if "Page" in message and isinstance(record.args, tuple) and record.args:
                self.pages = int(str(record.args[0]))
            self.progress.tick(f"laying out {self.what or 'the pages'}, page {self.pages}")
        elif text := WEASYPRINT_STEPS.get(message[:6]):
            self.progress.step(f"{text} ({self.what})" if self.what else text)


@contextmanager
def weasyprint_steps(progress: StageProgress | None, what: str = "") -> Iterator[None]:
    """While WeasyPrint works in this block, show its steps (and the page it lays out) on
    ``progress``; nothing without one or off a terminal."""
    if progress is None or not progress.interactive:
        yield
        return
    logger = logging.getLogger(WEASYPRINT_PROGRESS)
    handler = _WeasyPrintSteps(progress, what)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    # Its parent logger is quietened to errors (reporter.logs): these INFO lines stop here.
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
