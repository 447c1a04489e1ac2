"""The book's experiments, the only layer that reads a profile (:mod:`.profiles`):

* :mod:`.zoo`: every model a profile trains, the recipe of each architecture, the
  learning-rate choice on validation, and the command line;
* :mod:`.protocols`: which classifiers are compared and which images attacked, the
  gradient-masking checks, the ABC and stability settings;
* :mod:`.data_size` (open question 3), :mod:`.noise_shapes` (open question 1) and
  :mod:`.attribution_noise` (attribution-shaped noise, Jha et al. AAAI 2022).
"""
