import pytest
from helpers import tokenizer

from amend.hooks import subject_span, token_index
from amend.requests import fill
from amend.tokens import encode, target_ids

CASES = [
    ("{} is located in", "Apple A5"),  # subject starts the text
    ("The mother tongue of {} is", "Danielle Darrieux"),  # after a prefix: byte-level leading space
    ("Because of rain. The mother tongue of {} is", "Toko Yasuda"),  # a context template before the prompt
    ("{}", "Honus Wagner"),  # bare subject
]


@pytest.mark.parametrize("bos", [False, True], ids=["gpt2-style", "llama-style"])
@pytest.mark.parametrize(("template", "subject"), CASES)
def test_subject_span_matches_the_subject_tokens(bos, template, subject):
    tok = tokenizer(bos)
    ids = encode(tok, fill(template, subject))
    first, last = subject_span(tok, template, subject)
    assert tok.decode(ids[first : last + 1]).strip() == subject
    # The joint-encoding rule of the reference code, valid for BOS and no-BOS tokenizers alike.
    prefix = template[: template.index("{}")]
    assert last == len(encode(tok, prefix + subject)) - 1
    if bos:
        assert ids[0] == tok.bos_token_id and first >= 1


def test_slow_tokenizer_fallback_agrees_with_offsets():
    tok = tokenizer(True)

    class Slow:  # the fallback path only needs __call__ and is_fast
        is_fast = False

        def __call__(self, text, **kwargs):
            return tok(text, **kwargs)

    for template, subject in CASES:
        assert subject_span(Slow(), template, subject) == subject_span(tok, template, subject)


def test_token_rules():
    tok = tokenizer(False)
    template, subject = "The mother tongue of {} is", "Danielle Darrieux"
    n = len(encode(tok, fill(template, subject)))
    assert token_index(tok, template, subject, "last") == n - 1
    first, last = subject_span(tok, template, subject)
    assert token_index(tok, template, subject, "subject_first") == first < last


@pytest.mark.parametrize("bos", [False, True])
def test_target_tokens_are_the_joint_tokens_minus_the_prompt(bos):
    tok = tokenizer(bos)
    prompt, target = target_ids(tok, "Toko Yasuda plays the", "guitar")
    assert prompt + target == encode(tok, "Toko Yasuda plays the guitar")
    assert tok.bos_token_id not in target
    assert target_ids(tok, "Toko Yasuda plays the", " guitar") == (prompt, target)  # space added once


@pytest.mark.parametrize("bos", [False, True])
def test_batched_target_tokenization_equals_one_at_a_time(bos):
    from amend.tokens import target_ids_many

    tok = tokenizer(bos)
    pairs = [
        (f"{frame.replace('{}', 'Toko Yasuda')}", answer)
        for frame, answer in [
            ("{} plays the", "guitar"),
            ("{} works for", " Nokia"),
            ("The mother tongue of {} is", "French"),
        ]
    ]
    assert target_ids_many(tok, pairs) == [target_ids(tok, p, a) for p, a in pairs]
