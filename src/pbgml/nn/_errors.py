"""Errors raised by pbgml.nn: bad constructor arguments and data/model shape mismatches."""

from __future__ import annotations

from pbgml._errors import ArgumentError, PbgmlError

__all__ = ["InvalidArgumentError", "ShapeMismatchError"]


class InvalidArgumentError(ArgumentError):
    """A layer or model was given an argument it cannot use.

    The message names the component, the argument, the value and what was expected
    (with a did-you-mean for misspelt choices).

    Examples
    --------
    >>> from pbgml.nn import MLP, InvalidArgumentError
    >>> try:
    ...     MLP(in_features=4, out_features=2, norm="bach")
    ... except InvalidArgumentError as err:
    ...     print(err)
    MLP: norm='bach' is not a normalization; expected 'batch', 'layer' or None. Did you mean 'batch'?
    """


class ShapeMismatchError(PbgmlError, ValueError):
    """A model cannot take the samples a data source yields.

    Attributes
    ----------
    sample_shape
        One sample's shape, without the batch dimension.
    problems
        One line per config field that disagrees with the data
        (``"model.in_channels=3 but ..."``); empty when no field explains the failure.
    fields
        The model's arguments those lines are about (``("in_channels",)``), in order.
    model_key, data_key
        The config keys of the model and of the data, used in the message.

    Examples
    --------
    >>> from pbgml.nn import LeNet, ShapeMismatchError, check_input
    >>> try:
    ...     check_input(LeNet(in_channels=3), (1, 28, 28))
    ... except ShapeMismatchError as err:
    ...     print(err.problems[0])
    ...     print(err.fields)
    model.in_channels=3 but data yields samples of shape 1x28x28 (1 channel); set model.in_channels=1
    ('in_channels', 'input_size')
    """

    def __init__(
        self,
        message: str,
        *,
        sample_shape: tuple[int, ...] = (),
        problems: tuple[str, ...] = (),
        fields: tuple[str, ...] = (),
        model_key: str = "model",
        data_key: str = "data",
    ) -> None:
        super().__init__(message)
        self.sample_shape = sample_shape
        self.problems = problems
        self.fields = fields
        self.model_key = model_key
        self.data_key = data_key
