"""A statistics cache file is used only if it is what its name says: the key in its header matches, its tensors read
back whole, hold plausible values and match the content digest written beside them. Anything else is refused with
a message naming the file, what is wrong and that deleting it has the statistics recomputed."""

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from helpers import BATCH_TEST_SETTINGS, batch_test_requests, corpus, tiny_model, tokenizer
from safetensors import safe_open
from safetensors.torch import save_file

import amend
import amend.stats.cache as cache_module
from amend import storage
from amend.architectures import Anatomy, anatomy
from amend.errors import AmendError, CacheError, ConfigError
from amend.fingerprint import fingerprint
from amend.stats import Corpus, SecondMoment, StatsCache, StatsSettings

TEXTS = Corpus.from_texts(corpus(20))
SETTINGS = StatsSettings(token_budget=200)
THRESHOLD, MODE = 0.01, "relative"


@dataclass
class Cached:
    body: Anatomy
    root: Path
    moment: SecondMoment
    projector: torch.Tensor

    @property
    def moment_file(self) -> Path:
        return next(f for f in self.root.rglob("*.safetensors") if "__P" not in f.name and ".h.1." in str(f))

    @property
    def projector_file(self) -> Path:
        return next(self.root.rglob("*__P*.safetensors"))

    def moments(self, layers=(1,), body: Anatomy | None = None) -> dict[int, SecondMoment]:
        cache = StatsCache(self.root)
        found = cache.second_moments(body or self.body, tokenizer(), list(layers), TEXTS, SETTINGS, progress=False)
        assert cache.computed == 0  # loaded, never recomputed over the file
        return found

    def projectors(self, threshold: float = THRESHOLD) -> dict[int, torch.Tensor]:
        cache = StatsCache(self.root)
        found = cache.projectors(self.body, tokenizer(), [1], TEXTS, SETTINGS, threshold, MODE, progress=False)
        assert cache.computed == 0
        return found


@pytest.fixture
def cached(tmp_path) -> Cached:
    body = anatomy(tiny_model("gpt2"))
    cache = StatsCache(tmp_path)
    moment = cache.second_moments(body, tokenizer(), [1], TEXTS, SETTINGS, progress=False)[1]
    projector = cache.projectors(body, tokenizer(), [1], TEXTS, SETTINGS, THRESHOLD, MODE, progress=False)[1]
    return Cached(body, tmp_path, moment, projector)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as handle:
        names = list(handle.keys())
        return {name: handle.get_tensor(name) for name in names}, dict(handle.metadata() or {})


def _rewrite(path: Path, digest: str = "kept", drop: tuple[str, ...] = (), change=None, **header: str) -> None:
    """Rewrite a cache file with its tensors passed through ``change`` and its header edited. ``digest``: ``"kept"``
    leaves the digest as written (the file no longer matches it), ``"valid"`` recomputes it over the new content
    (only the value checks can catch the file), ``"absent"`` removes it (a file written before digests)."""
    tensors, meta = _read(path)
    tensors = change(tensors) if change else tensors
    meta = {key: value for key, value in {**meta, **header}.items() if key not in drop}
    if digest == "absent":
        meta.pop("sha256", None)
    elif digest == "valid" and "sha256" in meta:
        meta["sha256"] = storage.tensors_digest(tensors, meta)
    save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(path), metadata=meta or None)


def _refused(load, path: Path, problem: str) -> None:
    with pytest.raises(CacheError) as caught:
        load()
    message = str(caught.value)
    assert isinstance(caught.value, AmendError)
    assert str(path) in message and "delete" in message.lower(), message
    assert problem.lower() in message.lower(), message


def _scale(factor):
    return lambda tensors: {name: tensor * factor for name, tensor in tensors.items()}


def _fill(value):
    return lambda tensors: {name: torch.full_like(tensor, value) for name, tensor in tensors.items()}


def _poke(value):
    def change(tensors):
        out = {name: tensor.clone() for name, tensor in tensors.items()}
        for tensor in out.values():
            tensor[3, 5] = value
        return out

    return change


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint8", "bool", "float16", "bfloat16", "complex128", "floaty"])
def test_a_stats_dtype_other_than_float32_or_float64_is_refused_when_settings_are_made(dtype):
    with pytest.raises(ConfigError, match=f"'{dtype}'"):
        StatsSettings(dtype=dtype)
    assert StatsSettings(dtype="float32").dtype == "float32" and StatsSettings().dtype == "float64"


@pytest.mark.parametrize(
    ("field", "value"), [("token_budget", 0), ("token_budget", -5), ("batch_tokens", 0), ("max_length", 0)]
)
def test_sizes_that_would_key_a_junk_file_are_refused_when_settings_are_made(field, value):
    with pytest.raises(ConfigError, match=field):
        StatsSettings(**{field: value})


def test_an_integer_stats_dtype_stops_an_edit_before_anything_is_computed_or_written(tmp_path):
    model, tok = tiny_model("gpt2"), tokenizer()
    before = fingerprint(model)
    options = {**BATCH_TEST_SETTINGS, "stats_tokens": 200, "stats_dtype": "int8"}
    with pytest.raises(ConfigError, match="int8"):  # refused with the config, before any edit is run
        amend.Editor(model, tok, "memit", corpus=TEXTS, cache_dir=tmp_path, **options).edit(batch_test_requests())
    assert not [f for f in tmp_path.rglob("*") if f.is_file()]  # nothing in the shared cache
    assert fingerprint(model) == before


def test_a_file_from_another_model_or_module_copied_into_place_is_refused(cached):
    other = anatomy(tiny_model("gpt2", seed=1))
    cache = StatsCache(cached.root)
    cache.second_moments(other, tokenizer(), [0, 1], TEXTS, SETTINGS, progress=False)
    own_dir = cached.moment_file.parents[2]
    [other_dir] = [d for d in cached.root.iterdir() if d != own_dir]
    name = cached.moment_file.name
    layer0 = other_dir / "transformer.h.0.mlp.c_proj" / "mom2" / name
    (other_dir / "transformer.h.1.mlp.c_proj" / "mom2" / name).write_bytes(cached.moment_file.read_bytes())
    target = other_dir / "transformer.h.1.mlp.c_proj" / "mom2" / name
    _refused(lambda: cached.moments(body=other), target, "fingerprint")
    target.write_bytes(layer0.read_bytes())  # the same model's, but the statistics of another layer
    _refused(lambda: cached.moments(body=other), target, "transformer.h.0.mlp.c_proj")


def test_a_file_for_another_key_renamed_into_place_is_refused(cached):
    _rewrite(cached.moment_file, digest="valid", token_budget="100")
    _refused(cached.moments, cached.moment_file, "token_budget")
    _rewrite(cached.moment_file, digest="valid", token_budget="200", corpus="texts-0000000000000000")
    _refused(cached.moments, cached.moment_file, "corpus")


@pytest.mark.parametrize("digest", ["valid", "absent"])
@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (dict(change=_fill(0.0)), "all zeros"),
        (dict(change=_poke(float("nan"))), "not finite"),
        (dict(change=_poke(float("inf"))), "not finite"),
        (dict(change=_scale(-1.0)), "negative"),
        (dict(drop=("count",)), "count"),
        (dict(count="0"), "count"),
        (dict(count="2.5"), "count"),
        (dict(count="100000"), "count"),  # more keys than the token budget allows
        (dict(change=lambda t: {"total": t["total"][:32, :32]}), "shape"),
        (dict(change=lambda t: {"total": t["total"][:, :63]}), "shape"),
        (dict(change=lambda t: {"mean": t["total"]}), "total"),
        (dict(change=lambda t: {**t, "extra": t["total"].clone()}), "extra"),
        (dict(change=lambda t: {"total": t["total"].float()}), "float32"),
        (dict(drop=("fingerprint",)), "fingerprint"),
    ],
)
def test_a_second_moment_file_with_bad_content_is_refused(cached, edit, problem, digest):
    _rewrite(cached.moment_file, digest=digest, **edit)
    _refused(cached.moments, cached.moment_file, problem)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_scale(1000.0), "digest"),
        (lambda t: {"total": t["total"].half()}, "float16"),
        (lambda t: {"total": t["total"] * (1 + 2**-40)}, "digest"),  # only the last bits differ
        (_poke(0.125), "digest"),
    ],
)
def test_a_tampered_file_is_refused_by_its_content_digest(cached, change, problem):
    _rewrite(cached.moment_file, digest="kept", change=change)
    _refused(cached.moments, cached.moment_file, problem)


def test_a_changed_count_is_refused_by_the_digest(cached):
    _rewrite(cached.moment_file, digest="kept", count=str(cached.moment.count - 1))
    _refused(cached.moments, cached.moment_file, "digest")


def test_flipped_bytes_in_the_tensor_data_are_refused(cached):
    data = bytearray(cached.moment_file.read_bytes())
    data[-500] ^= 0x40
    cached.moment_file.write_bytes(bytes(data))
    _refused(cached.moments, cached.moment_file, "digest")


@pytest.mark.parametrize("keep", [-100, 8, 0])
def test_a_truncated_or_unreadable_file_is_refused(cached, keep):
    data = cached.moment_file.read_bytes()
    cached.moment_file.write_bytes(data[:keep])
    _refused(cached.moments, cached.moment_file, "corrupt")
    cached.projector_file.write_bytes(b"not a safetensors file at all")
    _refused(cached.projectors, cached.projector_file, "corrupt")


def test_a_file_written_before_digests_still_loads_and_is_checked_otherwise(cached):
    _rewrite(cached.moment_file, digest="absent", drop=("module",))
    again = cached.moments()[1]
    assert torch.equal(again.total, cached.moment.total) and again.count == cached.moment.count
    _rewrite(cached.projector_file, digest="absent", drop=tuple(_read(cached.projector_file)[1]))
    assert _read(cached.projector_file)[1] == {}  # as projectors were written before they had a header
    assert torch.equal(cached.projectors()[1], cached.projector)


def test_valid_files_round_trip_bit_for_bit_with_the_digest_in_the_header(cached):
    _, meta = _read(cached.moment_file)
    assert meta["sha256"] and meta["module"] == "transformer.h.1.mlp.c_proj"
    assert meta["count"] == str(cached.moment.count) and meta["dtype"] == "float64"
    again = cached.moments()[1]
    assert torch.equal(again.total, cached.moment.total) and again.total.dtype == torch.float64
    _, meta = _read(cached.projector_file)
    assert meta["sha256"] and meta["threshold"] == repr(THRESHOLD) and meta["mode"] == MODE
    assert torch.equal(cached.projectors()[1], cached.projector)


@pytest.mark.parametrize("digest", ["valid", "absent"])
@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (dict(change=lambda t: {"projector": t["projector"][:32, :32]}), "shape"),
        (dict(change=lambda t: {"projector": t["projector"][:-1]}), "shape"),
        (dict(change=lambda t: {"projector": t["projector"][None]}), "shape"),
        (dict(change=_poke(float("nan"))), "not finite"),
        (dict(change=_scale(1000.0)), "magnitude"),
        (dict(change=lambda t: {"projector": t["projector"].float()}), "float32"),
        (dict(change=lambda t: {"p": t["projector"]}), "projector"),
    ],
)
def test_a_projector_file_with_bad_content_is_refused(cached, edit, problem, digest):
    _rewrite(cached.projector_file, digest=digest, **edit)
    _refused(cached.projectors, cached.projector_file, problem)


def test_a_projector_file_for_another_threshold_or_model_is_refused(cached):
    _rewrite(cached.projector_file, digest="valid", threshold="0.02")
    _refused(cached.projectors, cached.projector_file, "threshold")
    _rewrite(cached.projector_file, digest="valid", threshold=repr(THRESHOLD), fingerprint="0" * 64)
    _refused(cached.projectors, cached.projector_file, "fingerprint")


def test_a_tampered_projector_is_refused_by_its_content_digest(cached):
    _rewrite(cached.projector_file, digest="kept", change=_scale(0.5))
    _refused(cached.projectors, cached.projector_file, "digest")


def test_statistics_that_are_not_finite_are_never_written(tmp_path, monkeypatch):
    def overflowed(anatomy, tokenizer, layers, corpus, settings, *, progress=True):
        return {layer: SecondMoment(torch.full((64, 64), float("inf"), dtype=torch.float64), 200) for layer in layers}

    monkeypatch.setattr(cache_module, "collect_second_moments", overflowed)
    cache = StatsCache(tmp_path)
    with pytest.raises(CacheError, match="not finite"):
        cache.second_moments(anatomy(tiny_model("gpt2")), tokenizer(), [1], TEXTS, SETTINGS, progress=False)
    assert not list(tmp_path.rglob("*.safetensors"))


def _memit_batches():
    requests = batch_test_requests()
    return [requests[:2], requests[2:]]


def test_edits_of_an_edited_model_use_the_unedited_models_statistics(tmp_path):
    """A loop of amend.edit calls computes the statistics once, from the unedited model, as one Editor does: the
    cache remembers which model each edit produced. The two ways give bit-identical weights."""
    options = {**BATCH_TEST_SETTINGS, "stats_tokens": 200}
    texts = Corpus.from_texts(corpus(20))
    looped, sequenced = tiny_model("gpt2"), tiny_model("gpt2")
    loop_cache, editor_cache = StatsCache(tmp_path / "loop"), StatsCache(tmp_path / "editor")
    for batch in _memit_batches():
        amend.edit(looped, tokenizer(), batch, "memit", cache_dir=loop_cache, corpus=texts, **options)
    assert loop_cache.computed == 2  # layers 0 and 1, once
    editor = amend.Editor(sequenced, tokenizer(), "memit", cache_dir=editor_cache, corpus=texts, **options)
    for batch in _memit_batches():
        editor.edit(batch)
    pairs = zip(looped.state_dict().values(), sequenced.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert loop_cache.unedited(fingerprint(looped)) == fingerprint(tiny_model("gpt2"))


def test_statistics_missing_for_the_unedited_model_come_from_the_edited_one_with_a_warning(tmp_path):
    model, texts = tiny_model("gpt2"), Corpus.from_texts(corpus(20))
    cache = StatsCache(tmp_path)
    unedited = fingerprint(model)
    options = {**BATCH_TEST_SETTINGS, "stats_tokens": 200, "layers": (0,)}
    amend.edit(model, tokenizer(), _memit_batches()[0], "memit", cache_dir=cache, corpus=texts, **options)
    edited = fingerprint(model)
    with pytest.warns(amend.stats.EditedStatisticsWarning, match="layer 1"):
        amend.edit(
            model,
            tokenizer(),
            _memit_batches()[1],
            "memit",
            cache_dir=cache,
            corpus=texts,
            **options | {"layers": (0, 1)},
        )
    owners = {path.relative_to(tmp_path).parts[0] for path in tmp_path.rglob("*mom2*/*.safetensors")}
    assert owners == {unedited[:20], edited[:20]}  # layer 0 from the unedited model, layer 1 from the edited one


@pytest.mark.parametrize(
    "record", ['{"edited": "abc", "unedited": "def"}', "[1, 2]", "not json", '{"edited": "X", "unedited": "Y"}']
)
def test_a_lineage_file_that_is_not_a_record_of_this_model_is_refused(tmp_path, record):
    model_id, other = "a" * 64, "b" * 64
    path = tmp_path / "lineage" / f"{model_id[:40]}.json"
    path.parent.mkdir()
    path.write_text(record.replace('"X"', f'"{other}"').replace('"Y"', f'"{other}"'))
    with pytest.raises(CacheError, match=r"lineage|JSON|json"):
        StatsCache(tmp_path).unedited(model_id)
