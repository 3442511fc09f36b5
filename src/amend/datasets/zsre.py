"""zsRE question answering in the MEND/ROME format (``zsre_mend_eval.json``, ``zsre_mend_train.json``).

Records: ``subject``, the question ``src`` (the subject appears in it), a paraphrase ``rephrase``, the gold
``answers``, an alternative answer ``alt`` (may be ""), an NQ question ``loc`` ("nq question: ...") with its answer
``loc_ans``, and ``pred`` / ``cond`` (a stale model prediction and MEND's conditioning string; not used).

Papers disagree on what the edit writes, so the convention is an option, ``target``:

* ``"answers"`` (default; ROME, MEMIT and AlphaEdit): ``target_new = answers[0]``, no old target (they use
  ``<|endoftext|>`` as a placeholder, amend leaves it out, so there is no foil);
* ``"alt"`` (EasyEdit, MEND): ``target_new = alt``, ``target_true = answers[0]``; records whose ``alt`` is empty
  are skipped, as EasyEdit skips them, and so are records whose ``alt`` is the answer itself (EasyEdit keeps them
  and "edits" the answer to itself); both are reported as skipped.

Each request gets the paraphrase (kind ``rephrase``) and the NQ locality probe (kind ``nq``).
"""

from __future__ import annotations

from amend.datasets.fields import Record, Skip
from amend.errors import ConfigError
from amend.requests import EditRequest, Probe, Rephrase

TARGETS = ("answers", "alt")
DEFAULT_TARGET = "answers"


def parse(record: Record, target: str = DEFAULT_TARGET) -> list[EditRequest] | Skip:
    """One request from a zsRE record under the ``target`` convention."""
    if target not in TARGETS:
        raise ConfigError(f"zsre target must be one of {TARGETS}, not {target!r}")
    prompt, subject = record.template("src", "subject")
    answers = record.texts("answers", allow_empty_list=False)
    rephrase = (Rephrase(record.text("rephrase"), "rephrase"),)
    locality = (Probe(record.text("loc"), record.text("loc_ans"), "nq"),)
    if target == "alt":
        new, true = record.text("alt", allow_empty=True), answers[0]
        if not new.strip():
            return Skip("empty 'alt': the EasyEdit convention leaves the record out")
        if new.strip() == true.strip():
            return Skip("'alt' equals the answer: there is nothing to edit (EasyEdit would edit it to itself)")
    else:
        new, true = answers[0], None
    names = {"prompt": "src", "target_new": "alt" if target == "alt" else "answers", "target_true": "answers"}
    request = record.build(
        EditRequest,
        names,
        prompt=prompt,
        subject=subject,
        target_new=new,
        target_true=true,
        rephrase=rephrase,
        locality=locality,
        id=record.record_id,
    )
    return [request]
