"""Files from elsewhere are data, and a run never silently does something else than asked: resume with other
settings refused naming each, saved runs read no paths, tampered or truncated patches and runs refused with amend's
own errors, the post-edit fingerprint checked after apply, every written file with the same permissions."""

import json
import os

import pytest
import torch
from helpers import ROME_TEST_SETTINGS, corpus, edit_request, tokenizer, trained_tiny_model, world_like_requests
from safetensors import safe_open
from safetensors.torch import save_file

import amend
from amend import Patch, PatchMismatch
from amend.errors import RunMismatch
from amend.evaluation import EvaluationSettings, evaluate
from amend.evaluation.sequential import SequentialSettings
from amend.stats import Corpus

CORPUS = Corpus.from_texts(corpus())
REQUESTS = [edit_request("The mother tongue of {} is", "Danielle Darrieux"), edit_request("{} works for", "Apple A5")]


def _sequential(model, tmp_path, requests, resume=False, batch_size=2, method="rome", **overrides):
    """A small sequential run saved in ``tmp_path/run`` (ROME's test settings; other methods take all but the layer)."""
    settings = SequentialSettings(edit_batch_size=batch_size, run_dir=tmp_path / "run", save_every=1, resume=resume)
    shared = {k: v for k, v in ROME_TEST_SETTINGS.items() if method == "rome" or k != "layer"}
    return evaluate(
        model,
        tokenizer(),
        requests,
        method,
        settings=EvaluationSettings("sequential", progress=False, sequential=settings),
        corpus=CORPUS,
        cache_dir=tmp_path / "cache",
        **{**shared, **overrides},
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("run")
    _sequential(trained_tiny_model("gpt2"), tmp_path, world_like_requests(4))
    return tmp_path


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"v_lr": 0.1}, "config.v_lr: saved 0.5, now 0.1"),
        ({"batch_size": 1}, "edit_batch_size: saved 2, now 1"),
        ({"requests": 3}, "requests: saved 4, now 3"),
        ({"method": "memit", "layers": (0,)}, "method: saved 'rome', now 'memit'"),
    ],
)
def test_a_resume_with_other_settings_is_refused_naming_each(finished_run, change, named):
    requests = world_like_requests(change.pop("requests", 4))
    batch_size = change.pop("batch_size", 2)
    method = change.pop("method", "rome")
    model = trained_tiny_model("gpt2")
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(RunMismatch, match="cannot resume") as refused:
        _sequential(model, finished_run, requests, True, batch_size, method, **change)
    assert named in str(refused.value)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_same_requests_drawn_otherwise_are_named_as_other_requests(finished_run):
    other = world_like_requests(5)[1:]  # four requests, but not the four the run edits
    with pytest.raises(RunMismatch, match="requests: not the ones the run edits"):
        _sequential(trained_tiny_model("gpt2"), finished_run, other, True)


def test_a_truncated_or_incomplete_run_folder_gives_a_clear_error(tmp_path):
    _sequential(trained_tiny_model("gpt2"), tmp_path, REQUESTS, batch_size=1)
    run = tmp_path / "run"
    text = (run / "editor.json").read_text()
    (run / "editor.json").write_text(text[: len(text) // 2])
    with pytest.raises(RunMismatch, match=r"editor\.json is not valid JSON"):
        _sequential(trained_tiny_model("gpt2"), tmp_path, REQUESTS, True, 1)
    (run / "editor.json").write_text(text)
    state = json.loads(text)["state_file"]
    (run / state).unlink()
    with pytest.raises(RunMismatch, match=f"{state} is missing"):
        amend.Editor.load(run, trained_tiny_model("gpt2"), tokenizer(), corpus=CORPUS)
    meta = json.loads(text)
    del meta["extra"]["batches_done"]
    (run / "editor.json").write_text(json.dumps(meta))
    with pytest.raises(RunMismatch, match="progress is incomplete"):
        _sequential(trained_tiny_model("gpt2"), tmp_path, REQUESTS, True, 1)


def test_a_saved_run_never_reads_a_path_from_its_files(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    editor = amend.Editor(model, tok, "rome", corpus=CORPUS, cache_dir=tmp_path / "cache", **ROME_TEST_SETTINGS)
    editor.edit(REQUESTS[:1])
    editor.save(tmp_path / "run")
    editor.revert()
    meta = json.loads((tmp_path / "run" / "editor.json").read_text())
    meta["config"]["stats_corpus"] = "/etc/passwd"
    (tmp_path / "run" / "editor.json").write_text(json.dumps(meta))
    with pytest.raises(RunMismatch, match="paths are not taken from a saved run"):
        amend.Editor.load(tmp_path / "run", model, tok, cache_dir=tmp_path / "cache")
    loaded = amend.Editor.load(tmp_path / "run", model, tok, corpus=CORPUS, cache_dir=tmp_path / "cache")
    assert loaded.config.stats_corpus != "/etc/passwd" and len(loaded.patches) == 1
    loaded.revert()


@pytest.fixture
def saved_patch(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    patch = amend.edit(model, tok, REQUESTS, "rome", corpus=CORPUS, cache_dir=tmp_path / "cache", **ROME_TEST_SETTINGS)
    patch.save(tmp_path / "patch")
    patch.revert()
    return tmp_path / "patch", model


def _rewrite_tensors(folder, change, keep_header=True):
    file = folder / "tensors.safetensors"
    with safe_open(str(file), framework="pt") as handle:
        header = handle.metadata()
        tensors = {name: change(handle.get_tensor(name)) for name in handle.keys()}  # noqa: SIM118
    save_file(tensors, str(file), metadata=header if keep_header else None)


@pytest.mark.parametrize(
    ("tamper", "refusal"),
    [
        (lambda t: t * 1000, "do not match the digest"),
        (lambda t: t.half(), "do not match the digest"),
    ],
)
def test_tampered_patch_tensors_are_refused(saved_patch, tamper, refusal):
    folder, _ = saved_patch
    _rewrite_tensors(folder, tamper)
    with pytest.raises(PatchMismatch, match=refusal):
        Patch.load(folder)


def test_a_patch_whose_changes_are_not_its_recorded_result_is_refused_after_apply(saved_patch):
    """Consistent files (digests recomputed) that do not give the model the patch says they give: refused, and the
    model is left as it was."""
    from amend.storage import DIGEST_KEY, tensors_digest

    folder, model = saved_patch
    _rewrite_tensors(folder, lambda t: t * 2, keep_header=False)
    with safe_open(str(folder / "tensors.safetensors"), framework="pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    digest = tensors_digest(tensors)
    save_file(tensors, str(folder / "tensors.safetensors"), metadata={DIGEST_KEY: digest})
    meta = json.loads((folder / "patch.json").read_text())
    (folder / "patch.json").write_text(json.dumps({**meta, "tensors_digest": digest}))
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(PatchMismatch, match=r"not the \w+ it recorded"):
        Patch.load(folder).apply(model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("broken", ["truncated json", "truncated tensors", "missing field", "swapped tensors"])
def test_a_broken_patch_folder_gives_amends_own_error(saved_patch, tmp_path, broken):
    folder, _ = saved_patch
    meta_text = (folder / "patch.json").read_text()
    if broken == "truncated json":
        (folder / "patch.json").write_text(meta_text[:100])
    elif broken == "truncated tensors":
        data = (folder / "tensors.safetensors").read_bytes()
        (folder / "tensors.safetensors").write_bytes(data[: len(data) // 2])
    elif broken == "missing field":
        meta = json.loads(meta_text)
        del meta["base_fingerprint"]
        (folder / "patch.json").write_text(json.dumps(meta))
    else:
        meta = json.loads(meta_text)
        meta["tensors_digest"] = "0" * 64
        (folder / "patch.json").write_text(json.dumps(meta))
    with pytest.raises(PatchMismatch, match=r"patch\.json|tensors\.safetensors|base_fingerprint"):
        Patch.load(folder)


def test_every_file_a_run_or_patch_writes_has_the_same_permissions(tmp_path):
    _sequential(trained_tiny_model("gpt2"), tmp_path, REQUESTS, batch_size=1)
    mask = os.umask(0o022)
    os.umask(mask)
    files = [path for path in (tmp_path / "run").rglob("*") if path.is_file()]
    assert {path.suffix for path in files} == {".json", ".safetensors"}
    assert {path.stat().st_mode & 0o777 for path in files} == {0o666 & ~mask}


def test_requests_that_cannot_work_are_refused_before_editing(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    before = [p.detach().clone() for p in model.parameters()]
    editor = amend.Editor(model, tok, "rome", corpus=CORPUS, cache_dir=tmp_path, **ROME_TEST_SETTINGS)
    long_prompt = "Rain fell. " * 100 + "{} works for"
    too_long = amend.EditRequest(long_prompt, "Apple A5", "Tokyo", id="long")
    refusal = r"record 'long', field 'prompt'.*longer than the model's context of 128"
    with pytest.raises(amend.RecordError, match=refusal):
        editor.edit([too_long])
    first = amend.EditRequest("{} works for", "Apple A5", "Tokyo", id="a")
    clash = amend.EditRequest("{} works for", "Apple A5", "Nokia", id="b")
    with pytest.raises(amend.RecordError, match=r"record 'b', field 'target_new'.*conflicts with record 'a'"):
        editor.edit([first, clash])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(amend.RecordError, match="field 'target_new': equals target_true"):
        amend.EditRequest("{} works for", "Apple A5", "Tokyo", "Tokyo", id="same")


def test_a_subject_of_unknown_tokens_only_is_refused():
    model, tok, _ = amend.world.load()
    request = amend.EditRequest("{} was born in", "Zorblax Quuxington", "Paris", id="nobody")
    with pytest.raises(amend.RecordError, match=r"record 'nobody', field 'subject'.*only unknown tokens"):
        amend.Editor(model, tok, "rome").edit(request)


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("mom2_update_weight", -1.0, "mom2_update_weight must not be negative"),
        ("v_lr", float("nan"), "v_lr must be finite"),
        ("v_lr", "abc", "v_lr must be a float, got 'abc'"),
        ("v_num_grad_steps", 0, "v_num_grad_steps must be positive"),
        ("layers", (0, "x"), "layers must be a int"),
    ],
)
def test_config_values_outside_their_domain_are_refused(field, value, refusal):
    with pytest.raises(amend.ConfigError, match=refusal):
        amend.editing.method_config("memit", trained_tiny_model("gpt2"), {field: value})


@pytest.mark.parametrize(
    "args", [["-n", "0"], ["--forward-batch-size", "0"], ["--batch-size", "0"], ["--num-edits", "-1"]]
)
def test_cli_numbers_outside_their_domain_are_usage_errors(args, tmp_path):
    from typer.testing import CliRunner

    from amend.cli.app import app

    result = CliRunner().invoke(app, ["evaluate", "--testbed", "world", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Invalid value" in result.output  # a usage error, before any work
