"""Run states and a plain-text progress table, re-printed to stderr when anything changes."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["Progress", "RunState", "STATES"]

#: The states a run passes through, in the order the table counts them.
STATES: tuple[str, ...] = ("queued", "running", "done", "skipped", "failed")


@dataclass
class RunState:
    """Where one run stands; ``note`` says why it was skipped or how it failed."""

    name: str
    state: str = "queued"
    note: str = ""
    verdict: Any = None
    duration_s: float | None = None
    manifest: dict | None = None


class Progress:
    """The state of every run of a batch, printed as a compact table on each change."""

    def __init__(self, names: list[str], stream: TextIO | None = None) -> None:
        self.runs = {name: RunState(name) for name in names}
        self.stream = stream if stream is not None else sys.stderr
        self._started = time.monotonic()

    def set(self, name: str, state: str, note: str = "", manifest: dict | None = None) -> None:
        """Move ``name`` to ``state`` and re-print the table."""
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}; states are {list(STATES)}")
        run = self.runs[name]
        run.state, run.note = state, note
        if manifest is not None:
            run.manifest = manifest
            run.verdict = manifest.get("verdict")
            run.duration_s = manifest.get("duration_s")
        self.print()

    def count(self, state: str) -> int:
        return sum(r.state == state for r in self.runs.values())

    def print(self) -> None:
        elapsed = time.monotonic() - self._started
        counts = ", ".join(f"{self.count(s)} {s}" for s in STATES)
        width = max(len(n) for n in self.runs)
        lines = [f"[{elapsed:7.1f} s] {counts}"]
        for run in self.runs.values():
            took = f"{run.duration_s:.1f} s" if run.duration_s is not None else ""
            verdict = f"verdict: {run.verdict}" if run.verdict is not None else ""
            details = "  ".join(x for x in (took, verdict, run.note) if x)
            lines.append(f"  {run.name:<{width}}  {run.state:<8} {details}".rstrip())
        print("\n".join(lines), file=self.stream, flush=True)
