"""Where the paper's baseline stands: a search over the settings the paper leaves free,
whose only target is the *baseline's* clean accuracy (Table 1) and noise curve (Table 2).

    python benchmarks/regime_search.py                      # every setting, resumable
    python benchmarks/regime_search.py --only center 32px   # some of them

The NSDE is never trained or consulted here. Each setting trains the baseline of the
profile's architecture (first seed) and scores it on the **validation** split (the test
split stays untouched by the choice), clean and under white noise at the paper's eight
intensities. Settings are one-knob-at-a-time departures from a centre point (the paper's
data size, 64x64 spectrograms, 20 epochs); each row records the knob, its value, the
accuracies, the training time and the distance to the paper's baseline column (mean
absolute difference in points over Table 1 and Table 2). Rows are appended to
``results/regime_search.csv`` (with ``results/regime_search.json`` holding provenance), so
a killed run resumes; trained models are cached as everywhere in the book.
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "regime_search.csv"

#: The centre of the search and the departures from it (knob, value), as data.
CENTRE = dict(n_per_class=625, image_size=64, top_db=80.0, epochs=20, lr=0.004, arch="resnet10t")
DEPARTURES = [("image_size", 32), ("epochs", 10), ("top_db", 30.0), ("n_per_class", 160), ("lr", 0.002),
              ("epochs", 5), ("top_db", 40.0)]


def settings() -> list[tuple[str, dict]]:
    rows = [("centre", dict(CENTRE))]
    rows += [(f"{knob}={value:g}", {**CENTRE, knob: value}) for knob, value in DEPARTURES]
    return rows


def run(name: str, s: dict) -> dict:
    from nsde.core.training import ModelSpec, TrainConfig, train_or_load
    from nsde.data import DataConfig, STFTConfig, load_splits
    from nsde.measures.robustness import PAPER_INTENSITIES, noise_accuracy
    from nsde.report import paper
    from nsde.studies.zoo import recipe

    t0 = time.perf_counter()
    data = load_splits(DataConfig(n_per_class=s["n_per_class"], image_size=s["image_size"], seed=0,
                                  stft=STFTConfig(top_db=s["top_db"])))
    t_data = time.perf_counter() - t0
    trained = train_or_load(ModelSpec(arch=s["arch"], kind="baseline", **recipe(s["arch"])),
                            TrainConfig(epochs=s["epochs"], batch_size=32, lr=s["lr"], seed=0), data)
    curve = noise_accuracy(trained, data.val.x, data.val.y, [0.0, *PAPER_INTENSITIES], seed=0)
    acc = dict(zip(curve["intensity"], 100 * curve["accuracy"]))
    ours = [acc[0.0]] + [acc[i] for i in PAPER_INTENSITIES]
    theirs = [paper.TABLE1["ConvNeXt-Base"]["validation"]] + list(paper.TABLE2["ConvNeXt-Base"])
    return {"setting": name, **s, "train images": len(data.train), "val images": len(data.val),
            "best epoch": trained.best_epoch, "train acc (last epoch)": round(100 * trained.history[-1]["train_acc"], 1),
            **{f"val {i:g}": round(a, 1) for i, a in acc.items()},
            "distance to paper (points)": round(sum(abs(a - b) for a, b in zip(ours, theirs)) / len(ours), 1),
            "train seconds": round(sum(h["seconds"] for h in trained.history)), "data seconds": round(t_data)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="settings to run (names as in the CSV)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from nsde._infra.runtime import configure, runtime_info

    configure(0)
    done = set()
    if args.out.exists():
        with open(args.out) as f:
            done = {r["setting"] for r in csv.DictReader(f)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": " ".join(sys.argv), "python": platform.python_version(),
                                                          **runtime_info(), "centre": CENTRE,
                                                          "departures": DEPARTURES}, indent=2, default=str))
    for name, s in settings():
        if name in done or (args.only and name not in args.only):
            continue
        row = run(name, s)
        print(json.dumps(row), flush=True)
        new = not args.out.exists()
        with open(args.out, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
