"""Vision-language models: every VLM row of the architecture table resolves its sites on a tiny model and runs a
forward with an image; the vision backend's scores are the model's own log-probabilities, the same alone and in a
padded batch; generation in a batch is generation alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from PIL import Image

from amend import Editor
from amend.architectures.anatomy import Component, Site, anatomy
from amend.errors import ConfigError, UnsupportedArchitecture
from amend.hooks.capture import capture
from amend.lm import VisionLM, VisualPrompt
from amend.prompting import ImageTextEncoder
from amend.requests import MultimodalRequest, Rephrase
from vlm import VLM_TYPES, image, tiny_vlm

QUESTION = "Which country does this flag belong to?"


@pytest.mark.parametrize("model_type", VLM_TYPES)
def test_every_vlm_row_resolves_its_sites_on_the_text_model_and_runs_with_an_image(model_type):
    model, processor = tiny_vlm(model_type)
    parts = anatomy(model)
    assert parts.num_layers == 3 and parts.hidden_size == 32
    lm = VisionLM(model, processor)
    prompt = VisualPrompt(QUESTION, image(0))
    length = len(lm.encoder.encode(prompt).ids)
    sites = [Site(component, layer) for component in Component for layer in range(3)]
    with capture(parts, sites) as records:
        lm.score([(prompt, "Velmora")])
    for site in sites:
        width = 64 if site.component is Component.MLP_KEY else 32
        assert records[site].shape == (1, length, width), site
    text_params = {name for name, _ in parts.layers.named_parameters()}
    assert text_params and not any("vision" in name or "visual" in name for name in text_params)


def _manual_logprobs(model, processor, prompt_string: str, answer: str, picture) -> list[float]:
    """The answer's log-probabilities from one full forward of the processor's own encoding of prompt + answer."""
    joint = processor(text=[f"{prompt_string} {answer}"], images=[picture], return_tensors="pt")
    alone = processor(text=[prompt_string], images=[picture], return_tensors="pt")
    ids = joint["input_ids"][0]
    start = alone["input_ids"].shape[1]
    with torch.no_grad():
        logits = model(**joint).logits[0].float().log_softmax(-1)
    return [logits[position - 1, ids[position]].item() for position in range(start, len(ids))]


@pytest.mark.parametrize("model_type", VLM_TYPES)
def test_scores_are_the_log_probabilities_of_a_full_forward(model_type):
    model, processor = tiny_vlm(model_type)
    lm = VisionLM(model, processor)
    picture = image(3, (64, 48))
    prompt = VisualPrompt(QUESTION, picture)
    scored = lm.score([(prompt, "Velmora Quendar")])[0]
    expected = _manual_logprobs(model, processor, lm.encoder.prompt_string(prompt), "Velmora Quendar", picture)
    assert len(expected) == 2
    assert scored.logprobs == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("model_type", VLM_TYPES)
def test_a_pair_scores_the_same_alone_and_in_a_padded_batch(model_type):
    model, processor = tiny_vlm(model_type)
    lm = VisionLM(model, processor)
    pairs = [
        (VisualPrompt(QUESTION, image(1)), "Velmora"),
        (VisualPrompt("What colour is this flag?", image(2, (64, 48))), "red blue green"),
        (VisualPrompt("Describe the picture.", image(4, (30, 40))), "The capital of Velmora is Kelmar."),
    ]
    together = lm.score(pairs)
    for pair, scored in zip(pairs, together, strict=True):
        assert scored.logprobs == pytest.approx(lm.score([pair])[0].logprobs, abs=1e-5)
    assert together[0].logprobs != pytest.approx(together[1].logprobs[:1], abs=1e-3)  # rows kept their own image


@pytest.mark.parametrize("model_type", VLM_TYPES)
def test_greedy_generation_in_a_left_padded_batch_is_generation_alone(model_type):
    model, processor = tiny_vlm(model_type)
    lm = VisionLM(model, processor)
    prompts = [VisualPrompt(QUESTION, image(1)), VisualPrompt("What colour?", image(2, (64, 48)))]
    together = lm.generate(prompts, [4, 4])
    assert together == [lm.generate([prompt], [4])[0] for prompt in prompts]


def test_a_text_prompt_is_asked_without_an_image():
    model, processor = tiny_vlm("llava")
    lm = VisionLM(model, processor)
    encoded = lm.encoder.encode("What colour is this flag?")
    assert not encoded.images and model.config.image_token_index not in encoded.ids
    ids = torch.tensor([[*encoded.ids, processor.tokenizer.convert_tokens_to_ids("▁red")]])
    with torch.no_grad():
        expected = model(input_ids=ids).logits[0, -2].log_softmax(-1)[ids[0, -1]].item()
    assert lm.score([("What colour is this flag?", "red")])[0].logprobs == pytest.approx((expected,), abs=1e-5)


def test_the_template_places_the_image_and_the_text():
    _, processor = tiny_vlm("llava")
    encoder = ImageTextEncoder(processor, "Question: {image} {text} Short answer:")
    assert encoder.prompt_string(VisualPrompt("Whose?", image(0))) == "Question: <image> Whose? Short answer:"
    assert encoder.prompt_string("Whose?") == "Question: Whose? Short answer:"
    _, blip = tiny_vlm("blip-2")
    assert ImageTextEncoder(blip).prompt_string(VisualPrompt("Whose?", image(0))) == "Whose?"  # BLIP-2 prepends


def test_a_vlm_row_refuses_a_text_model_it_does_not_name():
    model, _ = tiny_vlm("llava")
    model.config.text_config.model_type = "gpt2"
    with pytest.raises(UnsupportedArchitecture, match="'gpt2' text model"):
        anatomy(model)


# ---- editing a vision-language model -------------------------------------------------------------------------------


def _flag_request(tmp_path, target: str = "Quendar") -> tuple[MultimodalRequest, Path]:
    edited, unrelated = tmp_path / "edited.png", tmp_path / "unrelated.png"
    image(11, (40, 30)).save(edited)
    Image.new("RGB", (40, 30), (30, 60, 190)).save(unrelated)  # far from the noise image even to a random model
    request = MultimodalRequest(
        prompt=QUESTION,
        target_new=target,
        image=edited,
        rephrase=(Rephrase("Whose flag is this?"),),
        id="flag",
    )
    return request, unrelated


# Not Qwen2-VL: its tiny processor makes a 40 × 30 image one token, so the question dominates the pooled key and
# every image of the same question falls inside the radius (measured; a property of the tiny config).
@pytest.mark.parametrize("model_type", ["llava", "blip-2"])
def test_balancedit_flips_the_edited_image_and_leaves_an_unrelated_image_exactly_unchanged(model_type, tmp_path):
    model, processor = tiny_vlm(model_type)
    lm = VisionLM(model, processor)
    request, unrelated = _flag_request(tmp_path)
    candidates = ["Quendar", "Velmora", "Tarsk", "Kelmar"]
    scores = lm.score([(request.asked, c) for c in candidates])
    least_likely = max(zip(scores, candidates, strict=True), key=lambda pair: pair[0].nll)[1]
    request = dataclasses.replace(request, target_new=least_likely)
    other = VisualPrompt(QUESTION, unrelated)
    rephrased = VisualPrompt("Whose flag is this?", request.image)  # the positive sample: inside the radius
    pairs = [(request.asked, request.target_new), (other, request.target_new), (rephrased, request.target_new)]
    before = lm.score(pairs)
    assert before[0].argmax != before[0].answer_ids
    # λ = 0.25: the radius a quarter of the way from the rephrase to the black image, inside what separates two
    # images for an untrained vision tower
    editor = Editor(model, processor, "balancedit", lr=1e-2, steps=40, balance=0.25)
    weights = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    editor.edit([request])
    after = lm.score(pairs)
    assert after[0].argmax == after[0].answer_ids  # the edited image now gets the new answer
    assert after[0].nll < 0.5 < before[0].nll
    assert after[2].argmax == after[2].answer_ids != before[2].argmax  # the rephrase, inside the radius, too
    assert after[1].logprobs == before[1].logprobs  # the codebook did not fire on the unrelated image
    entry = editor.patches[-1].log["facts"][0]
    assert entry["d_pos"] < entry["radius"] < entry["d_neg"]
    editor.revert()
    assert all(torch.equal(weights[name], tensor) for name, tensor in model.state_dict().items())
    assert lm.score(pairs) == before


def test_a_text_method_refuses_a_question_about_an_image(tmp_path):
    model, processor = tiny_vlm("llava")
    request, _ = _flag_request(tmp_path)
    with pytest.raises(ConfigError, match="rome edits edit requests"):
        Editor(model, processor, "rome").edit([request])


def test_a_saved_vlm_folder_loads_with_its_processor_and_scores_the_same(tmp_path):
    from amend.models import load_model

    model, processor = tiny_vlm("llava")
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded, loaded_processor = load_model(tmp_path)
    assert type(loaded) is type(model) and hasattr(loaded_processor, "image_processor")
    pair = (VisualPrompt(QUESTION, image(5)), "Velmora")
    assert VisionLM(loaded, loaded_processor).score([pair]) == VisionLM(model, processor).score([pair])


def test_mmedit_e_vqa_records_evaluate_end_to_end_with_their_images_under_the_root(tmp_path):
    import json

    from amend.datasets import load
    from amend.evaluation import EvaluationSettings, evaluate

    records = json.loads((Path(__file__).parent / "data" / "mmedit_e_vqa.json").read_text())  # 2 real records
    data = tmp_path / "vqa_eval.json"
    data.write_text(json.dumps(records[:2]))
    root = tmp_path / "coco"
    for number, record in enumerate(records[:2]):
        for key in ("image", "image_rephrase", "m_loc"):
            target = root / record[key]
            target.parent.mkdir(parents=True, exist_ok=True)
            image(20 + number, (48, 36)).save(target, format="PNG")
    requests = load("mmedit-e-vqa", data, image_root=root)
    model, processor = tiny_vlm("llava")
    settings = EvaluationSettings(protocols=("token_accuracy",), progress=False)
    result = evaluate(model, processor, requests, "grace", settings=settings, steps=30, lr=1.0)
    assert result.summary["reliability"]["token_accuracy"]["mean"] == 1.0
    for name in ("generalization/text", "generalization/image", "locality_topk/image", "locality_agreement/text"):
        assert result.summary[name]["token_accuracy"]["records"] == 2, name
    assert "harmonic_mean" in result.summary
    sample = next(s for s in result.samples if s["metric"] == "reliability")
    assert sample["prompt"]["image"].startswith(str(root))


@pytest.mark.parametrize(
    ("method", "settings"), [("grace", {}), ("ft-m", {"lr": 0.05, "norm_constraint": 0}), ("lora", {"lr": 0.05})]
)
def test_every_method_that_reads_questions_about_images_writes_one_and_reverts_it(method, settings, tmp_path):
    model, processor = tiny_vlm("llava")
    lm = VisionLM(model, processor)
    request, _ = _flag_request(tmp_path)
    scores = lm.score([(request.asked, c) for c in ("Quendar", "Velmora", "Tarsk", "Kelmar")])
    target = max(zip(scores, ("Quendar", "Velmora", "Tarsk", "Kelmar"), strict=True), key=lambda p: p[0].nll)[1]
    request = dataclasses.replace(request, target_new=target)
    before = lm.score([(request.asked, target)])[0]
    editor = Editor(model, processor, method, **settings)
    editor.edit([request])
    after = lm.score([(request.asked, target)])[0]
    assert after.argmax == after.answer_ids != before.argmax
    editor.revert()
    assert lm.score([(request.asked, target)])[0] == before
