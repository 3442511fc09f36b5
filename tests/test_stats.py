import pytest
import torch
from helpers import corpus, tiny_model, tokenizer

from amend import storage
from amend.architectures import Component, Site, anatomy
from amend.errors import ConfigError
from amend.hooks import capture
from amend.stats import Corpus, StatsCache, StatsSettings, collect_second_moments, second_moment
from amend.tokens import encode


def _manual_second_moment(body, tok, texts, layer, max_length):
    site = Site(Component.MLP_KEY, layer)
    total, count = 0, 0
    for text in texts:
        ids = torch.tensor([encode(tok, text)[:max_length]])
        with capture(body, [site]) as records, torch.no_grad():
            body.model(input_ids=ids)
        keys = records[site][0].double()
        total = total + keys.T @ keys
        count += keys.shape[0]
    return total, count


def test_second_moment_equals_a_per_document_computation():
    body, tok = anatomy(tiny_model("gpt2")), tokenizer()
    texts = corpus(30)
    settings = StatsSettings(token_budget=10_000, max_length=12, batch_tokens=100)
    moments = collect_second_moments(body, tok, [0, 2], Corpus.from_texts(texts), settings, progress=False)
    for layer in (0, 2):
        total, count = _manual_second_moment(body, tok, texts, layer, 12)
        assert moments[layer].count == count
        # Batched and per-document float32 forwards may take different kernels: agree to float32 accuracy.
        assert torch.allclose(moments[layer].total, total, rtol=1e-6, atol=1e-7 * total.abs().max().item())


def test_token_budget_is_respected():
    body, tok = anatomy(tiny_model("llama")), tokenizer(True)
    settings = StatsSettings(token_budget=50, batch_tokens=64)
    moment = collect_second_moments(body, tok, [1], Corpus.from_texts(corpus(40)), settings, progress=False)[1]
    assert moment.count == 50


def test_cache_loads_instead_of_recomputing_and_keys_on_what_matters(tmp_path):
    body, tok = anatomy(tiny_model("gpt2")), tokenizer()
    cache = StatsCache(tmp_path)
    texts = Corpus.from_texts(corpus(20))
    settings = StatsSettings(token_budget=200)
    first = cache.second_moments(body, tok, [1], texts, settings, progress=False)[1]
    assert cache.computed == 1
    files = list(tmp_path.rglob("*.safetensors"))
    assert len(files) == 1 and "mlp.c_proj" in str(files[0]) and "200tok" in files[0].name
    again = cache.second_moments(body, tok, [1], texts, settings, progress=False)[1]
    assert cache.computed == 1 and torch.equal(again.total, first.total) and again.count == first.count
    cache.second_moments(body, tok, [1], texts, StatsSettings(token_budget=100), progress=False)
    cache.second_moments(body, tok, [1], Corpus.from_texts(corpus(20, seed=5)), settings, progress=False)
    cache.second_moments(body, tok, [1], texts, StatsSettings(token_budget=200, dtype="float32"), progress=False)
    other_model = anatomy(tiny_model("gpt2", seed=1))
    cache.second_moments(other_model, tok, [1], texts, settings, progress=False)
    assert cache.computed == 5 and len(list(tmp_path.rglob("*.safetensors"))) == 5


def test_corpus_identity_follows_content(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("one\n\ntwo\n")
    first = Corpus.from_file(path)
    assert list(first) == ["one", "two"]
    path.write_text("one\nthree\n")
    assert Corpus.from_file(path).identity != first.identity
    assert Corpus.from_texts(["a"]).identity == Corpus.from_texts(["a"]).identity != Corpus.from_texts(["b"]).identity


def test_read_only_roots_are_searched_and_never_written(tmp_path):
    body, tok = anatomy(tiny_model("gpt2")), tokenizer()
    texts, settings = Corpus.from_texts(corpus(20)), StatsSettings(token_budget=200)
    shipped = StatsCache(tmp_path / "shipped")
    first = shipped.second_moments(body, tok, [1], texts, settings, progress=False)[1]
    user = StatsCache(tmp_path / "user", read_only=[tmp_path / "shipped"])
    again = user.second_moments(body, tok, [1], texts, settings, progress=False)[1]
    assert user.computed == 0 and torch.equal(again.total, first.total)
    assert not (tmp_path / "user").exists()
    user.second_moments(body, tok, [0], texts, settings, progress=False)  # missing there: computed, written here
    assert user.computed == 1 and list((tmp_path / "user").rglob("*.safetensors"))
    assert len(list((tmp_path / "shipped").rglob("*.safetensors"))) == 1


def test_a_writer_that_dies_mid_write_leaves_no_cache_file(tmp_path, monkeypatch):
    body, tok = anatomy(tiny_model("gpt2")), tokenizer()
    texts, settings = Corpus.from_texts(corpus(20)), StatsSettings(token_budget=200)
    cache = StatsCache(tmp_path)
    cache.second_moments(body, tok, [1], texts, settings, progress=False)
    real_save = storage.save_file

    def dies_half_way(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save_file", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        cache.projectors(body, tok, [1], texts, settings, 0.01, "relative", progress=False)
    assert [f.name for f in tmp_path.rglob("*") if f.is_file()] == [
        f.name for f in tmp_path.rglob("*.safetensors") if "__P" not in f.name
    ]  # only the moments: no projector under its name, no temporary file left
    monkeypatch.setattr(storage, "save_file", real_save)
    projector = cache.projectors(body, tok, [1], texts, settings, 0.01, "relative", progress=False)[1]
    again = StatsCache(tmp_path).projectors(body, tok, [1], texts, settings, 0.01, "relative", progress=False)[1]
    assert torch.equal(again, projector) and torch.allclose(projector @ projector, projector, atol=1e-6)
    reference = tmp_path / "plain"
    reference.write_bytes(b"")
    written = [f for f in tmp_path.rglob("*.safetensors") if "__P" in f.name]
    assert [f.stat().st_mode & 0o777 for f in written] == [reference.stat().st_mode & 0o777]  # shareable as usual


def test_documents_are_drawn_in_a_seeded_random_order_from_a_list_or_a_file(tmp_path):
    texts = [f"document number {i}" for i in range(50)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(texts) + "\n")  # blank lines are not documents
    listed, filed = Corpus.from_texts(texts), Corpus.from_file(path)
    assert list(listed.sample(None)) == list(filed.sample(None)) == texts
    drawn = list(listed.sample(0))
    assert sorted(drawn) == sorted(texts) and drawn != texts
    assert drawn == list(listed.sample(0)) != list(listed.sample(1))
    assert list(filed.sample(0)) == drawn  # the file is read by offsets in the same seeded order


def test_a_budget_takes_a_seeded_sample_of_the_corpus_and_the_file_says_which(tmp_path):
    body, tok = anatomy(tiny_model("gpt2")), tokenizer()
    texts = Corpus.from_texts(corpus(60))
    cache = StatsCache(tmp_path)
    first = cache.second_moments(
        body, tok, [1], texts, StatsSettings(token_budget=150, sample_seed=None), progress=False
    )
    drawn = cache.second_moments(body, tok, [1], texts, StatsSettings(token_budget=150), progress=False)
    assert first[1].count == drawn[1].count == 150 and not torch.allclose(first[1].total, drawn[1].total)
    names = sorted(f.name for f in tmp_path.rglob("*.safetensors"))
    assert len(names) == 2 and names[1].endswith("__seed1.safetensors") and "seed" not in names[0]
    with pytest.raises(ConfigError, match="sample_seed"):
        StatsSettings(sample_seed="0")


def test_outer_products_in_float32_blocks_sum_to_the_float64_product(monkeypatch):
    keys = torch.randn(300, 16)
    exact = keys.double().T @ keys.double()
    monkeypatch.setattr(second_moment, "PRODUCT_BLOCK", 7)
    blocked = second_moment.outer_sum(keys, torch.float64)
    assert blocked.dtype == torch.float64
    assert torch.allclose(blocked, exact, rtol=1e-6, atol=1e-6 * float(exact.abs().max()))


def test_batches_group_documents_of_similar_length_and_keep_every_token():
    tok = tokenizer()
    texts = corpus(40)
    settings = StatsSettings(token_budget=10_000, batch_tokens=64)
    batches = list(second_moment._token_batches(tok, Corpus.from_texts(texts), settings, 128))
    rows = [row for batch in batches for row in batch]
    assert sorted(map(tuple, rows)) == sorted(tuple(encode(tok, text)) for text in texts)
    assert all(len(batch) * max(map(len, batch)) <= 64 or len(batch) == 1 for batch in batches)
    assert all(list(map(len, batch)) == sorted(map(len, batch)) for batch in batches)
