"""Per-endpoint caps (``endpoints.<name>.caps``), checked on the client's body before any provider call.

Each wire API names its capped fields in :attr:`proxy.apis.Api.capped` as
``(dotted path, cap)``; this module only reads them. Values are read as a
provider would: Gemini takes proto JSON, where every field may also be spelled
in snake_case and an integer may arrive as a float or a numeric string, so
those spellings are capped too. ``max_embedding_inputs`` counts the items of
the field (one token array is one input).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from proxy.errors import RequestRejected

if TYPE_CHECKING:
    from proxy.apis import Api
    from proxy.config import EndpointConfig

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@functools.cache                      # field names come from the wire APIs' fixed lists
def _spellings(name: str) -> tuple[str, ...]:
    snake = _CAMEL.sub("_", name).lower()
    return (name,) if snake == name else (name, snake)


def _found(body: Any, path: list[str], spelled: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(the path as the client spelled it, value) for every spelling of *path* present in *body*."""
    if not path:
        yield ".".join(spelled), body
        return
    if not isinstance(body, dict):
        return
    for name in _spellings(path[0]):
        if name in body:
            yield from _found(body[name], path[1:], (*spelled, name))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _inputs(value: Any) -> int:
    if isinstance(value, list):
        one_token_array = bool(value) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
        return 1 if one_token_array else len(value)
    return 1


@functools.cache                      # per format: the capped fields' top-level spellings
def _capped(capped: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, frozenset[str]], ...]:
    return tuple((path, cap, frozenset(_spellings(path.split(".", 1)[0]))) for path, cap in capped)


def check_caps(endpoint: EndpointConfig, api: Api, body: dict[str, Any]) -> None:
    """Raise RequestRejected naming the first field above its cap."""
    caps = endpoint.caps
    for path, cap, top in _capped(api.capped):
        if top.isdisjoint(body):              # the usual case: the field is not sent (one C-level test)
            continue
        limit = getattr(caps, cap)
        for field, value in _found(body, path.split(".")):
            amount = _inputs(value) if cap == "max_embedding_inputs" else _number(value)
            if amount is not None and amount > limit:
                what = f"has {amount} inputs" if cap == "max_embedding_inputs" else f"is {value!r}"
                raise RequestRejected(f"'{field}' {what}, above the cap of {limit} on endpoint "
                                      f"{endpoint.name!r} (caps.{cap})", param=field)
