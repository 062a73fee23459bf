"""Relaygate: an AI gateway built from pluggy hook stages.

``hookimpl`` marks a plugin's hook implementations; ``hookspec`` is used only
by :mod:`proxy.hookspecs`.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"
PROJECT = "relaygate"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
