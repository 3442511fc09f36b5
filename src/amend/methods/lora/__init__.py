"""LoRA through peft: low-rank adapters trained on the edit, merged as low-rank weight deltas or kept attached."""
