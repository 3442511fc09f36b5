"""Requests: one immutable, validated record per edit, of three kinds sharing :class:`Request`.

* ``edit`` — :class:`EditRequest`, a text fact (subject, prompt, new object) with its probes;
* ``multimodal`` — :class:`MultimodalRequest`, a question about an image and its new answer;
* ``document`` — :class:`DocumentRequest`, an article to rewrite from evidence.
"""

from amend.requests.base import DOCUMENT, EDIT, MULTIMODAL, REQUEST_KINDS, Request, kind_of
from amend.requests.document import DocumentRequest
from amend.requests.multimodal import ImageProbe, MultimodalRequest
from amend.requests.serialize import request_from_dict
from amend.requests.text import PLACEHOLDER, EditRequest, Probe, Rephrase, fill, sentence

__all__ = [
    "DOCUMENT",
    "EDIT",
    "MULTIMODAL",
    "PLACEHOLDER",
    "REQUEST_KINDS",
    "DocumentRequest",
    "EditRequest",
    "ImageProbe",
    "MultimodalRequest",
    "Probe",
    "Rephrase",
    "Request",
    "fill",
    "kind_of",
    "request_from_dict",
    "sentence",
]
