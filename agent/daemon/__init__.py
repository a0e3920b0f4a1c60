"""The running agent: first sync, scheduled refreshes, outage handling, reload, publishing.

``agent`` (the ``Agent`` facade) wires the collaborators: ``table`` (specs, states, the
``refresh_heap`` and the outage gate behind one lock), ``policy`` (the one rule for every next
refresh time, built on ``backoff`` and ``outage``), ``batch`` (one fetch call: ``fetch``,
``refresh`` each secret, record, tell ``changes`` listeners and run ``onchange`` commands;
``confirm`` settles unchanged secrets from the source's evidence without a read, and
``siblings`` takes the rest of their directory along),
``runner`` (the job runner over a ``scheduler``: APScheduler in production, ``manual`` on a fake
clock in tests), ``publish`` (status file, metrics, ``STATUS=``/``READY=1``, coalesced),
``leases`` (leased secrets: renew, issue or keep as the policy says, release old leases),
``reload`` (the plan of a config change), ``resume`` (the previous run's status),
``source_holder`` and ``runloop`` (the ``run`` command's main loop), ``templates`` (the
``[[templates]]`` outputs that batch renders from the secrets that feed them).

May import ``config``, ``sources``, ``render``, ``writer`` and the top-level helper modules.
"""
