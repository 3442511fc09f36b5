"""The fine-tuning baselines: FT-L and FT-M (one layer's weights, norm-bounded), and the objective they share with
LoRA (:mod:`.objective`)."""
