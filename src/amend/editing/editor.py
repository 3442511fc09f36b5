"""Editing a model: :class:`Editor` for sequences of batches with method state, :func:`edit` for one batch.

An edit is a transaction: every change it makes (weight deltas, module adapters, context facts) goes through a
journal, and on any failure — an exception, NaN or inf in an intermediate — every change is taken back and the
method's state restored exactly before the error is raised. A model that belongs to a testbed (the knowledge
world) gets the testbed's statistics corpus and editing defaults with no extra argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from amend.architectures import anatomy
from amend.changes import Journal, Patch, revert_all
from amend.editing.checks import check_requests
from amend.errors import AmendError, ConfigError, EditFailed, PatchMismatch, RunMismatch
from amend.fingerprint import fingerprint
from amend.methods import load_method
from amend.methods.base import Resources, frozen
from amend.methods.config import MethodConfig
from amend.prompting import prompt_encoder
from amend.requests import Request, kind_of, request_from_dict
from amend.stats import Corpus, SecondMoment, StatsCache
from amend.stats.given import GivenMoment, given_moments
from amend.storage import read_json, read_tensors, write_json, write_tensors
from amend.testbeds.base import testbed_of
from amend.version import __version__

EDITOR_FILE = "editor.json"
RequestsLike = Request | Mapping[str, Any] | Iterable[Request | Mapping[str, Any]]
ConfigLike = MethodConfig | Mapping[str, Any] | None
StatisticsLike = Mapping[int, SecondMoment | GivenMoment | str | Path] | None


def as_requests(requests: RequestsLike) -> list[Any]:
    """Requests from request objects or plain dicts (validated; errors name the record index and field)."""
    if isinstance(requests, Mapping) or _is_request(requests):
        requests = [requests]
    out = [r if _is_request(r) else request_from_dict(r, record_id=i) for i, r in enumerate(requests)]
    if not out:
        raise EditFailed("no requests to edit")
    return out


def _is_request(value: object) -> bool:
    try:
        kind_of(value)
    except TypeError:
        return False
    return True


def method_config(method: str | type, model: nn.Module, config: ConfigLike = None, **overrides: Any) -> MethodConfig:
    """The configuration ``method`` edits ``model`` with: ``config`` as given (a config of the method's class), or
    the method's defaults for the model (its architecture's, then its testbed's) under ``config``'s fields (a
    mapping) and ``overrides``. Unknown fields are refused, with the closest field named."""
    config_cls = load_method(method).config_cls
    if isinstance(config, MethodConfig):
        if not isinstance(config, config_cls):
            raise ConfigError(f"{method} takes a {config_cls.__name__}, not a {type(config).__name__}")
        return config if not overrides else config_cls.from_dict({**config.to_dict(), **overrides})
    return config_cls.for_model(model, **{**(config or {}), **overrides})


class Editor:
    """Applies batches of edits in sequence, keeping the method's state (AlphaEdit's accumulated keys).

    ``editor.edit(batch)`` applies one batch in place and returns its :class:`Patch`; ``editor.revert()`` undoes
    every batch bit for bit and resets the state; ``editor.save(dir)`` and :meth:`Editor.load` persist the whole
    run. Statistics are keyed by the unedited model's fingerprint, so they are computed once for the sequence; the
    cache also remembers which model each edit produced, so an editor (or :func:`edit`) made later on an edited
    model uses the unedited model's statistics too, as the original methods do.

    Args:
        model: A HuggingFace causal LM whose ``model_type`` is in amend's architecture table.
        tokenizer: Its tokenizer (not modified).
        method: A registered method name (``amend ls`` lists them), or a method class of your own.
        config: The method's config (its dataclass), or a mapping of its fields over the defaults for the model.
        cache_dir: Where statistics are cached (default ``$AMEND_CACHE`` or ``~/.cache/amend``), or a
            :class:`~amend.stats.StatsCache`.
        corpus: Texts for the key statistics, replacing the testbed's corpus and the config's ``stats_corpus``: a
            :class:`Corpus`, a list of strings, a text file, or ``hf:NAME[:CONFIG]``.
        statistics: Second moments to use instead of computing them, by layer: an original ROME/MEMIT ``.npz``
            file, an amend statistics file, or a :class:`~amend.stats.SecondMoment` (:mod:`amend.stats.given`).
        keep_intermediates: Keep each edit's intermediate tensors in ``patch.intermediates`` (keys, target
            vectors, residuals, ROME's u and r, AlphaEdit's projectors), to inspect an edit or compare it with
            another implementation's.
        progress: Show progress bars.
        **overrides: Fields of the method's config (e.g. ``layer=5``).
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        method: str | type = "rome",
        *,
        config: ConfigLike = None,
        cache_dir: str | Path | StatsCache | None = None,
        corpus: Corpus | Sequence[str] | str | Path | None = None,
        statistics: StatisticsLike = None,
        keep_intermediates: bool = False,
        progress: bool = False,
        **overrides: Any,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.method_cls = load_method(method)
        self.config = method_config(method, model, config, **overrides)
        self.base_fingerprint = fingerprint(model)
        stats = StatsCache.coerce(cache_dir)
        self.resources = Resources(
            stats=stats,
            corpus=None if corpus is None else Corpus.resolve(corpus),
            testbed=testbed_of(model, tokenizer),
            base_fingerprint=stats.unedited(self.base_fingerprint),
            present_fingerprint=self.base_fingerprint,
            progress=progress,
            statistics=given_moments(statistics),
            keep_intermediates=keep_intermediates,
        )
        self.state: dict[str, torch.Tensor] = self.resources.state
        self.patches: list[Patch] = []

    @property
    def method(self) -> str:
        return self.method_cls.name

    def config_record(self) -> dict[str, Any]:
        """The config a report records, with the statistics corpus actually used (the config's ``stats_corpus`` is
        only the fallback when neither the caller nor a testbed gives one)."""
        used, given = self.resources.corpus_used, self.resources.statistics
        record = {**self.config.to_dict(), **({"stats_corpus_used": used} if used else {})}
        if given:
            record["statistics_given"] = {str(layer): moment.source for layer, moment in sorted(given.items())}
        return record

    def edit(self, requests: RequestsLike) -> Patch:
        """Apply one batch in place and return its patch; on failure nothing changes (model nor state)."""
        requests = as_requests(requests)
        for request in requests:
            if kind_of(request) not in self.method_cls.reads:
                raise ConfigError(
                    f"{self.method} edits {' or '.join(self.method_cls.reads)} requests; request "
                    f"{request.record_id!r} is a {kind_of(request)} request"
                )
        check_requests(requests, prompt_encoder(self.tokenizer).tokenizer, anatomy(self.model).context_length)
        before = fingerprint(self.model)
        self.resources.present_fingerprint = before
        saved_state = {name: tensor.clone() for name, tensor in self.state.items()}
        journal = Journal(self.model)
        try:
            with frozen(self.model):
                method = self.method_cls(self.model, self.tokenizer, self.config, self.resources)
                method.write(requests, journal)
        except BaseException as err:
            journal.rollback()
            self.state.clear()
            self.state.update(saved_state)
            if isinstance(err, Exception) and not isinstance(err, AmendError):
                raise EditFailed(f"{self.method} failed and the model was left unchanged: {err}") from err
            raise
        patch = Patch(
            method=self.method,
            config=self.config.to_dict(),
            requests=requests,
            changes=list(journal.changes),
            base_fingerprint=before,
            result_fingerprint=fingerprint(self.model),
            amend_version=__version__,
            log=method.log,
            intermediates=method.intermediates,
        )
        patch._attach(journal)
        self.patches.append(patch)
        self.resources.stats.record_edit(before, patch.result_fingerprint)
        return patch

    def revert(self) -> None:
        """Undo every batch (latest first), bit for bit, and reset the method state."""
        revert_all(self.patches)
        self.patches.clear()
        self.state.clear()

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write ``patches/NNNNN/``, ``state_<n>.safetensors`` and ``editor.json`` into the directory ``path``.

        ``editor.json`` is written last and atomically, so an interrupted save leaves the previous save intact;
        ``extra`` is stored in it (a sequential run keeps its progress and settings there).
        """
        path = Path(path)
        committed = self.saved(path)["patches"] if (path / EDITOR_FILE).exists() else 0
        for i, patch in enumerate(self.patches):
            if i >= committed:  # committed patches never change; later ones may be left from an interrupted save
                patch.save(path / "patches" / f"{i:05d}")
        state_file = f"state_{len(self.patches):05d}.safetensors"
        write_tensors(path / state_file, self.state)
        meta = {
            "method": self.method,
            "config": self.config.to_dict(),
            "base_fingerprint": self.base_fingerprint,
            "patches": len(self.patches),
            "state_file": state_file,
            "amend_version": __version__,
            "extra": extra or {},
        }
        write_json(path / EDITOR_FILE, meta)
        for old in path.glob("state_*.safetensors"):
            if old.name != state_file:
                old.unlink()
        return path

    @staticmethod
    def saved(path: str | Path) -> dict[str, Any]:
        """The contents of a saved ``editor.json``, each field checked (a run folder from elsewhere is data)."""
        file = Path(path) / EDITOR_FILE
        meta = read_json(file, RunMismatch)
        if not isinstance(meta, dict):
            raise RunMismatch(f"{file}: expected a JSON object, got {type(meta).__name__}")
        expected = {
            "method": str,
            "config": dict,
            "base_fingerprint": str,
            "patches": int,
            "state_file": str,
            "extra": dict,
        }
        for name, kind in expected.items():
            if not isinstance(meta.get(name), kind) or isinstance(meta.get(name), bool):
                raise RunMismatch(f"{file}: field {name!r} must be a {kind.__name__}, got {meta.get(name)!r}")
        if meta["patches"] < 0 or not re.fullmatch(r"state_\d{5}\.safetensors", meta["state_file"]):
            raise RunMismatch(f"{file}: 'patches' or 'state_file' is not one amend writes")
        return meta

    @staticmethod
    def saved_extra(path: str | Path) -> dict[str, Any]:
        """The ``extra`` stored by :meth:`save`."""
        return Editor.saved(path)["extra"]

    @classmethod
    def load(
        cls,
        path: str | Path,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        *,
        cache_dir: str | Path | StatsCache | None = None,
        corpus: Corpus | Sequence[str] | str | Path | None = None,
        statistics: StatisticsLike = None,
        progress: bool = False,
    ) -> Editor:
        """Re-create a saved editor on the *unedited* model: its patches are re-applied in order, its state
        restored.

        The folder is data: paths are only ever the caller's. The saved config's path fields (``stats_corpus``) are
        not read from the file; a run saved with another statistics corpus than the model's default is loaded only
        when the caller passes ``corpus``.
        """
        path = Path(path)
        meta = cls.saved(path)
        method_cls = load_method(meta["method"])
        defaults = method_config(meta["method"], model)
        values = dict(meta["config"])
        for name in getattr(method_cls.config_cls, "PATH_FIELDS", ()):
            saved_value, own = values.get(name), getattr(defaults, name)
            if corpus is None and saved_value != own:
                raise RunMismatch(
                    f"{path} was saved with {name}={saved_value!r}; paths are not taken from a saved run: pass "
                    "corpus= (amend evaluate --corpus FILE) to load it with that corpus"
                )
            values[name] = own
        config = method_cls.config_cls.from_dict(values)
        editor = cls(
            model,
            tokenizer,
            meta["method"],
            config=config,
            cache_dir=cache_dir,
            corpus=corpus,
            statistics=statistics,
            progress=progress,
        )
        if editor.base_fingerprint != meta["base_fingerprint"]:
            raise PatchMismatch(
                f"{path} was saved for a model with fingerprint {meta['base_fingerprint'][:12]}, not "
                f"{editor.base_fingerprint[:12]}; load it on the unedited model it started from"
            )
        state, _ = read_tensors(path / meta["state_file"], RunMismatch)
        try:
            for i in range(meta["patches"]):
                editor.patches.append(Patch.load(path / "patches" / f"{i:05d}").apply(model))
        except BaseException:
            revert_all(editor.patches)
            raise
        editor.state.update(state)
        return editor


def edit(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    requests: RequestsLike,
    method: str | type = "rome",
    *,
    config: ConfigLike = None,
    cache_dir: str | Path | StatsCache | None = None,
    corpus: Corpus | Sequence[str] | str | Path | None = None,
    statistics: StatisticsLike = None,
    keep_intermediates: bool = False,
    progress: bool = False,
    **overrides: Any,
) -> Patch:
    """Edit ``model`` in place with one batch and return the patch (``patch.revert()`` undoes it bit for bit).

    The one-shot form of :class:`Editor` (same arguments); method state such as AlphaEdit's accumulated keys starts
    empty and is not kept. If anything fails, the model is left exactly as it was and
    :class:`~amend.errors.EditFailed` (or the amend error that caused it) is raised.
    """
    editor = Editor(
        model,
        tokenizer,
        method,
        config=config,
        cache_dir=cache_dir,
        corpus=corpus,
        statistics=statistics,
        keep_intermediates=keep_intermediates,
        progress=progress,
        **overrides,
    )
    return editor.edit(requests)
