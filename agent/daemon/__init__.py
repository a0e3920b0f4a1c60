"""The running agent: first sync, scheduled refreshes, outage handling, reload, publishing.

May import ``config``, ``sources``, ``render``, ``writer`` and the top-level helper modules.
"""
