"""The errors of export and prediction: each names the file and the fix."""

from __future__ import annotations

from pbgml._errors import PbgmlError

__all__ = ["ExportError", "VerificationError"]


class ExportError(PbgmlError, ValueError):
    """A checkpoint, an exported file or an input cannot be used; the message names the
    file and what to do.

    Examples
    --------
    >>> import pbgml
    >>> try:
    ...     pbgml.load_model("no/such.ckpt")
    ... except pbgml.ExportError as err:
    ...     print(err)
    no/such.ckpt: no such file; pass a checkpoint (.ckpt) or a safetensors file written by pbgml.export
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        #: The file the error is about (``None``: an in-memory model).
        self.path = path


class VerificationError(ExportError):
    """An exported file does not reproduce the model's outputs (checked right after export).

    Examples
    --------
    >>> from pbgml import ExportError
    >>> from pbgml._export import VerificationError
    >>> issubclass(VerificationError, ExportError)
    True
    """


class _MissingFileError(ExportError, FileNotFoundError):
    """A missing input file: both an :class:`ExportError` and a ``FileNotFoundError``."""
