"""Allows ``python -m secrets_agent``."""

from secrets_agent.cli import main

raise SystemExit(main())
