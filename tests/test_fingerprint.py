import torch
from helpers import tiny_model

from amend.fingerprint import SAMPLES, _sample_bytes, fingerprint


def test_fingerprint_tells_weights_apart_and_ignores_nothing_else():
    model = tiny_model("gpt2")
    first = fingerprint(model)
    assert fingerprint(tiny_model("gpt2")) == first
    with torch.no_grad():
        model.transformer.h[1].mlp.c_proj.weight.add_(1e-3)  # an edit changes whole rows and columns
    assert fingerprint(model) != first
    assert fingerprint(tiny_model("gpt2", seed=1)) != first
    assert fingerprint(tiny_model("gpt2").to(torch.float16)) != first


def test_sampling_covers_first_and_last_entries_of_large_tensors():
    big = torch.zeros(38_597_376)  # GPT-2's embedding size: a float linspace overflowed its last index
    big[-1] = 1.0
    sampled = torch.frombuffer(bytearray(_sample_bytes(big)), dtype=torch.float32)
    assert sampled.numel() == SAMPLES and sampled[-1] == 1.0 and sampled[0] == 0.0
