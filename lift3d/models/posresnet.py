"""Pose-ResNet volumetric lifter: a person crop (or rendered 2D heatmaps) to root-relative 3D in crop coordinates.

An input ``(B, C, S, S)`` (an RGB crop, ``C = 3``, one rendered Gaussian heatmap per joint, ``C = J``, or both
stacked, ``C = J + 3``; see :mod:`lift3d.models.crop_codec`) goes through

* a ResNet backbone (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016): the standard
  stem (7x7 stride-2 conv, 3x3 stride-2 max pool) or, for low-resolution heatmap input, a single 3x3
  stride-2 conv; then 4 stages of basic (ResNet-18/34) or bottleneck (ResNet-50) blocks at strides
  1, 2, 2, 2 and widths ``width * (1, 2, 4, 8)`` (x4 for bottlenecks). Stride-2 blocks stride their 3x3
  conv (torchvision's "v1.5").
* CBAM (Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018): channel attention (avg- and
  max-pooled descriptors through a shared MLP, summed, sigmoid), then spatial attention (channel-wise mean
  and max maps through a 7x7 conv, sigmoid). Woo et al. put one in every residual block; here one refines
  the output of each stage (4 modules), which is what the ablation switches on and off.
* WASP (Artacho & Savakis, "UniPose: Unified Human Pose Estimation in Single Images and Videos", CVPR 2020,
  sec. 3.1): a waterfall of 3x3 atrous convs with growing dilation, each fed by the previous one's output;
  all their outputs and a global-average-pooling branch are concatenated and fused by a 1x1 conv.
  UniPose's 1x1 convs after each waterfall branch are left out (the fusing 1x1 conv mixes them anyway).
* the volumetric head: Xiao et al.'s deconvolution layers ("Simple Baselines for Human Pose Estimation and
  Tracking", ECCV 2018: transposed conv 4x4 stride 2, BN, ReLU, repeated), then a 1x1 conv to ``J * D``
  channels, a ``(B, J, D, H, W)`` volume of logits, and soft-argmax over it (:func:`soft_argmax_3d`, Sun et
  al., "Integral Human Pose Regression", ECCV 2018).
* or, for the ablation, direct regression from the same backbone (+ CBAM + WASP): global average pooling
  and a linear layer to ``J * 3`` (Sun et al.'s direct-regression baseline).

Output ``(B, J, 3)``: normalised ``(u, v, z)`` as :mod:`lift3d.models.crop_codec` defines them (``u, v`` in
``[-1, 1]`` from edge to edge of the crop, ``z`` in ``[-1, 1]`` spanning ``depth_range_m`` of depth around
the root); :func:`lift3d.models.crop_codec.decode_root_relative` turns it into metres. The volumetric head
outputs lie strictly inside ``(-1, 1)``; the regression head is a plain linear layer (unbounded: no tanh,
whose saturation would slow learning near the edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lift3d.errors import ConfigError, InputError
from lift3d.models.crop_codec import pixel_centres

STEMS = ("image", "heatmap")
HEADS = ("volumetric", "regression")
BLOCKS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3))}
"""ResNet depth -> block type and blocks per stage (He et al. 2016, Table 1)."""

WASP_STEPS = (1, 2, 3, 4)
"""Default WASP dilations. UniPose uses (6, 12, 18, 24) on feature maps several times larger than the 2-8 px
maps here; the default keeps its 1:2:3:4 progression at the smallest step."""


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class PoseResNetConfig:
    """Architecture of a :class:`PoseResNet` (saved in checkpoints; rebuilds the model alone).

    Attributes:
        num_joints: ``J``, joints predicted (17 for ``H36M17``).
        in_channels: input channels: 3 for RGB crops, ``num_joints`` for rendered 2D heatmaps, ``num_joints + 3``
            for both (:meth:`lift3d.models.crop_codec.HeatmapCodec.channels`).
        input_size: side ``S`` of the square input, pixels; a multiple of :meth:`backbone_stride`.
        depth: ResNet depth, 18, 34 or 50.
        width: channels of the stem and of stage 1 (64 in the standard ResNet; 16 or 32 on a CPU).
        stem: ``"image"`` (7x7 stride-2 conv + 3x3 stride-2 max pool, stride 4) or ``"heatmap"`` (one 3x3
            stride-2 conv, stride 2, for low-resolution heatmap input).
        cbam: refine the output of each stage with CBAM.
        cbam_reduction: reduction ratio ``r`` of CBAM's channel MLP (16 in Woo et al.).
        wasp: add the WASP module after the backbone.
        wasp_dilations: dilations of the waterfall branches, strictly increasing, each smaller than the
            feature map (a larger one sees only padding off-centre). ``None``: ``(1, 2, 3, 4)`` limited to the
            feature map (:meth:`resolved_wasp_dilations`).
        wasp_channels: channels of every WASP branch and of its output (256 in UniPose).
        deconv_layers: 4x4 stride-2 transposed convs of the volumetric head, each doubling the resolution.
        deconv_channels: channels of each of them (256 in Xiao et al.).
        depth_bins: ``D``, depth bins of the volume.
        depth_range_m: metres of depth relative to the root covered by the volume's ``D`` bins (``z`` in
            ``[-1, 1]`` spans ``[-depth_range_m / 2, depth_range_m / 2]``).
        head: ``"volumetric"`` (heatmap volume + soft-argmax) or ``"regression"`` (pool + linear; ablation).
    """

    num_joints: int = 17
    in_channels: int = 3
    input_size: int = 256
    depth: int = 50
    width: int = 64
    stem: str = "image"
    cbam: bool = True
    cbam_reduction: int = 16
    wasp: bool = True
    wasp_dilations: tuple[int, ...] | None = None
    wasp_channels: int = 256
    deconv_layers: int = 3
    deconv_channels: int = 256
    depth_bins: int = 64
    depth_range_m: float = 2.0
    head: str = "volumetric"

    def __post_init__(self) -> None:
        name = type(self).__name__
        for f in ("num_joints", "in_channels", "input_size", "width", "cbam_reduction", "wasp_channels",
                  "deconv_channels", "depth_bins"):
            v = getattr(self, f)
            if not _is_int(v) or v < 1:
                raise ConfigError(f"{name}.{f} must be a positive integer, got {v!r}")
        if not _is_int(self.depth) or self.depth not in BLOCKS:
            raise ConfigError(f"{name}.depth must be one of {sorted(BLOCKS)}, got {self.depth!r}")
        if self.stem not in STEMS:
            raise ConfigError(f"{name}.stem must be one of {list(STEMS)}, got {self.stem!r}")
        if self.head not in HEADS:
            raise ConfigError(f"{name}.head must be one of {list(HEADS)}, got {self.head!r}")
        for f in ("cbam", "wasp"):
            if not isinstance(getattr(self, f), bool):
                raise ConfigError(f"{name}.{f} must be true or false, got {getattr(self, f)!r}")
        if not _is_int(self.deconv_layers) or not 0 <= self.deconv_layers <= 6:
            raise ConfigError(f"{name}.deconv_layers must be an integer in [0, 6], got {self.deconv_layers!r}")
        if isinstance(self.depth_range_m, bool) or not isinstance(self.depth_range_m, (int, float)) \
                or not self.depth_range_m > 0:
            raise ConfigError(f"{name}.depth_range_m must be a positive number of metres, got {self.depth_range_m!r}")
        s = self.backbone_stride()
        if self.input_size % s:
            lo, hi = max(s, self.input_size // s * s), (self.input_size // s + 1) * s
            raise ConfigError(
                f"{name}.input_size={self.input_size} is not a multiple of the backbone stride {s} "
                f"(stem={self.stem!r}); use {lo} or {hi}"
            )
        if self.wasp_dilations is not None:
            d = tuple(self.wasp_dilations)
            object.__setattr__(self, "wasp_dilations", d)  # any sequence in, a tuple stored (hashable)
            if not d or not all(_is_int(v) and v >= 1 for v in d) or any(a >= b for a, b in zip(d, d[1:])):
                raise ConfigError(f"{name}.wasp_dilations must be strictly increasing positive integers, got {d}")
            f = self.feature_size()
            too_big = [v for v in d if v > 1 and v >= f]
            if self.wasp and too_big:
                raise ConfigError(
                    f"{name}.wasp_dilations {too_big} are >= the {f}x{f} feature map (input_size={self.input_size}"
                    f" / stride {s}): their off-centre taps would see only padding; use dilations < {f}"
                )

    def backbone_stride(self) -> int:
        """Input pixels per feature-map pixel: the stem's stride (4 or 2) times 8 (stages 2-4)."""
        return (4 if self.stem == "image" else 2) * 8

    def feature_size(self) -> int:
        """Side of the backbone's (and WASP's) feature map, pixels."""
        return self.input_size // self.backbone_stride()

    def heatmap_size(self) -> int:
        """Side ``H = W`` of the output volume: the feature map doubled by each deconv layer."""
        return self.feature_size() * 2**self.deconv_layers

    def stage_channels(self) -> tuple[int, ...]:
        """Output channels of the 4 stages."""
        expansion = 4 if BLOCKS[self.depth][0] == "bottleneck" else 1
        return tuple(self.width * m * expansion for m in (1, 2, 4, 8))

    def resolved_wasp_dilations(self) -> tuple[int, ...]:
        """``wasp_dilations``, or the default ``(1, 2, 3, 4)`` without the rates >= the feature map."""
        if self.wasp_dilations is not None:
            return self.wasp_dilations
        return tuple(d for d in WASP_STEPS if d < self.feature_size()) or (1,)


def soft_argmax_3d(logits: Tensor) -> Tensor:
    """Integral regression over a volume (Sun et al., ECCV 2018, Eq. 3): the expected voxel under its softmax.

    The softmax runs over all ``D * H * W`` voxels; the expectation is taken from the three marginals (the
    same numbers, ``O(D + H + W)`` products instead of ``O(D H W)``). Coordinates are normalised with voxel
    centres at ``(2k + 1) / n - 1`` (:func:`lift3d.models.crop_codec.pixel_centres`): ``x`` along ``W``,
    ``y`` along ``H``, ``z`` along ``D`` (bin 0 nearest the camera), each strictly inside ``(-1, 1)``.

    Args:
        logits: ``(..., D, H, W)`` unnormalised log-probabilities.

    Returns:
        ``(..., 3)`` ``(x, y, z)``, differentiable.

    Example:
        >>> v = torch.full((1, 4, 4, 4), -50.0); v[0, 3, 1, 2] = 50.0   # voxel (z=3, y=1, x=2)
        >>> soft_argmax_3d(v)                                            # centres (2k + 1) / 4 - 1
        tensor([[ 0.2500, -0.2500,  0.7500]])
    """
    if not isinstance(logits, Tensor) or logits.ndim < 3 or not logits.is_floating_point():
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise InputError(f"soft_argmax_3d: expected a floating-point (..., D, H, W) tensor, got {shape}")
    D, H, W = logits.shape[-3:]
    p = torch.softmax(logits.flatten(-3), dim=-1).unflatten(-1, (D, H, W))  # (..., D, H, W)
    kw = {"dtype": logits.dtype, "device": logits.device}
    x = (p.sum(dim=(-3, -2)) * pixel_centres(W, **kw)).sum(-1)  # (...)
    y = (p.sum(dim=(-3, -1)) * pixel_centres(H, **kw)).sum(-1)
    z = (p.sum(dim=(-2, -1)) * pixel_centres(D, **kw)).sum(-1)
    return torch.stack([x, y, z], dim=-1)


def _conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, pad, dilation=dilation, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class _BasicBlock(nn.Module):
    """Two 3x3 convs + identity (ResNet-18/34)."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = _conv_bn_relu(c_in, planes, 3, stride)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(c_in, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W) -> (B, planes, H / stride, W / stride)``."""
        return torch.relu(self.bn2(self.conv2(self.conv1(x))) + self.shortcut(x))


class _Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand x4 + identity (ResNet-50)."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int):
        super().__init__()
        c_out = planes * self.expansion
        self.conv1 = _conv_bn_relu(c_in, planes, 1)
        self.conv2 = _conv_bn_relu(planes, planes, 3, stride)
        self.conv3 = nn.Conv2d(planes, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = _shortcut(c_in, c_out, stride)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W) -> (B, 4 planes, H / stride, W / stride)``."""
        return torch.relu(self.bn3(self.conv3(self.conv2(self.conv1(x)))) + self.shortcut(x))


def _shortcut(c_in: int, c_out: int, stride: int) -> nn.Module:
    """Identity, or a strided 1x1 conv + BN where the shape changes (He et al.'s option B)."""
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class CBAM(nn.Module):
    """Channel then spatial attention (Woo et al., ECCV 2018, Eqs. 2-3): ``(B, C, H, W) -> (B, C, H, W)``."""

    def __init__(self, channels: int, reduction: int = 16, kernel: int = 7):
        super().__init__()
        hidden = max(1, channels // reduction)
        # The shared MLP, as 1x1 convs on the (B, C, 1, 1) pooled descriptors.
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        mx = x.amax(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return x * torch.sigmoid(self.spatial(maps))


class WASP(nn.Module):
    """Waterfall atrous spatial pooling (UniPose, CVPR 2020): ``(B, C_in, H, W) -> (B, channels, H, W)``."""

    def __init__(self, c_in: int, channels: int, dilations: tuple[int, ...]):
        super().__init__()
        self.waterfall = nn.ModuleList(
            _conv_bn_relu(c_in if i == 0 else channels, channels, 3, dilation=d) for i, d in enumerate(dilations)
        )
        # No BN in the pooled branch: it sees one value per channel and sample, which BN cannot normalise at
        # batch size 1 (DeepLab's ASPP has the same problem).
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, channels, 1), nn.ReLU())
        self.fuse = _conv_bn_relu(channels * (len(dilations) + 1), channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        B, _, H, W = x.shape
        branches = []
        y = x
        for conv in self.waterfall:
            y = conv(y)  # each branch is fed by the previous one: the waterfall
            branches.append(y)
        branches.append(self.pool(x).expand(-1, -1, H, W))  # (B, channels, H, W): upsampling a 1x1 map
        return self.fuse(torch.cat(branches, dim=1))  # (B, channels * (n + 1), H, W) -> (B, channels, H, W)


class PoseResNet(nn.Module):
    """ResNet + CBAM + WASP + deconvolutions + soft-argmax: ``(B, C, S, S) -> (B, J, 3)`` normalised ``(u, v, z)``.

    Example:
        >>> cfg = PoseResNetConfig(in_channels=17, input_size=64, depth=18, width=16, stem="heatmap",
        ...                        wasp_channels=64, deconv_channels=64, depth_bins=32)
        >>> model = PoseResNet(cfg).eval()
        >>> x = torch.rand(2, 17, 64, 64)                  # (B, J, S, S) rendered 2D heatmaps
        >>> model(x).shape, model.volume(x).shape, cfg.heatmap_size()
        (torch.Size([2, 17, 3]), torch.Size([2, 17, 32, 32, 32]), 32)
    """

    def __init__(self, config: PoseResNetConfig):
        super().__init__()
        self.config = c = config
        if c.stem == "image":
            self.stem = nn.Sequential(_conv_bn_relu(c.in_channels, c.width, 7, 2), nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = _conv_bn_relu(c.in_channels, c.width, 3, 2)
        kind, counts = BLOCKS[c.depth]
        block = _Bottleneck if kind == "bottleneck" else _BasicBlock
        stages, ch = [], c.width
        for i, n in enumerate(counts):
            planes = c.width * 2**i
            layers = []
            for k in range(n):
                layers.append(block(ch, planes, 2 if i > 0 and k == 0 else 1))
                ch = planes * block.expansion
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.attention = nn.ModuleList(
            CBAM(ch, c.cbam_reduction) if c.cbam else nn.Identity() for ch in c.stage_channels()
        )
        ch = c.stage_channels()[-1]
        self.wasp: nn.Module = nn.Identity()
        if c.wasp:
            self.wasp = WASP(ch, c.wasp_channels, c.resolved_wasp_dilations())
            ch = c.wasp_channels
        if c.head == "volumetric":
            deconvs = []
            for _ in range(c.deconv_layers):
                deconvs += [
                    nn.ConvTranspose2d(ch, c.deconv_channels, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(c.deconv_channels),
                    nn.ReLU(),
                ]
                ch = c.deconv_channels
            self.head = nn.Sequential(*deconvs, nn.Conv2d(ch, c.num_joints * c.depth_bins, 1))
        else:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, c.num_joints * 3))
        self._init_weights()

    def stem_conv(self) -> nn.Conv2d:
        """The first convolution, the only layer that sees the input channels."""
        return self.stem[0][0] if self.config.stem == "image" else self.stem[0]

    def load_widened(self, state: dict, old_in_channels: int) -> None:
        """Load the weights of a model that differs from this one only in taking the first ``old_in_channels``
        of its input channels (e.g. a heatmap model into a heatmaps + image one). The stem weights of the new
        channels are zero, so the widened model computes exactly what the old one did until it is trained."""
        key = next(k for k, v in self.named_parameters() if v is self.stem_conv().weight)
        w = state[key]
        new = self.stem_conv().weight
        if w.ndim != 4 or w.shape[1] != old_in_channels or w.shape[1] > new.shape[1] \
                or w.shape[:1] + w.shape[2:] != new.shape[:1] + new.shape[2:]:
            raise InputError(f"cannot widen a stem of shape {tuple(w.shape)} to {tuple(new.shape)}")
        wide = torch.zeros_like(new)
        wide[:, :old_in_channels] = w
        self.load_state_dict({**state, key: wide})

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)  # Xiao et al.'s initialisation of the deconvolutions
        # Both heads start from a near-uniform volume / near-zero output: the same starting point for the
        # ablation (soft-argmax of a uniform volume is the centre).
        last = self.head[-1]
        nn.init.normal_(last.weight, std=0.001)
        nn.init.zeros_(last.bias)

    def features(self, x: Tensor) -> Tensor:
        """Backbone, CBAM and WASP: ``(B, C, S, S) -> (B, C_feat, F, F)``, ``F = config.feature_size()``."""
        self._check(x)
        x = self.stem(x)
        for stage, attention in zip(self.stages, self.attention):
            x = attention(stage(x))
        return self.wasp(x)

    def volume(self, x: Tensor) -> Tensor:
        """Heatmap volume logits: ``(B, C, S, S) -> (B, J, D, H, W)``, ``H = W = config.heatmap_size()``.

        Axis ``D`` is depth (bin 0 nearest the camera), ``H`` the crop's rows, ``W`` its columns; a softmax
        over ``(D, H, W)`` gives each joint's probability volume.
        """
        c = self.config
        if c.head != "volumetric":
            raise ConfigError(f"PoseResNet.volume: the model has head={c.head!r}, which makes no volume")
        return self._volume_of(self.head(self.features(x)))

    def _volume_of(self, y: Tensor) -> Tensor:
        """The head's output ``(B, J*D, H, W)`` as ``(B, J, D, H, W)``."""
        return y.unflatten(1, (self.config.num_joints, self.config.depth_bins))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, S, S) -> (B, J, 3)`` normalised ``(u, v, z)`` (module docstring).

        Without gradients (inference) the volumetric head's last layer and the soft-argmax run one sample at a
        time, the rest of the network on the whole batch: one sample's volume (2.2 MB for 17 joints at 32^3)
        stays in the CPU's cache where a batch's (142 MB at 64) does not, and the soft-argmax writes then reads
        back every voxel four times. Same numbers (to float rounding), 1.5-1.7 times faster on our 2-core CPU
        (`BENCHMARKS.md`, `posresnet_speed`).
        """
        f = self.features(x)
        if self.config.head != "volumetric":
            return self.head(f).unflatten(1, (self.config.num_joints, 3))  # (B, J*3) -> (B, J, 3)
        if torch.is_grad_enabled() or len(f) < 2:
            return soft_argmax_3d(self._volume_of(self.head(f)))
        *body, last = self.head
        for layer in body:
            f = layer(f)  # (B, C_deconv, H, W)
        return torch.cat([soft_argmax_3d(self._volume_of(last(f[i:i + 1]))) for i in range(len(f))])  # (B, J, 3)

    def _check(self, x: Tensor) -> None:
        c = self.config
        want = (c.in_channels, c.input_size, c.input_size)
        if not isinstance(x, Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != want:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InputError(
                f"PoseResNet: expected a (B, {c.in_channels}, {c.input_size}, {c.input_size}) tensor (batch, "
                f"channels, crop side, crop side), got {shape}"
            )

    # ---- accounting ------------------------------------------------------------------------------------

    def num_parameters(self) -> int:
        """Trainable parameters (BN running statistics excluded)."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_sample(self) -> int:
        """FLOPs (2 x multiply-adds) of one forward pass on one input, counted by forward hooks.

        A copy of the model built on the meta device (no memory, no arithmetic) runs one input; hooks add
        ``2 * out_pixels * C_in / groups * k_h * k_w * C_out`` per conv (input pixels for a transposed conv,
        which scatters each one), ``2 * in * out`` per linear layer. BN, activations, pooling, attention
        products, biases, the softmax and the soft-argmax are left out: they are elementwise or reductions
        (BN folds into the convs at inference).
        """
        with torch.device("meta"):
            model = PoseResNet(self.config).eval()
        total = 0

        def count(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
            nonlocal total
            if isinstance(m, nn.Linear):
                total += 2 * out.numel() * m.in_features
            elif isinstance(m, nn.ConvTranspose2d):
                total += 2 * inputs[0].numel() * m.weight[0].numel()  # each input pixel: C_out/groups * k * k
            elif isinstance(m, nn.Conv2d):
                total += 2 * out.numel() * m.weight[0].numel()  # each output value: C_in/groups * k * k

        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                m.register_forward_hook(count)
        c = self.config
        with torch.no_grad():
            model(torch.empty(1, c.in_channels, c.input_size, c.input_size, device="meta"))
        return total

