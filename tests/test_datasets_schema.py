"""Formats with no real sample here, read from records written to their documented schema (tests/data)."""

import json
from pathlib import Path

import pytest

from amend import EditRequest, Probe, RecordError, Rephrase, datasets
from amend.datasets import DocumentRequest, ImageProbe, MultimodalRequest

DATA = Path(__file__).parent / "data"


def raw(name: str) -> list[dict]:
    text = (DATA / name).read_text()
    return json.loads(text) if name.endswith(".json") else [json.loads(line) for line in text.splitlines() if line]


def test_counterfact_nested_records_field_by_field():
    loaded = datasets.read("counterfact", DATA / "counterfact_nested.json")
    records = raw("counterfact_nested.json")
    assert loaded.records == len(loaded.requests) == len(records) == 3 and not loaded.invalid
    for record, request in zip(records, loaded.requests, strict=True):
        rewrite = record["requested_rewrite"]
        assert isinstance(request, EditRequest) and request.id == record["case_id"]
        assert (request.prompt, request.subject) == (rewrite["prompt"], rewrite["subject"])
        assert (request.target_new, request.target_true) == (
            rewrite["target_new"]["str"],
            rewrite["target_true"]["str"],
        )
        assert request.rephrase == tuple(Rephrase(p, "paraphrase") for p in record["paraphrase_prompts"])
        assert request.generation == tuple(record["generation_prompts"])
        new, true = rewrite["target_new"]["str"], rewrite["target_true"]["str"]
        assert request.locality == (
            *(Probe(p, true, "neighborhood") for p in record["neighborhood_prompts"]),
            *(Probe(p, new, "attribute", true) for p in record["attribute_prompts"]),
        )
    # generation prompts are deliberately duplicated in CounterFact, and kept so
    assert loaded.requests[0].generation[0] == loaded.requests[0].generation[2]


def test_counterfact_layouts_point_at_each_other(tmp_path):
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps([{"case_id": 4, "prompt": "X speaks", "subject": "X", "target_new": "a"}]))
    with pytest.raises(RecordError, match="counterfact-easyedit") as caught:
        datasets.load("counterfact", flat)
    assert caught.value.field == "requested_rewrite" and caught.value.record_id == 4
    with pytest.raises(RecordError, match="use the dataset 'counterfact'"):
        datasets.load("counterfact-easyedit", DATA / "counterfact_nested.json")


def test_knowedit_wikidata_recent_keeps_every_alias_list():
    (request, other) = datasets.load("knowedit", DATA / "knowedit_recent.json")
    assert (request.text, request.subject, request.target_new, request.target_true) == (
        "The place of death of Leo Arons is",
        "Leo Arons",
        "Berlin",
        None,
    )
    by_kind = {p.kind: p for p in request.portability}
    assert set(by_kind) == {"Logical_Generalization", "Reasoning", "Subject_Aliasing"}
    # a list of alias lists: one list per acceptable answer, all flattened into answer + aliases
    assert by_kind["Logical_Generalization"] == Probe(
        "Is Leo Arons still alive?", "no", "Logical_Generalization", aliases=("false", "is dead")
    )
    assert by_kind["Reasoning"].answer == "Europe" and by_kind["Reasoning"].aliases == ("European continent",)
    assert [(p.prompt, p.answer, p.aliases, p.kind) for p in request.locality] == [
        ("The name of the father of Leo Arons is", "Albert Arons", (), "Relation_Specificity"),
        ("The name of the field of work of Leo Arons is", "experimental physics", ("physics",), "Relation_Specificity"),
    ]
    assert other.portability == () and len(other.locality) == 1 and other.id == 1


def test_knowedit_counterfact_string_ground_truths_and_forgetfulness():
    (request,) = datasets.load("knowedit", DATA / "knowedit_counterfact.json")
    record = raw("knowedit_counterfact.json")[0]
    assert request.target_new == "Archbishop of León, Mexico" and request.target_true == "mayor of Vienna"
    assert request.portability == (
        Probe(record["portability"]["Subject_Aliasing"][0]["prompt"], "Archbishop of León, Mexico", "Subject_Aliasing"),
    )
    kinds = [(p.kind, p.answer) for p in request.locality]
    assert kinds == [("Relation_Specificity", "male"), ("Forgetfulness", "mayor of Vienna")]


def test_knowedit_zsre_subset_from_json_lines():
    (request,) = datasets.load("knowedit", DATA / "knowedit_zsre.jsonl")
    assert request.subject == "Epaspidoceras" and request.target_true == "Aspidoceratidae"
    assert request.rephrase == (Rephrase("What family are Epaspidoceras?", "rephrase"),)
    assert [p.answer for p in request.locality] == ["genus", "genus"]
    assert request.portability == (
        Probe("What is the common name for the family Epaspidoceras belongs to?", "Owlet moths", "Reasoning"),
    )


def test_knowedit_wikibio_fields():
    (request,) = datasets.load("knowedit", DATA / "knowedit_wikibio.json")
    record = raw("knowedit_wikibio.json")[0]
    assert (request.subject, request.text, request.target_new) == (record["concept"], record["text"], record["labels"])
    assert request.locality == (Probe("The field of work of ada lindqvist is", "botany", "Relation_Specificity"),)


def test_okedit_joins_annotations_and_questions_and_skips_empty_targets(tmp_path):
    loaded = datasets.read(
        "okedit", DATA / "okedit", image_root=tmp_path / "coco", rephrase_root=tmp_path / "sd", locality_root="loc"
    )
    assert loaded.records == 3 and len(loaded.requests) == 2 and not loaded.invalid
    assert [(s.index, s.record_id) for s in loaded.skipped] == [(2, 57)] and "counterfact_answer" in loaded.skipped[
        0
    ].reason
    first = loaded.requests[0]
    assert isinstance(first, MultimodalRequest) and first.id == 2971475
    assert (first.prompt, first.target_new, first.target_true) == (
        "What sport can you use this for?",
        "sailing",
        "racing",
    )
    assert first.image == tmp_path / "coco" / "val2014" / "COCO_val2014_000000297147.jpg"
    assert first.image_rephrase == (tmp_path / "sd" / "2971475",)
    assert first.image_locality == (
        ImageProbe(Path("loc/2971475/0.png"), "What sport can you use this for?", "cycling", "image"),
    )
    assert first.rephrase == (Rephrase("Which sport is this vehicle used in?", "text"),)
    assert first.category == "image-text based" and first.locality == ()
    assert loaded.requests[1].category == "text based" and len(loaded.requests[1].rephrase) == 2


def test_okedit_from_the_annotations_file_finds_its_questions():
    via_file = datasets.load("okedit", DATA / "okedit" / "mscoco_val2014_annotations.json")
    assert via_file == datasets.load("okedit", DATA / "okedit")


def test_docmedit_json_lines_with_crlf():
    assert b"\r\n" in (DATA / "docmedit.jsonl").read_bytes()
    loaded = datasets.read("docmedit", DATA / "docmedit.jsonl")
    records = raw("docmedit.jsonl")
    assert loaded.records == len(loaded.requests) == len(records) == 2 and not loaded.invalid
    for index, (record, request) in enumerate(zip(records, loaded.requests, strict=True)):
        assert isinstance(request, DocumentRequest) and request.id == index
        assert (request.source, request.target) == (record["normalized_inputs"], record["normalized_targets"])
        assert request.evidence == tuple(record["evidence"])
        assert (request.marked_source, request.marked_target) == (record["inputs"], record["targets"])
        assert request.page_ids == tuple(record["id"])
    assert loaded.requests[0].title == "Lofani" and loaded.requests[1].title == "Port Ellery"
    assert loaded.requests[0].retrieved_evidence == tuple(records[0]["r_evidence"])
    assert loaded.requests[1].retrieved_evidence == ()


def test_amend_native_format_round_trips(tmp_path):
    requests = datasets.load("counterfact", DATA / "counterfact_nested.json")
    path = tmp_path / "requests.json"
    path.write_text(json.dumps([r.to_dict() for r in requests]))
    assert datasets.load("amend", path) == requests
    unnamed = EditRequest("{} speaks", "Ada", "Dutch")  # to_dict writes "id": null, which is no id
    path.write_text(json.dumps([unnamed.to_dict()]))
    assert datasets.load("amend", path) == [EditRequest("{} speaks", "Ada", "Dutch", id=0)]
