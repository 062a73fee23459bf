"""Config that plugins declare: top-level sections of the file and fields of every endpoint.

The core schema (:mod:`proxy.config`) names no plugin. The model a file is validated
with is a core model extended, with pydantic's ``create_model``, by what the
registered plugins declare through ``relaygate_config_sections`` and
``relaygate_endpoint_fields`` (contracts in :mod:`proxy.hookspecs`). This module
only knows pydantic and pluggy: the core passes its models in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import pluggy
from pydantic import BaseModel, Field, ValidationError, create_model

M = TypeVar("M", bound=BaseModel)
#: one declaration: a model class (defaults for every field), or a (type, default) pair as in create_model
Spec = type[BaseModel] | tuple[Any, Any]
#: (plugin name, the hook function) of each implementation of a declaration hook
Declarers = tuple[tuple[str, Callable[[], dict[str, Spec]]], ...]


class DeclarationError(ValueError):
    """A plugin declared a section or field wrongly, or one that another owner has."""


def declarers(hook: pluggy.HookCaller) -> Declarers:
    """The implementations of a declaration hook, in registration order (hashable: a cache key)."""
    # pluggy types every implementation as Callable[..., object]; the hookspec fixes the signature
    return tuple((impl.plugin_name, cast(Callable[[], dict[str, Spec]], impl.function))
                 for impl in hook.get_hookimpls())


@functools.cache
def _declared(function: Callable[[], dict[str, Spec]]) -> dict[str, Spec]:
    # Declarations are pure: asking once per process keeps the model class of a plugin set stable.
    return dict(function() or {})


def collect(found: Declarers, reserved: Iterable[str], what: str, *, dotted: bool) -> dict[str, Spec]:
    """Every declared name -> spec; raise DeclarationError naming both owners of a name."""
    taken = dict.fromkeys(reserved, "the core")        # name -> owner; a group's top-level key too
    groups: set[str] = set()
    specs: dict[str, Spec] = {}
    for plugin, function in found:
        for name, spec in _declared(function).items():
            if not all(part.isidentifier() for part in name.split(".")) or name.count(".") > int(dotted):
                raise DeclarationError(f"plugin {plugin!r}: {what} name {name!r} is not valid")
            top, _, sub = name.partition(".")
            # "storage.ledger" may join the group "storage", but not a plain section of that name
            clash = taken.get(name) or (taken.get(top) if sub and top not in groups else None)
            if clash is not None:
                raise DeclarationError(f"plugin {plugin!r} declares {what} {name!r}, which {clash} owns")
            taken[name] = f"plugin {plugin!r}"
            if sub:
                taken.setdefault(top, taken[name])
                groups.add(top)
            specs[name] = _checked(plugin, what, name, spec)
    return specs


def _checked(plugin: str, what: str, name: str, spec: Any) -> Spec:
    if isinstance(spec, type) and issubclass(spec, BaseModel):
        try:
            spec()
        except ValidationError:
            raise DeclarationError(f"plugin {plugin!r}: {what} {name!r}: every field of {spec.__name__} needs a "
                                   "default (an absent section reads as its defaults)") from None
        return spec
    if isinstance(spec, tuple) and len(spec) == 2:
        return spec
    raise DeclarationError(f"plugin {plugin!r}: {what} {name!r} must be a pydantic model class or a "
                           f"(type, default) pair, got {spec!r}")


def _field(spec: Spec) -> tuple[Any, Any]:
    if isinstance(spec, tuple):
        return spec
    return spec, Field(default_factory=spec)


def extend(base: type[M], specs: Mapping[str, Spec], group_base: type[BaseModel],
           **core: tuple[Any, Any]) -> type[M]:
    """*base* plus the declared fields, dotted names grouped into sub-models of *group_base*
    (``storage.ledger`` -> a ``storage`` model with a ``ledger`` field), and *core* overrides."""
    fields: dict[str, tuple[Any, Any]] = {}
    groups: dict[str, dict[str, tuple[Any, Any]]] = {}
    for name, spec in specs.items():
        group, _, sub = name.partition(".")
        if sub:
            groups.setdefault(group, {})[sub] = _field(spec)
        else:
            fields[name] = _field(spec)
    for group, members in groups.items():
        model = create_model(f"{group.title()}Config", __base__=group_base, __module__=group_base.__module__,
                             **members)  # type: ignore[call-overload]
        fields[group] = (model, Field(default_factory=model))
    return create_model(base.__name__, __base__=base, __module__=base.__module__,  # type: ignore[no-any-return]
                        **fields, **core)  # type: ignore[call-overload]


def paths(specs: Mapping[str, Spec]) -> dict[type[BaseModel], tuple[str, ...] | None]:
    """Where each declared model class sits (``LedgerConfig -> ("storage", "ledger")``);
    None for a model declared for two names, which has no single place."""
    found: dict[type[BaseModel], tuple[str, ...] | None] = {}
    for name, spec in specs.items():
        if isinstance(spec, type):
            found[spec] = None if spec in found else tuple(name.split("."))
    return found
