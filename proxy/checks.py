"""Small field checks shared by the request validators; each raises RequestRejected naming the field."""

from __future__ import annotations

from typing import Any, TypeGuard

from proxy.errors import RequestRejected


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def number_in(body: dict[str, Any], name: str, lo: float, hi: float, *, lo_open: bool = False) -> None:
    v = body.get(name)
    if v is None:
        return
    if not is_number(v):
        raise RequestRejected(f"'{name}' must be a number, got {type(v).__name__}", param=name)
    if (v <= lo if lo_open else v < lo) or v > hi:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
        raise RequestRejected(f"'{name}' must be in {interval}, got {v}", param=name)


def int_at_least(body: dict[str, Any], name: str, lo: int, hi: int | None = None) -> None:
    v = body.get(name)
    if v is None:
        return
    if not is_int(v):
        raise RequestRejected(f"'{name}' must be an integer, got {type(v).__name__}", param=name)
    if v < lo or (hi is not None and v > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise RequestRejected(f"'{name}' must be {bound}, got {v}", param=name)


def boolean(body: dict[str, Any], name: str) -> None:
    v = body.get(name)
    if v is not None and not isinstance(v, bool):
        raise RequestRejected(f"'{name}' must be a boolean, got {type(v).__name__}", param=name)


def one_of(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    v = body.get(name)
    if v is not None and v not in allowed:
        raise RequestRejected(f"'{name}' must be one of {', '.join(allowed)}; got {v!r}", param=name)


def stop_sequences(body: dict[str, Any], name: str = "stop", limit: int = 16) -> None:
    v = body.get(name)
    if v is None or isinstance(v, str):
        return
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise RequestRejected(f"'{name}' must be a string or a list of strings", param=name)
    if len(v) > limit:
        raise RequestRejected(f"'{name}' allows at most {limit} sequences, got {len(v)}", param=name)


def object_field(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    v = body.get(name)
    if v is not None and not isinstance(v, dict):
        raise RequestRejected(f"'{name}' must be an object", param=name)
    return v
