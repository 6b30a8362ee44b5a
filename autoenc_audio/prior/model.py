"""The learned part of the prior: a GRU over phase-free frame features.

It predicts each frame's features from the frames before it as a diagonal
Gaussian. Generation asks it how likely each candidate continuation is, so the
walk over the memory follows what the model learned of how music goes on.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_SCALE_MIN = -5.0


class FeaturePrior(nn.Module):
    """`[batch, frames, dims]` features -> Gaussian mean and log-scale of the next frame's features."""

    def __init__(self, dims: int, hidden: int) -> None:
        super().__init__()
        self.dims, self.hidden = dims, hidden
        self.rnn = nn.GRU(dims, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2 * dims)

    def forward(
        self, features: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean and log-scale `[batch, frames, dims]` of frame t+1 given frames up to t; and the GRU state."""
        output, state = self.rnn(features, state)
        mean, log_scale = self.head(output).chunk(2, dim=-1)
        return mean, log_scale.clamp(min=LOG_SCALE_MIN), state

    def loss(self, features: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per value of frames 1.. given the frames before them."""
        mean, log_scale, _ = self(features[:, :-1])
        return gaussian_nll(features[:, 1:], mean, log_scale).mean()

    @torch.no_grad()
    def continuation_nll(self, state: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """NLL per value `[candidates]` of each candidate's next frames `[candidates, frames, dims]`, given the
        GRU state `[1, 1, hidden]` after the generated history."""
        count = candidates.shape[0]
        expanded = state.expand(-1, count, -1).contiguous()
        first_mean, first_log_scale = self.head(expanded[-1]).unsqueeze(1).chunk(2, dim=-1)
        mean, log_scale, _ = self(candidates[:, :-1], expanded)
        mean = torch.cat([first_mean, mean], dim=1)
        log_scale = torch.cat([first_log_scale.clamp(min=LOG_SCALE_MIN), log_scale], dim=1)
        return gaussian_nll(candidates, mean, log_scale).mean(dim=(1, 2))


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Elementwise `-log N(x; mean, exp(log_scale)^2)`."""
    return 0.5 * ((x - mean) * torch.exp(-log_scale)).square() + log_scale + 0.5 * math.log(2 * math.pi)
