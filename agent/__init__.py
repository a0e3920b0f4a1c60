"""secrets-agent: pulls secrets from Vault or AWS Secrets Manager into tmpfs, keeps them fresh.

Packages, read top-down: ``cli`` (the commands) -> ``daemon`` (the running agent) -> ``sources``
(Vault, AWS) and ``render`` (formats, templates) -> ``writer`` (atomic files in ``output_dir``);
``config`` parses the TOML file; ``demo`` and ``devserver`` are the demo and the Vault-compatible
development server. Top-level modules are helpers any package may use: ``notify`` (sd_notify),
``status`` (``.status.json``), ``metrics`` (Prometheus textfile), ``hardening``, ``logs``,
``durations``, ``libc`` (the C library, for calls Python lacks), ``memory`` (freed heap pages
back to the kernel). The agent imports the reader (``libs.secrets``); the reader never imports it.
"""

__version__ = "0.1.0"
