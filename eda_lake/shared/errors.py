"""The one base of every error a person can act on.

An error of this kind names the thing that is wrong (a setting, a file, a schema, a table)
and the fix; the CLI shows its message as one line (`console.faults.describe`). Any other
exception is a bug of ours and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A command's input or surroundings name something that is not there or cannot be
    used: the message names it and the fix."""


class LakeWideError(UserError):
    """A fault every table of the lake would meet (no lake, no key to mask with): a run
    stops at the first, rather than failing each table on it."""
