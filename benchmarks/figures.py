"""The figure every benchmark returns, and the one table ``run_all.py`` prints them in.

A :class:`Figure` is one measured value, with the baseline measured in the same run (when the
target is relative to one), the SPEC 8 target as text and whether it was met. The load
average is taken when the figure is made: the machine may be shared, and a figure means
little without it.
"""

import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def load_average() -> float:
    """The one-minute load average (0.0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


@dataclass(frozen=True)
class Figure:
    """One measured value of a benchmark.

    Args:
        section: the benchmark (fetch, model, pdf, csv, xlsx, e2e).
        what: what was measured, in a few words.
        value: the measured value (a median when ``repeats`` > 1).
        unit: the value's unit (``rows/s``, ``s``, ``MB`` ...).
        baseline: the same quantity for the baseline, measured in the same run.
        baseline_label: what the baseline is.
        target: the SPEC 8 target as text ("" when the figure is for information).
        passed: whether the target was met (None without a target).
        repeats: how many runs ``value`` is the median of.
        note: anything a reader needs to judge the figure.
        cpu: CPU seconds (user + system, children included) behind the value, when timed.
        load: the one-minute load average when the figure was taken.
    """

    section: str
    what: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    passed: bool | None = None
    repeats: int = 1
    note: str = ""
    load: float = field(default_factory=load_average)
    cpu: float | None = None

    @property
    def ratio(self) -> float | None:
        """``value / baseline``, when there is a baseline."""
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, object]:
        """The figure as plain values (for ``--json``)."""
        return {
            "section": self.section,
            "what": self.what,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_label": self.baseline_label,
            "ratio": self.ratio,
            "target": self.target,
            "passed": self.passed,
            "repeats": self.repeats,
            "note": self.note,
            "load": self.load,
            "cpu": self.cpu,
        }


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def number(value: float | None) -> str:
    """A value with as many digits as it deserves: 1,234,567 / 123.4 / 1.23."""
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: Iterable[Figure]) -> str:
    """All figures as one plain-text table (Markdown-compatible), notes below it."""
    header = (
        "section",
        "measure",
        "value",
        "CPU s",
        "baseline (same run)",
        "ratio",
        "target",
        "result",
        "load",
    )
    rows, notes = [], []
    for figure in figures:
        baseline = ""
        if figure.baseline is not None:
            baseline = f"{figure.baseline_label} {number(figure.baseline)}"
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else ""
        result = {True: "PASS", False: "FAIL", None: ""}[figure.passed]
        what = figure.what
        if figure.repeats > 1:
            what += f" (median of {figure.repeats})"
        if figure.note:
            notes.append(figure.note)
            what += f" [{len(notes)}]"
        value = f"{number(figure.value)} {figure.unit}"
        load = f"{figure.load:.1f}"
        cpu = number(figure.cpu) if figure.cpu is not None else ""
        rows.append(
            (figure.section, what, value, cpu, baseline, ratio, figure.target, result, load)
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [line(row) for row in rows]
    lines += [f"[{index}] {note}" for index, note in enumerate(notes, 1)]
    return "\n".join(lines)


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its children waited for so far."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
