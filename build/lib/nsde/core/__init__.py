"""The paper's method: noise shapers (:mod:`.noise`), the baselines and their Neural-SDE
variants (:mod:`.models`), predictions under a noise setting (:mod:`.predict`) and one
training loop with a cache of trained models (:mod:`.training`)."""
