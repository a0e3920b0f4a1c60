"""Which request paths a token's ``paths`` allow, with Vault's policy path semantics.

A path without a wildcard allows exactly that path: ``secret/data/app`` does not allow
``secret/data/app-admin/root``, nor ``secret/data/app/db``. A trailing ``*`` allows every path
that starts with what is before it (``secret/data/app/*``; ``secret/data/app*`` also matches
``secret/data/app-admin``, as in Vault). A ``+`` segment stands for exactly one path segment
(``secret/data/+/db``). A list request's path ends in ``/`` (``secret/metadata/app/``), so it
needs a rule for that path. This is the subset of ``path "..."`` rules the dev server needs;
capabilities are not modelled: a matching path allows every operation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable


def normalize_paths(paths: Iterable[str] | None) -> tuple[str, ...] | None:
    """Path rules as given (leading ``/`` and spaces dropped); ``None`` = no restriction.

    ``ValueError`` for an empty rule or a ``*`` that is not at the end.
    """
    if paths is None:
        return None
    if isinstance(paths, str):
        paths = [paths]
    rules = tuple(p.strip().lstrip("/") for p in paths)
    for rule in rules:
        if not rule or "*" in rule[:-1]:
            raise ValueError(f"invalid policy path {rule!r}: '*' only at the end")
    return rules


@functools.lru_cache(maxsize=1024)
def _pattern(rule: str) -> re.Pattern[str]:
    glob = rule.endswith("*")
    body = rule[:-1] if glob else rule
    parts = ["[^/]+" if segment == "+" else re.escape(segment) for segment in body.split("/")]
    return re.compile("/".join(parts) + (".*" if glob else ""), re.DOTALL)


def path_allowed(rules: Iterable[str], path: str) -> bool:
    """Whether any rule of ``rules`` allows the request path ``path``."""
    return any(_pattern(rule).fullmatch(path) for rule in rules)
