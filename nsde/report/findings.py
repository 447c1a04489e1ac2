"""The book's findings page: every claim of the paper, the paper's number, and our verdict.

Chapters judge each claim (:func:`nsde.report.claims.judge`) and :func:`record` the verdict
here, one entry per (claim, data set), in the cache under the profile's name; the findings
page at the front of the book (``book/00_findings.py``, executed after every other chapter)
reads them back with :func:`findings_table`. Nothing on that page is typed in: the claims'
texts come from :data:`nsde.report.claims.CLAIMS`, the paper's numbers from
:mod:`nsde.report.paper`, the verdicts, their intervals and sizes from the chapters' runs.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nsde._infra.cache import CacheError, cache_root, save_json
from nsde.report import paper
from nsde.report.claims import CLAIMS, Verdict

__all__ = ["paper_numbers", "record", "record_text", "load", "findings_table", "evidence", "answer", "HEADLINE", "power_frontier", "record_all",
           "clear"]

COLUMNS = ["claim", "dataset", "verdict", "estimate", "sizes", "mde", "detail", "chapter", "models", "se", "df",
           "n_seeds", "scale", "unit"]


def paper_numbers() -> dict[str, str]:
    """What the paper reports for each claim, formatted from :mod:`nsde.report.paper` (never typed here)."""
    t1, t2, t3, t4 = paper.TABLE1, paper.TABLE2, paper.TABLE3, paper.TABLE4
    n = paper.N_EVAL_IMAGES
    effect2 = CLAIMS["table2"].paper_effect(t2["intensity"])
    effect3 = CLAIMS["table3"].paper_effect(t3["eps"])
    return {
        "table1": f"test {t1['Neural SDE']['test']:.2f}% (NSDE) vs {t1['ConvNeXt-Base']['test']:.2f}% (ConvNeXt-Base): "
                  f"{t1['Neural SDE']['test'] - t1['ConvNeXt-Base']['test']:+.2f} points",
        "table2": f"{100 * effect2:+.1f} points averaged over its 8 intensities; NSDE higher at "
                  f"{sum(b > a for a, b in zip(t2['ConvNeXt-Base'], t2['Neural SDE']))} of them ({n} images, one "
                  "model each, our inference from the 1/32 steps of its values)",
        "table3": f"{100 * effect3:+.2f} points averaged over its 4 budgets; ConvNeXt-Base at "
                  + "/".join(f"{a:.0f}" for a in t3["ConvNeXt-Base"]) + "%, NSDE at "
                  + "/".join(f"{b:.2f}" for b in t3["Neural SDE"])
                  + f"% ({n} images, our inference from the 1/32 steps of its values)",
        "table3-adaptive": "not tested by the paper",
        "noise-training": "not tested by the paper",
        "noise-test-time": "not tested by the paper",
        "noise-training-attack": "not tested by the paper",
        "noise-test-time-attack": "not tested by the paper",
        "fig4": "smaller for the NSDE (said in Sec. 4.2, no number given; Fig. 4 shows the maps, not their stability)",
        "table4": f"correct minus incorrect: NSDE {t4['Neural SDE']['correct'] - t4['Neural SDE']['incorrect']:.3f}, "
                  f"ConvNeXt-Base {t4['ConvNeXt-Base']['correct'] - t4['ConvNeXt-Base']['incorrect']:.3f} "
                  "(Sec. 4.3 says only that ABC on correct predictions is higher for the NSDE; the contrast is our "
                  "reading of its table)",
        "abc-reliability": "not asked by the paper",
        "iaside": "I-ASIDE's claim, on other models",
        "less-data": "Sec. 5 says the NSDE 'can provide benefits even in low-data-availability scenarios', from one "
                     "data size; that its advantage grows as the data shrink is our reading, not tested by the paper",
        "noise-shape": "future work (Sec. 5)",
    }


def _claim_label(claim) -> str:
    """``"Table 2: the NSDE is ..."`` for the paper's claims, ``"... (not in the paper)"`` for ours."""
    if claim.source.startswith("not in the paper"):
        return f"{claim.text[0].upper()}{claim.text[1:]} ({claim.source})"
    return f"{claim.source}: {claim.text}"


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


def _save(profile: str, entry: dict) -> None:
    if entry["claim"] not in CLAIMS:
        raise ValueError(f"claim must be one of {list(CLAIMS)}, but found {entry['claim']!r}")
    path = _folder(profile) / f"{entry['claim']}--{entry['dataset']}--{entry['chapter']}.json"
    if path.is_file():
        try:
            if json.loads(path.read_text()) == entry:
                return  # the same finding again: nothing to write (a read-only cache stays usable)
        except (OSError, ValueError):
            pass
    save_json(entry, path)


def record(profile: str, verdict: Verdict, dataset: str, *, models: str = "", chapter: str | None = None) -> None:
    """Record the verdict on one claim for one data set.

    Args:
        profile: the profile the chapter ran with.
        verdict: :func:`nsde.report.claims.judge`'s verdict.
        dataset: the data set's name (``"harmonic"``, ``"plaid"`` ...).
        models: what was compared, in words (architecture, image size, epochs, data size).
        chapter: the chapter that shows it (default: the claim's chapter).
    """
    c = verdict.claim
    t = verdict.primary
    _save(profile, {"claim": c.key, "dataset": dataset, "verdict": verdict.word, "estimate": verdict.interval_text,
                    "sizes": verdict.sizes_text, "mde": c.fmt(verdict.mde, signed=False), "detail": verdict.sentence(),
                    "chapter": chapter or c.chapter, "models": models, "se": t.se, "df": t.df, "n_seeds": t.n_seeds,
                    "scale": c.scale, "unit": c.unit})


def record_text(profile: str, claim: str, dataset: str, verdict: str, detail: str, *, estimate: str = "",
                sizes: str = "", models: str = "", chapter: str | None = None) -> None:
    """Record a finding that is not a seed-level test (a rank correlation across models, the
    noise-shape grid about its trained networks): its word and the sentence behind it."""
    if claim not in CLAIMS:
        raise ValueError(f"claim must be one of {list(CLAIMS)}, but found {claim!r}")
    _save(profile, {"claim": claim, "dataset": dataset, "verdict": verdict, "estimate": estimate, "sizes": sizes,
                    "mde": "", "detail": detail, "chapter": chapter or CLAIMS[claim].chapter, "models": models})


def load(profile: str) -> pd.DataFrame:
    """Every recorded finding of ``profile`` (columns :data:`COLUMNS`)."""
    rows = [json.loads(f.read_text()) for f in sorted(_folder(profile).glob("*.json"))]
    return pd.DataFrame(rows, columns=COLUMNS)


def findings_table(profile: str, *, compact: bool = False) -> pd.DataFrame:
    """One row per claim (in :data:`nsde.report.claims.CLAIMS` order), one column per data
    set holding the verdict (a Markdown link to the chapter that shows it), the estimate
    with its 95% interval and the sizes; "not run" where no chapter recorded one.

    Args:
        profile: the profile whose findings are read.
        compact: only the claim, the paper's number and the verdict with its estimate.
    """
    found = load(profile)
    datasets = sorted(found["dataset"].unique().tolist(), key=lambda d: (d != "harmonic", d)) or ["harmonic"]
    numbers = paper_numbers()
    rows = []
    for key, claim in CLAIMS.items():
        row = {"claim": _claim_label(claim), "paper": numbers[key]}
        for d in datasets:
            hits = found[(found["claim"] == key) & (found["dataset"] == d)]
            if not len(hits):
                row[d] = "not run"
                continue
            parts = []
            for h in hits.itertuples():
                cell = f"[{h.verdict}]({h.chapter})" + (f" {h.estimate}" if h.estimate else "")
                if not compact and h.sizes:
                    cell += f" ({h.sizes}" + (f"; detectable: {h.mde}" if h.mde else "") + ")"
                parts.append(cell)
            row[d] = "; ".join(parts)
        rows.append(row)
    return pd.DataFrame(rows).set_index("claim")


def evidence(profile: str) -> str:
    """Every recorded finding's sentence, grouped by claim, with what was compared (Markdown)."""
    found = load(profile)
    lines = []
    for key, claim in CLAIMS.items():
        rows = found[found["claim"] == key]
        if len(rows):
            lines.append(f"**{_claim_label(claim)}**\n")
            for r in rows.itertuples():
                lines.append(f"- *{r.dataset}* ([chapter]({r.chapter})): {r.detail}"
                             + (f" Models: {r.models}." if r.models else ""))
            lines.append("")
    return "\n".join(lines)


#: The claims the first page answers in words, in this order.
HEADLINE = ("table1", "table2", "table3", "table3-adaptive", "fig4", "table4")


def answer(profile: str) -> str:
    """The first page's answer: one line per headline claim with its verdict and estimate,
    for every data set of the build (Markdown)."""
    found = load(profile)
    if found.empty:
        return "No chapter has recorded a finding in this build yet: build the book with `make book`."
    lines = []
    for key in HEADLINE:
        rows = found[found["claim"] == key]
        if not len(rows):
            continue
        parts = [f"**{r.verdict}** on {r.dataset} ({r.estimate}; {r.sizes})" for r in rows.itertuples()]
        lines.append(f"- {_claim_label(CLAIMS[key])}: " + "; ".join(parts) + ".")
    head = ("What this build finds for the paper's main claims (NSDE minus baseline, 95% interval with the training "
            "seed as unit; the full table and the evidence are on the findings page):")
    return head + "\n\n" + "\n".join(lines)


def power_frontier(profile: str, claims=("table2", "table3", "table3-adaptive", "table1"),
                   seeds=(3, 5, 8, 12, 20), power: float = 0.8) -> pd.DataFrame:
    """What more seeds would buy: the minimal detectable effect of each recorded primary
    endpoint if the build had ``seeds`` training seeds per model, at its own variance (the
    seed part of its standard error scaled by ``sqrt(S / S')``, ``S' - 1`` degrees of
    freedom; the image part of the variance is counted as seed part, which errs on the
    side of a larger effect)."""
    from nsde.stats.inference import SeedTest

    found = load(profile)
    rows = []
    for r in found[found["claim"].isin(claims)].itertuples():
        if not (isinstance(r.se, float) and r.se > 0 and r.df > 0 and r.n_seeds > 1):
            continue
        row = {"claim": r.claim, "dataset": r.dataset, f"detectable now ({int(r.n_seeds)} seeds)": r.mde}
        for s in seeds:
            t = SeedTest(0.0, r.se * (r.n_seeds / s) ** 0.5, s - 1.0, s, 0)
            row[f"{s} seeds"] = f"{r.scale * t.mde(power, 0.05):.1f}{(' ' + r.unit) if r.unit else ''}"
        rows.append(row)
    return pd.DataFrame(rows)


def record_all(profile: str, verdicts: dict, keys, dataset: str, *, models: str = "", chapter: str | None = None,
               none: str = "No verdict could be computed here.") -> str:
    """Record the verdicts of ``keys`` found in ``verdicts`` and return their sentences as a
    Markdown list (``none`` when there is none)."""
    lines = []
    for key in keys:
        if key in verdicts:
            record(profile, verdicts[key], dataset, models=models, chapter=chapter)
            lines.append(f"- {verdicts[key].sentence()}")
    return "\n\n".join(lines) or none
