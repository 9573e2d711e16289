"""Codec of the volumetric lifter: person crops, rendered 2D heatmaps and root-relative 3D in crop coordinates.

All normalisation of :class:`lift3d.models.PoseResNet` lives here (STYLE: MMPose's codec idea); the model
only sees crops and predicts normalised numbers.

Conventions (used by every function here and by the model)
-----------------------------------------------------------
- Camera frame: OpenCV (x right, y down, z forward), metres; pixels with the centre of the top-left pixel
  at ``(0, 0)`` (see :mod:`lift3d.geometry`).
- A crop is a square ``box = (cx, cy, side)`` in image pixels: the region ``[cx - side/2, cx + side/2] x
  [cy - side/2, cy + side/2]`` of the image plane, resampled to ``size x size`` pixels so that the crop's
  outer edges are the outer edges of the resampled image (``grid_sample(..., align_corners=False)``).
- Normalised crop coordinates ``(u, v)``: ``-1`` and ``+1`` are the left/right (top/bottom) *edges* of the
  crop, ``u = (x_px - cx) / (side / 2)``. The centre of pixel ``k`` of any ``n``-pixel grid over the crop
  (the crop image, an input heatmap, the model's output volume) is at ``(2k + 1) / n - 1``
  (:func:`pixel_centres`), so the coordinates do not depend on the resolution.
- Depth: ``z`` in ``[-1, 1]`` maps linearly to ``[-depth_range_m / 2, depth_range_m / 2]`` metres of
  camera-frame depth relative to the root joint: ``Z_j = Z_root + z_j * depth_range_m / 2``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import Tensor

from lift3d.errors import InputError
from lift3d.geometry import project_camera, unproject_points
from lift3d.geometry._checks import check_same_size, check_tensor


def pixel_centres(n: int, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> Tensor:
    """Normalised coordinates of the centres of ``n`` pixels spanning ``[-1, 1]``: ``(2k + 1) / n - 1``.

    Returns:
        ``(n,)``, e.g. ``n = 4`` gives ``[-0.75, -0.25, 0.25, 0.75]``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"pixel_centres: n must be a positive number of pixels, got {n!r}")
    return _px_to_norm(torch.arange(n, dtype=dtype, device=device), n)


def _px_to_norm(px: Tensor, n: int) -> Tensor:
    """Pixel coordinates of an ``n``-pixel grid over the crop (centres at integers) to normalised ones."""
    return (2 * px + 1) / n - 1


def _norm_to_px(u: Tensor, n: int) -> Tensor:
    """Inverse of :func:`_px_to_norm`."""
    return (u + 1) * (n / 2) - 0.5


def _check_size(size: object, where: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"{where}: size must be a positive number of pixels, got {size!r}")
    return size


def _check_positive(value: float, name: str, where: str) -> None:
    if not value > 0:
        raise InputError(f"{where}: {name} must be > 0, got {value!r}")


def to_crop_norm(kp2d_px: Tensor, box: Tensor) -> Tensor:
    """Image pixels to normalised crop coordinates: ``u = (x - cx) / (side / 2)``.

    Args:
        kp2d_px: ``(..., J, 2)`` pixels in the full image.
        box: ``(..., 3)`` crop ``(cx, cy, side)`` in pixels.

    Returns:
        ``(..., J, 2)``; ``[-1, 1]`` inside the crop.
    """
    check_tensor(kp2d_px, "kp2d_px", None, 2)
    check_tensor(box, "box", 3)
    return (kp2d_px - box[..., None, :2]) / (box[..., None, 2:] / 2)


def from_crop_norm(kp_norm: Tensor, box: Tensor) -> Tensor:
    """Inverse of :func:`to_crop_norm`: ``x = cx + u * side / 2``.

    Args:
        kp_norm: ``(..., J, 2)`` normalised crop coordinates.
        box: ``(..., 3)`` crop ``(cx, cy, side)`` in pixels.

    Returns:
        ``(..., J, 2)`` pixels in the full image.
    """
    check_tensor(kp_norm, "kp_norm", None, 2)
    check_tensor(box, "box", 3)
    return box[..., None, :2] + kp_norm * (box[..., None, 2:] / 2)


def crop_box_from_2d(
    kp2d_px: Tensor, conf: Tensor, margin: float = 1.25, min_conf: float = 0.0, min_side_px: float = 1.0
) -> Tensor:
    """Square crop around the confident joints: centre of their bounding box, side ``margin`` x its longer side.

    The margin pads the joints' box as Xiao et al. ("Simple Baselines", ECCV 2018) pad person boxes (1.25);
    joints stop short of the head top, hands and feet, so a margin above 1 is needed to keep the whole person.

    Args:
        kp2d_px: ``(..., J, 2)`` pixels.
        conf: ``(..., J)``; joints with ``conf > min_conf`` count.
        margin: side / longer side of the joints' bounding box, >= 1.
        min_conf: confidence threshold.
        min_side_px: smallest side returned (one confident joint alone has a box of side 0).

    Returns:
        ``(..., 3)`` ``(cx, cy, side)`` pixels.

    Raises:
        InputError: bad shapes or arguments, or a sample without any confident joint (nothing to crop).
    """
    check_tensor(kp2d_px, "kp2d_px", None, 2)
    check_tensor(conf, "conf", None)
    check_same_size("kp2d_px", kp2d_px, -2, "conf", conf, -1)
    if not margin >= 1.0:
        raise InputError(f"crop_box_from_2d: margin must be >= 1 (the box must contain the joints), got {margin}")
    _check_positive(min_side_px, "min_side_px", "crop_box_from_2d")
    ok = (conf > min_conf)[..., None]  # (..., J, 1)
    empty = ~ok.any(dim=-2)[..., 0]  # (...)
    if empty.any():
        first = tuple(torch.nonzero(empty)[0].tolist())
        raise InputError(
            f"crop_box_from_2d: {int(empty.sum())} sample(s) have no joint with confidence > {min_conf} "
            f"(first at batch index {first}); drop those frames or interpolate their boxes from neighbours"
        )
    lo = torch.where(ok, kp2d_px, torch.inf).amin(dim=-2)  # (..., 2)
    hi = torch.where(ok, kp2d_px, -torch.inf).amax(dim=-2)  # (..., 2)
    side = ((hi - lo).amax(dim=-1) * margin).clamp(min=min_side_px)  # (...)
    return torch.cat([(lo + hi) / 2, side[..., None]], dim=-1)


def crop_intrinsics(K: Tensor, box: Tensor, size: int) -> Tensor:
    """Intrinsics of the crop ``box`` resampled to ``size x size`` pixels.

    Crop pixel ``x_c = (size / side) * (x - cx + side / 2) - 1/2`` (edges to edges, pixel centres at
    integers), an affine map ``A`` of the image pixel ``x``; so ``K_crop = A K``: cropping shifts the
    principal point, resizing scales the focal lengths, principal point and skew.

    Args:
        K: ``(..., 3, 3)`` intrinsics of the full image, pixels.
        box: ``(..., 3)`` crop ``(cx, cy, side)`` pixels.
        size: side of the resampled crop, pixels.

    Returns:
        ``(..., 3, 3)``; projecting a camera-frame point with it gives its pixel in the resampled crop.
    """
    check_tensor(K, "K", 3, 3)
    check_tensor(box, "box", 3)
    _check_size(size, "crop_intrinsics")
    scale = size / box[..., 2]  # (...)
    zero, one = torch.zeros_like(scale), torch.ones_like(scale)
    tx = -scale * (box[..., 0] - box[..., 2] / 2) - 0.5
    ty = -scale * (box[..., 1] - box[..., 2] / 2) - 0.5
    A = torch.stack([scale, zero, tx, zero, scale, ty, zero, zero, one], dim=-1)  # (..., 9)
    return A.unflatten(-1, (3, 3)) @ K  # (..., 3, 3)


def render_heatmaps(kp_norm: Tensor, conf: Tensor, size: int, sigma_px: float = 2.0) -> Tensor:
    """One isotropic Gaussian per joint on a ``size x size`` grid over the crop, peak value = confidence.

    ``H[j, r, c] = conf_j * exp(-((c - x_j)^2 + (r - y_j)^2) / (2 sigma^2))`` with ``(x_j, y_j)`` the joint in
    heatmap pixels; the peak equals ``conf_j`` when the joint lies on a pixel centre. Joints with
    ``conf <= 0`` give an all-zero map whatever their coordinates.

    Args:
        kp_norm: ``(..., J, 2)`` normalised crop coordinates (module docstring).
        conf: ``(..., J)`` in ``[0, 1]``.
        size: heatmap side, pixels.
        sigma_px: Gaussian standard deviation, heatmap pixels.

    Returns:
        ``(..., J, size, size)``, rows = y, columns = x.
    """
    check_tensor(kp_norm, "kp_norm", None, 2)
    check_tensor(conf, "conf", None)
    check_same_size("kp_norm", kp_norm, -2, "conf", conf, -1)
    _check_size(size, "render_heatmaps")
    _check_positive(sigma_px, "sigma_px", "render_heatmaps")
    grid = torch.arange(size, dtype=kp_norm.dtype, device=kp_norm.device)  # (size,)
    ok = conf > 0
    centre_px = _norm_to_px(torch.where(ok[..., None], kp_norm, 0.0), size)  # (..., J, 2)
    g = torch.exp(-((grid - centre_px[..., None]) ** 2) / (2 * sigma_px**2))  # (..., J, 2, size)
    amp = torch.where(ok, conf, 0.0)[..., None, None]  # (..., J, 1, 1)
    return amp * g[..., 1, :, None] * g[..., 0, None, :]  # (..., J, size, size)


def encode_root_relative(
    pose3d_cam_m: Tensor, K_crop: Tensor, crop_size: int, depth_range_m: float, root: int = 0
) -> Tensor:
    """Camera-frame 3D to the model's targets: ``(u, v)`` of each joint's projection in the crop, ``z`` relative.

    ``z_j = (Z_j - Z_root) / (depth_range_m / 2)``. Values outside ``[-1, 1]`` (joints outside the crop or
    the depth range) are returned as they are; a soft-argmax head cannot reach them.

    Args:
        pose3d_cam_m: ``(..., J, 3)`` absolute camera-frame joints, metres, in front of the camera.
        K_crop: ``(..., 3, 3)`` from :func:`crop_intrinsics`.
        crop_size: side of the resampled crop, pixels.
        depth_range_m: total depth range covered by ``z in [-1, 1]``, metres.
        root: index of the root joint.

    Returns:
        ``(..., J, 3)`` normalised ``(u, v, z)``.
    """
    check_tensor(pose3d_cam_m, "pose3d_cam_m", None, 3)
    check_tensor(K_crop, "K_crop", 3, 3)
    _check_root(root, pose3d_cam_m.shape[-2], "encode_root_relative")
    _check_size(crop_size, "encode_root_relative")
    _check_positive(depth_range_m, "depth_range_m", "encode_root_relative")
    px = project_camera(pose3d_cam_m, K_crop)  # (..., J, 2) crop pixels
    uv = _px_to_norm(px, crop_size)
    z = (pose3d_cam_m[..., 2] - pose3d_cam_m[..., root, None, 2]) / (depth_range_m / 2)  # (..., J)
    return torch.cat([uv, z[..., None]], dim=-1)


def decode_root_relative(
    uvz: Tensor, K_crop: Tensor, crop_size: int, root_depth_m: Tensor, depth_range_m: float, root: int = 0
) -> Tensor:
    """Model output to root-relative camera-frame 3D, the inverse of :func:`encode_root_relative`.

    ``Z_j = root_depth_m + z_j * depth_range_m / 2``; each joint is back-projected along the ray of its crop
    pixel to depth ``Z_j`` with ``K_crop`` (``X_j = (u_px - cx) Z_j / fx``, ``Y_j`` likewise), then the root
    joint is subtracted. The absolute root depth sets the scale of x and y; when it is unknown use
    :func:`root_depth_from_box`.

    Args:
        uvz: ``(..., J, 3)`` normalised ``(u, v, z)``.
        K_crop: ``(..., 3, 3)`` from :func:`crop_intrinsics`.
        crop_size: side of the resampled crop, pixels.
        root_depth_m: ``(...)`` camera-frame depth of the root joint, metres.
        depth_range_m: as in :func:`encode_root_relative`.
        root: index of the root joint.

    Returns:
        ``(..., J, 3)`` metres, camera frame, root joint at 0.
    """
    check_tensor(uvz, "uvz", None, 3)
    check_tensor(K_crop, "K_crop", 3, 3)
    check_tensor(root_depth_m, "root_depth_m")
    _check_root(root, uvz.shape[-2], "decode_root_relative")
    _check_size(crop_size, "decode_root_relative")
    _check_positive(depth_range_m, "depth_range_m", "decode_root_relative")
    px = _norm_to_px(uvz[..., :2], crop_size)  # (..., J, 2) crop pixels
    depth = root_depth_m[..., None] + uvz[..., 2] * (depth_range_m / 2)  # (..., J)
    pose = unproject_points(px, depth, K_crop)  # (..., J, 3)
    return pose - pose[..., root, None, :]


def root_depth_from_box(K: Tensor, side_px: Tensor, real_size_m: float = 2.0) -> Tensor:
    """Approximate root depth from the crop's size: RootNet's ``k = sqrt(fx fy A_real / A_img)``.

    Moon et al., "Camera Distance-aware Top-down Approach for 3D Multi-person Pose Estimation from a Single
    RGB Image", ICCV 2019, Eq. 1: a person assumed to fill a ``real_size_m x real_size_m`` square (2 m x 2 m
    there) appearing as ``side_px x side_px`` pixels is at depth ``sqrt(fx fy) * real_size_m / side_px``.
    Pass the full image's ``K`` with the box side, or ``K_crop`` with the crop size: both give the same depth.

    Args:
        K: ``(..., 3, 3)`` intrinsics, pixels.
        side_px: ``(...)`` side of the square box, pixels.
        real_size_m: side of the square the person is assumed to fill, metres.

    Returns:
        ``(...)`` metres.
    """
    check_tensor(K, "K", 3, 3)
    check_tensor(side_px, "side_px")
    _check_positive(real_size_m, "real_size_m", "root_depth_from_box")
    return torch.sqrt(K[..., 0, 0] * K[..., 1, 1]) * real_size_m / side_px


def _check_root(root: int, num_joints: int, where: str) -> None:
    if isinstance(root, bool) or not isinstance(root, int) or not 0 <= root < num_joints:
        raise InputError(f"{where}: root must be a joint index in [0, {num_joints}), got {root!r}")


@dataclass(frozen=True)
class HeatmapCodec:
    """How 2D detections become the volumetric lifter's input and its output becomes metres (saved in checkpoints).

    Input: a square box around the frame's confident joints (:func:`crop_box_from_2d`, ``margin``), and in
    that box the 2D rendered as one Gaussian per joint (``sigma_px`` input pixels, peak = confidence;
    ``heatmaps``) and/or the RGB crop of the video frame (``image``; :mod:`lift3d.models.image_crops`),
    stacked in that order along the channels (:meth:`model_input`). Output: :func:`decode_root_relative` with the root depth from the box size
    (:func:`root_depth_from_box` with ``root_size_m``, a person-size prior fitted to the training data by
    :func:`fit_root_size`), so x and y are scaled the way z (metric, learnt) is.

    Attributes:
        input_size: side of the rendered heatmaps, pixels (the model's ``input_size``).
        depth_range_m: depth range of ``z`` (the model's ``depth_range_m``).
        sigma_px: Gaussian standard deviation, input pixels.
        margin: box side / longer side of the confident joints' bounding box.
        root_size_m: side of the square a person fills at the box margin, metres (RootNet's ``A_real``).
        heatmaps: the input has the rendered 2D heatmaps (``num_joints`` channels).
        image: the input has the RGB crop (3 channels, after the heatmaps).
    """

    input_size: int = 64
    depth_range_m: float = 2.0
    sigma_px: float = 2.0
    margin: float = 1.25
    root_size_m: float = 2.0
    heatmaps: bool = True
    image: bool = False

    def __post_init__(self) -> None:
        if not (self.heatmaps or self.image):
            raise InputError("HeatmapCodec: the input needs heatmaps, an image crop or both")

    def to_dict(self) -> dict:
        return asdict(self)

    def fitted(self, root_depth_m: Tensor, kp2d_px: Tensor, conf: Tensor, K: Tensor) -> HeatmapCodec:
        """This codec with ``root_size_m`` fitted (:func:`fit_root_size`) on samples: true root depths ``(N,)``,
        their 2D ``(N, J, 2)``, ``(N, J)`` (the boxes this codec draws) and full-image intrinsics ``(N, 3, 3)``."""
        return replace(self, root_size_m=fit_root_size(root_depth_m, K, self.boxes(kp2d_px, conf)))

    def channels(self, num_joints: int) -> int:
        """Input channels of the model: ``num_joints`` heatmaps and/or 3 RGB channels."""
        return num_joints * self.heatmaps + 3 * self.image

    def model_input(self, kp_norm: Tensor, conf: Tensor, image: Tensor | None = None) -> Tensor:
        """The model's input ``(N, C, S, S)``: :meth:`render` of ``(N, J, 2)`` normalised 2D and ``(N, J)``
        confidences, then ``image`` ``(N, 3, S, S)`` (normalised crops of the same boxes,
        :func:`lift3d.models.image_crops.image_input`), as the codec's inputs say."""
        parts = [self.render(kp_norm, conf)] if self.heatmaps else []
        if self.image:
            S = self.input_size
            if image is None:
                raise InputError("this Pose-ResNet takes image crops as well as 2D: give the video the 2D was "
                                 "tracked on")
            if tuple(image.shape) != (kp_norm.shape[0], 3, S, S):
                raise InputError(f"image crops must be ({kp_norm.shape[0]}, 3, {S}, {S}), got {tuple(image.shape)}")
            parts.append(image.to(kp_norm.dtype))
        return torch.cat(parts, dim=1)

    @staticmethod
    def croppable(conf):
        """Frames with a crop box: at least two confident joints (one alone gives no extent). ``(..., J) -> (...)``;
        NumPy or torch, like its input."""
        return (conf > 0).sum(-1) >= 2

    def boxes(self, kp2d_px: Tensor, conf: Tensor) -> Tensor:
        """``(..., J, 2)``, ``(..., J)`` -> ``(..., 3)`` crop boxes (at least 8 px wide)."""
        return crop_box_from_2d(kp2d_px, conf, self.margin, min_side_px=8.0)

    def crop(self, kp2d_px: Tensor, conf: Tensor, K: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """2D in image pixels ``(..., J, 2)``, ``(..., J)`` and intrinsics ``(..., 3, 3)`` ->
        ``(kp_norm (..., J, 2) in the crop's normalised coordinates, box (..., 3), K_crop (..., 3, 3))``."""
        box = self.boxes(kp2d_px, conf)
        return to_crop_norm(kp2d_px, box), box, crop_intrinsics(K, box, self.input_size)

    def render(self, kp_norm: Tensor, conf: Tensor) -> Tensor:
        """``(..., J, 2)`` normalised crop coordinates and ``(..., J)`` -> heatmaps ``(..., J, S, S)``."""
        return render_heatmaps(kp_norm, conf.clamp(0.0, 1.0), self.input_size, self.sigma_px)

    def encode(self, kp2d_px: Tensor, conf: Tensor, K: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`crop` then :meth:`render`: ``(heatmaps (..., J, S, S), box (..., 3), K_crop (..., 3, 3))``."""
        kp_norm, box, K_crop = self.crop(kp2d_px, conf, K)
        return self.render(kp_norm, conf), box, K_crop

    def targets(self, pose3d_cam_m: Tensor, K_crop: Tensor) -> Tensor:
        """Absolute camera-frame 3D ``(..., J, 3)`` -> normalised ``(u, v, z)`` targets ``(..., J, 3)``."""
        return encode_root_relative(pose3d_cam_m, K_crop, self.input_size, self.depth_range_m)

    def decode(self, uvz: Tensor, K_crop: Tensor) -> Tensor:
        """Model output ``(..., J, 3)`` -> root-relative camera-frame 3D, metres ``(..., J, 3)``."""
        side = torch.full(uvz.shape[:-2], float(self.input_size), dtype=uvz.dtype, device=uvz.device)
        depth = root_depth_from_box(K_crop.to(uvz.dtype), side, self.root_size_m)  # (...)
        return decode_root_relative(uvz, K_crop.to(uvz.dtype), self.input_size, depth, self.depth_range_m)


def fit_root_size(root_depth_m: Tensor, K: Tensor, box: Tensor) -> float:
    """The ``root_size_m`` that makes :func:`root_depth_from_box` right on the median of the given samples.

    Args:
        root_depth_m: ``(N,)`` true camera-frame root depths, metres.
        K: ``(N, 3, 3)`` intrinsics of the full images.
        box: ``(N, 3)`` crop boxes (pixels) the codec drew for those samples.

    Returns:
        Median of ``Z_root * side / sqrt(fx fy)``, metres.
    """
    check_tensor(root_depth_m, "root_depth_m")
    check_tensor(K, "K", 3, 3)
    check_tensor(box, "box", 3)
    if root_depth_m.numel() == 0:
        raise InputError("fit_root_size: no samples")
    size = root_depth_m * box[..., 2] / torch.sqrt(K[..., 0, 0] * K[..., 1, 1])
    return float(size.median())
