"""Statistics of the book's comparisons (``scipy.stats`` and ``statsmodels`` underneath).

* :mod:`.intervals`: intervals of one score (Wilson, bootstrap) and of paired differences;
* :mod:`.compare`: tables of per-image correctness pooled over seeds and compared row by row;
* :mod:`.inference`: tests of a primary endpoint at the level of the training seed (the
  unit that varies between methods), equivalence tests, Holm's correction, power.

Depends on nothing of the package but :mod:`nsde._infra`.
"""
