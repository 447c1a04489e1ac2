"""The numbers the paper reports (Brogan et al., arXiv 2409.01532), for side-by-side tables.

These are the paper's values, typed from its text and labelled as such wherever the book
shows them. Nothing the book computes is stored here. Table 2 and Table 3 were measured
on 32 images (every value is a multiple of 1/32).
"""
from __future__ import annotations

__all__ = ["TABLE1", "TABLE2", "TABLE3", "TABLE4", "N_EVAL_IMAGES"]

#: Images the paper evaluated for Tables 2 and 3.
N_EVAL_IMAGES = 32

#: Table 1, accuracy in percent: {model: {"validation": v, "test": t}}.
TABLE1 = {
    "ConvNeXt-Base": {"validation": 86.9, "test": 87.20},
    "Neural SDE": {"validation": 83.2, "test": 82.88},
}

#: Table 2, accuracy in percent under random (Gaussian) noise of the given intensity.
TABLE2 = {
    "intensity": [0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 0.75, 1.0],
    "ConvNeXt-Base": [84.38, 71.88, 56.25, 56.25, 25.00, 12.50, 3.12, 6.25],
    "Neural SDE": [87.50, 75.00, 62.50, 53.12, 40.62, 21.88, 9.38, 6.25],
}

#: Table 3, accuracy in percent under APGD-CE with the given L2 budget (non-adaptive).
TABLE3 = {
    "eps": [0.05, 0.1, 0.15, 0.2],
    "ConvNeXt-Base": [0.0, 0.0, 0.0, 0.0],
    "Neural SDE": [21.88, 3.12, 0.0, 0.0],
}

#: Table 4, mean ABC confidence for correct and incorrect predictions.
TABLE4 = {
    "ConvNeXt-Base": {"correct": 0.497, "incorrect": 0.188},
    "Neural SDE": {"correct": 0.599, "incorrect": 0.189},
}
