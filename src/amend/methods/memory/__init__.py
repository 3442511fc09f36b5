"""What the memory-based methods share: a codebook at one linear sub-layer (:mod:`amend.changes.codebook`), the
placement rules (:mod:`.placement`), the queries of prompts, and training an entry against the model's own loss
(:mod:`.codebook_edit`)."""
