"""Package discovery for the two source trees, so no subpackage can be left out of the wheel.

``pyproject.toml`` maps ``reader/`` to ``libs.secrets`` and ``agent/`` to ``secrets_agent``;
setuptools' ``find`` cannot follow such a mapping, so every directory with an ``__init__.py``
below either root is listed here. Everything else is in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {"libs.secrets": "reader", "secrets_agent": "agent"}


def packages() -> list[str]:
    """Every package below the mapped source roots, by its import name."""
    here = Path(__file__).parent
    found = []
    for name, folder in ROOTS.items():
        root = here / folder
        for init in sorted(root.rglob("__init__.py")):
            parts = init.parent.relative_to(root).parts
            found.append(".".join((name, *parts)))
    return found


setup(packages=packages())
