"""Typed state shared between the core and plugins, with one owner per piece of state.

The module that owns a piece of state defines its key once, at module level::

    LIMITER: StashKey[Limiter] = StashKey("limits.limiter")

and every other module imports that key from its owner. Keys compare by
identity, so two plugins cannot collide on a name, a misspelt key is an
ImportError instead of a silent miss, and a type checker knows the type of
every value. ``gateway.stash`` lives as long as the process, ``ctx.stash`` as
long as one request. (The design follows pytest's ``Stash``.)
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")
D = TypeVar("D")
_MISSING: Any = object()


class StashKey(Generic[T]):
    """The key of one value of type ``T``. Hashed and compared by identity; *name* is for reprs only."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})" if self.name else f"<StashKey at {id(self):#x}>"


class Stash:
    """A mapping from :class:`StashKey` to values of the key's type.

    Every method is one dict operation: ``ctx.stash`` is used several times per request.
    """

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[StashKey[Any], Any] = {}

    def __getitem__(self, key: StashKey[T]) -> T:
        return self._data[key]                  # type: ignore[no-any-return]

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._data[key] = value

    def __delitem__(self, key: StashKey[Any]) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    @overload
    def get(self, key: StashKey[T]) -> T | None: ...
    @overload
    def get(self, key: StashKey[T], default: D) -> T | D: ...

    def get(self, key: StashKey[Any], default: Any = None) -> Any:
        return self._data.get(key, default)

    def setdefault(self, key: StashKey[T], default: T) -> T:
        """The value of *key*; *default*, stored first, when it has none."""
        return self._data.setdefault(key, default)    # type: ignore[no-any-return]

    @overload
    def pop(self, key: StashKey[T]) -> T: ...
    @overload
    def pop(self, key: StashKey[T], default: D) -> T | D: ...

    def pop(self, key: StashKey[Any], default: Any = _MISSING) -> Any:
        if default is _MISSING:
            return self._data.pop(key)
        return self._data.pop(key, default)

    def __repr__(self) -> str:
        return f"Stash({', '.join(repr(k) for k in self._data)})"
