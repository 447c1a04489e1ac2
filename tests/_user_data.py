"""Generated UCR/UEA ``.ts`` pairs as a new user brings them: a short, slow two-class
problem with capitalised labels, and a multivariate one (seconds to write and load)."""
import math

import numpy as np

#: The two-class problem: 150-sample series at 30 Hz (5 s), a 2 Hz or a 5 Hz rhythm in noise.
TWO_RATE, TWO_LENGTH, TWO_LABELS = 30.0, 150, ("Walking", "Running")
#: The multivariate problem: 3 dimensions of 100 samples at 10 Hz, three classes.
MULTI_RATE, MULTI_LENGTH, MULTI_DIMS, MULTI_LABELS = 10.0, 100, 3, ("Standing", "Walking", "Badminton")


def write_ts(path, cases, labels, dims):
    """Write ``cases`` (``[(list of 1-D arrays, label)]``) as a ``.ts`` classification file."""
    lines = ["@problemName generated", "@timeStamps false", "@missing false",
             f"@univariate {'true' if dims == 1 else 'false'}"] + ([f"@dimensions {dims}"] if dims > 1 else []) + [
        "@equalLength true", f"@classLabel true {' '.join(labels)}", "@data"]
    for rows, label in cases:
        lines.append(":".join(",".join(f"{v:.5g}" for v in row) for row in rows) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def two_class_cases(n, seed):
    """``n`` cases alternating between the classes: a sine of 2 Hz or 5 Hz (+-15%), random
    phase and amplitude, in white noise."""
    g = np.random.default_rng(seed)
    t = np.arange(TWO_LENGTH) / TWO_RATE
    cases = []
    for i in range(n):
        c = i % 2
        f = (2.0, 5.0)[c] * g.uniform(0.85, 1.15)
        x = g.uniform(0.5, 2) * np.sin(2 * math.pi * f * t + g.uniform(0, 2 * math.pi)) + 0.8 * g.standard_normal(t.size)
        cases.append(([x], TWO_LABELS[c]))
    return cases


def multi_cases(n, seed):
    """``n`` cases over the three classes: class ``c`` puts a 1 Hz rhythm on dimension ``c``
    and noise on the others."""
    g = np.random.default_rng(seed)
    t = np.arange(MULTI_LENGTH) / MULTI_RATE
    cases = []
    for i in range(n):
        c = i % len(MULTI_LABELS)
        rows = [0.5 * g.standard_normal(t.size) for _ in range(MULTI_DIMS)]
        rows[c] = rows[c] + 2 * np.sin(2 * math.pi * g.uniform(0.8, 1.2) * t + g.uniform(0, 2 * math.pi))
        cases.append((rows, MULTI_LABELS[c]))
    return cases


def two_class_pair(folder, n_train=48, n_test=24):
    """The two-class ``Two_TRAIN.ts`` / ``Two_TEST.ts`` pair in ``folder``; returns the TRAIN path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_ts(folder / "Two_TEST.ts", two_class_cases(n_test, 2), TWO_LABELS, 1)
    return write_ts(folder / "Two_TRAIN.ts", two_class_cases(n_train, 1), TWO_LABELS, 1)


def multi_pair(folder, n_train=36, n_test=18):
    """The multivariate ``Multi_TRAIN.ts`` / ``Multi_TEST.ts`` pair in ``folder``; returns the TRAIN path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_ts(folder / "Multi_TEST.ts", multi_cases(n_test, 4), MULTI_LABELS, MULTI_DIMS)
    return write_ts(folder / "Multi_TRAIN.ts", multi_cases(n_train, 3), MULTI_LABELS, MULTI_DIMS)
