"""Dropout whose random mask is cheap to draw on a CPU.

``torch.nn.Dropout`` on a CPU draws one number from torch's Mersenne Twister per element, which is slower than
every other part of a training step of our lifters: about 20 ns per element on the 2-core machines we train on,
so the 25 dropouts of a 312-channel, 81-frame TCN step took a third of its time (``tools/bench/bench_train_speed.py``).
:class:`Dropout` draws 64-bit words instead and cuts each into four 16-bit numbers, one per element, so it asks
the generator for a quarter as many draws and keeps an element when its number is at least ``p`` of the way up
the 16-bit range: the drop probability is ``p`` rounded to a multiple of ``1/65536``. Kept elements are scaled
by ``1 / (1 - p)``, as in ``nn.Dropout``; it uses torch's global generator, so ``torch.manual_seed`` seeds it.
On other devices it is ``nn.functional.dropout``, which is fast there.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lift3d.errors import ConfigError

_LEVELS = 1 << 16  # each element's random number is one of 2**16 levels


def keep_mask(like: Tensor, p: float) -> Tensor:
    """A mask shaped and typed like ``like``: ``1 / (1 - p)`` with probability ``1 - p`` (to 1/65536), else 0."""
    n = like.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=like.device).random_(-(1 << 63), (1 << 63) - 1)
    levels = words.view(torch.int16)[:n].view(like.shape)  # uniform on -32768 .. 32767
    threshold = round(p * _LEVELS) - _LEVELS // 2
    return (levels >= threshold).to(like.dtype).mul_(1.0 / (1.0 - p))


class Dropout(nn.Module):
    """``nn.Dropout(p)`` with the cheaper mask of :func:`keep_mask` on a CPU (see the module docstring)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, True)
        return x * keep_mask(x, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
