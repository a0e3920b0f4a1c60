"""Atomic, private, symlink-proof writes of secret files below ``output_dir``.

May import nothing else of the agent; ``SecretWriter`` is the one entry point.
"""
