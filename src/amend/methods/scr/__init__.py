"""SCR, selective contextual reasoning: facts in a searched store, a relevance judgement by the model, an answer in
context (or directly when no fact is confirmed)."""
