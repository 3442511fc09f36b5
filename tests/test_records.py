import pytest

from amend import EditRequest, Probe, RecordError, Rephrase


def test_literal_subject_becomes_placeholder():
    request = EditRequest("The Eiffel Tower is in", "The Eiffel Tower", "Rome")
    assert request.prompt == "{} is in"
    assert request.text == "The Eiffel Tower is in"


def test_prompt_with_braces_besides_the_placeholder_is_filled_verbatim():
    request = EditRequest("{} uses the {json} format of", "Tool", "x")
    assert request.text == "Tool uses the {json} format of"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(prompt="The tower is in", subject="Eiffel", target_new="Rome"), "subject"),
        (dict(prompt="{} and {} are in", subject="Eiffel", target_new="Rome"), "prompt"),
        (dict(prompt="{} is in", subject="Eiffel", target_new="  "), "target_new"),
        (dict(prompt="{} is in", subject="", target_new="Rome"), "subject"),
        (dict(prompt="{} is in", subject="Eiffel", target_new=3), "target_new"),
        (dict(prompt=["{} is in"], subject="Eiffel", target_new="Rome"), "prompt"),
        (dict(prompt="{} is in", subject="Eiffel", target_new="Rome", target_true=""), "target_true"),
        (dict(prompt="{} is in", subject="Eiffel", target_new="Rome", rephrase="one string"), "rephrase"),
        (dict(prompt="{} is in", subject="Eiffel", target_new="Rome", rephrase=["ok", 5]), "rephrase[1]"),
        (dict(prompt="{} is in", subject="Eiffel", target_new="Rome", rephrase=[{"kind": "x"}]), "rephrase[0].prompt"),
        (
            dict(
                prompt="{} is in",
                subject="E",
                target_new="R",
                portability=[{"prompt": "p", "answer": "a", "foil": ""}],
            ),
            "portability[0].foil",
        ),
        (
            dict(prompt="{} is in", subject="Eiffel", target_new="Rome", locality=[{"prompt": "x"}]),
            "locality[0].answer",
        ),
        (dict(prompt="Eiffel and Eiffel", subject="Eiffel", target_new="Rome"), "subject"),
    ],
)
def test_bad_input_names_record_and_field(kwargs, field):
    with pytest.raises(RecordError) as caught:
        EditRequest(**kwargs, id="case-7")
    assert caught.value.field == field
    assert "case-7" in str(caught.value) and f"'{field}'" in str(caught.value)


def test_from_dict_round_trip_and_probe_forms():
    request = EditRequest(
        "{} is in",
        "Eiffel",
        "Rome",
        "Paris",
        rephrase=["Where is Eiffel? It is in", Rephrase("Eiffel lies in", "x")],
        locality=[{"prompt": "Colosseum is in", "answer": "Rome", "kind": "neighbour"}],
        portability=[("The country of Eiffel is", "Italy")],
        id=3,
    )
    assert request.portability == (Probe("The country of Eiffel is", "Italy"),)
    assert request.rephrase[0] == Rephrase("Where is Eiffel? It is in") and request.rephrase[1].kind == "x"
    assert EditRequest.from_dict(request.to_dict()) == request


def test_from_dict_rejects_unknown_and_missing_fields_by_name():
    with pytest.raises(RecordError, match="'targt_new'"):
        EditRequest.from_dict({"prompt": "{} x", "subject": "s", "targt_new": "y"}, record_id=4)
    with pytest.raises(RecordError, match="record 4, field 'target_new': missing"):
        EditRequest.from_dict({"prompt": "{} x", "subject": "s"}, record_id=4)
