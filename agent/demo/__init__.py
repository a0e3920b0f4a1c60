"""``secrets-agent demo``: dev server -> agent -> tmpfs files -> reader, on this machine.

May import every other package of the agent (it drives the real pieces).
"""
