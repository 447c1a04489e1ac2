"""nsde.runbook: TOC parsing and clean nbval references."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from nsde import runbook


def test_toc_lists_root_then_chapters_in_order():
    entries = runbook.toc_entries()
    assert entries[0] == "book/index"
    assert entries[1:] == sorted(entries[1:])  # chapters are numbered in reading order
    for entry in entries:
        assert runbook._source(entry).exists()


def test_the_first_page_lists_every_chapter_of_the_toc():
    listed = runbook.toc_chapters()
    for entry in runbook.toc_entries()[1:]:
        assert f"]({entry.split('/')[-1]})" in listed


def test_strip_volatile_drops_timing_and_stderr_but_keeps_results(tmp_path):
    cell = new_code_cell("print(1)", execution_count=3)
    cell.metadata["papermill"] = {"duration": 1.2}
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    cell.outputs = [new_output("stream", name="stdout", text="1\n"),
                    new_output("stream", name="stderr", text="warning from /home/someone/.venv/x.py\n")]
    nb = new_notebook(cells=[cell], metadata={"papermill": {"duration": 9.0}})
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    runbook.strip_volatile(path)
    out = nbformat.read(path, as_version=4)
    assert "papermill" not in out.metadata
    (cell,) = out.cells
    assert "papermill" not in cell.metadata and "execution" not in cell.metadata
    assert cell.execution_count == 3  # nbval treats a cell without a count as unrun
    assert cell.id == "cell-0"  # stable ids: re-running does not churn the diff
    assert [o.name for o in cell.outputs] == ["stdout"]


def test_reference_notebooks_are_clean():
    for path in sorted(runbook.REFS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert "papermill" not in nb.metadata, path.name
        assert [c.id for c in nb.cells] == [f"cell-{i}" for i in range(len(nb.cells))], path.name
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert output.get("name") != "stderr", f"{path.name} keeps a stderr output"


def test_parameters_cells_are_removed_from_the_rendered_page(tmp_path):
    params = new_code_cell("profile = 'quick'", execution_count=1)
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell("profile = 'default'", execution_count=2)
    injected.metadata["tags"] = ["injected-parameters"]
    science = new_code_cell("print(1)", execution_count=3)
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[params, injected, science]), path)
    runbook.mark_for_rendering(path)
    cells = nbformat.read(path, as_version=4).cells
    assert ["remove-cell" in c.metadata.get("tags", []) for c in cells] == [True, True, False]


def test_a_dead_kernel_names_the_chapter_and_keeps_the_partial_notebook(tmp_path, monkeypatch):
    import papermill
    import pytest
    from nbclient.exceptions import DeadKernelError

    def dies(src, out, **kwargs):
        nbformat.write(new_notebook(cells=[new_code_cell("x = 1", execution_count=1)]), out)
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(papermill, "execute_notebook", dies)
    with pytest.raises(SystemExit) as info:
        runbook.execute_book("quick", tmp_path, chapters=["01_data"])
    message = str(info.value)
    assert "book/01_data stopped: DeadKernelError: Kernel died" in message
    failed = tmp_path / "book" / "01_data.failed.ipynb"
    assert failed.exists() and str(failed) in message
    assert not list((tmp_path / "book").glob(".*.tmp.ipynb"))  # no hidden leftovers


# ----------------------------------------------------------------- two builds in one checkout
_HOLDER = """
import sys
from pathlib import Path
from nsde import runbook
runbook.LOCKS = Path(sys.argv[1])
with runbook.build_lock(sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()  # hold until the test closes stdin (or kills us)
"""


def _holder(tmp_path, name):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(runbook.REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path), name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_the_build_lock_names_its_holder_in_another_process_and_frees_when_it_ends(tmp_path, monkeypatch):
    import pytest

    monkeypatch.setattr(runbook, "LOCKS", tmp_path)
    first = _holder(tmp_path, "quick")
    try:
        with pytest.raises(runbook.BuildLocked) as info:
            with runbook.build_lock("quick", what="profile 'quick'"):
                pass
        message = str(info.value)
        assert f"another build of profile 'quick' in this checkout holds the lock {tmp_path / 'quick.lock'}" in message
        assert f"pid {first.pid}," in message
        with runbook.build_lock("default"):  # another profile is not blocked
            pass
    finally:
        first.stdin.close()
        first.wait(30)
    with runbook.build_lock("quick"):  # released when its holder ended
        pass
    killed = _holder(tmp_path, "quick")
    killed.kill()  # kill -9 releases it too (flock), no stale lock file to remove
    killed.wait(30)
    with runbook.build_lock("quick"):
        assert f"pid {__import__('os').getpid()}," in (tmp_path / "quick.lock").read_text()


def test_the_html_step_waits_for_another_builds(tmp_path, monkeypatch):
    import threading
    import time

    monkeypatch.setattr(runbook, "LOCKS", tmp_path)
    first = _holder(tmp_path, "html")
    threading.Timer(1.0, first.stdin.close).start()
    start = time.monotonic()
    with runbook.build_lock("html", wait_s=60):
        waited = time.monotonic() - start
    first.wait(30)
    assert waited >= 0.5


_CHAPTER = '''# %% tags=["parameters"]
profile = "quick"

# %%
import os, time
deadline = time.time() + 120
while not os.path.exists(os.environ["NSDE_TEST_RELEASE"]) and time.time() < deadline:
    time.sleep(0.1)
print("ran", profile)
'''


def test_two_builds_in_one_checkout_run_side_by_side_and_a_second_of_one_profile_is_refused(tmp_path):
    """`python -m nsde.runbook execute` three times in one (tiny) checkout: a second run of
    the running profile stops at once, naming the first's pid; another profile runs beside it."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    checkout = tmp_path / "checkout"
    shutil.copytree(runbook.REPO / "nsde", checkout / "nsde", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "book").mkdir()
    (checkout / "book" / "index.md").write_text("# index\n")
    (checkout / "book" / "01_wait.py").write_text(_CHAPTER)
    (checkout / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n- file: book/01_wait\n")
    release = tmp_path / "release"
    env = {**os.environ, "PYTHONPATH": str(checkout), "NSDE_CACHE": str(tmp_path / "cache"),
           "NSDE_TEST_RELEASE": str(release), "TQDM_DISABLE": "1"}
    env.pop("NSDE_PROFILES", None)

    def start(profile):
        return subprocess.Popen([sys.executable, "-m", "nsde.runbook", "execute", "--profile", profile],
                                cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start("quick")
    try:
        assert "[quick] executing book/01_wait" in first.stdout.readline()  # it holds the lock now
        other = start("default")
        second = start("quick")
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, out + err
        assert "another build of profile 'quick' in this checkout holds the lock" in err
        assert f"pid {first.pid}," in err and len(err.strip().splitlines()) == 1
        lock, deadline = checkout / "_build" / "locks" / "default.lock", time.time() + 120
        while not (lock.exists() and lock.read_text().strip()):  # the other profile runs beside the first
            assert other.poll() is None and time.time() < deadline
            time.sleep(0.1)
        assert first.poll() is None
    finally:
        release.write_text("go")
    for proc, profile in ((first, "quick"), (other, "default")):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, out[-2000:] + err[-2000:]
        executed = checkout / "_build" / "executed" / profile / "book" / "01_wait.ipynb"
        assert f"ran {profile}" in executed.read_text()
    assert sorted(p.name for p in (checkout / "_build" / "converted").iterdir()) == ["default", "quick"]


def test_an_iopub_timeout_is_not_called_a_memory_problem(tmp_path, monkeypatch):
    import papermill
    import pytest
    from nbclient.exceptions import CellTimeoutError

    seen = {}

    def slow(src, out, **kwargs):
        seen.update(kwargs)
        raise CellTimeoutError("A cell timed out while it was being executed, after 120 seconds.\n"
                               "The message was: Timeout waiting for IOPub output.")

    monkeypatch.setattr(papermill, "execute_notebook", slow)
    with pytest.raises(SystemExit) as info:
        runbook.execute_book("quick", tmp_path, chapters=["01_data"])
    message = str(info.value)
    assert seen["iopub_timeout"] == runbook.IOPUB_TIMEOUT_S >= 60  # papermill's 4 s fails on a loaded machine
    assert "book/01_data stopped: CellTimeoutError" in message
    assert "the machine is overloaded (this is not a memory problem)" in message and "out of memory" not in message


def test_the_first_chapter_keeps_only_the_cells_of_its_books_kind_of_data(tmp_path):
    def cells(kind):
        path = runbook.convert_chapters(tmp_path / str(kind), kind)["book/01_data"]
        return nbformat.read(path, as_version=4).cells

    every, simulator, recorded = cells(None), cells("simulator"), cells("recorded")
    tags = [set(c.metadata.get("tags", [])) for c in every]
    assert len(simulator) == sum("only-recorded" not in t for t in tags)
    assert len(recorded) == sum("only-simulator" not in t for t in tags)
    assert recorded[0].source.startswith("# The data of this build")
    assert simulator[0].source.startswith("# The harmonic-signals dataset")
    assert not any("Sixteen classes" in c.source for c in recorded)


def test_each_profile_builds_its_own_html_folder_and_build_html_links_to_the_defaults(tmp_path, monkeypatch):
    """The HTML step of `make book PROFILE=<p>` writes _build/<p>/html; the default profile's book
    is also at _build/html (a link). jupyter-book itself is replaced by a stand-in writing index.html."""
    import subprocess
    from types import SimpleNamespace

    def fake_jupyter_book(cmd, **kwargs):
        out = runbook.Path(cmd[cmd.index("--path-output") + 1]) / "_build" / "html"
        out.mkdir(parents=True)
        (out / "index.html").write_text(f"<html>{cmd[2]}</html>")
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    monkeypatch.setattr(subprocess, "run", fake_jupyter_book)
    monkeypatch.setattr(runbook, "LOCKS", tmp_path / "locks")
    notebooks = tmp_path / "executed"
    notebooks.mkdir()
    for entry in runbook.toc_entries():
        if runbook._source(entry).suffix == ".py":
            nbformat.write(new_notebook(), notebooks / f"{entry.split('/')[-1]}.ipynb")
    old = tmp_path / "_build" / "html"
    old.mkdir(parents=True)
    (old / "index.html").write_text("an older build")
    mine = runbook.build_html(notebooks, root=tmp_path, profile="mine")
    assert mine == tmp_path / "_build" / "mine" / "html" / "index.html" and mine.is_file()
    assert (old / "index.html").read_text() == "an older build"  # another profile leaves _build/html alone
    default = runbook.build_html(notebooks, root=tmp_path, profile="default")
    assert default == tmp_path / "_build" / "default" / "html" / "index.html"
    assert old.is_symlink() and (old / "index.html").resolve() == default.resolve()
    again = runbook.build_html(notebooks, root=tmp_path, profile="default")  # a rebuild replaces the folder
    assert again.is_file() and old.is_symlink()
    with pytest.raises(runbook.ProfileError, match="profile 'locks': its book would be written to _build/locks/html"):
        runbook.build_html(notebooks, root=tmp_path, profile="locks")
    plain = runbook.build_html(notebooks, root=tmp_path)  # no profile: _build/html itself, not through the link
    assert plain == old / "index.html" and not old.is_symlink()
    assert "_build/default/src" in default.read_text()  # the default profile's book is left alone
    assert "_build/src" in plain.read_text() and "default" not in plain.read_text()


def test_a_profile_named_like_the_runners_own_folders_is_refused_before_any_chapter(tmp_path, monkeypatch):
    user = tmp_path / "profiles.yaml"
    user.write_text("html:\n  extends: quick\n")
    monkeypatch.setenv(runbook.USER_FILE_ENV, str(user))
    with pytest.raises(runbook.ProfileError, match="profile 'html': its book would be written to _build/html/html"):
        runbook.preflight("html")
