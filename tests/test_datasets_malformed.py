"""Malformed records fail as amend errors that name the file, the record and the field, never as KeyError/TypeError."""

import copy
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amend import ConfigError, RecordError, datasets
from amend.errors import DatasetError

HERE = Path(__file__).parent / "data"
SHARED = Path("/work/shared/data")


def _first(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(text)[0] if text.lstrip().startswith("[") else json.loads(text.splitlines()[0])


def _okedit_annotation() -> dict:
    return json.loads((HERE / "okedit" / "mscoco_val2014_annotations.json").read_text())["annotations"][0]


# A valid record of every format (a real one where a sample exists), and the fields a record cannot lack.
BASES = {
    "counterfact": (lambda: _first(HERE / "counterfact_nested.json"), ["requested_rewrite", "paraphrase_prompts"]),
    "counterfact-easyedit": (
        lambda: _first(SHARED / "counterfact-easyedit/counterfact-val.first300.json"),
        ["prompt", "subject", "target_new", "ground_truth", "rephrase_prompt", "locality_prompt"],
    ),
    "zsre": (
        lambda: _first(SHARED / "zsre-mend/zsre_mend_train-1k.first300.json"),
        ["subject", "src", "rephrase", "answers", "loc", "loc_ans"],
    ),
    "mquake": (
        lambda: _first(SHARED / "mquake-hard/MQuAKE-hard.first300.json"),
        ["requested_rewrite", "questions", "new_answer", "new_answer_alias", "single_hops", "new_single_hops"],
    ),
    "knowedit": (lambda: _first(HERE / "knowedit_recent.json"), ["subject", "prompt", "target_new"]),
    "mmedit-e-vqa": (
        lambda: _first(SHARED / "mmedit-e-vqa/vqa_eval.first300.json"),
        ["src", "alt", "rephrase", "image", "image_rephrase", "loc", "loc_ans", "m_loc", "m_loc_q", "m_loc_a"],
    ),
    "mmedit-e-ic": (
        lambda: _first(SHARED / "mmedit-e-ic/caption_eval_edit.first300.json"),
        ["src", "alt", "image", "m_loc_a"],
    ),
    # (image_id is also in the question entry the annotation is joined with, so it is not missing without it)
    "okedit": (_okedit_annotation, ["question_id", "answers", "counterfact_answer", "locality_answer"]),
    "docmedit": (
        lambda: _first(HERE / "docmedit.jsonl"),
        ["normalized_inputs", "normalized_targets", "evidence", "title"],
    ),
    "amend": (
        lambda: {"prompt": "{} speaks", "subject": "Ada", "target_new": "Dutch", "locality": [["Bo speaks", "Irish"]]},
        ["prompt", "subject", "target_new"],
    ),
}
NEEDS_SHARED = {"counterfact-easyedit", "zsre", "mquake", "mmedit-e-vqa", "mmedit-e-ic"}


def _write(name: str, record: dict, folder: Path) -> Path:
    """A file of format ``name`` holding ``record`` (OKEDIT: the annotation next to the fixture's questions)."""
    if name == "okedit":
        target = folder / "okedit"
        shutil.copytree(HERE / "okedit", target, dirs_exist_ok=True)
        annotations = target / "mscoco_val2014_annotations.json"
        data = json.loads(annotations.read_text())
        data["annotations"] = [record]
        annotations.write_text(json.dumps(data))
        return target
    path = folder / f"{name}.json"
    path.write_text(json.dumps([record]))
    return path


def _paths(value, prefix=()):
    """Every (path, value) inside a JSON value, the value itself excluded."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield (*prefix, key), child
        yield from _paths(child, (*prefix, key))


def _name(path) -> str:
    """A path as loaders name fields: ``a.b[2].c``."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def _mutated(record: dict, path, value, delete: bool) -> dict:
    out = copy.deepcopy(record)
    holder = out
    for key in path[:-1]:
        holder = holder[key]
    if delete:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return out


OTHER_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "   "]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["x", "str", "prompt"]), st.integers(), max_size=2),
)


def _type(value) -> type:
    return type(value)


@pytest.mark.parametrize("name", list(BASES))
def test_the_base_records_are_valid(name, tmp_path):
    if name in NEEDS_SHARED and not SHARED.is_dir():
        pytest.skip("shared samples absent")
    loaded = datasets.read(name, _write(name, BASES[name][0](), tmp_path))
    assert loaded.invalid == () and len(loaded.requests) >= 1


@pytest.mark.parametrize("name", list(BASES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_malformed_records_name_the_broken_field(name, data, tmp_path):
    if name in NEEDS_SHARED and not SHARED.is_dir():
        pytest.skip("shared samples absent")
    record = BASES[name][0]()
    path, original = data.draw(st.sampled_from(list(_paths(record))), label="path")
    delete = isinstance(path[-1], str) and data.draw(st.booleans(), label="delete")
    value = None
    if not delete:
        value = data.draw(
            OTHER_VALUES.filter(lambda v: _type(v) is not _type(original) or v in ("", "   ") or isinstance(v, list)),
            label="value",
        )
    broken = _mutated(record, path, value, delete)
    loaded = datasets.read(name, _write(name, broken, tmp_path))  # any other exception fails the test
    if loaded.invalid:
        (error,) = loaded.invalid
        field = _name(path)
        assert error.field == field or error.field.startswith((f"{field}.", f"{field}[")), (error, field)
        assert error.index == 0 and error.source is not None and "record 0" in str(error)


@pytest.mark.parametrize(("name", "field"), [(name, field) for name, (_, fields) in BASES.items() for field in fields])
def test_a_missing_required_field_is_named(name, field, tmp_path):
    if name in NEEDS_SHARED and not SHARED.is_dir():
        pytest.skip("shared samples absent")
    record = BASES[name][0]()
    del record[field]
    with pytest.raises(RecordError) as caught:
        datasets.load(name, _write(name, record, tmp_path))
    assert caught.value.field == field and "missing" in caught.value.problem


def test_the_message_names_file_record_index_id_and_field(tmp_path):
    records = json.loads((HERE / "counterfact_nested.json").read_text())
    records[1]["requested_rewrite"]["target_new"]["str"] = ""
    records[1]["case_id"] = 17
    path = tmp_path / "cf.json"
    path.write_text(json.dumps(records))
    with pytest.raises(RecordError) as caught:
        datasets.load("counterfact", path)
    message = str(caught.value)
    assert str(path) in message and "record 1 (id 17)" in message
    assert "'requested_rewrite.target_new.str'" in message and "empty" in message


def test_a_subject_absent_from_its_prompt_is_an_error(tmp_path):
    records = [{"subject": "Ada Byron", "src": "Where was Ada born?", "rephrase": "r", "answers": ["London"],
                "loc": "nq question: x", "loc_ans": "y"}]  # fmt: skip
    path = tmp_path / "z.json"
    path.write_text(json.dumps(records))
    with pytest.raises(RecordError, match="'Ada Byron' does not occur in 'src'") as caught:
        datasets.load("zsre", path)
    assert caught.value.field == "subject" and caught.value.record_id == 0


def test_read_lists_every_bad_record_and_load_can_skip_them(tmp_path):
    records = [json.loads(line) for line in (HERE / "docmedit.jsonl").read_text().splitlines()] * 3
    records[1] = {**records[1], "evidence": []}
    records[4] = {**records[4], "title": 7}
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n{not json\n")
    loaded = datasets.read("docmedit", path)
    assert loaded.records == 7 and len(loaded.requests) == 4
    assert [(e.index, e.field) for e in loaded.invalid] == [(1, "evidence"), (4, "title"), (6, "<json>")]
    assert "line 7" in str(loaded.invalid[2])
    with pytest.raises(RecordError):
        datasets.load("docmedit", path)
    assert len(datasets.load("docmedit", path, skip_invalid=True)) == 4


def test_zsre_alt_convention_skips_empty_alt_and_reports_it(tmp_path):
    base = {"subject": "Ada", "src": "Where was Ada born?", "rephrase": "Ada's birthplace?", "answers": ["London"],
            "loc": "nq question: x", "loc_ans": "y", "alt": ""}  # fmt: skip
    path = tmp_path / "z.json"
    path.write_text(json.dumps([base, {**base, "alt": "Paris"}]))
    easyedit = datasets.read("zsre", path, target="alt")
    assert [r.target_new for r in easyedit.requests] == ["Paris"]
    assert [(s.index, s.record_id) for s in easyedit.skipped] == [(0, 0)] and "alt" in easyedit.skipped[0].reason
    assert [r.target_new for r in datasets.load("zsre", path)] == ["London", "London"]  # the default: answers[0]
    with pytest.raises(ConfigError, match="target"):
        datasets.load("zsre", path, target="pred")


def test_file_level_problems_and_unknown_names(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"a": 1},\n {"b": ]')
    with pytest.raises(DatasetError, match=r"broken.json: not valid JSON \(line 2"):
        datasets.load("zsre", broken)
    with pytest.raises(DatasetError, match="no such file"):
        datasets.load("zsre", tmp_path / "absent.json")
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"subject": "Gödel"}]'.encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        datasets.load("zsre", latin)
    with pytest.raises(ConfigError, match="Did you mean 'counterfact'"):
        datasets.load("counterfakt", broken)
    with pytest.raises(ConfigError, match="no option 'image_root'"):
        datasets.load("zsre", broken, image_root="x")
    with pytest.raises(DatasetError, match="exactly one file"):
        datasets.load("okedit", tmp_path)


def test_okedit_annotation_without_question_is_named(tmp_path):
    folder = tmp_path / "okedit"
    shutil.copytree(HERE / "okedit", folder)
    questions = folder / "OpenEnded_mscoco_val2014_questions.json"
    data = json.loads(questions.read_text())
    data["questions"] = data["questions"][1:]
    questions.write_text(json.dumps(data))
    loaded = datasets.read("okedit", folder)
    assert [(e.index, e.record_id, e.field) for e in loaded.invalid] == [(1, 451435, "question")]


# Image paths are joined to a root the user gives; one that is absolute or climbs out with '..' would name a file
# outside it (and an evaluation would then read that file), so the record is refused.
ESCAPING_PATHS = [
    "/etc/passwd",
    "../../secret.png",
    "val2014/../../secret.png",
    "..",
    "C:\\Windows\\secret.png",
    "C:secret.png",
    "..\\..\\secret.png",
    "\\\\server\\share\\secret.png",
    "\\secret.png",
]
STAYING_PATHS = ["val2014/x.jpg", "./val2014/x.jpg", "val2014/../x.jpg", "..hidden/x.png", "x..png", "a/b..c/x.png"]
MULTIMODAL_SAMPLES = {
    "mmedit-e-vqa": ("mmedit-e-vqa", SHARED / "mmedit-e-vqa/vqa_eval.first300.json"),
    "mmedit-e-ic": ("mmedit-e-ic", SHARED / "mmedit-e-ic/caption_eval_edit.first300.json"),
    "balancedit-augmented": ("mmedit-e-vqa", SHARED / "balancedit-evqa-augmented/vqa_eval.first300.json"),
}
IMAGE_FIELDS = ["image", "image_rephrase", "m_loc"]


def _sample_with(sample: str, index: int, field: str, value: str, folder: Path) -> tuple[str, Path]:
    """The format and a file of the first three records of ``sample``, record ``index`` with ``field = value``."""
    name, source = MULTIMODAL_SAMPLES[sample]
    records = json.loads(source.read_text(encoding="utf-8"))[:3]
    records[index][field] = value
    path = folder / "sample.json"
    path.write_text(json.dumps(records, indent=4), encoding="utf-8")
    return name, path


def _image_paths(request) -> list[Path]:
    return [request.image, *request.image_rephrase, *(probe.image for probe in request.image_locality)]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared samples absent")
@pytest.mark.parametrize("sample", list(MULTIMODAL_SAMPLES))
@pytest.mark.parametrize("field", IMAGE_FIELDS)
@pytest.mark.parametrize("bad", ESCAPING_PATHS)
def test_an_image_path_leaving_its_root_is_a_record_error(sample, field, bad, tmp_path):
    name, path = _sample_with(sample, 1, field, bad, tmp_path)
    root = tmp_path / "images"
    for options in ({}, {"image_root": str(root)}, {"image_root": str(root), "rephrase_root": str(root / "r")}):
        loaded = datasets.read(name, path, **options)
        assert [(e.index, e.field) for e in loaded.invalid] == [(1, field)], (options, loaded.invalid)
        assert repr(bad) in loaded.invalid[0].problem and "record 1" in str(loaded.invalid[0])
        assert [r.id for r in loaded.requests] == [0, 2]
        with pytest.raises(RecordError) as caught:
            datasets.load(name, path, **options)
        assert caught.value.field == field


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared samples absent")
@pytest.mark.parametrize("good", STAYING_PATHS)
@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_a_relative_image_path_inside_its_root_is_kept_as_written(field, good, tmp_path):
    name, path = _sample_with("mmedit-e-vqa", 0, field, good, tmp_path)
    (request, *_) = datasets.load(name, path)
    assert Path(good) in _image_paths(request)
    root = tmp_path / "images"
    (rooted, *_) = datasets.load(name, path, image_root=root)
    assert root / good in _image_paths(rooted)
    assert all(p.resolve().is_relative_to(root.resolve()) for p in _image_paths(rooted))


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared samples absent")
def test_amend_validate_lists_a_record_whose_image_escapes(tmp_path):
    from typer.testing import CliRunner

    from amend.cli.app import app

    _, path = _sample_with("mmedit-e-vqa", 2, "m_loc", "../../etc/passwd", tmp_path)
    result = CliRunner().invoke(app, ["validate", "--dataset", "mmedit-e-vqa", str(path)])
    assert result.exit_code == 1, result.output
    assert "3 records as mmedit-e-vqa: 2 requests, 0 skipped, 1 invalid" in result.output
    assert "record 2, field 'm_loc'" in result.output and "../../etc/passwd" in result.output


@pytest.mark.parametrize("question_id", ["../x", "../../etc", "/etc", "C:\\x"])
def test_okedit_question_ids_that_would_be_folders_outside_the_roots_are_refused(question_id, tmp_path):
    folder = tmp_path / "okedit"
    shutil.copytree(HERE / "okedit", folder)
    for file, key in [("mscoco_val2014_annotations.json", "annotations"),
                      ("OpenEnded_mscoco_val2014_questions.json", "questions")]:  # fmt: skip
        data = json.loads((folder / file).read_text())
        for entry in data[key]:
            if entry["question_id"] == 2971475:  # in both files: the join still pairs them
                entry["question_id"] = question_id
        (folder / file).write_text(json.dumps(data))
    loaded = datasets.read("okedit", folder, rephrase_root=tmp_path / "r", locality_root=tmp_path / "l")
    assert [(e.index, e.record_id, e.field) for e in loaded.invalid] == [(0, question_id, "question_id")]
    assert [r.id for r in loaded.requests] == [451435]
