"""The base of every method configuration: a dataclass with documented fields and per-architecture defaults."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from amend.architectures.anatomy import text_config
from amend.errors import ConfigError
from amend.testbeds.base import model_defaults as testbed_defaults

C = TypeVar("C", bound="MethodConfig")


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Base class. Subclasses declare fields with ``help`` metadata and a table of per-architecture defaults.

    Defaults are layered, later winning: the dataclass defaults, ``ARCH_DEFAULTS[config.model_type]`` (or
    ``ARCH_DEFAULTS["*"]`` for a type without its own row), the
    settings a testbed gives for the model (:meth:`amend.testbeds.Testbed.edit_defaults`; a method it gives none for
    takes those of the first ``DEFAULTS_FALLBACK`` method it does), and finally the caller's overrides.
    """

    method: ClassVar[str] = ""
    # Fields holding paths: a config read from a file (a saved run) never takes them from the file.
    PATH_FIELDS: ClassVar[tuple[str, ...]] = ()
    ARCH_DEFAULTS: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    DEFAULTS_FALLBACK: ClassVar[tuple[str, ...]] = ()
    # Value field -> the field giving its unit (e.g. λ and whether it is absolute or relative). A layer of defaults
    # or overrides that sets the value without its unit gets the unit's field default, so a λ given alone always
    # means what the field's default unit says, never a unit left behind by an earlier layer.
    UNITS: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        """Every field of a plain type holds a value of that type, and every number is finite: a ``--set v_lr=abc``
        or a NaN from a config file is refused here, naming the field, not deep inside an edit."""
        for spec in dataclasses.fields(self):
            _check_plain_type(type(self).__name__, spec.name, spec.type, getattr(self, spec.name))

    @classmethod
    def for_model(
        cls: type[C], model: Any, *, model_defaults: Mapping[str, Mapping[str, Any]] | None = None, **overrides: Any
    ) -> C:
        """The configuration for ``model``: defaults for its architecture, then ``model_defaults`` (method name ->
        fields; by default those of the testbed the model belongs to), then ``overrides``."""
        if model_defaults is None:
            model_defaults = testbed_defaults(model)
        values = cls.architecture_defaults(text_config(model.config))
        cls.merge(values, cls.defaults_from(model_defaults))
        cls.merge(values, overrides)
        return cls.from_dict(values)

    @classmethod
    def merge(cls, values: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
        """Put a layer of settings over ``values`` in place: a value given without its unit (:attr:`UNITS`) takes
        the unit's default."""
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for value_field, unit_field in cls.UNITS.items():
            if value_field in layer and unit_field not in layer:
                values[unit_field] = defaults[unit_field]
        values.update(layer)
        return values

    @classmethod
    def architecture_defaults(cls, model_config: Any) -> dict[str, Any]:
        """``ARCH_DEFAULTS`` for the model's type (else its ``"*"`` row), then the values derived from its config."""
        row = cls.ARCH_DEFAULTS.get(model_config.model_type, cls.ARCH_DEFAULTS.get("*", {}))
        values: dict[str, Any] = dict(row)
        values.update(cls.arch_derived(model_config, values))
        return values

    @classmethod
    def defaults_from(cls, table: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The settings ``table`` gives this method, else the first ``DEFAULTS_FALLBACK`` method's."""
        for name in (cls.method, *cls.DEFAULTS_FALLBACK):
            if name in table:
                return dict(table[name])
        return {}

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults computed from the model's config (e.g. a layer scaled to its depth). Override in subclasses."""
        return {}

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            hints = [_did_you_mean(name, names) for name in unknown]
            raise ConfigError(
                f"{cls.__name__} has no field(s) {unknown}{''.join(hints)}; its fields are: {', '.join(sorted(names))}"
            )
        kwargs = {name: _as_field_type(value) for name, value in values.items()}
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name -> its documentation (shown by ``amend ls --method``)."""
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


_PLAIN = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _check_plain_type(owner: str, name: str, annotation: Any, value: Any) -> None:
    """Check ``value`` against an annotation such as ``float``, ``int | None`` or ``tuple[int, ...]`` (others pass)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    parts = [part.strip() for part in text.split("|")]
    if "None" in parts and value is None:
        return
    kinds = [part for part in parts if part != "None"]
    if len(kinds) != 1:
        return
    kind = kinds[0]
    if kind.startswith("tuple[") and kind.endswith(", ...]") and kind[6:-6] in _PLAIN:
        if not isinstance(value, tuple):
            raise ConfigError(f"{owner}.{name} must be a list of {kind[6:-6]}, got {value!r}")
        for item in value:
            _check_plain_type(owner, name, kind[6:-6], item)
        return
    if kind not in _PLAIN:
        return
    if not isinstance(value, _PLAIN[kind]) or (kind != "bool" and isinstance(value, bool)):
        raise ConfigError(f"{owner}.{name} must be a {kind}, got {value!r} ({type(value).__name__})")
    if kind in ("int", "float") and not math.isfinite(value):
        raise ConfigError(f"{owner}.{name} must be finite, got {value!r}")


def _did_you_mean(name: str, names: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" ({name!r}: did you mean {close[0]!r}?)" if close else ""


def _as_field_type(value: Any) -> Any:
    """JSON gives lists where configs hold tuples (hashable, immutable)."""
    if isinstance(value, list):
        return tuple(_as_field_type(v) for v in value)
    return value


def option(default: Any, help: str) -> Any:
    """A dataclass field with its documentation."""
    return dataclasses.field(default=default, metadata={"help": help})
