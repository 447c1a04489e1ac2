"""The book's findings page: every claim of the paper, the paper's number, and our verdict.

Chapters compute their verdicts (:mod:`nsde.report.verdicts`) and :func:`record` them here, one
entry per (claim, data set), in the cache under the profile's name; the findings page at
the front of the book (``book/00_findings.py``, executed after every other chapter) reads
them back with :func:`findings_table`. Nothing on that page is typed in: the claims' texts
and the paper's numbers come from :mod:`nsde.report.paper`, the verdicts from the chapters' runs.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nsde._infra.cache import CacheError, cache_root, save_json
from nsde.report import paper

__all__ = ["CLAIMS", "paper_numbers", "record", "load", "findings_table", "clear"]

#: The paper's claims and open questions, in the order of the findings page:
#: ``id -> (what the paper says, where the book tests it)``.
CLAIMS = {
    "table1": ("Table 1: the NSDE costs a few points of clean accuracy", "02_training"),
    "table2": ("Table 2: the NSDE is more accurate under random noise", "03_robustness"),
    "table3": ("Table 3: under APGD-CE the NSDE keeps accuracy where ConvNeXt drops to 0 (non-adaptive attack)",
               "03_robustness"),
    "table3-adaptive": ("Table 3 under an attack adaptive to the noise (EOT; not in the paper)", "03_robustness"),
    "noise-sources": ("Which noise helps: training with it, or keeping it on at test time (not in the paper)",
                      "03_robustness"),
    "fig4": ("Fig. 4 / Sec. 4.4: attributions change less for the NSDE under small perturbations", "04_explanations"),
    "table4": ("Table 4: ABC is higher on correct than on incorrect predictions, more so for the NSDE",
               "04_explanations"),
    "oq2": ("Open question 2: does ABC signal reliability (better than the softmax)?", "04_explanations"),
    "iaside": ("I-ASIDE: a higher spectral robustness score goes with more robustness", "05_spectral"),
    "oq3": ("Open question 3: does the NSDE help more with less training data?", "06_less_data"),
    "oq1": ("Open question 1: which noise shape, and how much noise?", "08_noise_shapes"),
}


def paper_numbers() -> dict[str, str]:
    """What the paper reports for each claim, formatted from :mod:`nsde.report.paper` (never typed here)."""
    t1, t2, t3, t4 = paper.TABLE1, paper.TABLE2, paper.TABLE3, paper.TABLE4
    n = paper.N_EVAL_IMAGES
    return {
        "table1": f"test {t1['ConvNeXt-Base']['test']:.2f}% (ConvNeXt) vs {t1['Neural SDE']['test']:.2f}% (NSDE)",
        "table2": f"NSDE higher at {sum(b > a for a, b in zip(t2['ConvNeXt-Base'], t2['Neural SDE']))} of "
                  f"{len(t2['intensity'])} intensities ({n} images)",
        "table3": ", ".join(f"eps {e:g}: {a:.0f}% vs {b:.2f}%" for e, a, b in
                            zip(t3["eps"], t3["ConvNeXt-Base"], t3["Neural SDE"])) + f" ({n} images)",
        "table3-adaptive": "not tested",
        "noise-sources": "not tested",
        "fig4": "smaller for the NSDE (no numbers)",
        "table4": f"correct {t4['ConvNeXt-Base']['correct']:.3f} (ConvNeXt) vs {t4['Neural SDE']['correct']:.3f} (NSDE)",
        "oq2": "open", "iaside": "(I-ASIDE's claim, other models)", "oq3": "open", "oq1": "open",
    }


def _folder(profile: str) -> Path:
    return cache_root() / "findings" / profile


def clear(profile: str) -> None:
    """Forget the findings recorded under ``profile`` (a full book run starts with this)."""
    folder = _folder(profile)
    if folder.is_dir():
        for f in folder.glob("*.json"):
            try:
                f.unlink()
            except OSError as exc:
                raise CacheError(f"cannot remove {f}: {exc.strerror}; a full run records the findings of profile "
                                 f"{profile!r} afresh, so their folder {folder} must be writable (or set NSDE_CACHE "
                                 "to a writable folder)") from None


def record(profile: str, claim: str, dataset: str, verdict: str, detail: str, *, chapter: str | None = None) -> None:
    """Record our verdict on one claim for one data set.

    Args:
        profile: the profile the chapter ran with.
        claim: a key of :data:`CLAIMS`.
        dataset: the data set's name (``"harmonic"``, ``"plaid"`` ...).
        verdict: a short verdict (a word of :func:`nsde.report.verdicts.claim_word`, or a phrase).
        detail: the sentence with the numbers and intervals behind it (Markdown).
        chapter: the chapter that shows it (default: the claim's chapter).
    """
    if claim not in CLAIMS:
        raise ValueError(f"claim must be one of {list(CLAIMS)}, but found {claim!r}")
    chapter = chapter or CLAIMS[claim][1]
    save_json({"claim": claim, "dataset": dataset, "verdict": verdict, "detail": detail, "chapter": chapter},
              _folder(profile) / f"{claim}--{dataset}--{chapter}.json")


def load(profile: str) -> pd.DataFrame:
    """Every recorded finding of ``profile``: ``claim, dataset, verdict, detail, chapter``."""
    rows = [json.loads(f.read_text()) for f in sorted(_folder(profile).glob("*.json"))]
    return pd.DataFrame(rows, columns=["claim", "dataset", "verdict", "detail", "chapter"])


def findings_table(profile: str) -> pd.DataFrame:
    """One row per claim (in :data:`CLAIMS` order), one column per data set, holding the
    verdict as a Markdown link to the chapter that shows it ("not run" where no chapter
    recorded one; two chapters' verdicts on one data set are both shown)."""
    found = load(profile)
    datasets = sorted(found["dataset"].unique().tolist(), key=lambda d: (d != "harmonic", d)) or ["harmonic"]
    numbers = paper_numbers()
    rows = []
    for claim, (text, chapter) in CLAIMS.items():
        row = {"claim": text, "paper": numbers[claim]}
        for d in datasets:
            hits = found[(found["claim"] == claim) & (found["dataset"] == d)]
            row[d] = "; ".join(f"[{h.verdict}]({h.chapter})" for h in hits.itertuples()) if len(hits) else "not run"
        rows.append(row)
    return pd.DataFrame(rows).set_index("claim")
