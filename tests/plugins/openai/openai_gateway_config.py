"""Gateway config shared by the OpenAI surface tests: one endpoint per task."""

from __future__ import annotations

import copy
from typing import Any

from support.gateway import openai_config

ENDPOINTS: dict[str, Any] = {
    "chat": {"task": "chat", "served_models": [
        {"name": "gpt", "provider": "openai", "model": "gpt-4o-mini", "prices": {"input": 1.0, "output": 2.0}}]},
    "gpt-5.5": {"task": "chat", "retry": {"max_attempts": 1}, "served_models": [
        {"name": "gpt55", "provider": "openai", "model": "gpt-5.5-2026-01-01"}]},
    "embed": {"task": "embeddings", "served_models": [
        {"name": "te3", "provider": "openai", "model": "text-embedding-3-small"}]},
    "complete": {"task": "completions", "max_n": 4, "served_models": [
        {"name": "instruct", "provider": "openai", "model": "gpt-3.5-turbo-instruct"}]},
    "embed-drop": {"task": "embeddings", "unsupported_params": "drop", "served_models": [
        {"name": "te3", "provider": "openai", "model": "text-embedding-3-small"}]},
    "openai/*": {"task": "any", "served_models": [{"name": "openai", "provider": "openai", "model": "*"}]},
}


def all_tasks_config(base_url: str) -> dict[str, Any]:
    """A fresh copy each time: tests add providers and endpoints to it."""
    return openai_config(base_url, endpoints=copy.deepcopy(ENDPOINTS))
