"""MQuAKE (Zhong et al. 2023): multi-hop questions whose answers follow from several edits at once.

A case (``MQuAKE-CF-3k.json``, ``MQuAKE-CF.json``, ``MQuAKE-T.json``, DeepEdit's ``MQuAKE-hard.json``) holds a list
``requested_rewrite`` of CounterFact-style edits, three paraphrases of one multi-hop question (``questions``), the
answer before (``answer``, ``answer_alias``) and after (``new_answer``, ``new_answer_alias``) the edits, and the
chain of single-hop facts before (``single_hops``) and after (``new_single_hops``), each with a ``question``, a
``cloze``, an ``answer`` and ``answer_alias``.

Every edit is its own request (id ``"<case_id>/<k>"``), its ``question`` a rephrase of kind ``question``, and all
requests of a case share ``group = case_id``, so single-mode evaluation applies the case's edits together. Nothing
is glued together: each probe is one prompt. The case's probes sit on its first request:

* portability ``multi_hop``: each of the three questions, answer ``new_answer`` with its aliases, foil ``answer``;
* portability ``hop`` and ``hop_question``: the cloze and the question of every new single hop, with aliases; when
  an edit wrote the hop (its subject in the cloze, its new object the answer), the foil is that edit's old object;
* locality ``unedited_hop``: the clozes of the old chain that no edit touches (no edit has the hop's subject in its
  cloze and its answer as the old object; the old chain's later hops are about other subjects), with their answers
  and aliases.
"""

from __future__ import annotations

from amend.datasets.fields import Record
from amend.requests import EditRequest, Probe, Rephrase


def parse(record: Record) -> list[EditRequest]:
    """One request per requested rewrite of a MQuAKE case, the case's probes on the first."""
    rewrites = record.children("requested_rewrite", allow_empty_list=False)
    edits = [_edit(rewrite) for rewrite in rewrites]
    edited = [(subject, new, true) for _, subject, new, true, _ in edits]
    portability = (*_multi_hop(record), *_hops(record, edited))
    locality = tuple(_unedited_hops(record, edited))
    requests = []
    for k, (prompt, subject, new, true, question) in enumerate(edits):
        names = {"prompt": f"requested_rewrite[{k}].prompt", "subject": f"requested_rewrite[{k}].subject"}
        request = record.build(
            EditRequest,
            names,
            prompt=prompt,
            subject=subject,
            target_new=new,
            target_true=true,
            rephrase=(Rephrase(question, "question"),),
            locality=locality if k == 0 else (),
            portability=portability if k == 0 else (),
            group=record.record_id,
            id=f"{record.record_id}/{k}",
        )
        requests.append(request)
    return requests


def _edit(rewrite: Record) -> tuple[str, str, str, str, str]:
    prompt, subject = rewrite.template("prompt", "subject")
    new = rewrite.child("target_new").text("str")
    true = rewrite.child("target_true").text("str")
    return prompt, subject, new, true, rewrite.text("question")


def _multi_hop(record: Record) -> list[Probe]:
    new, aliases = record.text("new_answer"), record.texts("new_answer_alias")
    old = record.text("answer")
    record.texts("answer_alias")  # validated: part of the schema, a reader of the file may rely on it
    foil = old if old != new else None
    return [Probe(q, new, "multi_hop", foil, aliases) for q in record.texts("questions", allow_empty_list=False)]


def _hops(record: Record, edited: list[tuple[str, str, str]]) -> list[Probe]:
    probes = []
    for hop in record.children("new_single_hops"):
        cloze, answer, aliases = hop.text("cloze"), hop.text("answer"), hop.texts("answer_alias")
        foil = next((true for subject, new, true in edited if subject in cloze and new == answer), None)
        probes.append(Probe(cloze, answer, "hop", foil, aliases))
        probes.append(Probe(hop.text("question"), answer, "hop_question", foil, aliases))
    return probes


def _unedited_hops(record: Record, edited: list[tuple[str, str, str]]) -> list[Probe]:
    probes = []
    for hop in record.children("single_hops"):
        cloze, answer, aliases = hop.text("cloze"), hop.text("answer"), hop.texts("answer_alias")
        if not any(subject in cloze and answer == true for subject, _, true in edited):
            probes.append(Probe(cloze, answer, "unedited_hop", aliases=aliases))
    return probes
