"""What the book measures on a trained model, one module per measure:

* :mod:`.evaluation`: per-image correctness (expected, for a random model), Table 1;
* :mod:`.robustness`: accuracy under additive random noise (Table 2);
* :mod:`.attacks`: APGD-CE / EOT, AutoAttack-rand, Square (Table 3);
* :mod:`.attribution`: Integrated Gradients, NoiseTunnel, saliency and their stability;
* :mod:`.abc`: attribution-based confidence (Table 4); :mod:`.reliability`: AUROC, AURC;
* :mod:`.iaside`: I-ASIDE spectral importance; :mod:`.bands`: power per spectral band.

Measures take trained models and tensors, never a profile.
"""
