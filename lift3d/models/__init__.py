"""Lifting models: 2D pose sequences to 3D. Model files hold no training code (nanoGPT style)."""

from lift3d.models.crop_codec import (
    HeatmapCodec,
    crop_box_from_2d,
    crop_intrinsics,
    decode_root_relative,
    encode_root_relative,
    from_crop_norm,
    pixel_centres,
    render_heatmaps,
    root_depth_from_box,
    to_crop_norm,
)
from lift3d.models.posresnet import CBAM, WASP, PoseResNet, PoseResNetConfig, soft_argmax_3d
from lift3d.models.tcn import TCN, TCNConfig, baseline_config_matching, count_parameters

__all__ = [
    "CBAM", "HeatmapCodec", "PoseResNet", "PoseResNetConfig", "TCN", "TCNConfig", "WASP", "baseline_config_matching",
    "count_parameters", "crop_box_from_2d", "crop_intrinsics", "decode_root_relative", "encode_root_relative",
    "from_crop_norm", "pixel_centres", "render_heatmaps", "root_depth_from_box", "soft_argmax_3d", "to_crop_norm",
]
