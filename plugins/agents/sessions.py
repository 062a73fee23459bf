"""Token and spend caps per coding-agent session and per developer per UTC day.

Counters live in this process (each worker counts its own requests, so with N workers a
cap is at most N times looser; a session usually sticks to one connection and so one
worker). A request is refused once its session (or its developer's day) has used up
the cap; the request that crosses the cap still completes, because its size is only
known afterwards. Refusals are :class:`proxy.errors.LimitExceeded` marked ``permanent``:
the session will not recover by waiting, so agents get a status they stop on (see
plugins/agents/errors.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fnmatch import fnmatchcase

from plugins.agents.config import AgentLimitRule, AgentsConfig
from proxy.errors import LimitExceeded

DAY = 86400.0


@dataclass(slots=True)
class Spent:
    tokens: int = 0
    usd: float = 0.0
    last_seen: float = 0.0


def _pick(rules: list[AgentLimitRule], scope: str, owner: str, agent: str) -> AgentLimitRule | None:
    """The first rule of *scope* whose globs match (config order)."""
    return next((r for r in rules if r.scope == scope and fnmatchcase(owner, r.match)
                 and fnmatchcase(agent, r.agent)), None)


def _over(rule: AgentLimitRule, spent: Spent) -> str | None:
    if rule.max_tokens is not None and spent.tokens >= rule.max_tokens:
        return f"{spent.tokens:,} tokens, over the limit of {rule.max_tokens:,} tokens"
    if rule.max_usd is not None and spent.usd >= rule.max_usd:
        return f"${spent.usd:,.2f}, over the limit of ${rule.max_usd:,.2f}"
    return None


class AgentLimiter:
    def __init__(self, config: AgentsConfig) -> None:
        self.rules = list(config.limits)
        self.idle = config.session_idle_seconds
        self.sessions: dict[tuple[str, str], Spent] = {}
        self.days: dict[tuple[str, int], Spent] = {}
        self._adds = 0

    def __bool__(self) -> bool:
        return bool(self.rules)

    def check(self, owner: str, agent: str, session: str, now: float | None = None) -> None:
        """Raise LimitExceeded (permanent) when the session or the developer's day is used up."""
        now = time.time() if now is None else now
        rule = _pick(self.rules, "session", owner, agent) if session else None
        spent = self.sessions.get((owner, session)) if rule else None
        why = _over(rule, spent) if rule and spent else None
        if why:
            raise _permanent(
                f"Relaygate stopped this {agent} session ({session}): it has used {why} per session "
                f"set by your gateway administrator. Start a new session to continue.",
                retry_after=self.idle, limit="session_tokens" if "tokens" in why else "session_usd")
        rule = _pick(self.rules, "owner", owner, agent)
        day = int(now // DAY)
        spent = self.days.get((owner, day)) if rule else None
        why = _over(rule, spent) if rule and spent else None
        if why:
            reset = (day + 1) * DAY - now
            raise _permanent(
                f"Relaygate: developer {owner!r} has used {why} per day for {agent} set by your gateway "
                f"administrator. It resets at 00:00 UTC (in {reset / 3600:.1f} h).",
                retry_after=reset, limit="owner_day_tokens" if "tokens" in why else "owner_day_usd")

    def add(self, owner: str, agent: str, session: str, tokens: int, usd: float,
            now: float | None = None) -> None:
        if not self.rules:
            return
        now = time.time() if now is None else now
        targets = [self.days.setdefault((owner, int(now // DAY)), Spent())]
        if session:
            targets.append(self.sessions.setdefault((owner, session), Spent()))
        for spent in targets:
            spent.tokens += tokens
            spent.usd += usd
            spent.last_seen = now
        self._adds += 1
        if self._adds % 1024 == 0:
            self.prune(now)

    def prune(self, now: float) -> None:
        """Forget sessions idle for longer than ``session_idle_seconds`` and past days."""
        self.sessions = {k: v for k, v in self.sessions.items() if now - v.last_seen <= self.idle}
        today = int(now // DAY)
        self.days = {k: v for k, v in self.days.items() if k[1] >= today}


def _permanent(message: str, *, retry_after: float, limit: str) -> LimitExceeded:
    err = LimitExceeded(message, retry_after=retry_after, limit=limit)
    err.permanent = True          # type: ignore[attr-defined]  # read by plugins/agents/errors.py
    return err
