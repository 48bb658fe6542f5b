"""pbgml.nn: layers and models in plain PyTorch, registered in :mod:`pbgml.registry`.

The ``layer`` group holds the layers (``conv_block``, ``residual_block``,
``sequential``, ``global_avg_pool``) and the ``model`` group the models (``mlp``,
``lenet``, ``small_cnn``, ``resnet``, ``transformer_classifier``, and torchvision's
classifiers as ``tv_<name>`` when torchvision is installed); the registries load
them on first use (importing this module registers nothing). Nothing here imports Hydra: every component is an
ordinary :class:`torch.nn.Module`, usable without any config.

Examples
--------
>>> import torch
>>> from pbgml import registry
>>> from pbgml.nn import LeNet, summary
>>> registry.model.get("lenet") is LeNet
True
>>> summary(LeNet(in_channels=1, input_size=28), (1, 28, 28)).output_shape
(1, 10)
"""

from __future__ import annotations

from pbgml.nn._activations import get_activation
from pbgml.nn._errors import InvalidArgumentError, ShapeMismatchError
from pbgml.nn._layers import MLP, ConvBlock, GlobalAvgPool, ResidualBlock, Sequential
from pbgml.nn._models import LeNet, ResNet, SmallCNN, TransformerClassifier
from pbgml.nn._shapes import check_input
from pbgml.nn._summary import LayerSummary, ModelSummary, summary

__all__ = [
    "MLP",
    "ConvBlock",
    "GlobalAvgPool",
    "InvalidArgumentError",
    "LayerSummary",
    "LeNet",
    "ModelSummary",
    "ResNet",
    "ResidualBlock",
    "Sequential",
    "ShapeMismatchError",
    "SmallCNN",
    "TransformerClassifier",
    "check_input",
    "get_activation",
    "summary",
]
