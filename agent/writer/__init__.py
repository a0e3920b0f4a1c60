"""Atomic, private, symlink-proof writes of secret files below ``output_dir``.

``SecretWriter`` (:mod:`.writer`) is the one entry point; the modules under it are
``output_dir`` (the root: checks, kept descriptor, file system type), ``directories`` (the
no-symlink walk and the descriptor cache), ``replace`` (one file's atomic replace),
``sets`` (a secret's directory of fields switched as a whole), ``entries`` (removing files,
switching a secret between a file and a directory of fields), ``paths`` (the rules for names
inside ``output_dir``) and ``errors``.

May import ``libs.secrets`` (key rules) and nothing else of the agent.
"""

from secrets_agent.writer.errors import OutputDirError, WriteError
from secrets_agent.writer.output_dir import fs_magic, fs_name, is_memory_fs, swap_protected
from secrets_agent.writer.paths import relpath_problem, segment_problem, validate_relpath
from secrets_agent.writer.replace import TEMP_PREFIX
from secrets_agent.writer.writer import SecretWriter

__all__ = [
    "TEMP_PREFIX",
    "OutputDirError",
    "SecretWriter",
    "WriteError",
    "fs_magic",
    "fs_name",
    "is_memory_fs",
    "relpath_problem",
    "segment_problem",
    "swap_protected",
    "validate_relpath",
]
