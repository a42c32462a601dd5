"""What a stage found wrong or odd in the data, returned beside its result.

Each data stage (``parse``, ``frames``) returns a :class:`Notes` with its result; the report
model merges them (:meth:`Notes.merged`) and turns them into the ``issues`` column and the
problem list. A stage fills its own ``Notes`` and never writes into another stage's.

Per execution there are *faults* (something wrong with the payload: the execution is a
``bad payload`` warning) and *flags* (odd but harmless, shown only in its ``issues`` column).
A fault about one patch has a *kind*; when one execution has more than :data:`SHOWN` faults
of a kind, they read as one summary ("10,000 patches without a title (...): patches 1, 2, 3
and 9,997 more"), so that the text stays proportional to the executions, not the patches.
"""

from dataclasses import dataclass, field

from reporter.problems import Problem

SHOWN = 3  # faults of one kind written out per execution; more are summarised


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing wrong with an execution's payload.

    ``kind`` (with ``position``, the patch's place in the API's list) is set for faults about
    a single patch: it says what the fault is, written to follow "N patches", and groups
    repeats of it.
    """

    text: str
    kind: str | None = None
    position: int | None = None


@dataclass
class Notes:
    """The faults and flags of each execution (by its number in the stage's batch), and
    whole problems (such as a payload that is not an execution at all).

    Only the first :data:`SHOWN` faults of each kind are kept per execution, with the count
    of all of them, so a payload with a million faulty patches costs little memory.
    """

    faults: dict[int, list[Fault]] = field(default_factory=dict)
    flags: dict[int, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)

    def fault(self, execution: int, text: str) -> None:
        """Note something wrong with the payload of execution number ``execution``."""
        self.faults.setdefault(execution, []).append(Fault(text))

    def patch_fault(self, execution: int, position: int, kind: str, text: str) -> None:
        """Note something wrong with the patch at ``position`` of an execution.

        ``text`` is the note as written out ("patch 4 patch_begin_message missing"); ``kind``
        the same fault for any patch, as it reads after "N patches" ("without a title
        (patch_begin_message missing)").
        """
        key = (execution, kind)
        seen = self.counts.get(key, 0)
        self.counts[key] = seen + 1
        if seen < SHOWN:
            self.faults.setdefault(execution, []).append(Fault(text, kind, position))

    def flag(self, execution: int, text: str) -> None:
        """Note something odd but harmless about an execution (e.g. a duration that
        contradicts its times: SPEC 1 asks to flag it, and the times win)."""
        self.flags.setdefault(execution, []).append(text)

    @classmethod
    def merged(cls, *parts: "Notes") -> "Notes":
        """One ``Notes`` holding every part's, in order; the parts are left as they are."""
        whole = cls()
        for part in parts:
            for execution, faults in part.faults.items():
                whole.faults.setdefault(execution, []).extend(faults)
            for execution, flags in part.flags.items():
                whole.flags.setdefault(execution, []).extend(flags)
            whole.problems.extend(part.problems)
            for key, count in part.counts.items():
                whole.counts[key] = whole.counts.get(key, 0) + count
        return whole

    def fault_text(self, execution: int) -> str:
        """An execution's faults as one text ("" without any), repeats summarised.

        >>> notes = Notes()
        >>> for position in range(1, 6):
        ...     notes.patch_fault(0, position, "without a title", f"patch {position} untitled")
        >>> notes.fault(0, "no status")
        >>> notes.fault_text(0)
        '5 patches without a title: patches 1, 2, 3 and 2 more; no status'
        """
        faults = self.faults.get(execution)
        if not faults:
            return ""
        texts: list[str] = []
        summarised: set[str] = set()
        for fault in faults:
            if fault.kind is None:
                texts.append(fault.text)
                continue
            count = self.counts[(execution, fault.kind)]
            if count <= SHOWN:
                texts.append(fault.text)
            elif fault.kind not in summarised:
                summarised.add(fault.kind)
                positions = [f.position for f in faults if f.kind == fault.kind][:SHOWN]
                texts.append(_summary(fault.kind, count, positions))
        return "; ".join(texts)

    def remarks(self, execution: int) -> str:
        """Everything noted about an execution, faults then flags, for its ``issues`` column."""
        flags = self.flags.get(execution, [])
        if execution not in self.faults:  # the usual case: called once per execution
            return "; ".join(flags)
        faults = self.fault_text(execution)
        return "; ".join([faults, *flags] if faults else flags)


def _summary(kind: str, count: int, positions: list[int | None]) -> str:
    """``count`` faults of ``kind`` in one phrase, naming the first few patches."""
    shown = ", ".join(str(position) for position in positions)
    rest = count - len(positions)
    return f"{count:,} patches {kind}: patches {shown}" + (f" and {rest:,} more" if rest else "")
