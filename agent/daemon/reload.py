"""What a config reload changes, as a plan computed from (old config, new config, states).

``plan_reload`` is a pure function; ``Agent.reload`` carries the plan out: it pauses the runner,
removes the files of ``removed`` secrets (only files the agent wrote, listed in their states),
opens a new writer when ``[agent]`` changed, drops the source when ``[backend]`` changed, gives
the table the new specs, fetches ``fetch_now`` at once and resumes the runner. Secrets whose
spec did not change keep their state and their place in the schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secrets_agent.config.load import Config, SecretSpec
    from secrets_agent.daemon.state import SecretState

__all__ = ["ReloadPlan", "plan_reload"]


@dataclass(frozen=True)
class ReloadPlan:
    """``removed``: targets whose files go (all of them when ``[agent]`` changed: the files
    are rewritten under the new settings); ``fetch_now``: new or changed secrets, fetched
    during the reload; ``new_writer`` / ``new_source``: ``[agent]`` / ``[backend]`` changed."""

    removed: tuple[str, ...]
    fetch_now: tuple[SecretSpec, ...]
    new_writer: bool
    new_source: bool


def plan_reload(old: Config, new: Config, states: Mapping[str, SecretState]) -> ReloadPlan:
    """The plan for switching from ``old`` to ``new`` given the current ``states``."""
    same_agent = new.agent == old.agent
    old_specs = {s.target: s for s in old.secrets}
    new_targets = {s.target for s in new.secrets}
    removed = tuple(
        t for t in states if t in old_specs and (not same_agent or t not in new_targets)
    )
    fetch_now = tuple(s for s in new.secrets if not same_agent or old_specs.get(s.target) != s)
    return ReloadPlan(
        removed=removed,
        fetch_now=fetch_now,
        new_writer=not same_agent,
        new_source=new.backend != old.backend,
    )
