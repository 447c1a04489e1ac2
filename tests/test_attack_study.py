"""The attack battery on a toy randomised model whose noise flips a weak logit: attacking
single noisy passes with CE is measurably weaker than attacking the ensemble's own output,
the battery finds the weaker point, and the masking check flags the single-pass attacks."""
import math

import numpy as np
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde.studies import attack_study as ast_
from nsde.studies.protocols import Classifier


class FlipNet(nn.Module):
    """Three classes, true class 0. Class 1's logit rises along pixel 0 (the way to fool the
    classifier); in a share ``q`` of the noisy passes class 2's logit is flipped to +20, and
    class 2's logit also rises along pixel 1, a direction that fools no one. Single-pass
    cross-entropy is dominated by the flipped passes and pushes along pixel 1; the
    ensemble's mean softmax is untouched by them and pushes along pixel 0."""

    kind, sigma, num_classes, in_chans = "nsde", 1.0, 3, 1

    def __init__(self, q: float = 0.2):
        super().__init__()
        self.q = q
        self.anchor = nn.Parameter(torch.zeros(()))  # so that the module has a device
        self._noise, self._samples, self._seed = "train", 1, None
        self._gen = torch.Generator().manual_seed(0)

    # the noise API of nsde.core.models.NoisyClassifier that the attacks use
    def set_noise(self, noise="train", seed=None, samples=1):
        self._noise, self._seed, self._samples = noise, seed, samples
        return self

    def get_noise(self):
        return self._noise, self._seed, self._samples

    def reseed_noise(self, seed):
        self._gen = torch.Generator().manual_seed(int(seed))

    def noise_stream(self):
        return self._gen.get_state()

    def restore_noise_stream(self, state):
        self._gen.set_state(state)

    def _logits(self, x, flip):
        v = x.flatten(1)
        z1 = 6 * (v[:, 0] - 0.5) - 2 * v[:, 2] - 1.0
        z2 = torch.where(flip, 20.0, -20.0) + 10 * (v[:, 1] - 0.5)
        return torch.stack([torch.zeros_like(z1) + 0 * self.anchor, z1, z2], 1)

    def forward(self, x):
        on = self._noise == "on" or (self._noise == "train" and self.training)
        k = self._samples if on else 1
        if not on:
            return self._logits(x, torch.zeros(len(x), dtype=torch.bool))
        logp = [F.log_softmax(self._logits(x, torch.rand(len(x), generator=self._gen) < self.q), -1) for _ in range(k)]
        return torch.logsumexp(torch.stack(logp), 0) - math.log(k) if k > 1 else logp[0]


def images(n=96):
    x = torch.full((n, 1, 8, 8), 0.5)
    x[:, 0, 0, 2] = torch.linspace(0.0, 1.0, n)  # difficulty: how far class 1 is from winning
    return x, torch.zeros(n, dtype=torch.long)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def test_the_battery_finds_the_ensemble_attack_stronger_and_flags_the_single_pass_attacks():
    torch.manual_seed(0)
    x, y = images()
    run = SimpleNamespace(model=FlipNet().eval(), key="toy-flip")
    ensemble = Classifier("NSDE ensemble", (run,) * 3, noise="on", samples=8)  # three "seeds" of one network
    tables, worst = ast_.attack_classifier(ensemble, x, y, [0.5], n_iter=5, eot_iter=2, draws=4, seed=0)
    acc = {name: float(t["accuracy"].iloc[0]) for name, t in tables.items()}
    single = acc["APGD-CE, EOT-2 on single passes"]
    on_ensemble = acc["APGD-CE, EOT-2 on the ensemble"]
    assert single - on_ensemble > 0.2  # CE on single passes is measurably weaker
    assert acc["worst case"] <= on_ensemble + 0.05  # reported on an independent stream of scorings
    sources = {s for w in worst for s in w["source"][0.5]}
    assert sources & {"APGD-CE, EOT-2 on the ensemble", "APGD-DLR, EOT-2 on the ensemble"}
    study = ast_.AttackStudy([0.5], {"NSDE ensemble": tables}, {}, n_images=len(y))
    checks = ast_.masking_checks(study).set_index("check")["result"]
    assert checks["APGD-CE, EOT-2 on single passes as strong as the battery"] == "failed"
    assert checks["APGD-CE, non-adaptive as strong as the battery"] == "failed"
    assert checks["APGD-CE, EOT-2 on the ensemble as strong as the battery"] != "failed"


def test_a_deterministic_classifier_gets_ce_and_dlr_and_two_classes_get_ce_only():
    det = Classifier("baseline", (), noise="off")
    assert [s.attack for s in ast_.battery(det, eot_iter=2, n_classes=16)] == ["apgd-ce", "apgd-dlr"]
    assert [s.attack for s in ast_.battery(det, eot_iter=2, n_classes=2)] == ["apgd-ce"]
    ens = Classifier("NSDE ensemble", (), noise="on", samples=4)
    names = [s.name for s in ast_.battery(ens, eot_iter=3, n_classes=16)]
    assert names == ["APGD-CE, non-adaptive", "APGD-CE, EOT-3 on single passes", "APGD-CE, EOT-3 on the ensemble",
                     "APGD-DLR, EOT-3 on the ensemble"]


def test_masking_checks_flag_a_rising_worst_case_and_a_stronger_gradient_free_attack():
    from nsde.stats.compare import table_from_scores

    n = 200
    rng = np.random.default_rng(0)

    def table(*rates):  # three "seeds", the same images, correctness at each budget
        return table_from_scores("eps", [0.1, 0.2], [np.stack([rng.random(n) < r for _ in range(3)]).astype(float)
                                                     for r in rates])

    rising = table(0.2, 0.6)  # robust accuracy rises with the budget: a masking sign
    study = ast_.AttackStudy([0.1, 0.2], {"NSDE ensemble": {"APGD-CE, EOT-2 on the ensemble": rising,
                                                            "worst case": rising}}, {}, n_images=n)
    square = table(0.0, 0.0)
    square.attrs["reference"] = table(0.5, 0.5)  # the profile's attack, far weaker than Square
    checks = ast_.masking_checks(study, extra={"Square (gradient-free)": square}).set_index(["check", "eps"])["result"]
    assert checks[("worst case does not rise from eps 0.1", 0.2)] == "failed"
    assert checks[("the profile's attack as strong as Square (gradient-free)", 0.2)] == "failed"
    assert checks[("APGD-CE, EOT-2 on the ensemble as strong as the battery", 0.1)] == "passed"


def test_rescoring_sentence_names_the_largest_excess_of_a_worst_case_over_a_single_attack():
    import pandas as pd
    from nsde.studies.attack_study import rescoring_sentence

    def t(*acc):
        return pd.DataFrame({"eps": [0.05, 0.1], "accuracy": list(acc)})

    tables = {"baseline": {"APGD-CE": t(0.9, 0.7), "worst case": t(0.9, 0.7)},
              "NSDE ensemble": {"APGD-CE": t(0.948, 0.80), "DLR": t(0.96, 0.79), "worst case": t(0.958, 0.778)}}
    text = rescoring_sentence(tables)
    assert text.startswith("For NSDE ensemble, the worst case lies above a single attack's figure at 1 (attack, budget) pair;")
    assert "largest excess is 1.0 points (NSDE ensemble, eps 0.05: 95.8% against 94.8% for APGD-CE)" in text
    assert "scoring noise" in text
    assert rescoring_sentence({"baseline": tables["baseline"]}) == \
        "No worst case lies above a single attack of its battery."
