"""Test-session settings: silent progress bars, a fresh artifact cache so the notebook
tests recompute everything they show, and nbval comparisons limited to what a checked
cell prints on stdout (stderr carries library warnings and progress bars that differ
between environments; tables are checked as the plain text the cells print)."""
import os
import tempfile

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
if "NSDE_CACHE" not in os.environ:
    os.environ["NSDE_CACHE"] = tempfile.mkdtemp(prefix="nsde-test-cache-")


def pytest_collection_modifyitems(session, config, items):
    # the findings page reads what the other chapters recorded: run its notebook last
    items.sort(key=lambda item: "00_findings.ipynb" in str(getattr(item, "fspath", "")))
    for item in items:
        notebook = getattr(item, "parent", None)
        if notebook is not None and hasattr(notebook, "skip_compare"):
            notebook.skip_compare = tuple(notebook.skip_compare) + ("stderr", "text/html")
