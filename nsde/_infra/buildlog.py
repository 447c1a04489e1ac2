"""Progress of a book build: which cell of how many is running, for how long, and how long
is left by the previous build's timings; at the end, a table of each chapter's wall time.

:class:`BuildProgress` gives papermill (nbclient's ``NotebookClient``) hooks for each
chapter it executes (``on_notebook_start``, ``on_cell_start``, ``on_cell_executed``) and a
thread that reports while a cell runs:

* on a terminal, one status line rewritten every second;
* elsewhere (CI logs, ``make book > log``), plain lines: one when a cell starts, unless a
  line was printed less than ``quiet`` seconds ago, and one every ``heartbeat`` seconds
  while a cell runs, so a slow chapter is told from a hung one without flooding the log.

Each line reads ``[profile] book/02_training  cell 12/41  0:42 in cell  3:10 in chapter
~2:05 left  (book ~14:20 left)``. The estimate adds the previous build's time of every cell
still to run (cells are matched by position and source; a chapter whose cells changed is
estimated from its previous total). Timings are written after every chapter to
``timings.json`` in the build's output folder (per profile), atomically; a chapter that
fails keeps its previous timings.
"""
from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, TextIO

from nsde._infra.cache import load_json, save_json

__all__ = ["BuildProgress", "format_seconds", "TIMINGS_FILE"]

#: Name of the timings file in a build's output folder.
TIMINGS_FILE = "timings.json"


def format_seconds(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on)."""
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _digest(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()[:12]


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.get("cell_type") == "code" and c.get("source", "").strip()]


class BuildProgress:
    """Reports the progress of one build and keeps its timings.

    Args:
        folder: the build's output folder; ``timings.json`` is read from and written there.
        label: prefix of every line (the profile).
        chapters: the chapters this build will execute, in order (for the whole-book estimate).
        stream: where lines go (default ``sys.stdout``).
        tty: rewrite one status line (default: whether ``stream`` is a terminal).
        heartbeat: seconds between lines while a cell runs (plain-line mode).
        quiet: a cell start is reported only if no line came for this many seconds (plain mode).
        clock: a monotonic clock, for tests.
    """

    def __init__(self, folder: str | Path, label: str, chapters: list[str] | None = None, *,
                 stream: TextIO | None = None, tty: bool | None = None, heartbeat: float = 30.0,
                 quiet: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.path = Path(folder) / TIMINGS_FILE
        self.label = label
        self.chapters = list(chapters or [])
        self.stream = stream if stream is not None else sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.heartbeat, self.quiet, self.clock = heartbeat, quiet, clock
        try:
            previous = load_json(self.path) if self.path.exists() else {}
        except Exception:  # a damaged timings file only loses the estimates
            previous = {}
        self.previous: dict = previous.get("chapters", {}) if isinstance(previous, dict) else {}
        self.timings: dict = dict(self.previous)
        self.done: list[dict] = []  # this build's chapters: entry, seconds, cells, status
        self._lock = threading.Lock()
        self._last_line = -float("inf")
        self._status_shown = False
        self._reset(None)

    # --- one chapter ------------------------------------------------------------------
    def _reset(self, entry: str | None) -> None:
        self.entry = entry
        self.n_cells = 0
        self.sources: list[str] = []
        self.cell = 0  # 1-based ordinal of the running code cell; 0 before the first
        self.chapter_start = self.cell_start = self.clock()
        self.cell_seconds: list[float] = []

    @contextlib.contextmanager
    def chapter(self, entry: str) -> Iterator[dict]:
        """Track one chapter; yields the keyword arguments to pass to
        ``papermill.execute_notebook`` (nbclient hooks)."""
        with self._lock:
            self._reset(entry)
        stop = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(stop,), daemon=True, name="nsde-build-progress")
        ticker.start()
        status = "failed"
        try:
            yield {"on_notebook_start": self._notebook_start, "on_cell_start": self._cell_start,
                   "on_cell_executed": self._cell_executed}
            status = "ok"
        finally:
            stop.set()
            ticker.join()
            self._finish(status)

    def _notebook_start(self, notebook, **_) -> None:
        cells = _code_cells(notebook)
        with self._lock:
            self.n_cells = len(cells)
            self.sources = [_digest(c.source) for c in cells]

    def _cell_start(self, cell, cell_index: int, **_) -> None:
        if cell.get("cell_type") != "code" or not cell.get("source", "").strip():
            return
        with self._lock:
            self.cell += 1
            self.cell_start = self.clock()
            if self.tty or self.cell_start - self._last_line >= self.quiet:
                self._report()

    def _cell_executed(self, cell, cell_index: int, **_) -> None:
        with self._lock:
            self.cell_seconds.append(self.clock() - self.cell_start)

    def _tick(self, stop: threading.Event) -> None:
        period = 1.0 if self.tty else min(self.heartbeat, 5.0)
        while not stop.wait(period):
            with self._lock:
                if self.cell and (self.tty or self.clock() - self._last_line >= self.heartbeat):
                    self._report()

    def _finish(self, status: str) -> None:
        with self._lock:
            seconds = self.clock() - self.chapter_start
            if self._status_shown:
                self.stream.write("\r\x1b[K")
                self._status_shown = False
            row = {"entry": self.entry, "seconds": seconds, "cells": self.n_cells, "status": status,
                   "stopped_in": self.cell}
            self.done.append(row)
            if status == "ok":
                self.timings[self.entry] = {"seconds": seconds, "cells": [
                    {"source": s, "seconds": t} for s, t in zip(self.sources, self.cell_seconds)]}
                try:
                    save_json({"label": self.label, "chapters": self.timings}, self.path)
                except OSError:
                    pass  # timings are a convenience: an unwritable folder only loses the estimates
            else:
                where = f" in cell {self.cell}/{self.n_cells}" if self.cell else ""
                self._line(f"[{self.label}] {self.entry} stopped after {format_seconds(seconds)}{where}")
            self.stream.flush()
            self._reset(None)

    # --- estimates and lines ----------------------------------------------------------
    def _chapter_left(self, now: float) -> float | None:
        """Seconds left in the running chapter by the previous build, or None."""
        prev = self.previous.get(self.entry)
        if not prev:
            return None
        in_cell, in_chapter = now - self.cell_start, now - self.chapter_start
        cells = prev.get("cells") or []
        if self.cell and len(cells) == self.n_cells and all(
                c.get("source") == s for c, s in zip(cells[self.cell - 1:], self.sources[self.cell - 1:])):
            rest = sum(c["seconds"] for c in cells[self.cell:])
            return max(cells[self.cell - 1]["seconds"] - in_cell, 0.0) + rest
        return max(prev["seconds"] - in_chapter, 0.0)

    def _book_left(self, chapter_left: float | None) -> float | None:
        if chapter_left is None or self.entry not in self.chapters:
            return None
        later = self.chapters[self.chapters.index(self.entry) + 1:]
        if any(e not in self.previous for e in later):
            return None
        return chapter_left + sum(self.previous[e]["seconds"] for e in later)

    def status(self) -> str:
        """The status line of the running cell."""
        now = self.clock()
        parts = [f"[{self.label}] {self.entry}", f"cell {self.cell}/{self.n_cells}",
                 f"{format_seconds(now - self.cell_start)} in cell",
                 f"{format_seconds(now - self.chapter_start)} in chapter"]
        left = self._chapter_left(now)
        if left is not None:
            parts.append(f"~{format_seconds(left)} left")
            book = self._book_left(left)
            if book is not None and book > left:
                parts.append(f"(book ~{format_seconds(book)} left)")
        return "  ".join(parts)

    def _report(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + self.status())
            self._status_shown = True
        else:
            self.stream.write(self.status() + "\n")
        self.stream.flush()
        self._last_line = self.clock()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self._last_line = self.clock()

    def table(self) -> str:
        """Each chapter of this build: code cells, wall time, the previous build's time."""
        rows = [(r["entry"], str(r["cells"]), format_seconds(r["seconds"]) + ("" if r["status"] == "ok" else " (stopped)"),
                 format_seconds(self.previous[r["entry"]]["seconds"]) if r["entry"] in self.previous else "-")
                for r in self.done]
        total = sum(r["seconds"] for r in self.done)
        prev = [self.previous[r["entry"]]["seconds"] for r in self.done if r["entry"] in self.previous]
        rows.append(("total", "", format_seconds(total), format_seconds(sum(prev)) if len(prev) == len(self.done) else "-"))
        head = ("chapter", "cells", "wall", "previous")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

        def fmt(r):
            return "  " + "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

        lines = [f"[{self.label}] wall time per chapter:", fmt(head)] + [fmt(r) for r in rows]
        return "\n".join(lines)

    def summary(self) -> None:
        """Print :meth:`table`."""
        if self.done:
            self.stream.write(self.table() + "\n")
            self.stream.flush()
