"""Fluency (ROME's weighted n-gram entropy) and consistency (TF-IDF cosine) against values computed by hand."""

import math

import pytest

from amend.evaluation.metrics import fitted_idf, fluency, mean_fluency, ngram_entropy, tfidf_cosine
from amend.evaluation.metrics.consistency import tfidf_terms
from amend.evaluation.metrics.fluency import word_tokens


def test_ngram_entropy_by_hand():
    tokens = ["a", "b", "a", "b"]
    # bigrams ab, ba, ab: frequencies 2/3, 1/3 -> H = log2(3) - 2/3 = 0.918296 bits
    assert ngram_entropy(tokens, 2) == pytest.approx(0.918296, abs=1e-6)
    # trigrams aba, bab: 1/2 each -> 1 bit
    assert ngram_entropy(tokens, 3) == pytest.approx(1.0)
    # four distinct unigrams of equal frequency -> 2 bits; a single n-gram -> 0; none -> 0
    assert ngram_entropy(["w", "x", "y", "z"], 1) == pytest.approx(2.0)
    assert ngram_entropy(["w", "x"], 2) == 0.0
    assert ngram_entropy(["w"], 3) == 0.0


def test_fluency_weights_bigrams_two_thirds_and_trigrams_four_thirds():
    # "a b a b": mean(2/3 * 0.918296, 4/3 * 1) = (0.612197 + 1.333333) / 2 = 0.972765
    assert fluency("a b a b") == pytest.approx(0.972765, abs=1e-6)
    # Eight distinct tokens: 7 distinct bigrams and 6 distinct trigrams -> mean(2/3 log2 7, 4/3 log2 6)
    assert fluency("one two three four five six seven eight") == pytest.approx(
        (2 / 3 * 2.807355 + 4 / 3 * 2.584963) / 2, abs=1e-6
    )


def test_repetition_lowers_fluency_and_the_mean_is_over_texts():
    varied, stuck = "the cat sat on the mat and slept", "Rome Rome Rome Rome Rome Rome Rome Rome"
    assert fluency(stuck) == 0.0 < fluency(varied)
    assert mean_fluency([varied, stuck]) == pytest.approx(fluency(varied) / 2)
    with pytest.raises(ValueError):
        mean_fluency([])


def test_tokenizers_split_words_and_punctuation():
    assert word_tokens("It's 5 p.m., ok!") == ["It", "'", "s", "5", "p", ".", "m", ".,", "ok", "!"]
    assert tfidf_terms("A cat, THE Cat's x") == ["cat", "the", "cat"]
    # punctuation counts as tokens in n-grams, so a custom tokenizer changes the value
    assert fluency("a b a b", tokenize=str.split) == fluency("a b a b")
    assert fluency("a, b", tokenize=str.split) != fluency("a, b")


def test_tfidf_cosine_with_a_given_idf_table():
    # "a" has one character and is not a term; vectors (cat 1, sat 1) and (cat 1, ran 1) -> 1 / (sqrt2 * sqrt2)
    idf = {"cat": 1.0, "sat": 1.0, "ran": 1.0}
    assert tfidf_cosine(["a cat sat"], ["a cat ran"], idf) == pytest.approx(0.5)
    # weights scale terms: cat 2 -> (2, 1) . (2, 1) over 5 -> 4 / 5
    assert tfidf_cosine(["cat sat"], ["cat ran"], {"cat": 2.0, "sat": 1.0, "ran": 1.0}) == pytest.approx(0.8)
    # terms outside the table are ignored, as with a fixed vocabulary; nothing in common -> 0
    assert tfidf_cosine(["cat zebra"], ["cat"], {"cat": 1.0}) == pytest.approx(1.0)
    assert tfidf_cosine(["dog"], ["cat"], idf) == 0.0


def test_tfidf_cosine_joins_texts_and_fits_a_smoothed_idf_without_a_table():
    # Documents "a cat sat", "a cat ran" (N = 2): idf(cat) = ln(3/3) + 1 = 1, idf(sat) = idf(ran) = ln(3/2) + 1
    idf = fitted_idf(["a cat sat", "a cat ran"])
    assert idf == pytest.approx({"cat": 1.0, "sat": math.log(1.5) + 1, "ran": math.log(1.5) + 1})
    rare = math.log(1.5) + 1
    assert tfidf_cosine(["a cat sat"], ["a cat ran"]) == pytest.approx(1 / (1 + rare**2))  # 1 / (1 + 1.405465^2)
    assert tfidf_cosine(["a cat sat"], ["a cat ran"]) == pytest.approx(0.336097, abs=1e-6)
    # Several generations are joined into one document: counts add up (cat 2, sat 1) vs (cat 1)
    joined = tfidf_cosine(["cat sat", "cat"], ["cat"], {"cat": 1.0, "sat": 1.0})
    assert joined == pytest.approx(2 / math.sqrt(5))
    with pytest.raises(ValueError):
        tfidf_cosine([], ["cat"])
