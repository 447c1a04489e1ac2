"""Infrastructure under every layer: the run-time policy (:mod:`.runtime`: device, threads,
precision, seeds, progress), the content-addressed cache (:mod:`.cache`), the input checks
shared by every public function (:mod:`.checks`) and data-parallel training helpers
(:mod:`.distributed`). Private to the package: import from the layers above."""
