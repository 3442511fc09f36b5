"""Document-level editing: requests, prompts, the world's documents, and evaluation end to end."""

import json
import math
from pathlib import Path

import pytest
import torch
from tests.helpers import tiny_model, tokenizer

from amend import datasets
from amend.editing import method_config
from amend.errors import ConfigError, RecordError
from amend.evaluation.documents import (
    EXAMPLE,
    DocumentSettings,
    document_prompt,
    evaluate_documents,
    evidence_text,
    fact_requests,
    prediction,
)
from amend.evaluation.runner import EditSetup
from amend.requests import request_from_dict
from amend.testbeds import load as load_testbed
from amend.testbeds.world.documents import world_documents

DOCMEDIT = Path(__file__).parent / "data" / "docmedit.jsonl"


@pytest.fixture(scope="module")
def world():
    return load_testbed("world")


def _state(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_evidence_loses_its_title_and_section_and_becomes_edit_requests():
    assert evidence_text("Ellery_Bridge INTRODUCTION It is 2 km long.") == "It is 2 km long."
    assert evidence_text("The bridge is 2 km long.") == "The bridge is 2 km long."
    doc = datasets.load("docmedit", DOCMEDIT)[1]
    facts = fact_requests(doc)
    assert [(f.subject, f.target_new) for f in facts] == [
        ("The", " Ellery Bridge opened in 2024 and links Port Ellery to the mainland."),
        ("It", " is 2 km long."),
    ]


def test_prompts_follow_the_reference_formats():
    doc = datasets.load("docmedit", DOCMEDIT)[1]
    base = document_prompt(doc, DocumentSettings(variant="base"))
    assert base == "Article: Port Ellery is a town.\nUpdated version:"
    one_shot = document_prompt(doc, DocumentSettings(variant="one_shot"))
    assert one_shot.startswith(f"Article: {EXAMPLE.source}\nUpdated version: {EXAMPLE.target}\n\n")
    assert one_shot.endswith(base)
    evidence = document_prompt(doc, DocumentSettings(variant="evidence"))
    assert evidence.endswith(
        "Article: Port Ellery is a town.\nEvidences: (0) The Ellery Bridge opened in 2024 and links Port Ellery to "
        "the mainland. (1) It is 2 km long.\nUpdated version:"
    )
    assert document_prompt(doc, DocumentSettings(variant="continue")) == doc.source
    with pytest.raises(RecordError, match="r_evidence"):  # the second record has no retrieved evidence
        document_prompt(doc, DocumentSettings(variant="evidence", evidence_source="retrieved"))
    with pytest.raises(ConfigError, match="chat template"):
        document_prompt(doc, DocumentSettings(variant="chat"), tokenizer())


def test_the_prediction_is_cut_at_the_stop_and_continues_the_source():
    doc = datasets.load("docmedit", DOCMEDIT)[1]
    assert prediction(doc, " It has a bridge.\n\nArticle: more", DocumentSettings()) == "It has a bridge."
    continued = prediction(doc, " It has a bridge.\n\nArticle:", DocumentSettings(variant="continue"))
    assert continued == "Port Ellery is a town. It has a bridge."


def test_a_document_request_round_trips_with_its_facts(world):
    doc = world_documents(1, 3, world=world.world)[0]
    again = request_from_dict(json.loads(json.dumps({"kind": "document", **doc.to_dict()})))
    assert again == doc and len(again.facts) == 3


def test_world_documents_add_new_facts_in_other_words_than_the_evidence(world):
    docs = world_documents(4, 3, seed=1, world=world.world)
    assert len({d.title for d in docs}) == 4
    for doc in docs:
        assert doc.target.startswith(doc.source + " ")
        added = doc.target[len(doc.source) + 1 :]
        assert len(doc.evidence) == len(doc.facts) == 3
        for evidence, fact in zip(doc.evidence, doc.facts, strict=True):
            assert fact.subject == doc.title and fact.target_new != fact.target_true
            assert fact.target_new in evidence and fact.target_new in added
            assert evidence not in added  # extrapolative: the target states the fact in another template
            assert fact.target_true not in doc.source  # the updated relation is not stated before
    same_people = world_documents(4, 1, seed=1, world=world.world)
    assert [d.title for d in same_people] == [d.title for d in docs]


def test_docmedit_sample_records_evaluate_end_to_end_on_a_tiny_model_and_the_model_is_restored():
    model, tok = tiny_model("gpt2"), tokenizer()
    docs = datasets.load("docmedit", DOCMEDIT)
    before = _state(model)
    settings = DocumentSettings(variant="base", max_new_tokens=8, entities="capitalized", progress=False)
    unedited = evaluate_documents(model, tok, docs, None, settings)
    setup = EditSetup("ft-l", method_config("ft-l", model, {"steps": 3}))
    tuned = evaluate_documents(model, tok, docs, setup, settings)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert [r["facts"] for r in tuned.records] == [1, 2]
    assert tuned.summary["ER"]["n"] == 3 and unedited.summary["ER"]["n"] == 3
    assert tuned.records[0]["edit_seconds"] > 0 and unedited.records[0]["edit_seconds"] == 0
    # the first target keeps both source sentences: the prediction copies none of them, so RSE is a real ROUGE
    assert all(0 <= r["RSE"] <= 1 for r in tuned.records)
    assert tuned.method == "ft-l" and tuned.entities == "capitalized"
    assert tuned.samples[0]["asked"].startswith("Article: Lofani is a ritual meal")


def test_ike_puts_every_fact_of_the_document_in_context_nearest_last(world):
    doc = world_documents(1, 3, world=world.world)[0]
    config = method_config("ike", world.model, {"demonstrations": 0, "facts_per_query": 5})
    settings = DocumentSettings(variant="continue", max_new_tokens=4, entities="capitalized", progress=False)
    run = evaluate_documents(world.model, world.tokenizer, [doc], EditSetup("ike", config), settings)
    asked = run.samples[0]["asked"]
    assert all(evidence.rstrip(".") in asked for evidence in doc.evidence)
    assert asked.endswith(doc.source)


def test_an_edit_of_the_documents_facts_makes_the_world_model_write_them(world):
    torch.manual_seed(0)
    docs = world_documents(6, 1, seed=3, world=world.world)  # one fact: MEMIT's batch of one subject's facts is weak
    settings = DocumentSettings(variant="continue", entities="capitalized", progress=False)
    unedited = evaluate_documents(world.model, world.tokenizer, docs, None, settings)
    config = method_config("memit", world.model, {})
    edited = evaluate_documents(world.model, world.tokenizer, docs, EditSetup("memit", config), settings)
    # the unedited model continues each biography with its own (true) objects; the edited one with the new ones
    found = [sum(f.target_new in s["prediction"] for f in d.facts) for d, s in zip(docs, edited.samples, strict=True)]
    before = [
        sum(f.target_new in s["prediction"] for f in d.facts) for d, s in zip(docs, unedited.samples, strict=True)
    ]
    assert sum(found) >= sum(before) + 3, (found, before)
    assert edited.summary["EE"]["value"] > unedited.summary["EE"]["value"]
    assert not math.isnan(edited.summary["DR"]["value"])


def test_facts_per_edit_edits_a_documents_facts_one_batch_at_a_time(world, monkeypatch):
    doc = world_documents(1, 3, world=world.world)[0]
    settings = DocumentSettings(variant="continue", max_new_tokens=2, facts_per_edit=2, progress=False)
    setup = EditSetup("grace", method_config("grace", world.model, {}))
    editor_calls = []
    original = EditSetup.editor

    def counting(self, model, tokenizer, progress=False):
        editor = original(self, model, tokenizer, progress)
        edit = editor.edit
        editor.edit = lambda requests: editor_calls.append(len(requests)) or edit(requests)
        return editor

    monkeypatch.setattr(EditSetup, "editor", counting)
    evaluate_documents(world.model, world.tokenizer, [doc], setup, settings)
    assert editor_calls == [2, 1]


def test_cli_documents_on_the_world_writes_results_and_samples(tmp_path):
    from typer.testing import CliRunner

    from amend.cli.app import app

    args = [
        "documents",
        "--testbed",
        "world",
        "-n",
        "2",
        "--facts",
        "1",
        "--method",
        "unedited",
        "--out",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, [*args, "--entities", "capitalized", "--threads", "1"])
    assert result.exit_code == 0, result.output
    saved = json.loads(next(tmp_path.glob("documents_*.json")).read_text())
    assert saved["method"] == "unedited" and saved["settings"]["variant"] == "continue"
    assert saved["summary"]["ER"]["n"] == 2 and len(saved["records"]) == 2
    assert len(next(tmp_path.glob("samples_*.jsonl")).read_text().splitlines()) == 2
    refused = CliRunner().invoke(app, ["documents", "--testbed", "world", "--dataset", "zsre", "--path", str(DOCMEDIT)])
    assert refused.exit_code != 0 and "not document requests" in str(refused.exception)


def test_documents_of_another_kind_are_refused_by_record(world):
    request = world.requests(1)[0]
    with pytest.raises(RecordError, match="document editing reads documents"):
        evaluate_documents(world.model, world.tokenizer, [request], None, DocumentSettings(progress=False))


def test_settings_refuse_unknown_variants():
    with pytest.raises(ConfigError, match="prompt variant"):
        DocumentSettings(variant="poem")
    with pytest.raises(ConfigError, match="facts_per_edit"):
        DocumentSettings(facts_per_edit=0)


def test_fact_sheets_keep_true_facts_and_add_other_records_new_objects(world):
    from amend.datasets.fact_sheets import fact_sheet_documents

    requests = world.requests(40)
    docs = fact_sheet_documents(requests, 4, 3, kept=2, seed=5)
    for doc in docs:
        subjects = [f.subject for f in doc.facts]
        assert len(set(subjects)) == 3 and doc.title not in subjects
        assert doc.target == " ".join([doc.source, *(f"{f.text} {f.target_new}." for f in doc.facts)])
        assert all(
            f"{f.target_new}." in e and e != f"{f.text} {f.target_new}."
            for f, e in zip(doc.facts, doc.evidence, strict=True)
        )
    fewer = fact_sheet_documents(requests, 4, 1, kept=2, seed=5)
    assert [d.source for d in fewer] == [d.source for d in docs]  # only the update differs with the fact count
    with pytest.raises(ValueError, match="need 50 records"):
        fact_sheet_documents(requests, 10, 3, kept=2)


def test_cli_reads_amends_own_document_files_and_names_a_bad_record(world, tmp_path):
    from typer.testing import CliRunner

    from amend.cli.app import app

    docs = world_documents(2, 1, seed=7, world=world.world)
    path = tmp_path / "docs.json"
    path.write_text(json.dumps([{"kind": "document", **d.to_dict()} for d in docs]))
    assert datasets.load("amend-documents", path) == docs
    args = ["documents", "--testbed", "world", "--requests", str(path), "--max-new-tokens", "4", "--threads", "1"]
    result = CliRunner().invoke(app, [*args, "--entities", "capitalized", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    path.write_text(json.dumps([{"kind": "document", **docs[0].to_dict(), "colour": "red"}]))
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "record 0" in str(bad.exception) and "colour" in str(bad.exception)
