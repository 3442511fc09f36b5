"""Evaluation of edits to questions about images: the items of the multimodal task, the top-k locality on fixed
logits, and the harmonic mean of the summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from amend.errors import RecordError
from amend.evaluation.metrics import harmonic_mean, top_k_agreement
from amend.evaluation.observe import Observation, item_values
from amend.evaluation.tasks import GENERALIZATION, LOCALITY, RELIABILITY
from amend.evaluation.tasks.multimodal import IMAGE, TEXT, MultimodalTask
from amend.lm import Scored, VisualPrompt
from amend.requests import ImageProbe, MultimodalRequest, Probe, Rephrase


def _request(tmp_path: Path, **fields) -> MultimodalRequest:
    values = dict(
        prompt="Which country does this flag belong to?",
        target_new="Quendar",
        image=tmp_path / "flag-0.png",
        target_true="Velmora",
        rephrase=(Rephrase("Whose flag is this?"),),
        image_rephrase=(tmp_path / "flag-1.png", tmp_path / "flag-2.png"),
        locality=(Probe("What is the capital of Tarsk?", "Kelmar"),),
        image_locality=(ImageProbe(tmp_path / "other.png", "Which country does this flag belong to?", "Tarsk"),),
        id="r0",
    )
    return MultimodalRequest(**{**values, **fields})


def test_the_items_ask_about_the_edited_image_its_other_images_and_unrelated_ones(tmp_path):
    request = _request(tmp_path)
    items = MultimodalTask().items([request])
    by_kind = {(item.metric, item.kind): item for item in items}
    assert by_kind[(RELIABILITY, "")].prompt == VisualPrompt(request.prompt, request.image)
    assert by_kind[(GENERALIZATION, TEXT)].prompt == VisualPrompt("Whose flag is this?", request.image)
    image_items = [item for item in items if (item.metric, item.kind) == (GENERALIZATION, IMAGE)]
    assert [item.prompt.image for item in image_items] == list(request.image_rephrase)
    assert all(item.prompt.image != request.image and item.prompt.text == request.prompt for item in image_items)
    image_locality = by_kind[(LOCALITY, IMAGE)]
    assert image_locality.top_k and image_locality.answer == "Tarsk" and image_locality.foil == "Quendar"
    text_locality = by_kind[(LOCALITY, TEXT)]
    assert text_locality.prompt == "What is the capital of Tarsk?" and not text_locality.top_k


def test_image_generality_refuses_the_edited_image_and_reads_a_folder_of_images(tmp_path):
    with pytest.raises(RecordError, match=r"'r0'.*image_rephrase\[1\].*is the edited image"):
        MultimodalTask().items([_request(tmp_path, image_rephrase=(tmp_path / "a.png", tmp_path / "flag-0.png"))])
    folder = tmp_path / "generated"
    folder.mkdir()
    for name in ("b.png", "a.jpg", "notes.txt"):
        (folder / name).write_bytes(b"")
    items = MultimodalTask().items([_request(tmp_path, image_rephrase=(folder,))])
    assert [item.prompt.image.name for item in items if item.kind == IMAGE and item.metric == GENERALIZATION] == [
        "a.jpg",
        "b.png",
    ]


def test_top_k_agreement_counts_matching_position_rank_slots():
    before = [(5, 7, 9), (1, 2, 3)]
    after = [(5, 9, 7), (1, 2, 3)]  # the second position unchanged; at the first only rank 1 agrees
    assert top_k_agreement(after, before) == pytest.approx(4 / 6)
    assert top_k_agreement(before, before) == 1.0
    with pytest.raises(ValueError, match="positions"):
        top_k_agreement(after[:1], before)


def test_an_image_locality_item_is_scored_on_its_top_tokens_against_the_unedited_model(tmp_path):
    item = next(item for item in MultimodalTask().items([_request(tmp_path)]) if item.top_k)
    before = Observation(Scored((4,), (-0.1,), (4,), ((4, 8, 2),)), Scored((6,), (-3.0,), (4,), ((4, 8, 2),)), None)
    after = Observation(Scored((4,), (-0.2,), (4,), ((4, 2, 8),)), Scored((6,), (-2.0,), (4,), ((4, 2, 8),)), None)
    values = item_values(item, after, before, ("token_accuracy",))
    assert values["locality_topk"] == {"token_accuracy": pytest.approx(1 / 3)}
    assert values["locality_agreement"] == {"token_accuracy": 1.0}  # the argmax did not move


def test_the_harmonic_mean_is_zero_when_a_part_is_and_hand_computed_otherwise():
    assert harmonic_mean([1.0, 0.5, 0.25]) == pytest.approx(3 / 7)
    assert harmonic_mean([1.0, 0.0, 1.0]) == 0.0
    summary = {
        "generalization/text": {"token_accuracy": {"mean": 1.0, "records": 2, "prompts": 4}},
        "generalization/image": {"token_accuracy": {"mean": 0.5, "records": 2, "prompts": 10}},
        "locality_agreement/image": {"token_accuracy": {"mean": 1.0, "records": 2, "prompts": 6}},
        "locality_topk/image": {"token_accuracy": {"mean": 0.25, "records": 2, "prompts": 6}},
    }
    MultimodalTask().summarise(summary)
    assert summary["harmonic_mean"]["token_accuracy"]["mean"] == pytest.approx(3 / 7)  # with the top-k locality
    assert "probability" not in summary["harmonic_mean"]
