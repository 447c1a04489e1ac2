"""The verdict pipeline's error rates at the book's sizes, and the alternatives it was chosen over.

    python benchmarks/bench_calibration.py                  # 1,000 replicates per row -> results/calibration.csv
    python benchmarks/bench_calibration.py --reps 200 --out cal.csv

For each interval method (the book's seed-level test, and two alternatives it was chosen
over: treating every (seed, image) as an independent image, and the seeds-and-images
bootstrap of the book's first version), each training-seed count (2, 3, 5, 8) and each true
effect (0, 2, 5 and 10 points), the very pipeline of the chapters (chance rule on
validation, primary endpoint, verdict; :func:`nsde.report.calibration.calibrate`) runs on
simulated tables with the audit's sizes (192 images, the paper's eight intensities, a
seed-to-seed spread of several points) and with the default build's own sizes when its
tables are in the cache. A row records how often a difference was announced, how often in
the paper's direction (the false-positive rate at effect 0, the power otherwise), the
coverage of the 95% interval and its mean width.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "calibration.csv"


def images_only(a, b=None, *, level=0.95, paired=True):
    """Every (seed, image) as an independent image: the mistake the audit found."""
    from nsde.stats.inference import SeedTest

    d = (np.asarray(a, dtype=float) - (0 if b is None else np.asarray(b, dtype=float))).ravel()
    return SeedTest(float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), d.size - 1.0, 1, d.size, level)


def seeds_and_images_bootstrap(a, b=None, *, level=0.95, paired=True, n_boot=400):
    """The book's first method: resample seeds (independently per model) and images."""
    from nsde.stats.inference import SeedTest

    a = np.atleast_2d(np.asarray(a, dtype=float))
    b = np.zeros_like(a) if b is None else np.atleast_2d(np.asarray(b, dtype=float))
    rng = np.random.default_rng(0)
    s, n = a.shape
    img = rng.integers(0, n, (n_boot, n))
    sa, sb = rng.integers(0, s, (n_boot, s)), rng.integers(0, s, (n_boot, s))
    boots = a[sa[:, :, None], img[:, None, :]].mean((1, 2)) - b[sb[:, :, None], img[:, None, :]].mean((1, 2))
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    est = float(a.mean() - b.mean())
    z = 1.959963984540054
    return SeedTest(est, float((hi - lo) / (2 * z)), 1e9, s, n, level, "bootstrap")


METHODS = {"seed-level test (the book's)": None, "every (seed, image) independent": images_only,
           "seeds-and-images bootstrap (the first version)": seeds_and_images_bootstrap}


def build_structure():
    """The default build's structure from its cached Table 2, or None when it is not cached."""
    from nsde.report.calibration import structure_from_tables
    from nsde.studies import noise_study as ns
    from nsde.studies.protocols import BASELINE, ENSEMBLE
    from nsde.studies.setup import setup

    try:
        s = setup("default")
        noise = ns.noise_study(s.classifiers, s.data, n_images=s.profile.noise_n_images, seed=s.profile.seed)
    except Exception as exc:  # noqa: BLE001  (no cached build: the audit's sizes only)
        print(f"no default build in the cache ({type(exc).__name__}); audit sizes only", file=sys.stderr)
        return None, None
    return structure_from_tables(noise.test[ENSEMBLE], noise.test[BASELINE], "intensity", noise.informative), noise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-build", action="store_true", help="skip the default build's own sizes")
    args = parser.parse_args(argv)
    import nsde.stats.compare as compare
    from nsde._infra.runtime import configure
    from nsde.report.calibration import AUDIT, calibrate

    configure(0)
    sizes = [("audit", AUDIT, 192, 1 / 16)]
    if not args.no_build:
        structure, noise = build_structure()
        if structure is not None:
            sizes.append(("default build", structure, noise.n_images, noise.chance))
    original = compare.seed_test
    rows = []
    t0 = time.perf_counter()
    for method, fn in METHODS.items():
        compare.seed_test = fn or original
        try:
            for label, st, n_images, chance in sizes:
                for seeds in (2, 3, 5, 8):
                    if fn is not None and seeds not in (3,):
                        continue  # the alternatives at the audit's seed count only
                    cal = calibrate(st, n_seeds=seeds, n_images=n_images, effects=[0.0, 0.02, 0.05, 0.10],
                                    reps=args.reps, seed=seeds, chance=chance)
                    for r in cal.to_dict("records"):
                        rows.append({"method": method, "sizes": label, "seeds": seeds, "images": n_images,
                                     "true difference (points)": 100 * r["effect"], "replicates": r["reps"],
                                     "announces a difference": round(r["claims a difference"], 4),
                                     "in the paper's direction": round(r["in the paper's direction"], 4),
                                     "coverage": round(r["coverage"], 4),
                                     "mean width (points)": round(100 * r["mean width"], 2)})
                    print(rows[-4:], flush=True)
        finally:
            compare.seed_test = original
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    print(f"wrote {args.out} ({len(rows)} rows) in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
