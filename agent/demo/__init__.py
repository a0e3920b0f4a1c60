"""``secrets-agent demo``: dev server -> agent -> tmpfs files -> reader, on this machine.

Read top-down: ``command`` (options, run, clean up) -> ``steps`` (``DemoRun``: one method per
step, driving the real dev server, agent and reader) -> ``workspace`` (the demo's directory on
tmpfs and its config) -> ``output`` (masked values, numbered steps, the file tree).

May import every other package of the agent (it drives the real pieces); only the CLI imports it.
"""
