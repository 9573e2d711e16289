"""Input checks shared by the geometry functions (private).

Public geometry functions check the trailing dimensions of their tensor arguments and raise
:class:`lift3d.errors.InputError` with the expected and actual shapes; leading (batch) dimensions are left to
torch's broadcasting rules.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lift3d.errors import InputError

Dim = int | tuple[int, ...] | None


def _fmt(dims: tuple[Dim, ...]) -> str:
    parts = ["..."]
    for d in dims:
        parts.append("*" if d is None else "|".join(map(str, d)) if isinstance(d, tuple) else str(d))
    return "(" + ", ".join(parts) + ")"


def check_tensor(x: object, name: str, *trailing: Dim) -> Tensor:
    """Return ``x`` unchanged if it is a floating-point tensor whose last dimensions match ``trailing``.

    Each entry of ``trailing`` is an exact size, a tuple of allowed sizes, or ``None`` for any size.

    Raises:
        InputError: ``x`` is not a tensor, not floating point, or has the wrong trailing shape.
    """
    if not isinstance(x, Tensor):
        raise InputError(f"{name}: expected a torch.Tensor of shape {_fmt(trailing)}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise InputError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    ok = x.ndim >= len(trailing)
    if ok:
        for size, want in zip(x.shape[x.ndim - len(trailing) :], trailing):
            if want is None:
                continue
            if size not in (want if isinstance(want, tuple) else (want,)):
                ok = False
    if not ok:
        raise InputError(f"{name}: expected shape {_fmt(trailing)}, got {tuple(x.shape)}")
    return x


def check_same_size(name_a: str, a: Tensor, dim_a: int, name_b: str, b: Tensor, dim_b: int) -> None:
    """Raise InputError unless ``a.shape[dim_a] == b.shape[dim_b]`` (e.g. the number of views or points)."""
    if a.shape[dim_a] != b.shape[dim_b]:
        raise InputError(
            f"{name_a} has shape {tuple(a.shape)} and {name_b} has shape {tuple(b.shape)}: "
            f"dimension {dim_a} of the first must equal dimension {dim_b} of the second"
        )


def eps_of(x: Tensor) -> float:
    """Machine epsilon of ``x``'s dtype."""
    return torch.finfo(x.dtype).eps
