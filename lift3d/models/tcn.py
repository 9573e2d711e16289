"""Temporal convolutional lifters: VideoPose3D and its multi-stride extension.

A 2D pose sequence ``(B, T, J, in_features)`` is lifted to root-relative 3D ``(B, T_out, J, out_features)``
by stacks of 1D temporal convolutions over the flattened joints. The model owns no normalisation: the
codec puts the 2D input into its normalised frame and defines the root-relative 3D targets (STYLE, MMPose
row); the model simply regresses ``num_joints * out_features`` numbers per frame.

Architecture (one *branch* per stride ``s``):

* the single-stride branch is VideoPose3D's ``TemporalModel`` (Pavllo et al., "3D human pose estimation in
  video with temporal convolutions and semi-supervised training", CVPR 2019, sec. 3): an expand conv of
  width 3, then residual blocks ``[conv w=3 dilated, BN, ReLU, dropout, conv 1x1, BN, ReLU, dropout] +
  residual`` with dilations 3, 9, 27, ...; its receptive field is ``3**L`` for ``L`` width-3 layers.
* branch ``s`` multiplies every dilation by ``s``, so it sees the input at temporal stride ``s`` (the
  multi-stride TCN of Cheng et al., "3D Human Pose Estimation using Spatio-Temporal Networks with Explicit
  Occlusion Training", AAAI 2020, and "Multi-Scale Networks for 3D Human Pose Estimation with Inference
  Stage Optimization", arXiv 2010.06844). Its depth ``L_s`` is the largest with receptive field
  ``s * (3**L_s - 1) + 1 <= receptive_field``; e.g. 243 gives (s, L, RF) = (1, 5, 243), (2, 4, 161),
  (3, 4, 241).
* options (:class:`TCNConfig`): coarse branches as deep as the stride-1 one (``span``), sharing its weights
  (``share``), narrower than it (``coarse_channels``), and seeing a confidence-weighted average of the frames
  around each of theirs instead of the bare frame (``pool``: low-pass before subsampling, which also fills a
  joint masked in one frame from its neighbours), and the stride-1 branch seeing its masked joints filled from
  the nearest coarser window that saw them (``fill``).
* branch outputs are aligned on the frame the model predicts (the window centre; the last frame when
  causal), concatenated (or summed), fused by ``conv 1x1 -> BN -> ReLU -> dropout`` and mapped to the
  output by a 1x1 conv. With a single stride there is nothing to fuse and the model is exactly
  VideoPose3D's (expand, blocks, 1x1 shrink conv).

Two execution modes share the weights (VideoPose3D's ``TemporalModel`` / ``TemporalModelOptimized1f``):
:meth:`TCN.forward` runs dilated convolutions over a whole sequence (inference, or dense training on long
clips); :meth:`TCN.forward_single` lifts one window of ``receptive_field()`` frames to its one output frame
with strided convolutions (kernel width = stride), which skips all the intermediate frames the dense mode
computes and is the cheap mode for training on random windows. In eval mode the two agree exactly.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import torch
from einops import rearrange
from torch import Tensor, nn

from lift3d.errors import ConfigError, InputError
from lift3d.models.dropout import Dropout

log = logging.getLogger(__name__)

WIDTH = 3
"""Filter width of every temporal conv; receptive fields are powers of it (VideoPose3D uses 3 throughout)."""

FUSIONS = ("concat", "sum", "residual")
SPANS = ("fit", "scaled")


@dataclass(frozen=True)
class TCNConfig:
    """Architecture of a :class:`TCN` (saved in checkpoints; rebuilds the model alone).

    Attributes:
        num_joints: joints per frame (17 for the lifting skeleton ``H36M17``).
        in_features: input numbers per joint, e.g. normalised x, y and confidence.
        out_features: output numbers per joint (3: root-relative x, y, z as the codec defines them).
        receptive_field: input frames per output frame: a power of 3 (27, 81, 243, ...).
        strides: temporal strides of the branches; must contain 1. ``(1,)`` is the VideoPose3D baseline.
        channels: feature channels of every branch and of the fusion layer.
        dropout: dropout probability after every ReLU.
        causal: output frame ``t`` sees only frames ``<= t`` (for online use).
        fusion: ``"concat"`` (branch features concatenated, then 1x1 conv), ``"sum"`` (summed, then 1x1), or
            ``"residual"`` (concatenated and fused as ``"concat"``, the result added to the stride-1 branch's
            features, so that branch's residual stream reaches the output conv directly, as in the
            single-stride model).
        span: how deep the coarser branches are. ``"fit"``: each branch as deep as fits in
            ``receptive_field`` (all branches see at most ``receptive_field`` frames). ``"scaled"``: every
            branch as deep as the stride-1 branch, so branch ``s`` spans ``s * (receptive_field - 1) + 1``
            frames and the model's receptive field is that of its coarsest branch (coarse strides widen the
            temporal range instead of thinning the same window).
        share: every branch reuses the stride-1 branch's convolution weights, layer by layer (each keeps
            its own batch norms, since a coarser stride sees other statistics). The coarse branches then
            add temporal scales without adding weights: at a given parameter count every branch is about
            as wide as a single-stride model, and one set of filters is trained on the motion at several
            speeds. Compute grows with the number of branches; parameters do not.
        coarse_channels: feature channels of the branches of stride > 1 (``None``: ``channels``). Narrow
            coarse branches leave most of the parameters to the stride-1 branch, which then stays about as
            wide as the single-stride model; ``channels`` is the width of the stride-1 branch, the fusion
            layer and the head.
        pool: branch ``s`` sees its input low-pass filtered before subsampling: a confidence-weighted average
            over the ``2 * (s // 2) + 1`` frames around each frame (tent weights ``s // 2 + 1 - |k|``), instead of
            the bare frames ``s`` apart. Subsampling without it aliases detector jitter; with it, a joint
            masked in one frame (confidence 0) is filled from its neighbours, and the pooled confidence
            says how much of the window saw it. The last input feature of each joint is its confidence
            (the codec's ``(x, y, conf)``); the others are weighted by it. Stride 1 is never pooled.
        fill: the stride-1 branch sees each masked joint (confidence 0) filled from the coarser scales: its
            coordinates become the confidence-weighted tent average (as ``pool``) over the ``2h + 1`` frames
            around it for the smallest ``h`` of 1, 2, 4, ... up to ``fill`` whose window saw the joint, and its
            confidence that window's tent-weighted mean confidence (so the network can tell a filled joint from
            a seen one). Joints with confidence above 0, and masked ones no window reached, are left as they
            are. The branch then spans ``2 * fill`` more frames. 0: off. Not with ``causal`` (the windows are
            centred on the frame they fill).
    """

    num_joints: int = 17
    in_features: int = 3
    out_features: int = 3
    receptive_field: int = 243
    strides: tuple[int, ...] = (1, 2, 3)
    channels: int = 320
    dropout: float = 0.25
    causal: bool = False
    fusion: str = "concat"
    span: str = "fit"
    share: bool = False
    coarse_channels: int | None = None
    pool: bool = False
    fill: int = 0

    def __post_init__(self) -> None:
        # Accept any sequence for strides but store a tuple (hashable, and what checkpoints round-trip).
        object.__setattr__(self, "strides", tuple(self.strides))
        for name in ("num_joints", "in_features", "out_features", "channels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TCNConfig.{name} must be >= 1, got {getattr(self, name)}")
        r = self.receptive_field
        if not _is_power_of_width(r):
            raise ConfigError(f"TCNConfig.receptive_field must be a power of {WIDTH} (27, 81, 243, ...), got {r}")
        s = self.strides
        if not s or 1 not in s or len(set(s)) != len(s) or any(not isinstance(v, int) or v < 1 for v in s):
            raise ConfigError(f"TCNConfig.strides must be distinct positive integers including 1, got {s}")
        too_coarse = [v for v in s if self.conv_span(v, 1) > r] if self.span == "fit" else []
        if too_coarse:
            raise ConfigError(
                f"TCNConfig.strides {too_coarse}: one width-{WIDTH} conv at that stride already spans more than "
                f"receptive_field={r} frames; use strides <= {(r - 1) // (WIDTH - 1)}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"TCNConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"TCNConfig.fusion must be one of {list(FUSIONS)}, got {self.fusion!r}")
        if self.span not in SPANS:
            raise ConfigError(f"TCNConfig.span must be one of {list(SPANS)}, got {self.span!r}")
        if self.coarse_channels is not None:
            if self.coarse_channels < 1:
                raise ConfigError(f"TCNConfig.coarse_channels must be >= 1 or null, got {self.coarse_channels}")
            if self.coarse_channels != self.channels and self.share:
                raise ConfigError("TCNConfig.share needs every branch as wide as the stride-1 one: "
                                  f"coarse_channels={self.coarse_channels} differs from channels={self.channels}")
            if self.coarse_channels != self.channels and self.fusion == "sum" and len(s) > 1:
                raise ConfigError("TCNConfig.fusion='sum' adds the branches' features, so they must be as wide: "
                                  f"coarse_channels={self.coarse_channels} differs from channels={self.channels}")
        if self.pool and self.in_features < 2:
            raise ConfigError("TCNConfig.pool weights each joint's features by its last one, the confidence: "
                              f"it needs in_features >= 2, got {self.in_features}")
        if isinstance(self.fill, bool) or not isinstance(self.fill, int) or self.fill < 0:
            raise ConfigError(f"TCNConfig.fill must be a whole number of frames >= 0, got {self.fill!r}")
        if self.fill and self.in_features < 2:
            raise ConfigError("TCNConfig.fill finds masked joints by their last feature, the confidence: "
                              f"it needs in_features >= 2, got {self.in_features}")
        if self.fill and self.causal:
            raise ConfigError("TCNConfig.fill averages frames on both sides of a masked joint, so a causal model "
                              "(past frames only) cannot have it: set fill to 0")

    def pool_half(self, stride: int) -> int:
        """Frames each side of the confidence-weighted average branch ``stride`` sees (0: no pooling)."""
        return stride // 2 if self.pool else 0

    def fill_half(self, stride: int) -> int:
        """Frames each side of a masked joint the widest gap-filling window of branch ``stride`` reaches
        (``fill`` for stride 1, else 0)."""
        return self.fill if stride == 1 else 0

    def branch_span(self, stride: int, layers: int) -> int:
        """Input frames a branch of ``layers`` width-3 layers at ``stride`` sees: ``s * (3**L - 1) + 1``, plus
        ``2 * (s // 2)`` with ``pool`` and ``2 * fill`` for stride 1 with ``fill``."""
        return self.conv_span(stride, layers) + 2 * self.fill_half(stride)

    def conv_span(self, stride: int, layers: int) -> int:
        """:meth:`branch_span` without the gap-filling margin: what must fit in ``receptive_field`` with
        ``span="fit"`` (filling widens the stride-1 branch's window, it takes none of its layers away)."""
        return stride * (WIDTH**layers - 1) + 1 + 2 * self.pool_half(stride)

    def branch_channels(self) -> tuple[int, ...]:
        """Feature channels of each branch: ``channels`` for stride 1, ``coarse_channels`` for the others."""
        coarse = self.channels if self.coarse_channels is None else self.coarse_channels
        return tuple(self.channels if v == 1 else coarse for v in self.strides)

    def branch_layers(self) -> tuple[int, ...]:
        """Number of width-3 layers (expand conv + residual blocks) of each branch."""
        if self.span == "scaled":
            n = round(math.log(self.receptive_field, WIDTH))
            return (n,) * len(self.strides)
        out = []
        for s in self.strides:
            n = 1
            while self.conv_span(s, n + 1) <= self.receptive_field:
                n += 1
            out.append(n)
        return tuple(out)

    def branch_receptive_fields(self) -> tuple[int, ...]:
        """Receptive field of each branch, in input frames (:meth:`branch_span`)."""
        return tuple(self.branch_span(s, n) for s, n in zip(self.strides, self.branch_layers()))

    def model_receptive_field(self) -> int:
        """Input frames per output frame of the whole model: the widest branch's span (:meth:`branch_span`):
        ``receptive_field``, more with ``span="scaled"`` or with ``fill``."""
        return max(self.branch_receptive_fields())


def _fill_halves(fill: int) -> tuple[int, ...]:
    """Half-widths of the gap-filling windows, nearest first: 1, 2, 4, ... below ``fill``, then ``fill``."""
    halves = []
    h = 1
    while h < fill:
        halves.append(h)
        h *= 2
    return (*halves, fill)


def _is_power_of_width(n: int) -> bool:
    if isinstance(n, bool) or not isinstance(n, int) or n < WIDTH:
        return False
    while n % WIDTH == 0:
        n //= WIDTH
    return n == 1


def _strided_conv(x: Tensor, weight: Tensor) -> Tensor:
    """A width-3 conv with stride 3 on channels-last frames: ``(B, 3n, C_in) -> (B, n, C_out)``.

    Each output frame sees three consecutive input frames, so the frames regroup into rows of ``3 * C_in``
    numbers (a view, no copy) and the conv is one matrix product with the weight laid out tap by tap. On a
    CPU this is about 1.5 times as fast as ``conv1d(stride=3)`` on ``(B, C, T)``, and keeping the frames
    channels last spares the transposes between layers (the strided mode's training step:
    ``tools/bench/bench_train_speed.py``).
    """
    B, T, C = x.shape
    taps = weight.permute(0, 2, 1).reshape(weight.shape[0], WIDTH * C)  # (C_out, WIDTH * C_in), tap-major
    return nn.functional.linear(x.reshape(B, T // WIDTH, WIDTH * C), taps)


def _bn_last(bn: nn.BatchNorm1d, x: Tensor) -> Tensor:
    """Batch norm of channels-last ``(B, T, C)``: the same statistics as ``bn`` on ``(B, C, T)``."""
    return bn(x.reshape(-1, x.shape[-1])).view(x.shape)


class _ResBlock(nn.Module):
    """VideoPose3D residual block: dilated width-3 conv and a 1x1 conv, each with BN, ReLU and dropout."""

    def __init__(self, channels: int, dilation: int, dropout: float, causal: bool):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, WIDTH, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(channels)
        self.pointwise = nn.Conv1d(channels, channels, 1, bias=False)
        self.pointwise_bn = nn.BatchNorm1d(channels)
        self.drop = Dropout(dropout)
        # The residual carries the frame the output stands for: the centre tap, or the last one if causal.
        self.tap = WIDTH - 1 if causal else WIDTH // 2

    def forward(self, x: Tensor) -> Tensor:
        """Dense: ``(B, C, T) -> (B, C, T - 2 * dilation)``."""
        d = self.conv.dilation[0]
        res = x[:, :, self.tap * d : x.shape[2] - (WIDTH - 1 - self.tap) * d]
        y = self.drop(torch.relu(self.bn(self.conv(x))))
        return res + self.drop(torch.relu(self.pointwise_bn(self.pointwise(y))))

    def forward_strided(self, x: Tensor) -> Tensor:
        """Strided (one output window), channels last: ``(B, 3n, C) -> (B, n, C)``; same taps as :meth:`forward`."""
        res = x[:, self.tap :: WIDTH]
        y = self.drop(torch.relu(_bn_last(self.bn, _strided_conv(x, self.conv.weight))))
        y = nn.functional.linear(y, self.pointwise.weight[:, :, 0])
        return res + self.drop(torch.relu(_bn_last(self.pointwise_bn, y)))


def _weighted(joints: Tensor) -> Tensor:
    """``(..., F)`` joint features, confidence last -> the others times the confidence, then the confidence:
    what a confidence-weighted average sums."""
    conf = joints[..., -1:]
    return torch.cat([joints[..., :-1] * conf, conf], dim=-1)


def _unweighted(sums: Tensor) -> Tensor:
    """Weighted sums of :func:`_weighted` features (weights adding to 1) -> the confidence-weighted average
    of the features and the mean confidence; 0 where no frame saw the joint, as the codec encodes it."""
    seen = sums[..., -1:]
    coords = torch.where(seen > 1e-6, sums[..., :-1] / seen.clamp_min(1e-6), torch.zeros_like(sums[..., :-1]))
    return torch.cat([coords, seen], dim=-1)


class _ConfidencePool(nn.Module):
    """Confidence-weighted tent average over ``2 * half + 1`` frames (``TCNConfig.pool``), channels last and
    unpadded: ``(B, T, J*F) -> (B, T - 2 * half, J*F)``, or every ``step``-th of those frames. Per joint,
    features ``0 .. F-2`` become their average weighted by tent weight times confidence (0 where no frame of
    the window saw the joint, as the codec encodes a missing joint), and the confidence (feature ``F-1``) its
    tent-weighted average. A sum of ``2 * half + 1`` shifted slices: a depthwise conv does the same sums but
    took a third of the multi-stride model's training step on a CPU."""

    def __init__(self, in_features: int, half: int):
        super().__init__()
        self.in_features = in_features
        self.half = half
        tent = [float(half + 1 - abs(k)) for k in range(-half, half + 1)]
        self.tent = [w / sum(tent) for w in tent]

    def forward(self, x: Tensor, step: int = 1) -> Tensor:
        B, T, _ = x.shape
        x = x.reshape(B, T, -1, self.in_features)  # (B, T, J, F)
        weighted = _weighted(x)
        n = (T - 2 * self.half - 1) // step + 1  # output frames
        sums = sum(w * weighted[:, k : k + (n - 1) * step + 1 : step] for k, w in enumerate(self.tent))
        return _unweighted(sums).reshape(B, n, -1)


class _GapFill(nn.Module):
    """The stride-1 branch's masked joints filled from coarser windows (``TCNConfig.fill``), channels last and
    unpadded: ``(B, T, J*F) -> (B, T - 2 * halves[-1], J*F)``, or every ``step``-th of those frames. A joint
    with confidence 0 takes the :class:`_ConfidencePool` average of the first window, of ``halves`` frames
    each side, that saw it (coordinates and tent-weighted mean confidence); any other joint is passed as is.
    A tent of ``2h + 1`` frames is two running means of ``h + 1``: ``avg_pool1d`` twice, several times as fast
    here as the shifted-slice sums of :class:`_ConfidencePool` over the widest windows."""

    def __init__(self, in_features: int, halves: tuple[int, ...]):
        super().__init__()
        self.in_features = in_features
        self.halves = halves

    def forward(self, x: Tensor, step: int = 1) -> Tensor:
        B, T, C = x.shape
        edge = self.halves[-1]
        n = T - 2 * edge  # output frames
        joints = x.reshape(B, T, -1, self.in_features)  # (B, T, J, F)
        weighted = _weighted(joints).reshape(B, T, C).transpose(1, 2)  # (B, C, T)
        out = joints[:, edge : T - edge]
        for h in self.halves:
            crop = weighted[:, :, edge - h : T - edge + h]  # the frames this window needs around the output's
            sums = nn.functional.avg_pool1d(nn.functional.avg_pool1d(crop, h + 1, 1), h + 1, 1)  # (B, C, n)
            level = _unweighted(sums.transpose(1, 2).reshape(out.shape))
            out = torch.where((out[..., -1:] <= 0) & (level[..., -1:] > 1e-6), level, out)  # masked so far, seen here
        return out.reshape(B, n, C)[:, ::step]


class _Branch(nn.Module):
    """One VideoPose3D stack whose dilations are multiplied by ``stride``, optionally behind a
    :class:`_ConfidencePool` or (stride 1) a :class:`_GapFill`."""

    def __init__(
        self, in_channels: int, channels: int, num_layers: int, stride: int, dropout: float, causal: bool,
        pool: _ConfidencePool | _GapFill | None = None,
    ):
        super().__init__()
        self.stride = stride
        self.pool = pool
        self.expand = nn.Conv1d(in_channels, channels, WIDTH, dilation=stride, bias=False)
        self.expand_bn = nn.BatchNorm1d(channels)
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList(
            _ResBlock(channels, stride * WIDTH**k, dropout, causal) for k in range(1, num_layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Dense: ``(B, C_in, T) -> (B, C, T - RF + 1)``."""
        if self.pool is not None:
            x = self.pool(x.transpose(1, 2)).transpose(1, 2)
        x = self.drop(torch.relu(self.expand_bn(self.expand(x))))
        for block in self.blocks:
            x = block(x)
        return x

    def forward_strided(self, x: Tensor) -> Tensor:
        """One window of the branch's receptive field at full frame rate, channels last:
        ``(B, RF, C_in) -> (B, 1, C)``; it is pooled (or gap-filled), then subsampled at ``stride`` to ``3**L``
        frames."""
        x = x[:, :: self.stride] if self.pool is None else self.pool(x, step=self.stride)
        x = _strided_conv(x, self.expand.weight)
        x = self.drop(torch.relu(_bn_last(self.expand_bn, x)))
        for block in self.blocks:
            x = block.forward_strided(x)
        return x


class TCN(nn.Module):
    """Multi-stride temporal convolutional lifter (VideoPose3D when ``strides == (1,)``).

    Example:
        >>> model = TCN(TCNConfig(receptive_field=27, channels=32)).eval()
        >>> kp2d = torch.randn(2, 100, 17, 3)               # (B, T, J, x/y/conf)
        >>> model(kp2d).shape                              # dense: T - 27 + 1 frames
        torch.Size([2, 74, 17, 3])
        >>> model.forward_single(kp2d[:, :27]).shape       # one window -> its centre frame
        torch.Size([2, 1, 17, 3])
        >>> model.predict_sequence(kp2d).shape             # edge-padded: one output per input frame
        torch.Size([2, 100, 17, 3])
    """

    def __init__(self, config: TCNConfig):
        super().__init__()
        self.config = config
        c = config
        in_channels = c.num_joints * c.in_features
        self.branches = nn.ModuleList(
            _Branch(
                in_channels, width, n, s, c.dropout, c.causal,
                _ConfidencePool(c.in_features, c.pool_half(s)) if c.pool_half(s)
                else _GapFill(c.in_features, _fill_halves(c.fill_half(s))) if c.fill_half(s) else None,
            )
            for s, n, width in zip(c.strides, c.branch_layers(), c.branch_channels())
        )
        if c.share:
            self._tie_branches()
        self.fuse: nn.Module | None = None
        if len(c.strides) > 1:
            fused = c.channels if c.fusion == "sum" else sum(c.branch_channels())
            self.fuse = nn.Sequential(
                nn.Conv1d(fused, c.channels, 1, bias=False),
                nn.BatchNorm1d(c.channels),
                nn.ReLU(),
                Dropout(c.dropout),
            )
        self.head = nn.Conv1d(c.channels, c.num_joints * c.out_features, 1)

    def _tie_branches(self) -> None:
        """Point every branch's conv weights at the stride-1 branch's (the deepest): ``config.share``."""
        first = self.branches[self.config.strides.index(1)]
        for branch in self.branches:
            if branch is first:
                continue
            branch.expand.weight = first.expand.weight
            for block, source in zip(branch.blocks, first.blocks):
                block.conv.weight = source.conv.weight
                block.pointwise.weight = source.pointwise.weight

    # ---- geometry of the receptive field -------------------------------------------------------------

    def receptive_field(self) -> int:
        """Input frames needed per output frame (:meth:`TCNConfig.model_receptive_field`)."""
        return self.config.model_receptive_field()

    def frame_offset(self) -> int:
        """Index, within a window of ``receptive_field()`` input frames, of the frame the output stands for:
        the centre ``(R - 1) // 2``, or the last frame ``R - 1`` when causal. Dense output ``i`` is input
        frame ``i + frame_offset()``."""
        r = self.receptive_field()
        return r - 1 if self.config.causal else (r - 1) // 2

    def _branch_start(self, branch_rf: int) -> int:
        """First frame, within the model's window, of a branch's narrower window aligned on the output frame."""
        spare = self.receptive_field() - branch_rf  # even: both are odd
        return spare if self.config.causal else spare // 2

    # ---- execution modes ---------------------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        """Dense mode: ``(B, T, J, in_features) -> (B, T - R + 1, J, out_features)``, ``T >= R``.

        Output frame ``i`` stands for input frame ``i + frame_offset()`` and sees input frames
        ``i .. i + R - 1`` (so only the past when causal).
        """
        B, T, J, _ = self._check(x, "forward")
        r = self.receptive_field()
        if T < r:
            raise InputError(
                f"TCN.forward needs at least receptive_field={r} frames, got {T}; "
                "use predict_sequence() for shorter sequences (it pads the ends)"
            )
        t_out = T - r + 1
        x = rearrange(x, "b t j c -> b (j c) t")  # (B, J*in_features, T)
        feats = []
        for branch, rf in zip(self.branches, self.config.branch_receptive_fields()):
            # Cropping the input rather than the output: convs are unpadded, so it is exact and skips the
            # frames a narrower branch would compute only to be thrown away.
            start = self._branch_start(rf)
            feats.append(branch(x[:, :, start : start + t_out + rf - 1]))  # (B, C, T_out)
        y = self._fuse_and_head(feats)  # (B, J*out_features, T_out)
        return rearrange(y, "b (j c) t -> b t j c", j=J)  # (B, T_out, J, out_features)

    def forward_single(self, x: Tensor) -> Tensor:
        """Single-window mode: ``(B, R, J, in_features) -> (B, 1, J, out_features)``.

        Lifts the frame ``frame_offset()`` of each window with strided convolutions: branch ``s`` takes
        its window's frames at stride ``s`` and each layer strides by its kernel width, so no frame is
        computed that does not reach the output. Same numbers as :meth:`forward` on the window (eval mode).
        """
        B, T, J, _ = self._check(x, "forward_single")
        r = self.receptive_field()
        if T != r:
            raise InputError(f"TCN.forward_single needs exactly receptive_field={r} frames, got {T}")
        x = rearrange(x, "b t j c -> b t (j c)")  # (B, R, J*in_features): channels last, see _strided_conv
        feats = []
        for branch, rf in zip(self.branches, self.config.branch_receptive_fields()):
            start = self._branch_start(rf)
            feats.append(branch.forward_strided(x[:, start : start + rf]).transpose(1, 2))  # (B, C, 1)
        y = self._fuse_and_head(feats)  # (B, J*out_features, 1)
        return rearrange(y, "b (j c) t -> b t j c", j=J)  # (B, 1, J, out_features)

    def predict_sequence(self, x: Tensor, chunk: int | None = None) -> Tensor:
        """Lift a whole sequence of any length: ``(B, T, J, in_features) -> (B, T, J, out_features)``.

        The ends are padded by repeating the first/last frame ((R-1)/2 each side; causal: R-1 at the start
        only) so output ``t`` is aligned with input ``t``; the dense mode then runs once over the sequence.
        ``chunk`` bounds memory on long sequences: output frames are computed ``chunk`` at a time from
        overlapping input windows (``chunk + R - 1`` frames), which gives the same result as one pass.

        Runs in whatever mode the module is in; call ``.eval()`` and wrap in ``torch.no_grad()`` for inference.
        """
        B, T, J, _ = self._check(x, "predict_sequence")
        if T < 1:
            raise InputError("TCN.predict_sequence needs at least one frame, got 0")
        if chunk is not None and chunk < 1:
            raise InputError(f"TCN.predict_sequence: chunk must be a positive number of frames, got {chunk}")
        r = self.receptive_field()
        left = self.frame_offset()
        right = r - 1 - left
        x = torch.cat([x[:, :1].expand(-1, left, -1, -1), x, x[:, -1:].expand(-1, right, -1, -1)], dim=1)
        # x: (B, T + R - 1, J, in_features)
        if chunk is None or chunk >= T:
            return self.forward(x)
        return torch.cat([self.forward(x[:, i : i + chunk + r - 1]) for i in range(0, T, chunk)], dim=1)

    def _fuse_and_head(self, feats: list[Tensor]) -> Tensor:
        """Branch features, each ``(B, C, T_out)`` -> ``(B, J*out_features, T_out)``."""
        if self.fuse is None:
            y = feats[0]
        elif self.config.fusion == "sum":
            y = self.fuse(torch.stack(feats).sum(0))  # (B, C, T_out)
        else:
            y = self.fuse(torch.cat(feats, dim=1))  # (B, n_branches*C, T_out) -> (B, C, T_out)
            if self.config.fusion == "residual":
                y = y + feats[self.config.strides.index(1)]  # onto the stride-1 branch's residual stream
        return self.head(y)

    def _check(self, x: Tensor, where: str) -> tuple[int, int, int, int]:
        c = self.config
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[2:] != (c.num_joints, c.in_features):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InputError(
                f"TCN.{where}: expected a (B, T, {c.num_joints}, {c.in_features}) tensor "
                f"(batch, frames, joints, features), got {shape}"
            )
        return tuple(x.shape)  # type: ignore[return-value]

    # ---- accounting ------------------------------------------------------------------------------------

    def num_parameters(self) -> int:
        """Trainable parameters (BN running statistics excluded; weights shared by branches count once)."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_frame(self) -> int:
        """FLOPs (2 x multiply-adds) of the dense mode per output frame, on a long sequence.

        In dense mode every conv layer produces one frame per output frame (plus an ``O(R)`` margin that
        vanishes on long sequences), so the cost is ``2 * C_in * C_out * width`` summed over the convs.
        BN, ReLU, biases and residual adds are left out: they are elementwise, and BN folds into the
        convs at inference; so are the confidence pooling and gap filling (``pool``, ``fill``: a few dozen FLOPs per
        joint and window). A conv whose
        weights branches share (``config.share``) counts once per branch.
        """
        return sum(2 * m.weight.numel() for m in self.modules() if isinstance(m, nn.Conv1d))

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the momentum of every BN layer (VideoPose3D decays it during training)."""
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = momentum


def count_parameters(config: TCNConfig) -> int:
    """Parameters of ``TCN(config)``, without allocating its weights (built on the meta device)."""
    with torch.device("meta"):
        return TCN(config).num_parameters()


def baseline_config_matching(config: TCNConfig, rtol: float = 0.05, multiple_of: int = 8) -> TCNConfig:
    """Single-stride (VideoPose3D) config with about as many parameters as ``config``, for a fair ablation.

    Same receptive field, dropout, causality and input/output sizes; only ``channels`` changes. It is a
    multiple of ``multiple_of`` (friendlier to hardware) when that stays within ``rtol`` of the target
    count, otherwise the closest integer.
    """
    target = count_parameters(config)
    single = replace(config, strides=(1,), coarse_channels=None, pool=False, fill=0)

    def params(channels: int) -> int:
        return count_parameters(replace(single, channels=channels))

    # Parameters grow monotonically with channels: bracket, then bisect for the first count >= target.
    lo, hi = 1, 2
    while params(hi) < target:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if params(mid) < target else (lo, mid)

    def err(channels: int) -> float:
        return abs(params(channels) - target) / target

    best = min((lo, hi), key=err)
    if multiple_of > 1:
        rounded = min(
            (m for m in (lo // multiple_of * multiple_of, -(-hi // multiple_of) * multiple_of) if m > 0), key=err
        )
        if err(rounded) <= rtol:
            best = rounded
    if err(best) > rtol:
        log.warning(
            "baseline_config_matching: closest single-stride model (channels=%d) is %.1f%% off the %d "
            "parameters of %s", best, 100 * err(best), target, config
        )
    return replace(single, channels=best)
