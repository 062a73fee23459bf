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

from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

T = TypeVar("T")
D = TypeVar("D")


class StashKey(Generic[T]):
    """The key of one value of type ``T``. Hashed and compared by identity; *name* is for reprs only."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})" if self.name else f"<StashKey at {id(self):#x}>"


class Stash(dict):  # type: ignore[type-arg]
    """A mapping from :class:`StashKey` to values of the key's type.

    At run time it is a plain dict: every access is dict's own C method, with no
    Python frame (``ctx.stash`` is read a few dozen times per request). The typed
    signatures below exist for type checkers only.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        def __getitem__(self, key: StashKey[T]) -> T: ...

        def __setitem__(self, key: StashKey[T], value: T) -> None: ...

        @overload  # type: ignore[override]  # narrower than dict's on purpose: keys are StashKeys
        def get(self, key: StashKey[T]) -> T | None: ...
        @overload
        def get(self, key: StashKey[T], default: D) -> T | D: ...

        def get(self, key: StashKey[Any], default: Any = None) -> Any: ...

        def setdefault(self, key: StashKey[T], default: T) -> T:  # type: ignore[override]
            """The value of *key*; *default*, stored first, when it has none."""

        @overload
        def pop(self, key: StashKey[T]) -> T: ...
        @overload
        def pop(self, key: StashKey[T], default: D) -> T | D: ...

        def pop(self, key: StashKey[Any], default: Any = None) -> Any: ...

    def __repr__(self) -> str:
        return f"Stash({', '.join(repr(k) for k in self)})"
