"""How the ``pbgml`` command reports errors: a short message and exit code 2 for user mistakes.

A user mistake is any :class:`pbgml.PbgmlError` (config errors, unknown names, missing
extras), a missing file, or an error a command raises as :class:`UsageError`. It prints
as ``pbgml <command>: <message>`` on stderr, with no traceback, and exits with
:data:`USAGE_ERROR`. ``PBGML_FULL_ERROR=1`` (or Hydra's ``HYDRA_FULL_ERROR=1``) re-raises
instead, so the full traceback shows.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pbgml._errors import PbgmlError

__all__ = ["USAGE_ERROR", "UsageError", "full_error", "guarded", "report"]

#: Exit code of a user mistake (argparse's and Hydra's convention).
USAGE_ERROR = 2


class UsageError(PbgmlError):
    """A mistake on the command line: the message says what is wrong and how to fix it."""


def full_error() -> bool:
    """True when the user asked for full tracebacks (``PBGML_FULL_ERROR`` or ``HYDRA_FULL_ERROR``)."""
    return any(
        os.environ.get(var, "") not in ("", "0") for var in ("PBGML_FULL_ERROR", "HYDRA_FULL_ERROR")
    )


def report(exc: BaseException, command: str = "pbgml") -> int:
    """Print ``exc`` as a user mistake and return :data:`USAGE_ERROR`."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, FileNotFoundError) and exc.filename:
        message = f"no such file or directory: {exc.filename}"
    print(f"{command}: {message}", file=sys.stderr)
    if not full_error():
        print("(set PBGML_FULL_ERROR=1 for the full traceback)", file=sys.stderr)
    return USAGE_ERROR


def guarded(run: Callable[[], int], command: str = "pbgml") -> int:
    """Call ``run``; turn a user mistake into a short message and :data:`USAGE_ERROR`."""
    try:
        return run()
    except (PbgmlError, FileNotFoundError) as exc:
        if full_error():
            raise
        return report(exc, command)
