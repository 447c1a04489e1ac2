"""The paper's scale on a GPU: a timed, resumable run of the `paper` profile that records its results.

    python benchmarks/paper_scale.py --out results/gpu --budget-s 540      # on a CUDA machine
    make gpu-run                                                            # the same

Stages, in order, as far as the time budget allows; each writes small files under ``--out``
and is skipped when its files exist, so a killed run resumes where it stopped:

1. ``provenance.json``: commit, GPU, PyTorch and library versions, profile, command, start.
2. ``throughput.json``: ConvNeXt-Base at 224x224 in bf16 with channels-last, training
   images/s of the baseline and of the NSDE (and their ratio, the target being at most
   +5%), and model FLOP utilisation: 3 x forward FLOPs per image x images/s over the GPU's
   peak bf16 rate (``--peak-tflops``; 790 TFLOP/s is what an H200 reaches on bf16 matrix
   products).
3. ``models.json``: the baseline and the NSDE, first training seed, trained with as many of
   the profile's epochs as the remaining budget allows (measured on the first epoch).
4. ``table1.csv``, ``table2.csv`` (white noise), ``table3.csv`` (non-adaptive APGD-CE), then
   ``table3_adaptive.csv`` (EOT) while time remains.

``timings.json`` records every stage's wall time. ``--toy`` runs the same stages at toy size
on the CPU (``tests/test_paper_scale.py`` rehearses it on every commit).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=str))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(profile, args) -> dict:
    import timm

    from nsde._infra.runtime import runtime_info

    return {"commit": _commit(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "profile": profile.name, "toy": args.toy, "python": platform.python_version(), "timm": timm.__version__,
            **runtime_info(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def throughput(profile, device, steps: int, peak_tflops: float) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from nsde._infra.runtime import precision
    from nsde.core.models import build_model

    size, batch = profile.image_size, profile.batch_size
    x = torch.rand(batch, 1, size, size, device=device)
    y = torch.randint(0, 16, (batch,), device=device)
    out = {"arch": profile.arch, "image_size": size, "batch": batch, "precision": precision(device, profile.arch)}
    for kind in ("baseline", "nsde"):
        torch.manual_seed(0)
        model = build_model(profile.arch, kind, noise_shape=profile.noise_shape, sigma=profile.sigma,
                            image_size=size, num_classes=16).to(device).train()
        model.set_precision(precision(device, profile.arch))
        opt = torch.optim.AdamW(model.parameters(), lr=0.0)
        if kind == "baseline":
            with FlopCounterMode(display=False) as counter:
                model.eval()
                with torch.no_grad():
                    model(x[:1])
                model.train()
            out["forward_gflops_per_image"] = counter.get_total_flops() / 1e9
        times = []
        for i in range(steps + 3):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            loss = F.cross_entropy(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 3:
                times.append(time.perf_counter() - t)
        med = sorted(times)[len(times) // 2]
        out[f"{kind}_images_per_s"] = batch / med
    out["nsde_over_baseline_step_time"] = out["baseline_images_per_s"] / out["nsde_images_per_s"]
    flops = 3 * out["forward_gflops_per_image"] * 1e9 * out["baseline_images_per_s"]
    out["model_flop_utilisation"] = flops / (peak_tflops * 1e12)
    out["peak_tflops"] = peak_tflops
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "results" / "gpu")
    p.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget of the whole run")
    p.add_argument("--profile", default="paper")
    p.add_argument("--peak-tflops", type=float, default=790.0)
    p.add_argument("--toy", action="store_true", help="toy size on the CPU (a rehearsal)")
    args = p.parse_args(argv)

    from nsde._infra.runtime import configure, default_device
    from nsde.core.training import ModelSpec, TrainConfig, train_or_load
    from nsde.data import load_dataset
    from nsde.measures import attacks as at
    from nsde.measures import robustness as rb
    from nsde.measures.evaluation import accuracy_table, eval_subset
    from nsde.studies.profiles import get_profile
    from nsde.studies.zoo import recipe

    t0 = time.perf_counter()
    P = get_profile(args.profile)
    if args.toy:
        P = dataclasses.replace(P, arch="convnext_atto", image_size=64, n_per_class=7,
                                epochs=2, batch_size=8, eval_samples=2, n_seeds=1, variant_shapes=[], apgd_n_iter=2,
                                eot_iter=2, draws=1)
    configure(P.seed)
    device = default_device()
    if device.type != "cuda" and not args.toy:
        print("error: the paper-scale run needs a CUDA device (set NSDE_DEVICE or use --toy for the CPU rehearsal)",
              file=sys.stderr)
        return 2
    out, timings_path = args.out, args.out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    left = lambda: args.budget_s - (time.perf_counter() - t0)  # noqa: E731

    def stage(name: str, files: list[str], fn) -> bool:
        if all((out / f).exists() for f in files):
            print(f"[{name}] done earlier, skipped")
            return True
        if left() <= 0:
            print(f"[{name}] not run: the time budget is spent")
            return False
        s = time.perf_counter()
        fn()
        timings[name] = round(time.perf_counter() - s, 1)
        _write(timings_path, timings)
        print(f"[{name}] {timings[name]:.0f} s")
        return True

    stage("provenance", ["provenance.json"], lambda: _write(out / "provenance.json", provenance(P, args)))
    stage("throughput", ["throughput.json"],
          lambda: _write(out / "throughput.json", throughput(P, device, 5 if args.toy else 20, args.peak_tflops)))
    data = load_dataset(P.dataset, image_size=P.image_size, seed=P.seed, n_per_class=P.n_per_class)
    specs = {"baseline": ModelSpec(arch=P.arch, kind="baseline", **recipe(P.arch)),
             "nsde": ModelSpec(arch=P.arch, kind="nsde", noise_shape=P.noise_shape, sigma=P.sigma, **recipe(P.arch))}
    trained = {}

    def train_models():
        per_epoch = None
        info = {}
        for name, spec in specs.items():
            epochs = P.epochs
            if per_epoch is not None:  # fit the rest of the budget, keeping half of it for the tables
                epochs = max(1, min(P.epochs, int(0.5 * left() / per_epoch)))
            s = time.perf_counter()
            trained[name] = train_or_load(spec, TrainConfig(epochs=epochs, batch_size=P.batch_size, lr=float(P.lr),
                                                            seed=P.seed), data, device=device)
            per_epoch = (time.perf_counter() - s) / max(1, epochs)
            info[name] = {"epochs": epochs, "of": P.epochs, "seconds_per_epoch": per_epoch, "key": trained[name].key,
                          "best_val_acc": max(h["val_acc"] for h in trained[name].history)}
        _write(out / "models.json", info)

    if not stage("models", ["models.json"], train_models):
        return 0
    if not trained:  # resumed: load what the models stage trained
        info = json.loads((out / "models.json").read_text())
        for name, spec in specs.items():
            trained[name] = train_or_load(spec, TrainConfig(epochs=info[name]["epochs"], batch_size=P.batch_size,
                                                            lr=float(P.lr), seed=P.seed), data, device=device)
    zoo = {"baseline": [trained["baseline"]], f"nsde-{P.noise_shape}": [trained["nsde"]]}
    stage("table1", ["table1.csv"],
          lambda: accuracy_table(zoo, data, samples=P.eval_samples, seed=P.seed).to_csv(out / "table1.csv",
                                                                                             index=False))
    x, y = eval_subset(data.test.x, data.test.y, 100, seed=P.seed)

    def table2():
        rows = []
        for label, (t, noise, k) in {"baseline": (trained["baseline"], "off", 1),
                                     "nsde ensemble": (trained["nsde"], "on", P.eval_samples)}.items():
            rows.append(rb.noise_accuracy(t, x, y, list(rb.PAPER_INTENSITIES), noise=noise, samples=k,
                                          seed=P.seed).assign(model=label))
        __import__("pandas").concat(rows).to_csv(out / "table2.csv", index=False)

    def table3(eot: int, name: str):
        rows = []
        for label, (t, noise, k) in {"baseline": (trained["baseline"], "off", 1),
                                     "nsde ensemble": (trained["nsde"], "on", P.eval_samples)}.items():
            res = at.run_attack(t, x, y, list(at.PAPER_EPS), noise=noise, samples=k, n_iter=P.apgd_n_iter,
                                eot_iter=eot if noise == "on" else 1, draws=P.draws, seed=P.seed)
            rows.append(at.attack_table(res, x.shape).assign(model=label))
        __import__("pandas").concat(rows).to_csv(out / name, index=False)

    stage("table2", ["table2.csv"], table2)
    stage("table3", ["table3.csv"], lambda: table3(1, "table3.csv"))
    stage("table3_adaptive", ["table3_adaptive.csv"], lambda: table3(P.eot_iter, "table3_adaptive.csv"))
    print(f"done in {time.perf_counter() - t0:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
