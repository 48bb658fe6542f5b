"""Errors raised by pbgml.data, and the helpers that word them."""

from __future__ import annotations

import os

from pbgml._errors import ArgumentError, MissingExtraError, require

__all__ = ["DataError", "DataNotFoundError", "MissingExtraError", "require"]


class DataError(ArgumentError):
    """A data file is malformed, or a data argument has a bad value.

    The message names the argument (``root``, ``val_split``...), the value and
    what was expected. ``path`` and ``param`` hold the file and the argument when
    they are known.

    Examples
    --------
    >>> from pbgml.data import DataModule, DataError
    >>> import torch
    >>> try:
    ...     DataModule(torch.utils.data.TensorDataset(torch.zeros(4, 1)), val_split=1.5)
    ... except DataError as err:
    ...     print(err.param)
    val_split
    """

    def __init__(
        self, message: str, *, path: str | os.PathLike[str] | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.path = None if path is None else os.fspath(path)


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file or folder is missing (pbgml never downloads anything).

    Examples
    --------
    >>> from pbgml.data import CIFAR10, DataNotFoundError
    >>> try:
    ...     CIFAR10(root="no/such/dir")
    ... except FileNotFoundError as err:
    ...     print(isinstance(err, DataNotFoundError), err.param)
    True root
    """


def missing(
    param: str,
    value: object,
    expected: str,
    where: str,
    *,
    problem: str = "it is not there",
    hint: str = "",
) -> DataNotFoundError:
    """Word a missing-file error: argument and value, what was expected where, the fix."""
    message = f"{param}={value!r}: expected {expected} in {where}, but {problem}."
    if hint:
        message += f" {hint}"
    return DataNotFoundError(message, path=where, param=param)


def malformed(param: str, value: object, path: str | os.PathLike[str], problem: str) -> DataError:
    """Word a malformed-file error: argument and value, the file, what is wrong."""
    return DataError(
        f"{param}={value!r}: {os.fspath(path)} is malformed: {problem}", path=path, param=param
    )
