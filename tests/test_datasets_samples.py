"""Every real sample in the shared data folder loads completely, and a few records match the raw JSON field by field."""

import json
from pathlib import Path

import pytest

import amend
from amend import EditRequest, Probe, Rephrase, datasets
from amend.datasets import MultimodalRequest

DATA = Path("/work/shared/data")
SAMPLES = [
    ("counterfact-easyedit", "counterfact-easyedit/counterfact-edit.first300.json"),
    ("counterfact-easyedit", "counterfact-easyedit/counterfact-train.first300.json"),
    ("counterfact-easyedit", "counterfact-easyedit/counterfact-val.first300.json"),
    ("zsre", "zsre-mend/zsre_mend_train-1k.first300.json"),
    ("mquake", "mquake-hard/MQuAKE-hard.first300.json"),
    ("mmedit-e-vqa", "mmedit-e-vqa/vqa_eval.first300.json"),
    ("mmedit-e-vqa", "balancedit-evqa-augmented/vqa_eval.first300.json"),
    ("mmedit-e-ic", "mmedit-e-ic/caption_eval_edit.first300.json"),
    ("mmedit-e-ic", "mmedit-e-ic/caption_train_edit.first300.json"),
]
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="the shared data samples are not on this machine")


def raw(path: str) -> list[dict]:
    return json.loads((DATA / path).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "path"), SAMPLES, ids=[p for _, p in SAMPLES])
def test_every_sample_loads_completely(name, path):
    loaded = datasets.read(name, DATA / path)
    records = raw(path)
    assert loaded.records == len(records) == 300
    assert loaded.invalid == () and loaded.skipped == ()
    per_record = 4 if name == "mquake" else 1  # every MQuAKE-hard case has four edits
    assert len(loaded.requests) == per_record * len(records)
    assert len(datasets.load(name, DATA / path)) == len(loaded.requests)


@pytest.mark.parametrize("index", [0, 1, 157, 299])
def test_counterfact_easyedit_records_field_by_field(index):
    path = "counterfact-easyedit/counterfact-val.first300.json"
    record, request = raw(path)[index], datasets.load("counterfact-easyedit", DATA / path)[index]
    assert isinstance(request, EditRequest)
    assert request.id == record["case_id"]
    assert request.text == record["prompt"] and request.subject == record["subject"]
    assert request.prompt.count("{}") == 1
    assert (request.target_new, request.target_true) == (record["target_new"], record["ground_truth"])
    assert request.rephrase == (Rephrase(record["rephrase_prompt"], "paraphrase"),)
    assert request.locality == (Probe(record["locality_prompt"], record["locality_ground_truth"], "neighborhood"),)
    assert request.portability == () and request.group is None


def test_counterfact_easyedit_keeps_paraphrase_prefixes_and_non_ascii():
    request = datasets.load("counterfact-easyedit", DATA / "counterfact-easyedit/counterfact-val.first300.json")[299]
    assert request.rephrase[0].prompt.startswith(": Bonds Beyond Time\nYu-Gi-Oh! Klemens von Metternich")
    assert request.locality[0].prompt == "Stanisław August Poniatowski, who works as"


@pytest.mark.parametrize("index", [0, 13, 64, 299])
def test_zsre_records_field_by_field_in_both_conventions(index):
    path = "zsre-mend/zsre_mend_train-1k.first300.json"
    record = raw(path)[index]
    rome = datasets.load("zsre", DATA / path)[index]
    easyedit = {r.id: r for r in datasets.load("zsre", DATA / path, target="alt")}[index]
    for request in (rome, easyedit):
        assert request.id == index and request.text == record["src"] and request.subject == record["subject"]
        assert request.rephrase == (Rephrase(record["rephrase"], "rephrase"),)
        assert request.locality == (Probe(record["loc"], record["loc_ans"], "nq"),)
    assert (rome.target_new, rome.target_true) == (record["answers"][0], None)
    assert (easyedit.target_new, easyedit.target_true) == (record["alt"], record["answers"][0])


def test_zsre_raw_utf8_with_crlf_line_ends_reads_exactly():
    path = DATA / "zsre-mend/zsre_mend_train-1k.first300.json"
    assert b"\r\n" in path.read_bytes() and "Döllnitz".encode() in path.read_bytes()
    request = datasets.load("zsre", path)[13]
    assert request.target_new == "Beneden Merwede" and request.subject == "Papendrecht"


@pytest.mark.parametrize("index", [0, 150, 299])
def test_mquake_cases_field_by_field(index):
    path = "mquake-hard/MQuAKE-hard.first300.json"
    case, requests = raw(path)[index], datasets.load("mquake", DATA / path)[4 * index : 4 * index + 4]
    for k, (rewrite, request) in enumerate(zip(case["requested_rewrite"], requests, strict=True)):
        assert request.id == f"{case['case_id']}/{k}" and request.group == case["case_id"]
        assert request.prompt == rewrite["prompt"] and request.subject == rewrite["subject"]
        assert request.target_new == rewrite["target_new"]["str"]
        assert request.target_true == rewrite["target_true"]["str"]
        assert request.rephrase == (Rephrase(rewrite["question"], "question"),)
    first = requests[0]
    assert all(r.portability == () and r.locality == () for r in requests[1:])
    multi = [p for p in first.portability if p.kind == "multi_hop"]
    # each multi-hop question is its own probe, word for word: never glued into one prompt
    assert [p.prompt for p in multi] == case["questions"]
    assert {(p.answer, p.aliases) for p in multi} == {(case["new_answer"], tuple(case["new_answer_alias"]))}
    assert all(p.foil == case["answer"] for p in multi)
    hops = [p for p in first.portability if p.kind == "hop"]
    questions = [p for p in first.portability if p.kind == "hop_question"]
    assert [p.prompt for p in hops] == [h["cloze"] for h in case["new_single_hops"]]
    assert [p.prompt for p in questions] == [h["question"] for h in case["new_single_hops"]]
    assert [(p.answer, p.aliases) for p in hops] == [
        (h["answer"], tuple(h["answer_alias"])) for h in case["new_single_hops"]
    ]


def test_mquake_hop_foils_and_unedited_hops_of_the_first_case():
    first = datasets.load("mquake", DATA / "mquake-hard/MQuAKE-hard.first300.json")[0]
    hops = [(p.prompt, p.answer, p.foil) for p in first.portability if p.kind == "hop"]
    assert hops[1] == ("The director of Madonna is", "Narendra Modi", "Guy Oseary")  # the edit's old object
    # the old chain after its first (edited) hop is about The Beatles' manager: no edit touches it
    assert [(p.prompt, p.answer) for p in first.locality] == [
        ("The director of The Beatles is", "Brian Epstein"),
        ("Brian Epstein is a citizen of", "United Kingdom"),
        ("The official language of United Kingdom is", "English"),
    ]
    assert "UK" in first.locality[1].aliases and all(p.kind == "unedited_hop" for p in first.locality)


@pytest.mark.parametrize(
    ("name", "path", "task"),
    [
        ("mmedit-e-vqa", "mmedit-e-vqa/vqa_eval.first300.json", "vqa"),
        ("mmedit-e-vqa", "balancedit-evqa-augmented/vqa_eval.first300.json", "vqa"),
        ("mmedit-e-ic", "mmedit-e-ic/caption_eval_edit.first300.json", "caption"),
    ],
)
@pytest.mark.parametrize("index", [0, 123, 299])
def test_mmedit_records_field_by_field_with_image_roots(name, path, task, index, tmp_path):
    record = raw(path)[index]
    request = datasets.load(name, DATA / path, image_root=tmp_path / "coco", rephrase_root=tmp_path / "gen")[index]
    assert isinstance(request, MultimodalRequest) and request.task == task and request.id == index
    assert (request.prompt, request.target_new, request.prediction) == (record["src"], record["alt"], record["pred"])
    assert request.image == tmp_path / "coco" / record["image"]
    assert request.image_rephrase == (tmp_path / "gen" / record["image_rephrase"],)
    assert request.rephrase == (Rephrase(record["rephrase"], "text"),)
    assert request.locality == (Probe(record["loc"], record["loc_ans"], "text"),)
    (probe,) = request.image_locality
    assert (probe.image, probe.prompt, probe.answer) == (
        tmp_path / "coco" / record["m_loc"],
        record["m_loc_q"],
        record["m_loc_a"],
    )
    assert not request.image.exists()  # images are not needed to load the text


def test_mmedit_paths_stay_relative_without_a_root():
    request = datasets.load("mmedit-e-vqa", DATA / "mmedit-e-vqa/vqa_eval.first300.json")[0]
    assert request.image == Path("val2014/COCO_val2014_000000451435.jpg")
    assert request.image_rephrase == (Path("val2014_image_rephrase/451435003_COCO_val2014_000000451435.png"),)


@pytest.mark.parametrize(("name", "path"), SAMPLES[:5], ids=[p for _, p in SAMPLES[:5]])
def test_layout_quirks_do_not_change_what_loads(name, path, tmp_path):
    """The same records as indented CRLF JSON, compact \\u-escaped JSON and JSON Lines load identically."""
    records = raw(path)
    crlf = tmp_path / "crlf.json"
    crlf.write_bytes(("\ufeff" + json.dumps(records, indent=2, ensure_ascii=False)).replace("\n", "\r\n").encode())
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(records, separators=(",", ":")))
    lines = tmp_path / "lines.jsonl"
    lines.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n\n")
    expected = datasets.load(name, DATA / path)
    for variant in (crlf, compact, lines):
        assert datasets.load(name, variant) == expected


def test_counterfact_easyedit_can_take_its_edit_prompt_as_the_generation_prompt():
    """EasyEdit measures fluency by generating from the edit prompt; the flat layout has no generation prompts."""
    path = DATA / "counterfact-easyedit/counterfact-val.first300.json"
    plain, generating = (
        datasets.load("counterfact-easyedit", path),
        datasets.load("counterfact-easyedit", path, generation="prompt"),
    )
    assert plain[3].generation == () and generating[3].generation == (
        raw(path.relative_to(DATA).as_posix())[3]["prompt"],
    )
    with pytest.raises(amend.errors.ConfigError, match="generation"):
        datasets.load("counterfact-easyedit", path, generation="paraphrase")
