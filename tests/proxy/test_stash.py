"""proxy.stash: typed keys compared by identity, and a Stash with dict semantics."""

import pytest

from proxy.stash import Stash, StashKey

COUNT: StashKey[int] = StashKey("count")
NAMES: StashKey[list[str]] = StashKey()


def test_set_get_contains_delete():
    stash = Stash()
    assert COUNT not in stash and len(stash) == 0
    stash[COUNT] = 3
    assert stash[COUNT] == 3 and COUNT in stash and len(stash) == 1
    del stash[COUNT]
    assert COUNT not in stash
    with pytest.raises(KeyError):
        stash[COUNT]
    with pytest.raises(KeyError):
        del stash[COUNT]


def test_get_setdefault_pop_defaults():
    stash = Stash()
    assert stash.get(COUNT) is None
    assert stash.get(COUNT, 0) == 0
    names = stash.setdefault(NAMES, [])
    names.append("a")
    assert stash.setdefault(NAMES, []) is names and stash[NAMES] == ["a"]
    assert stash.pop(NAMES) == ["a"] and NAMES not in stash
    assert stash.pop(NAMES, None) is None
    with pytest.raises(KeyError):
        stash.pop(NAMES)


def test_keys_are_compared_by_identity_not_by_name():
    a: StashKey[int] = StashKey("same")
    b: StashKey[int] = StashKey("same")
    stash = Stash()
    stash[a] = 1
    assert b not in stash and stash.get(b) is None
    stash[b] = 2
    assert (stash[a], stash[b]) == (1, 2)


def test_each_stash_is_separate_and_repr_names_keys_only():
    one, two = Stash(), Stash()
    one[COUNT] = 1
    assert COUNT not in two
    assert repr(one) == "Stash(StashKey('count'))"       # never the values (they may hold secrets)
    assert "StashKey at 0x" in repr(NAMES)


def test_slots_keep_it_small():
    with pytest.raises(AttributeError):
        Stash().other = 1                                 # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        StashKey().other = 1                              # type: ignore[attr-defined]
