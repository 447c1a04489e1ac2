"""Where the paper's baseline stands: record the regime search of :mod:`nsde.studies.regime`.

    python benchmarks/regime_search.py                      # every setting, resumable
    python benchmarks/regime_search.py --only centre epochs=10

Each setting trains the baseline alone (the NSDE is never consulted) and scores it on the
validation split; rows are appended to ``results/regime_search.csv`` (provenance in
``results/regime_search.json``), so a killed run resumes and trained models are cached.
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="settings to run (names as in the CSV)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from nsde._infra.runtime import configure, runtime_info
    from nsde.studies import regime

    configure(0)
    done = set()
    if args.out.exists():
        with open(args.out) as f:
            done = {r["setting"] for r in csv.DictReader(f)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({
        "command": " ".join(sys.argv), "python": platform.python_version(), **runtime_info(),
        "centre": regime.CENTRE, "departures": regime.DEPARTURES,
        "updated": time.strftime("%Y-%m-%d %H:%M:%S %Z")}, indent=2, default=str))
    for name, s in regime.settings():
        if name in done or (args.only and name not in args.only):
            continue
        row = regime.run_setting(name, s)
        print(json.dumps(row), flush=True)
        new = not args.out.exists() or args.out.stat().st_size == 0
        header = list(row) if new else next(csv.reader(open(args.out)))
        with open(args.out, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
