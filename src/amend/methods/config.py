"""The base of every method configuration: a dataclass with documented fields and per-architecture defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from amend.errors import ConfigError

C = TypeVar("C", bound="MethodConfig")


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Base class. Subclasses declare fields with ``help`` metadata and a table of per-architecture defaults.

    Defaults are layered, later winning: the dataclass defaults, ``ARCH_DEFAULTS[config.model_type]``, the
    model's own ``config.amend_defaults[method]`` (a model can ship the settings that suit it, as the knowledge-world
    model does; a method whose settings it does not ship takes those of the first ``SHIPPED_FALLBACK`` method it
    does), and finally the caller's overrides.
    """

    method: ClassVar[str] = ""
    ARCH_DEFAULTS: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    SHIPPED_FALLBACK: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def for_model(cls: type[C], model: Any, **overrides: Any) -> C:
        """The configuration for ``model``: defaults for its architecture, then its own, then ``overrides``."""
        model_config = model.config
        values = cls.architecture_defaults(model_config)
        values.update(cls.shipped_defaults(model_config))
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def architecture_defaults(cls, model_config: Any) -> dict[str, Any]:
        """``ARCH_DEFAULTS`` for the model's type, then the values derived from its config."""
        values: dict[str, Any] = dict(cls.ARCH_DEFAULTS.get(model_config.model_type, {}))
        values.update(cls.arch_derived(model_config, values))
        return values

    @classmethod
    def shipped_defaults(cls, model_config: Any) -> dict[str, Any]:
        """The settings the model ships for this method, else for the first ``SHIPPED_FALLBACK`` it ships."""
        shipped = getattr(model_config, "amend_defaults", None) or {}
        for name in (cls.method, *cls.SHIPPED_FALLBACK):
            if name in shipped:
                return dict(shipped[name])
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
            raise ConfigError(f"{cls.__name__} has no field(s) {unknown}; its fields are: {', '.join(sorted(names))}")
        kwargs = {name: _as_field_type(value) for name, value in values.items()}
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name -> its documentation (shown by ``amend ls --method``)."""
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def _as_field_type(value: Any) -> Any:
    """JSON gives lists where configs hold tuples (hashable, immutable)."""
    if isinstance(value, list):
        return tuple(_as_field_type(v) for v in value)
    return value


def option(default: Any, help: str) -> Any:
    """A dataclass field with its documentation."""
    return dataclasses.field(default=default, metadata={"help": help})
