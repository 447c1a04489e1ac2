"""nsde.runbook: TOC parsing and clean nbval references."""
import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from nsde import runbook


def test_toc_lists_root_then_chapters_in_order():
    entries = runbook.toc_entries()
    assert entries[0] == "book/index"
    assert entries[1:] == sorted(entries[1:])  # chapters are numbered in reading order
    for entry in entries:
        assert runbook._source(entry).exists()


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
