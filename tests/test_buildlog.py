"""nsde._infra.buildlog: cell-by-cell progress of a book build, estimates, timings, the table."""
import io
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nsde._infra.buildlog import TIMINGS_FILE, BuildProgress, format_seconds


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _notebook(sources):
    return new_notebook(cells=[new_markdown_cell("# title")] + [new_code_cell(s) for s in sources]
                        + [new_code_cell("   ")])  # an empty cell is not executed and not counted


def _run(progress, clock, entry, sources, seconds, fail_at=None):
    """Drive the hooks as nbclient does: one notebook, its cells in order."""
    nb = _notebook(sources)
    with progress.chapter(entry) as hooks:
        hooks["on_notebook_start"](notebook=nb)
        code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        for i, cell in enumerate(nb.cells):
            hooks["on_cell_start"](cell=cell, cell_index=i)
            if cell in code:
                k = code.index(cell)
                if k == fail_at:
                    clock.t += 1
                    raise RuntimeError("cell failed")
                clock.t += seconds[k]
                hooks["on_cell_executed"](cell=cell, cell_index=i, execute_reply={})


def test_format_seconds():
    assert [format_seconds(s) for s in (0, 59.4, 61, 3599, 3661)] == ["0:00", "0:59", "1:01", "59:59", "1:01:01"]


def test_lines_name_the_cell_and_timings_give_estimates(tmp_path):
    clock, out = Clock(), io.StringIO()
    first = BuildProgress(tmp_path, "quick", ["a", "b"], stream=out, tty=False, quiet=0, clock=clock)
    _run(first, clock, "a", ["x = 1", "y = 2", "z = 3"], [5, 20, 1])
    _run(first, clock, "b", ["w = 1"], [7])
    lines = out.getvalue().splitlines()
    assert lines[0] == "[quick] a  cell 1/3  0:00 in cell  0:00 in chapter"  # no previous build: no estimate
    assert lines[2].startswith("[quick] a  cell 3/3  0:00 in cell  0:25 in chapter")
    saved = json.loads((tmp_path / TIMINGS_FILE).read_text())["chapters"]
    assert saved["a"]["seconds"] == 26 and [c["seconds"] for c in saved["a"]["cells"]] == [5, 20, 1]

    out2 = io.StringIO()
    second = BuildProgress(tmp_path, "quick", ["a", "b"], stream=out2, tty=False, quiet=0, clock=clock)
    _run(second, clock, "a", ["x = 1", "y = 2", "z = 3"], [4, 20, 1])
    first_line = out2.getvalue().splitlines()[0]
    assert first_line.endswith("~0:26 left  (book ~0:33 left)")  # this chapter's cells, then chapter b
    assert out2.getvalue().splitlines()[1].startswith("[quick] a  cell 2/3  0:00 in cell  0:04 in chapter  ~0:21 left")


def test_a_changed_chapter_is_estimated_from_its_previous_total(tmp_path):
    clock, out = Clock(), io.StringIO()
    _run(BuildProgress(tmp_path, "p", stream=io.StringIO(), tty=False, clock=clock), clock, "a", ["x = 1", "y = 2"], [10, 30])
    progress = BuildProgress(tmp_path, "p", stream=out, tty=False, quiet=0, clock=clock)
    _run(progress, clock, "a", ["x = 1", "y = 'changed'", "z = 3"], [10, 5, 5])
    assert out.getvalue().splitlines()[1].endswith("0:10 in chapter  ~0:30 left")


def test_plain_lines_are_rate_limited_and_a_long_cell_gets_heartbeats(tmp_path):
    clock, out = Clock(), io.StringIO()
    progress = BuildProgress(tmp_path, "p", stream=out, tty=False, quiet=10, heartbeat=30, clock=clock)
    _run(progress, clock, "a", [f"x = {i}" for i in range(20)], [1] * 20)
    assert len(out.getvalue().splitlines()) == 2  # cells 1 and 11: one line per 10 s at most
    out.truncate(0), out.seek(0)
    progress._reset("long")
    progress.n_cells, progress.cell = 1, 1
    clock.t += 31
    progress._report()
    assert "cell 1/1  0:31 in cell" in out.getvalue()


def test_terminal_mode_rewrites_one_line(tmp_path):
    clock, out = Clock(), io.StringIO()
    progress = BuildProgress(tmp_path, "p", stream=out, tty=True, clock=clock)
    _run(progress, clock, "a", ["x = 1", "y = 2"], [1, 1])
    text = out.getvalue()
    assert "\n" not in text and text.count("\r\x1b[K") == 3  # two status lines, then cleared


def test_a_failed_chapter_says_where_it_stopped_and_keeps_its_previous_timings(tmp_path):
    clock, out = Clock(), io.StringIO()
    _run(BuildProgress(tmp_path, "p", stream=io.StringIO(), tty=False, clock=clock), clock, "a", ["x = 1", "y = 2"], [3, 4])
    progress = BuildProgress(tmp_path, "p", stream=out, tty=False, quiet=1e9, clock=clock)
    with pytest.raises(RuntimeError, match="cell failed"):
        _run(progress, clock, "a", ["x = 1", "y = 2"], [3, 4], fail_at=1)
    assert "[p] a stopped after 0:04 in cell 2/2" in out.getvalue()
    assert json.loads((tmp_path / TIMINGS_FILE).read_text())["chapters"]["a"]["seconds"] == 7
    progress.summary()
    assert "0:04 (stopped)" in out.getvalue()


def test_table_of_chapter_wall_times(tmp_path):
    clock = Clock()
    _run(BuildProgress(tmp_path, "p", stream=io.StringIO(), tty=False, clock=clock), clock, "book/01_data", ["x = 1"], [61])
    out = io.StringIO()
    progress = BuildProgress(tmp_path, "p", stream=out, tty=False, quiet=1e9, clock=clock)
    _run(progress, clock, "book/01_data", ["x = 1"], [75])
    _run(progress, clock, "book/02_training", ["x = 1", "y = 1"], [3, 4])
    progress.summary()
    table = out.getvalue().split("[p] wall time per chapter:\n")[1].splitlines()
    assert table[0].split() == ["chapter", "cells", "wall", "previous"]
    assert table[1].split() == ["book/01_data", "1", "1:15", "1:01"]
    assert table[2].split() == ["book/02_training", "2", "0:07", "-"]
    assert table[3].split() == ["total", "1:22", "-"]


def test_a_damaged_timings_file_only_loses_the_estimates(tmp_path):
    (tmp_path / TIMINGS_FILE).write_text("{not json")
    clock, out = Clock(), io.StringIO()
    progress = BuildProgress(tmp_path, "p", stream=out, tty=False, quiet=0, clock=clock)
    _run(progress, clock, "a", ["x = 1"], [1])
    assert "left" not in out.getvalue()
    assert json.loads((tmp_path / TIMINGS_FILE).read_text())["chapters"]["a"]["seconds"] == 1


def test_papermill_calls_the_hooks(tmp_path):
    """The hooks reach nbclient through papermill's keyword arguments (a real kernel)."""
    papermill = pytest.importorskip("papermill")
    nb = new_notebook(cells=[new_code_cell("profile = 'quick'"), new_code_cell("x = 1"), new_code_cell("print(x)")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "nb.ipynb"
    nbformat.write(nb, src)
    out = io.StringIO()
    progress = BuildProgress(tmp_path, "quick", ["nb"], stream=out, tty=False, quiet=0)
    with progress.chapter("nb") as hooks:
        papermill.execute_notebook(str(src), str(tmp_path / "out.ipynb"), parameters={"profile": "quick"},
                                   kernel_name="python3", progress_bar=False, **hooks)
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["cell 1/4", "cell 2/4", "cell 3/4", "cell 4/4"]  # + injected
    assert len(json.loads((tmp_path / TIMINGS_FILE).read_text())["chapters"]["nb"]["cells"]) == 4
