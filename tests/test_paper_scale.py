"""The prepared GPU run (benchmarks/paper_scale.py), rehearsed at toy size on the CPU."""
import importlib.util
import json
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_scale.py"


def _script():
    spec = importlib.util.spec_from_file_location("paper_scale", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_toy_rehearsal_writes_every_result_with_provenance_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "gpu"
    assert _script().main(["--toy", "--out", str(out), "--budget-s", "900"]) == 0
    files = {p.name for p in out.iterdir()}
    assert {"provenance.json", "throughput.json", "models.json", "table1.csv", "table2.csv", "table3.csv",
            "table3_adaptive.csv", "timings.json"} <= files
    prov = json.loads((out / "provenance.json").read_text())
    assert {"commit", "command", "profile", "torch", "device", "precision"} <= set(prov) and prov["toy"] is True
    tp = json.loads((out / "throughput.json").read_text())
    assert tp["baseline_images_per_s"] > 0 and 0 < tp["model_flop_utilisation"] < 1
    assert set(pd.read_csv(out / "table3.csv")["model"]) == {"baseline", "nsde ensemble"}
    capsys.readouterr()
    assert _script().main(["--toy", "--out", str(out), "--budget-s", "900"]) == 0  # resumes: every stage skipped
    assert capsys.readouterr().out.count("done earlier, skipped") == 7


def test_refuses_a_cpu_run_at_paper_scale(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NSDE_DEVICE", "cpu")
    assert _script().main(["--out", str(tmp_path)]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err
