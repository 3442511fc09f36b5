"""GRACE and BalancEdit: the placement rules on hand-built keys, the codebook's gate, and edits of the world model
(reliability, an untouched model outside every radius, sequential writes, revert and save/load bit for bit)."""

from __future__ import annotations

import pytest
import torch

from amend import Editor, Patch
from amend.architectures import Component, Site, anatomy
from amend.changes import Codebook, CodebookWrite, Journal, attached
from amend.changes.codebook import pool
from amend.errors import PatchMismatch
from amend.fingerprint import fingerprint
from amend.hooks import wrap_site
from amend.lm import CausalLM
from amend.methods.balancedit.method import OTHER_SUBJECT, POSITIVE_LEAD, samples
from amend.methods.memory.codebook_edit import Entry
from amend.methods.memory.placement import SPLIT_GAP, balanced_radius, grace_placement
from amend.requests import EditRequest, Probe, Rephrase
from amend.testbeds import load as load_testbed

# ---- GRACE's rules on hand-built keys ------------------------------------------------------------------------------

KEYS = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
RADII = torch.tensor([1.0, 2.0])
LABELS = [(5, 6), (7,)]


def place(query, label, expansion="coverage", initial=1.0):
    query = torch.tensor(query)
    return grace_placement(
        query, label, KEYS, RADII, LABELS, (KEYS - query).norm(dim=1), initial_radius=initial, expansion=expansion
    )


def test_an_empty_codebook_adds_with_the_initial_radius():
    empty = torch.zeros(0, 2)
    placement = grace_placement(torch.ones(2), (1,), empty, torch.zeros(0), [], torch.zeros(0), initial_radius=3.0)
    assert (placement.action, placement.radius) == ("add", 3.0)


def test_a_query_whose_ball_misses_every_entry_adds():
    placement = place([0.0, 2.5], (9,))  # 2.5 > 1 (its ε_init) + 1 (the nearest's radius)
    assert (placement.action, placement.radius, placement.nearest) == ("add", 1.0, 0)


def test_an_overlap_with_another_label_splits_the_radii_at_half_the_distance():
    placement = place([0.0, 1.5], (5, 7))  # same label mean as (5, 6)'s? no: (5, 7) differs from (5, 6)
    assert placement.action == "split"
    assert placement.radius == pytest.approx(0.75)
    assert placement.nearest_radius == pytest.approx(0.75 - SPLIT_GAP)


def test_labels_are_compared_as_whole_sequences_not_by_their_mean():
    # (4, 7) has the mean of (5, 6): the reference's test would call them equal and expand.
    assert place([0.0, 1.5], (4, 7)).action == "split"
    assert place([0.0, 1.5], (5, 6)).action == "expand"


def test_a_same_label_overlap_outside_the_radius_expands_by_coverage_or_moving_average():
    coverage = place([0.0, 1.5], (5, 6))
    assert (coverage.action, coverage.radius) == ("expand", 1.5)
    assert torch.equal(coverage.nearest_key, KEYS[0])
    moving = place([0.0, 1.5], (5, 6), expansion="moving_average")
    assert moving.radius == 1.5 and torch.equal(moving.nearest_key, torch.tensor([0.0, 0.75]))


def test_a_same_label_query_already_inside_changes_nothing():
    inside = place([0.0, 0.5], (5, 6))
    assert (inside.action, inside.radius, inside.nearest_radius) == ("expand", 1.0, 1.0)


# ---- BalancEdit's radius -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("balance", [0.0, 0.25, 0.75, 1.0])
def test_the_balanced_radius_lies_between_the_positive_and_below_the_negative(balance):
    result = balanced_radius(0.2, 0.6, balance)
    assert 0.2 <= result.radius < 0.6 and not result.conflict
    assert result.radius == pytest.approx(min(0.2 + balance * 0.4, 0.6 * (1 - 1e-6)))


def test_a_positive_farther_than_the_negative_keeps_the_negative_outside():
    result = balanced_radius(0.5, 0.3, 0.5)
    assert result.conflict and result.radius < 0.3


def test_generated_samples_follow_the_documented_rule():
    alone = EditRequest("{} speaks", "Ann", "French")
    other = EditRequest("{} lives in", "Bob", "Paris")
    assert samples(alone, [alone], "request") == (POSITIVE_LEAD + "Ann speaks", f"{OTHER_SUBJECT} speaks")
    assert samples(alone, [alone, other], "generated") == (POSITIVE_LEAD + "Ann speaks", "Bob speaks")
    given = EditRequest(
        "{} speaks", "Ann", "French", rephrase=(Rephrase("Ann's language is"),), locality=(Probe("Cy speaks", "Dutch"),)
    )
    assert samples(given, [given], "request") == ("Ann's language is", "Cy speaks")
    assert samples(given, [given], "generated")[1] == f"{OTHER_SUBJECT} speaks"


# ---- the codebook's gate -----------------------------------------------------------------------------------------


def book_with(keys, radii, values, **settings) -> Codebook:
    book = Codebook(keys.shape[1], values.shape[1], **settings)
    book._append({"keys": keys, "radii": radii, "values": values}, [(1,)] * len(keys))
    return book


def test_prefix_mean_pooling_is_the_causal_mean_of_a_rows_real_tokens():
    inputs = torch.tensor([[[1.0], [3.0], [8.0]], [[2.0], [4.0], [100.0]]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    pooled = pool(inputs, mask, "prefix_mean")
    assert pooled[:, :, 0].tolist() == [[1.0, 2.0, 4.0], [2.0, 3.0, 3.0]]
    assert torch.equal(pool(inputs, mask, "token"), inputs)


def test_replace_last_changes_only_the_firing_positions_and_replace_all_every_later_one():
    keys, radii, values = torch.tensor([[1.0, 0.0]]), torch.tensor([0.1]), torch.tensor([[7.0, 7.0, 7.0]])
    inputs = torch.tensor([[[0.0, 0.0], [1.0, 0.05], [0.0, 0.0], [0.0, 1.0]]])
    output = torch.zeros(1, 4, 3)
    last = book_with(keys, radii, values)(inputs, output)
    assert last[0, :, 0].tolist() == [0.0, 7.0, 0.0, 0.0]
    every = book_with(keys, radii, values, replacement="replace_all")(inputs, output)
    assert every[0, :, 0].tolist() == [0.0, 7.0, 7.0, 7.0]
    assert book_with(keys, radii, values)(inputs * 5, output) is None  # nothing fires: the output is not touched


def test_cosine_distance_fires_on_direction_not_length():
    book = book_with(torch.tensor([[1.0, 0.0]]), torch.tensor([0.01]), torch.ones(1, 2), distance="cosine")
    fires, _ = book.gate(torch.tensor([[[30.0, 0.1], [1.0, 1.0]]]))
    assert fires.tolist() == [[True, False]]


# ---- edits of the world model ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    bed = load_testbed("world")
    return bed.model, bed.tokenizer, bed.requests(8)


def weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def accuracy(lm, pairs):
    scored = lm.score(pairs)
    return [sum(a == t for a, t in zip(s.argmax, s.answer_ids, strict=True)) / len(s.answer_ids) for s in scored]


@pytest.mark.parametrize(
    ("method", "settings"),
    [
        ("grace", {}),
        ("grace", {"expansion": "moving_average"}),
        ("balancedit", {}),
        ("balancedit", {"sharing": "per_entry"}),
    ],
)
def test_sequential_edits_are_reliable_and_revert_and_reload_bit_for_bit(world, method, settings, tmp_path):
    model, tok, requests = world
    pristine, base = weights(model), fingerprint(model)
    lm = CausalLM(model, tok, progress=False)
    unrelated = [(p.prompt, p.answer) for r in requests[6:] for p in r.locality]
    scores_before = lm.score(unrelated)
    editor = Editor(model, tok, method, **settings)
    patches = [editor.edit(requests[:3]), editor.edit(requests[3:6])]
    assert min(accuracy(lm, [(r.text, r.target_new) for r in requests[:6]])) == 1.0
    book = attached(model).adapters[f"{method}@{editor.config.layer}"].component
    assert len(book) == patches[-1].log["entries"] <= 6
    assert all(torch.equal(weights(model)[name], pristine[name]) for name in pristine)  # base weights untouched
    edited_scores = lm.score(unrelated + [(r.text, r.target_new) for r in requests[:6]])
    for i, patch in enumerate(patches):
        patch.save(tmp_path / str(i))
    editor.revert()
    assert not attached(model) and fingerprint(model) == base
    assert lm.score(unrelated) == scores_before

    loaded = [Patch.load(tmp_path / str(i)) for i in range(2)]
    with pytest.raises(PatchMismatch):
        loaded[1].apply(model)  # the second write needs the codebook the first one left
    for patch in loaded:
        patch.apply(model)
    assert lm.score(unrelated + [(r.text, r.target_new) for r in requests[:6]]) == edited_scores
    with pytest.raises(PatchMismatch, match="written to"):
        loaded[0].revert()  # the first patch's codebook has the second's entries
    loaded[1].revert()
    loaded[0].revert()
    assert fingerprint(model) == base and lm.score(unrelated) == scores_before


def test_an_input_outside_every_radius_gives_exactly_the_unedited_output(world):
    model, tok, requests = world
    lm = CausalLM(model, tok, progress=False)
    far = [(p.prompt, p.answer) for r in requests[4:] for p in r.locality]
    edited = [(r.text, r.target_new) for r in requests[:2]]
    before = lm.score(far + edited)
    editor = Editor(model, tok, "grace")
    editor.edit(requests[:2])
    book = attached(model).adapters[f"grace@{editor.config.layer}"].component
    fired: list[bool] = []
    site = Site(Component.MLP_OUTPUT, editor.config.layer)
    with wrap_site(anatomy(model), site, lambda inputs, _: fired.append(bool(book.gate(inputs)[0].any()))):
        after = lm.score(far)
    assert fired and not any(fired) and after == before[: len(far)]  # bit for bit, not approximately
    assert lm.score(edited) != before[len(far) :]  # while the edited prompts do fire
    editor.revert()


def test_balancedit_sets_only_the_new_entrys_radius_between_its_samples(world):
    model, tok, requests = world
    editor = Editor(model, tok, "balancedit", initial_radius=1e-6)  # no conflicts: every fact is its own entry
    editor.edit(requests[:2])
    book = attached(model).adapters[f"balancedit@{editor.config.layer}"].component
    keys, radii = book.keys.clone(), book.radii.clone()
    patch = editor.edit(requests[2:3])
    fact = patch.log["facts"][0]
    assert fact["placement"] == "add" and len(book) == 3
    assert torch.equal(book.keys[:2], keys) and torch.equal(book.radii[:2], radii)  # older entries untouched
    assert not fact["conflict"]  # this request's paraphrase is nearer than its neighbour: the radius lies between
    assert fact["d_pos"] <= book.radii[2].item() < fact["d_neg"]
    editor.revert()


def test_a_write_computed_on_another_codebook_is_refused_and_changes_nothing(world):
    model, tok, _ = world
    editor = Editor(model, tok, "grace", steps=2)
    editor.edit(world[2][:1])
    label = f"grace@{editor.config.layer}"
    book = attached(model).adapters[label].component
    state = {name: t.clone() for name, t in book.state_dict().items()}
    width, out = book.in_features, book.out_features
    row = {"keys": torch.zeros(1, width), "radii": torch.ones(1), "values": torch.ones(1, out)}
    stale = CodebookWrite(label, 0, row, ((1,),))  # computed on the empty codebook
    narrow = CodebookWrite(label, 1, {**row, "keys": torch.zeros(1, width - 1)}, ((1,),))
    for write in (stale, narrow):
        with pytest.raises(PatchMismatch):
            Journal(model).add(write)
    assert all(torch.equal(t, state[name]) for name, t in book.state_dict().items())
    editor.revert()


def test_inspect_lists_every_entry_of_a_saved_run_with_the_patch_that_wrote_it(world, tmp_path):
    from typer.testing import CliRunner

    from amend.changes.codebook import codebook_entries
    from amend.cli.app import app

    model, tok, requests = world
    editor = Editor(model, tok, "grace", steps=2)
    for request in requests[:3]:
        editor.edit([request])
    live = attached(model).adapters[f"grace@{editor.config.layer}"].component
    radii, labels = live.radii.tolist(), live.labels()
    editor.save(tmp_path / "run")
    rows = codebook_entries([patch.changes for patch in editor.patches])
    editor.revert()
    assert [row.radius for row in rows] == radii and len(rows) == 3
    assert [row.label for row in rows] == labels
    assert [row.written_by for row in rows] == [0, 1, 2]
    shown = CliRunner().invoke(app, ["inspect", str(tmp_path / "run"), "--tokenizer", "world"])
    assert shown.exit_code == 0, shown.output
    assert f"codebook grace@{editor.config.layer}" in shown.output
    assert repr(tok.decode(list(rows[0].label))) in shown.output


def test_balancedit_calibration_samples_are_never_scored(world):
    from amend.evaluation import EvaluationSettings, evaluate

    model, tok, requests = world
    chosen = requests[:2]
    result = evaluate(model, tok, chosen, "balancedit", settings=EvaluationSettings(mode="single"), steps=2)
    scored = {(s["record"], s["prompt"]) for s in result.samples}
    for request in chosen:
        assert (request.record_id, request.rephrase[0].prompt) not in scored
        assert (request.record_id, request.locality[0].prompt) not in scored
        assert (request.record_id, request.rephrase[1].prompt) in scored
    generated = evaluate(
        model, tok, chosen, "balancedit", settings=EvaluationSettings(mode="single"), steps=2, samples="generated"
    )
    assert (chosen[0].record_id, chosen[0].rephrase[0].prompt) in {
        (s["record"], s["prompt"]) for s in generated.samples
    }


@pytest.mark.parametrize("method", ["grace", "balancedit"])
def test_training_from_the_codebooks_layer_on_gives_the_full_forwards_result(world, method):
    model, tok, requests = world
    trained = {}
    for partial in (True, False):
        editor = Editor(model, tok, method, steps=10, partial_forward=partial)
        patch = editor.edit(requests[:1])
        write = next(change for change in patch.changes if isinstance(change, CodebookWrite))
        trained[partial] = {**write.appended, **write.shared}
        log = patch.log["facts"][0].get("partial_forward")
        assert log == ("checked" if partial else None)
        editor.revert()
    for name, tensor in trained[False].items():
        assert torch.allclose(trained[True][name], tensor, rtol=1e-4, atol=1e-5), name


@pytest.mark.parametrize("output", ["value", "per_entry"])
def test_a_fact_in_training_reads_like_the_codebook_with_it_written(world, output):
    """Training reads the codebook through a gate with the fact placed and the entries' outputs in place (none
    copied): the same firing, entries and outputs as a codebook with the fact's rows written in."""
    model, tok, _ = world
    generator = torch.Generator().manual_seed(0)
    d_in, d_out, n = 4, 3, 3

    def randn(*shape):
        return torch.randn(*shape, generator=generator)

    settings = {"output": "layer", "sharing": "per_entry"} if output == "per_entry" else {}
    outputs = (
        {"values": randn(n, d_out)}
        if output == "value"
        else {"entry_weight": randn(n, d_out, d_in), "entry_bias": randn(n, d_out)}
    )
    rows = {"keys": randn(n, d_in) * 3, "radii": torch.ones(n), **outputs}
    key = randn(d_in) * 3
    trained = {name: randn(*t.shape[1:]) for name, t in outputs.items()}
    # a split: entry 1 shrinks to radius 0.5 and the fact comes in as a new row
    entry = Entry(
        key=key,
        label=(9,),
        rows={"keys": key[None], "radii": torch.tensor([2.0])},
        updated=1,
        replaced={"radii": torch.tensor([0.5])},
        trainable=trained,
    )
    book, written = Codebook(d_in, d_out, **settings), Codebook(d_in, d_out, **settings)
    for codebook in (book, written):
        codebook._append(rows, [(i,) for i in range(n)])
    written.radii[1] = 0.5
    written._append({**entry.rows, **{name: t[None] for name, t in trained.items()}}, [(9,)])
    inputs = randn(2, 6, d_in) * 3
    inputs[0, 1], inputs[0, 4], inputs[1, 0] = rows["keys"][0] + 0.1, key, rows["keys"][2]
    inputs[1, 3] = rows["keys"][1] + 0.35  # 0.7 away: inside entry 1's old radius, outside its split one
    editor = Editor(model, tok, "grace")
    method = editor.method_cls(model, tok, editor.config, editor.resources)
    fires, chosen = method.candidate_gate(book, entry).gate(inputs)
    expected_fires, expected_chosen = written.gate(inputs)
    assert torch.equal(fires, expected_fires) and torch.equal(chosen[fires], expected_chosen[fires])
    assert set(chosen[fires].tolist()) == {0, 2, 3}  # two old entries and the new one fire; the split one not
    got = method.candidate_output(book, entry, inputs[fires], chosen[fires])
    assert torch.allclose(got, written.entry_output(inputs[fires], chosen[fires]), atol=1e-6)
