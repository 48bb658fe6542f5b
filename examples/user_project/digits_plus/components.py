"""The project's components, published through the ``pbgml.plugins`` entry points.

Plain PyTorch: nothing here imports pbgml. pbgml registers each class under the
name its entry point gives (``model.residual_mlp``, ``loss.poly1``) the first time
it is used, with a config generated from its signature.
"""

from __future__ import annotations

import torch

__all__ = ["Poly1CrossEntropy", "ResidualMLP"]


class ResidualMLP(torch.nn.Module):
    """An MLP of pre-norm residual blocks: ``x + Linear(GELU(Linear(LayerNorm(x))))``."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        width: int = 128,
        depth: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.stem = torch.nn.Linear(in_features, width)
        self.blocks = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.LayerNorm(width),
                torch.nn.Linear(width, 2 * width),
                torch.nn.GELU(),
                torch.nn.Dropout(dropout),
                torch.nn.Linear(2 * width, width),
            )
            for _ in range(depth)
        )
        self.head = torch.nn.Sequential(
            torch.nn.LayerNorm(width), torch.nn.Linear(width, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x.flatten(1))
        for block in self.blocks:
            h = h + block(h)
        out: torch.Tensor = self.head(h)
        return out


class Poly1CrossEntropy(torch.nn.Module):
    """Poly-1 cross-entropy (Leng et al., 2022): ``CE + epsilon * (1 - p_true)``."""

    def __init__(self, epsilon: float = 1.0, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = torch.nn.functional.cross_entropy(
            logits, target, reduction="none", label_smoothing=self.label_smoothing
        )
        p_true = torch.softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        return (ce + self.epsilon * (1.0 - p_true)).mean()
