"""Test-session settings: silent progress bars, a headless Matplotlib backend, and a
fresh artifact cache so the notebook tests recompute everything they show."""
import os
import tempfile

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "agg")
os.environ.setdefault("PYTHONHASHSEED", "0")
if "NSDE_CACHE" not in os.environ:
    os.environ["NSDE_CACHE"] = tempfile.mkdtemp(prefix="nsde-test-cache-")
