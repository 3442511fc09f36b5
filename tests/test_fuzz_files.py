"""Fuzzing the loaders of files from elsewhere: a saved patch and a saved run folder, mutated at random (a JSON
field replaced, removed or retyped, a file cut short, bytes flipped), never give anything but amend's own errors, and
never leave the model changed. A patch that still loads and applies reverts bit for bit."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from helpers import ROME_TEST_SETTINGS, SUBJECTS, corpus, edit_request, tokenizer, trained_tiny_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amend
from amend import Patch
from amend.changes import attached
from amend.errors import AmendError
from amend.fingerprint import fingerprint
from amend.stats import Corpus
from contract_methods import Remember, Steer

CORPUS = Corpus.from_texts(corpus())
EXAMPLES = 100
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A model, and a run folder of patches on it: ROME's weight deltas, an adapter, context facts, a codebook and
    its writes (GRACE), an attached LoRA adapter."""
    root = tmp_path_factory.mktemp("saved")
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    requests = [edit_request("{} works for", SUBJECTS[i]) for i in range(3)]
    rome = amend.Editor(model, tok, "rome", corpus=CORPUS, cache_dir=root / "cache", **ROME_TEST_SETTINGS)
    rome.edit(requests[:1])
    rome.save(root / "run")
    steer = amend.Editor(model, tok, Steer).edit(requests[1:2])
    remember = amend.Editor(model, tok, Remember).edit(requests[2:])
    grace = amend.Editor(model, tok, "grace", steps=2, layer=1).edit(requests[:2])
    lora = amend.Editor(model, tok, "lora", steps=2, layers=[1], merged=False).edit(requests[:1])
    saved = (("rome", rome.patches[0]), ("steer", steer), ("remember", remember), ("grace", grace), ("lora", lora))
    for name, patch in saved:
        patch.save(root / name)
    lora.revert()
    grace.revert()
    remember.revert()
    steer.revert()
    rome.revert()
    return model, tok, root


def _mutate_json(value, path: list, replacement, delete: bool):
    """``value`` with the element at ``path`` replaced (or deleted)."""
    if not path:
        return replacement
    key, rest = path[0], path[1:]
    copy = list(value) if isinstance(value, list) else dict(value)
    if rest:
        copy[key] = _mutate_json(copy[key], rest, replacement, delete)
    elif delete:
        del copy[key]
    else:
        copy[key] = replacement
    return copy


def _paths(value, prefix=()) -> list[list]:
    """Every path to an element of a JSON value."""
    out = [list(prefix)]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        out += _paths(item, (*prefix, key))
    return out


@st.composite
def mutations(draw, files: tuple[str, ...]):
    kind = draw(st.sampled_from(["json", "json", "truncate", "flip"]))
    return kind, draw(st.sampled_from(files)), draw(st.integers(0, 10**6)), draw(JSON), draw(st.booleans())


def _apply_mutation(folder: Path, json_file: str, mutation) -> None:
    kind, file, where, replacement, delete = mutation
    if kind == "json":
        meta = json.loads((folder / json_file).read_text())
        paths = _paths(meta)
        path = paths[where % len(paths)]
        mutated = _mutate_json(meta, path, replacement, delete and bool(path))
        (folder / json_file).write_text(json.dumps(mutated))
        return
    data = (folder / file).read_bytes()
    if kind == "truncate":
        (folder / file).write_bytes(data[: where % max(1, len(data))])
    else:
        index = where % len(data)
        (folder / file).write_bytes(data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :])


def _unchanged(model, pristine: dict[str, torch.Tensor]) -> bool:
    state = model.state_dict()
    return not attached(model) and all(torch.equal(state[name], pristine[name]) for name in pristine)


@pytest.mark.parametrize("name", ["rome", "steer", "remember", "grace", "lora"])
@FUZZ
@given(mutation=mutations(("patch.json", "tensors.safetensors")))
def test_a_mutated_patch_gives_only_amend_errors_and_leaves_the_model(saved, name, mutation):
    model, _, root = saved
    pristine = {k: v.clone() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / name
        shutil.copytree(root / name, folder)
        _apply_mutation(folder, "patch.json", mutation)
        try:
            patch = Patch.load(folder).apply(model)
        except AmendError:
            assert _unchanged(model, pristine)
            return
        patch.revert()  # a mutation that still loads and applies is one that changes nothing the patch holds
        assert _unchanged(model, pristine)


@FUZZ
@given(mutation=mutations(("editor.json", "state_00001.safetensors", "patches/00000/patch.json")))
def test_a_mutated_run_folder_gives_only_amend_errors_and_leaves_the_model(saved, mutation):
    model, tok, root = saved
    pristine = {k: v.clone() for k, v in model.state_dict().items()}
    base = fingerprint(model)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "run"
        shutil.copytree(root / "run", folder)
        _apply_mutation(folder, "editor.json", mutation)
        try:
            editor = amend.Editor.load(folder, model, tok, corpus=CORPUS, cache_dir=root / "cache")
        except AmendError:
            assert _unchanged(model, pristine) and fingerprint(model) == base
            return
        editor.revert()
        assert _unchanged(model, pristine)
