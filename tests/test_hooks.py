import pytest
import torch
from helpers import tiny_model

from amend.architectures import Component, Site, anatomy
from amend.hooks import add_at_positions, capture, stop_after


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(params=["gpt2", "gptj", "llama"])
def body(request):
    return anatomy(tiny_model(request.param))


def test_capture_at_positions_equals_full_capture(body):
    ids = torch.randint(0, 100, (3, 7))
    positions = torch.tensor([0, 3, 6])
    sites = [Site(Component.MLP_KEY, 2), Site(Component.BLOCK_OUTPUT, 0)]
    with capture(body, sites) as full:
        body.model(input_ids=ids)
    with capture(body, sites, positions) as picked:
        body.model(input_ids=ids)
    for site in sites:
        assert torch.equal(picked[site], full[site][torch.arange(3), positions])
    assert _hook_count(body.model) == 0


def test_add_changes_only_the_chosen_position_and_later_ones(body):
    ids = torch.randint(0, 100, (2, 6))
    site = Site(Component.BLOCK_OUTPUT, 1)
    vectors = torch.randn(2, body.hidden_size)
    with torch.no_grad():
        clean = body.model(input_ids=ids).logits
        with add_at_positions(body, site, torch.tensor([2, 4]), vectors), capture(body, [site]) as seen:
            edited = body.model(input_ids=ids).logits
    assert torch.equal(edited[0, :2], clean[0, :2]) and torch.equal(edited[1, :4], clean[1, :4])  # causal
    assert not torch.allclose(edited[0, 2], clean[0, 2])
    with capture(body, [site]) as plain, torch.no_grad():
        body.model(input_ids=ids)
    assert torch.allclose(seen[site][0, 2] - plain[site][0, 2], vectors[0], atol=1e-5)
    assert _hook_count(body.model) == 0


def test_hooks_are_removed_when_the_block_raises(body):
    site = Site(Component.MLP_OUTPUT, 0)
    with (
        pytest.raises(ZeroDivisionError),
        capture(body, [site]),
        add_at_positions(body, site, torch.tensor([0]), torch.zeros(1, body.hidden_size)),
    ):
        raise ZeroDivisionError
    assert _hook_count(body.model) == 0


def test_stop_after_skips_later_layers(body):
    ids = torch.randint(0, 100, (1, 5))
    early, late = Site(Component.MLP_KEY, 0), Site(Component.BLOCK_OUTPUT, 2)
    with capture(body, [early, late]) as records, stop_after(body, early):
        body.model(input_ids=ids)
        pytest.fail("the forward pass should have stopped")  # pragma: no cover
    assert early in records and late not in records
    assert _hook_count(body.model) == 0


def _key_from_input(body, layer, x):
    """The MLP key computed by hand from its input: act(up(x)) (GPT-2, GPT-J) or act(gate(x)) · up(x) (Llama)."""
    mlp = body.module(f"{body.layer_path(layer)}.{body.spec.mlp}")
    with torch.no_grad():
        if body.model_type == "llama":
            return mlp.act_fn(mlp.gate_proj(x)) * mlp.up_proj(x)
        return mlp.act(body.module(f"{body.layer_path(layer)}.{body.spec.mlp_in_proj}")(x))


def test_mlp_input_is_what_the_key_is_computed_from(body):
    ids = torch.randint(0, 100, (2, 5))
    inputs, keys = Site(Component.MLP_INPUT, 1), Site(Component.MLP_KEY, 1)
    with capture(body, [inputs, keys]) as seen, torch.no_grad():
        body.model(input_ids=ids)
    assert seen[inputs].shape[-1] == body.hidden_size
    assert torch.allclose(_key_from_input(body, 1, seen[inputs]), seen[keys], atol=1e-6)


def test_a_vector_added_at_the_mlp_input_reaches_every_path_of_the_key(body):
    """A gated MLP reads its input twice; a change written at the site must reach both reads."""
    ids = torch.randint(0, 100, (1, 5))
    inputs, keys = Site(Component.MLP_INPUT, 1), Site(Component.MLP_KEY, 1)
    with capture(body, [inputs]) as clean, torch.no_grad():
        body.model(input_ids=ids)
    shift = torch.randn(1, body.hidden_size)
    with add_at_positions(body, inputs, torch.tensor([3]), shift), capture(body, [keys]) as seen, torch.no_grad():
        body.model(input_ids=ids)
    expected = _key_from_input(body, 1, clean[inputs][0, 3] + shift[0])
    assert torch.allclose(seen[keys][0, 3], expected, atol=1e-5)
    assert torch.allclose(seen[keys][0, :3], _key_from_input(body, 1, clean[inputs][0, :3]), atol=1e-6)
