import pytest
import torch
from helpers import TINY_CONFIGS, tiny_model
from transformers.pytorch_utils import Conv1D

from amend import UnsupportedArchitecture
from amend.architectures import ARCHITECTURES, Component, Site, anatomy, spec_for, weights
from amend.hooks import capture

REQUIRED = ["gpt2", "gptj", "gpt_neox", "llama", "mistral", "qwen2", "qwen3", "phi3", "gemma2", "opt"]


def test_table_covers_required_types():
    assert set(REQUIRED) <= set(ARCHITECTURES)
    assert set(REQUIRED) <= set(TINY_CONFIGS)


@pytest.mark.parametrize("model_type", REQUIRED)
def test_every_component_resolves_on_a_tiny_model(model_type):
    model = tiny_model(model_type)
    body = anatomy(model)
    assert body.num_layers == 3
    d_model = body.hidden_size
    for layer in range(body.num_layers):
        proj = body.module(body.mlp_out_proj_name(layer))
        d_out, d_in = weights.dims(proj)
        assert d_out == d_model and d_in == 64  # (out, in) whatever the storage orientation
        keys = torch.randn(5, d_in)
        assert torch.allclose(weights.apply_map(proj, keys), proj(keys), atol=1e-5)
    for name in (body.spec.final_norm, body.spec.unembedding):
        model.get_submodule(name)
    sites = [Site(c, 1) for c in Component]
    ids = torch.randint(0, 100, (2, 6))
    with capture(body, sites, torch.tensor([2, 5])) as records:
        model(input_ids=ids)
    assert {s: records[s].shape for s in sites} == {
        Site(Component.BLOCK_OUTPUT, 1): (2, d_model),
        Site(Component.MLP_INPUT, 1): (2, d_model),
        Site(Component.MLP_KEY, 1): (2, 64),
        Site(Component.MLP_OUTPUT, 1): (2, d_model),
        Site(Component.ATTN_OUTPUT, 1): (2, d_model),
    }


def test_orientation_is_decided_by_type_even_for_square_weights():
    torch.manual_seed(0)
    conv = Conv1D(8, 8)  # square: shape cannot tell the orientation
    conv.weight.data = torch.randn(8, 8)
    keys = torch.randn(3, 8)
    assert weights.is_transposed(conv)
    assert torch.allclose(weights.apply_map(conv, keys), conv(keys), atol=1e-6)
    linear = torch.nn.Linear(8, 8)
    assert not weights.is_transposed(linear)
    assert torch.allclose(weights.apply_map(linear, keys), linear(keys), atol=1e-6)


def test_unknown_model_type_lists_supported_and_says_how_to_add():
    with pytest.raises(UnsupportedArchitecture) as caught:
        spec_for("bloom")
    message = str(caught.value)
    assert "bloom" in message and "gpt2" in message and "llama" in message and "table.py" in message
