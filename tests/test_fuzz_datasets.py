"""Fuzzing every registered dataset loader: whatever a file holds, only amend's own errors come out.

What :mod:`amend.datasets.loading` promises, and what every test here checks after each read:

* ``read(name, path)`` either raises :class:`~amend.errors.DatasetError` (the file cannot be read as records at all)
  or returns a :class:`~amend.datasets.Loaded` in which every bad record is one :class:`~amend.errors.RecordError`
  in ``invalid`` — placed in the file, at an index of a record, naming a field — and never raised;
* ``load(name, path)`` raises that same ``DatasetError``, else the first invalid record's error, else returns the
  requests ``read`` found; with ``skip_invalid=True`` it returns them whatever the invalid records.

Inputs are random JSON values, and valid records of each format (real ones from ``/work/shared/data`` and
``tests/data`` when present, else built here) mutated — a key dropped, a value replaced by another JSON type, an
empty string, a huge or too-long integer, deep lists, unicode, a path leaving its root — then written as a JSON
array or JSON Lines, and sometimes damaged as bytes (truncated, invalid UTF-8, garbage spliced in). Any other
exception fails the test; the inputs that found a bug are kept below as plain regression tests.

Sized to run in about 30 s on 2 cores: ``max_examples`` per loader and test in :data:`EXAMPLES`.
"""

from __future__ import annotations

import copy
import json
import ntpath
import re
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amend import datasets
from amend.datasets import DATASETS, dataset_format
from amend.datasets.counterfact import GENERATION_SOURCES
from amend.datasets.zsre import TARGETS
from amend.errors import DatasetError, RecordError
from amend.requests import MULTIMODAL, kind_of

HERE = Path(__file__).parent / "data"
SHARED = Path("/work/shared/data")
OKEDIT_FILES = {
    "annotations": "mscoco_val2014_annotations.json",
    "questions": "OpenEnded_mscoco_val2014_questions.json",
}

# Examples per loader and test (three tests: random values, mutated records, damaged bytes).
EXAMPLES = {"random": 150, "mutated": 300, "bytes": 150, "layouts": 50}
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --- valid records of every format ---------------------------------------------------------------------------------


def _json_records(path: Path, count: int = 2) -> list[Any]:
    """The first records of a JSON array or JSON Lines sample, if the sample is there."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8-sig")
    records = json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines()]
    return records[:count]


def _okedit_records() -> list[Any]:
    """OKEDIT "records" are (annotation, question) pairs, written to the two files of the VQA-API layout."""
    annotations = json.loads((HERE / "okedit" / OKEDIT_FILES["annotations"]).read_text())["annotations"]
    questions = {
        q["question_id"]: q for q in json.loads((HERE / "okedit" / OKEDIT_FILES["questions"]).read_text())["questions"]
    }
    return [[a, questions[a["question_id"]]] for a in annotations]


_MMEDIT = {
    "src": "How many tennis balls are in the picture?",
    "pred": "no",
    "rephrase": "What is the number of tennis balls depicted in the image?",
    "alt": "2",
    "image": "val2014/COCO_val2014_000000451435.jpg",
    "image_rephrase": "val2014_image_rephrase/451435003_COCO_val2014_000000451435.png",
    "loc": "nq question: who got the first nobel prize in physics",
    "loc_ans": "Wilhelm Conrad Röntgen",
    "m_loc": "val2014/COCO_val2014_000000297147.jpg",
    "m_loc_q": "What sport can you use this for?",
    "m_loc_a": "riding",
}
_REWRITE = {
    "prompt": "{} is a citizen of",
    "subject": "Ada Byron",
    "target_new": {"str": "Japan", "id": "Q17"},
    "target_true": {"str": "United Kingdom", "id": "Q145"},
    "relation_id": "P27",
    "question": "What country is Ada Byron a citizen of?",
}
_HOP = {
    "question": "Of which country is Ada Byron a citizen?",
    "cloze": "Ada Byron is a citizen of",
    "answer": "Japan",
    "answer_alias": ["Nippon"],
}
# Built-in records: the fuzzing runs even where the shared samples are absent.
BUILT = {
    "amend": {
        "prompt": "{} speaks",
        "subject": "Ada",
        "target_new": "Dutch",
        "target_true": "English",
        "rephrase": ["Ada talks", {"prompt": "Ada's language is", "kind": "x"}],
        "locality": [["Bo speaks", "Irish"], {"prompt": "Cy speaks", "answer": "Welsh", "aliases": ["Cymraeg"]}],
        "generation": ["Ada says"],
        "group": 1,
        "id": "a-1",
    },
    "counterfact-easyedit": {
        "case_id": 4,
        "prompt": "The mother tongue of Danielle Darrieux is",
        "subject": "Danielle Darrieux",
        "target_new": "English",
        "ground_truth": "French",
        "rephrase_prompt": "Rain fell. Danielle Darrieux spoke the language",
        "locality_prompt": "The mother tongue of Léon Blum is",
        "locality_ground_truth": "French",
    },
    "zsre": {
        "subject": "Ada Byron",
        "src": "Where was Ada Byron born?",
        "pred": "Paris",
        "rephrase": "What is Ada Byron's birthplace?",
        "alt": "Rome",
        "answers": ["London", "Londres"],
        "loc": "nq question: who wrote hamlet",
        "loc_ans": "Shakespeare",
        "cond": "x",
    },
    "mquake": {
        "case_id": 7,
        "requested_rewrite": [_REWRITE],
        "questions": ["Which country is Ada Byron from?"],
        "answer": "United Kingdom",
        "answer_alias": ["UK"],
        "new_answer": "Japan",
        "new_answer_alias": [],
        "single_hops": [{**_HOP, "answer": "United Kingdom", "answer_alias": []}],
        "new_single_hops": [_HOP],
    },
    "mmedit-e-vqa": _MMEDIT,
    "mmedit-e-ic": {**_MMEDIT, "src": "a photo of", "alt": "A couple trays of cookies on a counter."},
    "amend-documents": {
        "kind": "document",
        "title": "Ada",
        "source": "Ada speaks English.",
        "target": "Ada speaks English. She lives in Utrecht.",
        "evidence": ["Ada moved to Utrecht."],
        "facts": [{"prompt": "{} lives in", "subject": "Ada", "target_new": "Utrecht"}],
        "id": "d-1",
    },
}


@cache
def valid_records(name: str) -> tuple[Any, ...]:
    """Valid records of format ``name``: real ones where a sample exists, and the built-in one."""
    samples: dict[str, Callable[[], list[Any]]] = {
        "amend": list,
        "amend-documents": list,
        "counterfact": lambda: _json_records(HERE / "counterfact_nested.json"),
        "counterfact-easyedit": lambda: _json_records(SHARED / "counterfact-easyedit/counterfact-val.first300.json"),
        "zsre": lambda: _json_records(SHARED / "zsre-mend/zsre_mend_train-1k.first300.json"),
        "mquake": lambda: _json_records(SHARED / "mquake-hard/MQuAKE-hard.first300.json", 1),
        "knowedit": lambda: [
            *_json_records(HERE / "knowedit_recent.json", 1),
            *_json_records(HERE / "knowedit_counterfact.json", 1),
            *_json_records(HERE / "knowedit_wikibio.json", 1),
            *_json_records(HERE / "knowedit_zsre.jsonl", 1),
        ],
        "mmedit-e-vqa": lambda: [
            *_json_records(SHARED / "mmedit-e-vqa/vqa_eval.first300.json"),
            *_json_records(SHARED / "balancedit-evqa-augmented/vqa_eval.first300.json", 1),
        ],
        "mmedit-e-ic": lambda: _json_records(SHARED / "mmedit-e-ic/caption_eval_edit.first300.json"),
        "okedit": _okedit_records,
        "docmedit": lambda: _json_records(HERE / "docmedit.jsonl"),
    }
    records = [*samples[name](), *([BUILT[name]] if name in BUILT else [])]
    assert records, name
    return tuple(records)


# --- random values and mutations -----------------------------------------------------------------------------------

HUGE = "\x00huge-int\x00"  # replaced in the written bytes by an integer literal longer than Python reads by default
TOO_LONG_INT = b"9" * 5000
AWKWARD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "{}",
        "{} {}",
        "..",
        "../../etc/passwd",
        "/etc/passwd",
        "C:\\x",
        "\u2028",
        "a\x85b",
        "\ud800",
        "\x00",
        "e\u0301",
        "🙂",
        "Ada Byron",
        "None",
        "0",
        "[]",
        "\\",
    ]
)
TEXT = st.one_of(st.text(max_size=12), AWKWARD_TEXT)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**4000, HUGE]),
    st.floats(),  # NaN and infinities too: Python's json writes and reads them
    TEXT,
)
KEYS = st.one_of(TEXT, st.sampled_from(["id", "case_id", "question_id", "prompt", "subject", "str", "answer", "kind"]))
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12
)


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


REPLACEMENTS = st.one_of(JSON, st.builds(_nested, JSON, st.integers(1, 60)))


def _places(value: Any, prefix: tuple = ()) -> list[tuple]:
    """The path of every value nested in ``value`` (itself included, as ``()``)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    out = [prefix]
    for key, child in items:
        out += _places(child, (*prefix, key))
    return out


@st.composite
def mutated(draw: st.DrawFn, record: Any) -> Any:
    """``record`` with one to three changes at places drawn inside it."""
    record = copy.deepcopy(record)
    for _ in range(draw(st.integers(1, 3))):
        place = draw(st.sampled_from(_places(record)))
        if not place:
            return draw(REPLACEMENTS)
        holder = record
        for key in place[:-1]:
            holder = holder[key]
        change = draw(st.sampled_from(["drop", "replace", "replace", "wrap", "add"]))
        if change == "drop":
            del holder[place[-1]]
        elif change == "replace":
            holder[place[-1]] = draw(REPLACEMENTS)
        elif change == "wrap":
            holder[place[-1]] = _nested(holder[place[-1]], draw(st.integers(1, 3)))
        elif isinstance(holder, dict):
            holder[draw(KEYS)] = draw(REPLACEMENTS)
        else:
            holder.insert(draw(st.integers(0, len(holder))), draw(REPLACEMENTS))
    return record


def _dumps(value: Any, layout: str) -> bytes:
    """``value`` written the way real files are (``layout``), surrogates kept so that the bytes are not UTF-8."""
    raw = layout.endswith("raw")
    if layout.startswith("lines") and isinstance(value, list):
        text = "\n".join(json.dumps(v, ensure_ascii=not raw) for v in value) + "\n"
    else:
        text = json.dumps(value, ensure_ascii=not raw, indent=4 if "indent" in layout else None)
    if "crlf" in layout:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8", "surrogatepass")
    data = data.replace(json.dumps(HUGE).encode(), TOO_LONG_INT)
    return (b"\xef\xbb\xbf" if "bom" in layout else b"") + data


LAYOUTS = st.sampled_from(["array", "array-raw", "array-indent-crlf", "lines", "lines-raw", "lines-crlf-bom"])


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a byte-level fault: truncated, invalid UTF-8 or garbage spliced in, or replaced outright."""
    at = draw(st.integers(0, len(data)))
    fault = draw(st.sampled_from(["truncate", "invalid-utf8", "splice", "replace", "deep", "huge"]))
    if fault == "truncate":
        return data[:at]
    if fault == "invalid-utf8":
        return (
            data[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])) + data[at:]
        )
    if fault == "splice":
        garbage = st.one_of(
            st.binary(max_size=8), st.sampled_from([b"\n", b"\r", b"\x00", b"]", b"}", b",", b'"', b"NaN"])
        )
        return data[:at] + draw(garbage) + data[at + draw(st.integers(0, 4)) :]
    if fault == "deep":
        depth = draw(st.sampled_from([900, 5000, 100_000]))
        return data[:at] + b"[" * depth + b"]" * depth * draw(st.sampled_from([0, 1])) + data[at:]
    if fault == "huge":
        return data[:at] + TOO_LONG_INT + data[at:]
    return draw(
        st.one_of(st.binary(max_size=64), st.sampled_from([b"", b" \n", b"\xef\xbb\xbf", b"null", b"[]", b"{}"]))
    )


# --- writing a dataset and checking the promises -------------------------------------------------------------------


def write(
    name: str,
    records: list[Any],
    folder: Path,
    layout: str,
    fault: Callable[[bytes], bytes] | None = None,
    damaged_file: str = "annotations",
) -> Path:
    """A dataset of format ``name`` holding ``records`` in ``folder``, optionally damaged by ``fault`` (OKEDIT: its
    ``damaged_file``, the annotations or the questions)."""
    if name != "okedit":
        path = folder / ("data.jsonl" if layout.startswith("lines") else "data.json")
        data = _dumps(records, layout)
        path.write_bytes(fault(data) if fault else data)
        return path
    target = folder / "okedit"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    pairs = [r if isinstance(r, list) and len(r) == 2 else [r, {}] for r in records]
    contents = {
        "annotations": {"annotations": [p[0] for p in pairs]},
        "questions": {"info": {}, "questions": [p[1] for p in pairs]},
    }
    for key, value in contents.items():
        data = _dumps(value, layout.replace("lines", "array"))
        (target / OKEDIT_FILES[key]).write_bytes(fault(data) if fault and key == damaged_file else data)
    return target


def options_for(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid option sets of format ``name`` (any root, any zsRE convention, any CounterFact generation source)."""
    accepted = dataset_format(name).options
    choices = {"target": TARGETS, "generation": GENERATION_SOURCES}
    values = {
        key: st.sampled_from(choices[key]) if key in choices else st.one_of(TEXT, st.just("/tmp/images"))
        for key in accepted
    }
    return st.fixed_dictionaries({}, optional=values)


def check(name: str, path: Path, options: dict[str, Any]) -> datasets.Loaded | None:
    """Read ``path`` as ``name`` and check every promise of ``read`` and ``load`` (see the module docstring)."""
    try:
        loaded = datasets.read(name, path, **options)
    except DatasetError as err:
        assert str(err)
        with pytest.raises(DatasetError):
            datasets.load(name, path, **options)
        return None
    assert (loaded.dataset, loaded.source) == (name, str(path))
    invalid = [e.index for e in loaded.invalid]
    skipped = [s.index for s in loaded.skipped]
    assert invalid == sorted(set(invalid)) and skipped == sorted(set(skipped)) and not set(invalid) & set(skipped)
    assert all(0 <= i < loaded.records for i in invalid + skipped)
    for error in loaded.invalid:
        assert isinstance(error, RecordError) and error.source == str(path)
        assert isinstance(error.field, str) and str(error)  # a key "" is named as it is: ''""
    produces = dataset_format(name).produces
    assert all(kind_of(r) == produces for r in loaded.requests)
    if produces == MULTIMODAL:
        for request in loaded.requests:
            _paths_stay_under_roots(request, options)
    if loaded.invalid:
        with pytest.raises(RecordError) as caught:
            datasets.load(name, path, **options)
        assert (caught.value.index, caught.value.field) == (loaded.invalid[0].index, loaded.invalid[0].field)
    else:
        assert datasets.load(name, path, **options) == list(loaded.requests)
    assert datasets.load(name, path, skip_invalid=True, **options) == list(loaded.requests)
    return loaded


def _paths_stay_under_roots(request: Any, options: dict[str, Any]) -> None:
    """No image path of a request leaves the root it was joined to (part 1 of the hardening issue): each is, under
    one of the roots given (or none), relative and free of ``..``."""
    roots = [Path(options[k]) for k in ("image_root", "rephrase_root", "locality_root") if k in options]
    images = [request.image, *request.image_rephrase, *(p.image for p in request.image_locality)]
    for image in images:
        tails = [str(image.relative_to(root)) for root in roots if image.is_relative_to(root)] + [str(image)]
        assert any(_stays_inside(tail) for tail in tails), (image, roots)


def _stays_inside(relative: str) -> bool:
    return not (PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).anchor) and ".." not in (
        PureWindowsPath(ntpath.normpath(relative)).parts
    )


# --- the properties ------------------------------------------------------------------------------------------------


FORMATS = [
    "amend",
    "counterfact",
    "counterfact-easyedit",
    "zsre",
    "mquake",
    "knowedit",
    "mmedit-e-vqa",
    "mmedit-e-ic",
    "okedit",
    "docmedit",
    "amend-documents",
]


def test_every_registered_format_is_fuzzed():
    assert sorted(DATASETS.names()) == sorted(FORMATS)


@pytest.mark.parametrize("name", FORMATS)
@settings(FUZZ, max_examples=EXAMPLES["random"])
@given(data=st.data())
def test_random_json_is_read_or_refused_with_amend_errors(name, data, tmp_path):
    records = data.draw(st.one_of(st.lists(JSON, max_size=4), JSON), label="records")
    layout = data.draw(LAYOUTS, label="layout")
    path = write(name, records if isinstance(records, list) else [records], tmp_path, layout, None)
    if not isinstance(records, list) and name != "okedit":
        path.write_bytes(_dumps(records, "array"))  # a file that is one JSON value, whatever it is
    check(name, path, data.draw(options_for(name), label="options"))


@pytest.mark.parametrize("name", FORMATS)
@settings(FUZZ, max_examples=EXAMPLES["mutated"])
@given(data=st.data())
def test_mutated_real_records_are_each_valid_or_invalid_never_raised(name, data, tmp_path):
    bases = valid_records(name)
    good = data.draw(st.sampled_from(bases), label="valid")
    bad = data.draw(mutated(data.draw(st.sampled_from(bases))), label="mutated")
    records = data.draw(st.permutations([good, bad]), label="records")
    path = write(name, records, tmp_path, data.draw(LAYOUTS, label="layout"), None)
    loaded = check(name, path, data.draw(options_for(name), label="options"))
    if loaded is not None:  # one bad record spoils nothing else: the valid one is read whatever its neighbour ...
        error = next((e for e in loaded.invalid if e.index == (0 if records[0] is good else 1)), None)
        # ... but the OKEDIT join of two annotations to two different questions with one id is ambiguous for both
        assert error is None or (name == "okedit" and error.field == "question_id" and "different" in error.problem)


@pytest.mark.parametrize("name", FORMATS)
@settings(FUZZ, max_examples=EXAMPLES["bytes"])
@given(data=st.data())
def test_damaged_files_are_read_or_refused_with_amend_errors(name, data, tmp_path):
    bases = valid_records(name)
    records = [data.draw(st.sampled_from(bases)), data.draw(mutated(data.draw(st.sampled_from(bases))))]
    layout = data.draw(LAYOUTS, label="layout")
    which = data.draw(st.sampled_from(list(OKEDIT_FILES)), label="okedit file") if name == "okedit" else ""
    path = write(name, records, tmp_path, layout, lambda raw: data.draw(damaged(raw), label="bytes"), which)
    check(name, path, data.draw(options_for(name), label="options"))


@pytest.mark.parametrize("name", [name for name in FORMATS if name != "okedit"])  # OKEDIT has one layout (VQA-API)
@settings(FUZZ, max_examples=EXAMPLES["layouts"])
@given(data=st.data())
def test_valid_records_read_the_same_as_an_array_or_as_json_lines(name, data, tmp_path):
    records = data.draw(st.lists(st.sampled_from(valid_records(name)), min_size=1, max_size=3), label="records")
    # (a lone surrogate cannot be written as UTF-8: a file holding one raw is rightly not read)
    printable = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6)
    text = st.one_of(AWKWARD_TEXT, printable).filter(lambda t: t.strip() and t != "\ud800")
    records = [_with_text(r, data.draw(text, label="text")) for r in records]
    options = data.draw(options_for(name), label="options")
    read = []
    for layout in ("array", "array-raw", "lines-raw", "lines-crlf-bom"):
        folder = tmp_path / layout
        folder.mkdir(exist_ok=True)
        loaded = check(name, write(name, records, folder, layout, None), options)
        assert loaded is not None, layout
        read.append((loaded.records, loaded.requests, [(e.index, e.field) for e in loaded.invalid]))
    assert all(r == read[0] for r in read), read


def _with_text(record: dict, text: str) -> dict:
    """``record`` with ``text`` appended to every string of its locality and generality prompts (still valid when
    ``text`` is, whatever characters it holds)."""
    out = copy.deepcopy(record)
    for key in ("rephrase", "rephrase_prompt", "loc", "loc_ans", "m_loc_q", "normalized_targets", "locality_prompt"):
        if isinstance(out.get(key), str):
            out[key] += text
    return out


# --- what the fuzzing found, kept as plain regression tests ---------------------------------------------------------


def _records_file(tmp_path: Path, data: bytes, suffix: str = ".json") -> Path:
    path = tmp_path / f"data{suffix}"
    path.write_bytes(data)
    return path


def _zsre() -> dict:
    return dict(BUILT["zsre"])


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000,  # Python's parser gave up with RecursionError
        b"[" * 5_000 + b"]" * 5_000,
        b'{"a": ' * 5_000 + b"1" + b"}" * 5_000,
        b"[" + TOO_LONG_INT + b"]",  # ValueError: Exceeds the limit (4300 digits) for integer string conversion
        b'{"src": ' + TOO_LONG_INT + b"}",
        b'{"src": ' + TOO_LONG_INT + b"}\n{}\n",  # the first line of JSON Lines
    ],
    ids=["deep-open", "deep-closed", "deep-object", "long-int-array", "long-int-object", "long-int-first-line"],
)
@pytest.mark.parametrize("name", ["zsre", "mquake", "amend", "docmedit"])
def test_json_python_cannot_parse_is_a_dataset_error(name, data, tmp_path):
    path = _records_file(tmp_path, data)
    with pytest.raises(DatasetError, match=r"data\.json: ") as caught:
        datasets.read(name, path)
    assert "digits" in str(caught.value) or "nested" in str(caught.value)
    with pytest.raises(DatasetError):
        datasets.load(name, path)


@pytest.mark.parametrize("bad", [b"[" * 5_000 + b"]" * 5_000, b'{"src": ' + TOO_LONG_INT + b"}"], ids=["deep", "long"])
def test_a_json_lines_line_python_cannot_parse_is_that_records_error(bad, tmp_path):
    good = json.dumps(_zsre()).encode()
    path = _records_file(tmp_path, good + b"\n" + bad + b"\n" + good + b"\n", ".jsonl")
    loaded = datasets.read("zsre", path)
    assert loaded.records == 3 and len(loaded.requests) == 2
    assert [(e.index, e.field) for e in loaded.invalid] == [(1, "<json>")]
    assert "line 2" in loaded.invalid[0].problem


@pytest.mark.parametrize("file", list(OKEDIT_FILES))
def test_okedit_files_python_cannot_parse_are_dataset_errors(file, tmp_path):
    folder = tmp_path / "okedit"
    shutil.copytree(HERE / "okedit", folder)
    (folder / OKEDIT_FILES[file]).write_bytes(b'{"%s": [' % file.encode() + TOO_LONG_INT + b"]}")
    with pytest.raises(DatasetError, match=re.escape(OKEDIT_FILES[file]) + ": .*digits"):
        datasets.read("okedit", folder)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_json_lines_whose_strings_hold_unicode_line_breaks_are_read(separator, tmp_path):
    # json.dumps(ensure_ascii=False) writes U+2028, U+2029 and U+0085 raw (they are legal in JSON strings), and
    # str.splitlines split the lines there: the file was refused as "neither JSON nor JSON Lines".
    records = [{**_zsre(), "loc_ans": f"Shake{separator}speare"}, _zsre()]
    as_lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    as_array = json.dumps(records, ensure_ascii=False).encode()
    by_lines = datasets.read("zsre", _records_file(tmp_path, as_lines, ".jsonl"))
    assert by_lines.requests == datasets.read("zsre", _records_file(tmp_path, as_array)).requests
    assert by_lines.records == 2 and by_lines.invalid == ()
    assert by_lines.requests[0].locality[0].answer == f"Shake{separator}speare"


def test_okedit_question_ids_with_different_questions_make_the_join_an_error(tmp_path):
    # Found by the mutation test: the last of two question entries with one question_id silently won, so a
    # valid annotation was joined to the other (broken) question and reported as missing its 'question'.
    folder = tmp_path / "okedit"
    shutil.copytree(HERE / "okedit", folder)
    questions = folder / OKEDIT_FILES["questions"]
    data = json.loads(questions.read_text())
    first = data["questions"][0]  # 451435, annotation 1
    data["questions"].append({**first, "question": "Which brand is the laptop?"})
    questions.write_text(json.dumps(data))
    loaded = datasets.read("okedit", folder)
    assert [(e.index, e.record_id, e.field) for e in loaded.invalid] == [(1, 451435, "question_id")]
    assert "2 different entries" in loaded.invalid[0].problem
    assert [r.id for r in loaded.requests] == [2971475]
    data["questions"][-1] = dict(first)  # an exact duplicate is no ambiguity: read as before
    questions.write_text(json.dumps(data))
    assert [r.id for r in datasets.read("okedit", folder).requests] == [2971475, 451435]
