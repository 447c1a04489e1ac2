"""What the book reports: the paper's own numbers (:mod:`.paper`), the paper's claims and
their primary endpoints (:mod:`.claims`), the verdict sentences (:mod:`.verdicts`), the
calibration of the verdict pipeline (:mod:`.calibration`), the findings page's registry
(:mod:`.findings`) and every figure (:mod:`.figures`)."""
