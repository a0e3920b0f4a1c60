"""Allows ``python -m secrets_agent``."""

from secrets_agent.cli.main import main

raise SystemExit(main())
