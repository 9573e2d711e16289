"""Pinhole cameras with OpenCV lens distortion, and :class:`CameraSet`, a calibrated group of cameras.

Conventions (see :mod:`lift3d.geometry`): ``X_cam = R @ X_world + t``; x right, y down, z forward; metres;
pixels. "Normalised" image coordinates are ``(x/z, y/z)`` of a camera-frame point, before (undistorted) or
after (distorted) the lens model.

Distortion is OpenCV's Brown-Conrady model with coefficients ``(k1, k2, p1, p2[, k3])`` (OpenCV docs,
"Camera Calibration and 3D Reconstruction"; Brown, "Decentering distortion of lenses", 1966)::

    r2 = x^2 + y^2
    x_d = x (1 + k1 r2 + k2 r2^2 + k3 r2^3) + 2 p1 x y + p2 (r2 + 2 x^2)
    y_d = y (1 + k1 r2 + k2 r2^2 + k3 r2^3) + p1 (r2 + 2 y^2) + 2 p2 x y
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from lift3d.errors import InputError
from lift3d.geometry._checks import check_tensor
from lift3d.geometry.rotations import axis_angle_to_matrix

# project_camera evaluates the distortion polynomial with r^2 clamped here (r = 100, 89.4 degrees off axis,
# far outside any lens OpenCV's model is fitted to) so that points near the image plane cannot overflow
# float32 (r^6 of a point at z = eps is ~1e36).
_MAX_DISTORTION_R2 = 1e4


def _pad_dist(dist: Tensor) -> Tensor:
    """``(..., 4|5)`` OpenCV coefficients to ``(..., 5)`` (k3 = 0 when absent)."""
    check_tensor(dist, "dist", (4, 5))
    if dist.shape[-1] == 4:
        dist = torch.cat([dist, dist.new_zeros(dist.shape[:-1] + (1,))], dim=-1)
    return dist


def world_to_camera(points_world: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """``X_cam = R @ X_world + t``.

    Args:
        points_world: ``(..., N, 3)`` metres.
        R: ``(..., 3, 3)`` world-to-camera rotation.
        t: ``(..., 3)`` world-to-camera translation, metres.

    Returns:
        ``(..., N, 3)`` camera-frame points, metres.
    """
    check_tensor(points_world, "points_world", None, 3)
    check_tensor(R, "R", 3, 3)
    check_tensor(t, "t", 3)
    return points_world @ R.mT + t[..., None, :]


def camera_to_world(points_cam: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """``X_world = R^T (X_cam - t)``, the inverse of :func:`world_to_camera`.

    Args:
        points_cam: ``(..., N, 3)`` metres.
        R: ``(..., 3, 3)`` world-to-camera rotation.
        t: ``(..., 3)`` world-to-camera translation.

    Returns:
        ``(..., N, 3)`` world points, metres.
    """
    check_tensor(points_cam, "points_cam", None, 3)
    check_tensor(R, "R", 3, 3)
    check_tensor(t, "t", 3)
    return (points_cam - t[..., None, :]) @ R


def pixels_to_normalized(px: Tensor, K: Tensor) -> Tensor:
    """``K^-1 [u, v, 1]``: pixels to normalised image coordinates (no distortion handling).

    Args:
        px: ``(..., N, 2)`` pixels.
        K: ``(..., 3, 3)`` intrinsics with last row ``(0, 0, 1)``.

    Returns:
        ``(..., N, 2)``.
    """
    check_tensor(px, "px", None, 2)
    check_tensor(K, "K", 3, 3)
    fx, fy, s = K[..., 0, 0, None], K[..., 1, 1, None], K[..., 0, 1, None]
    cx, cy = K[..., 0, 2, None], K[..., 1, 2, None]
    y = (px[..., 1] - cy) / fy
    x = (px[..., 0] - cx - s * y) / fx
    return torch.stack([x, y], dim=-1)


def normalized_to_pixels(xy: Tensor, K: Tensor) -> Tensor:
    """``K [x, y, 1]``: normalised image coordinates to pixels (no distortion handling).

    Args:
        xy: ``(..., N, 2)``.
        K: ``(..., 3, 3)`` intrinsics with last row ``(0, 0, 1)``.

    Returns:
        ``(..., N, 2)`` pixels.
    """
    check_tensor(xy, "xy", None, 2)
    check_tensor(K, "K", 3, 3)
    x, y = xy[..., 0], xy[..., 1]
    u = K[..., 0, 0, None] * x + K[..., 0, 1, None] * y + K[..., 0, 2, None]
    v = K[..., 1, 1, None] * y + K[..., 1, 2, None]
    return torch.stack([u, v], dim=-1)


def _brown_conrady(xy: Tensor, dist5: Tensor, max_r2: float | None) -> Tensor:
    k1, k2, p1, p2, k3 = (dist5[..., None, i] for i in range(5))  # each (..., 1), broadcasts over N
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    r2_poly = r2 if max_r2 is None else r2.clamp(max=max_r2)
    radial = 1 + r2_poly * (k1 + r2_poly * (k2 + r2_poly * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return torch.stack([xd, yd], dim=-1)


def distort_normalized(xy: Tensor, dist: Tensor) -> Tensor:
    """Apply OpenCV's Brown-Conrady distortion to normalised image coordinates (module docstring).

    Args:
        xy: ``(..., N, 2)`` undistorted normalised coordinates.
        dist: ``(..., 4|5)`` coefficients ``(k1, k2, p1, p2[, k3])``.

    Returns:
        ``(..., N, 2)`` distorted normalised coordinates.
    """
    check_tensor(xy, "xy", None, 2)
    return _brown_conrady(xy, _pad_dist(dist), None)


def undistort_normalized(xy_distorted: Tensor, dist: Tensor, iters: int = 20) -> Tensor:
    """Invert :func:`distort_normalized` by fixed-point iteration, as ``cv2.undistortPoints`` does.

    Each step solves the distortion equations for ``(x, y)`` with the radial factor and tangential terms
    evaluated at the previous estimate. It converges for the moderate distortion of ordinary lenses: with
    ``|k1| <= 0.3`` over a 65 degree field of view, 20 steps leave < 1e-10 (normalised), 5 steps (OpenCV's
    default) ~5e-4.

    Args:
        xy_distorted: ``(..., N, 2)`` distorted normalised coordinates.
        dist: ``(..., 4|5)`` coefficients ``(k1, k2, p1, p2[, k3])``.
        iters: number of fixed-point steps (>= 0).

    Returns:
        ``(..., N, 2)`` undistorted normalised coordinates.
    """
    check_tensor(xy_distorted, "xy_distorted", None, 2)
    d = _pad_dist(dist)
    if not isinstance(iters, int) or iters < 0:
        raise InputError(f"iters: expected a non-negative int, got {iters!r}")
    k1, k2, p1, p2, k3 = (d[..., None, i] for i in range(5))
    x0, y0 = xy_distorted[..., 0], xy_distorted[..., 1]
    x, y = x0, y0
    for _ in range(iters):
        r2 = x * x + y * y
        inv_radial = 1 / (1 + r2 * (k1 + r2 * (k2 + r2 * k3)))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x, y = (x0 - dx) * inv_radial, (y0 - dy) * inv_radial
    return torch.stack([x, y], dim=-1)


def project_camera(points_cam: Tensor, K: Tensor, dist: Tensor | None = None, *, eps: float = 1e-6) -> Tensor:
    """Project camera-frame points to pixels, with optional lens distortion.

    Depth is clamped to ``eps`` before the division, so points on or behind the image plane (``z <= eps``)
    give finite but meaningless pixels (and no gradient through ``z``); mask them with ``points_cam[..., 2] >
    0``. With distortion, the radial polynomial uses ``r^2`` clamped to 1e4 (89.4 degrees off axis) for the
    same reason; inside that cone this equals ``cv2.projectPoints``.

    Args:
        points_cam: ``(..., N, 3)`` metres, camera frame.
        K: ``(..., 3, 3)`` intrinsics, pixels.
        dist: ``(..., 4|5)`` OpenCV distortion coefficients, optional.
        eps: smallest depth used for the division, in the points' unit.

    Returns:
        ``(..., N, 2)`` pixels.
    """
    check_tensor(points_cam, "points_cam", None, 3)
    z = points_cam[..., 2:].clamp(min=eps)
    xy = points_cam[..., :2] / z  # (..., N, 2)
    if dist is not None:
        xy = _brown_conrady(xy, _pad_dist(dist), _MAX_DISTORTION_R2)
    return normalized_to_pixels(xy, K)


def project_points(
    points_world: Tensor, K: Tensor, R: Tensor, t: Tensor, dist: Tensor | None = None
) -> Tensor:
    """Project world points to pixels: :func:`world_to_camera` then :func:`project_camera`.

    Args:
        points_world: ``(..., N, 3)`` metres.
        K: ``(..., 3, 3)``.
        R: ``(..., 3, 3)`` world-to-camera.
        t: ``(..., 3)`` world-to-camera, metres.
        dist: ``(..., 4|5)``, optional.

    Returns:
        ``(..., N, 2)`` pixels (equal to ``cv2.projectPoints`` for points in front of the camera).
    """
    return project_camera(world_to_camera(points_world, R, t), K, dist)


def undistort_pixels(px: Tensor, K: Tensor, dist: Tensor, iters: int = 20) -> Tensor:
    """Remove lens distortion from pixel coordinates, keeping the same ``K``.

    The result is what an ideal pinhole camera with intrinsics ``K`` would see (``cv2.undistortPoints(px, K,
    dist, P=K)``). Triangulation and epipolar geometry expect these.

    Args:
        px: ``(..., N, 2)`` pixels in the distorted image.
        K: ``(..., 3, 3)``.
        dist: ``(..., 4|5)``.
        iters: fixed-point steps, see :func:`undistort_normalized`.

    Returns:
        ``(..., N, 2)`` undistorted pixels.
    """
    return normalized_to_pixels(undistort_normalized(pixels_to_normalized(px, K), dist, iters), K)


def unproject_points(px: Tensor, depth: Tensor, K: Tensor, dist: Tensor | None = None) -> Tensor:
    """Lift pixels with known depth to camera-frame points.

    Args:
        px: ``(..., N, 2)`` pixels (distorted if ``dist`` is given).
        depth: ``(..., N)`` z coordinate in the camera frame (not the distance along the ray), metres.
        K: ``(..., 3, 3)``.
        dist: ``(..., 4|5)``, optional; undistorted iteratively (:func:`undistort_normalized`).

    Returns:
        ``(..., N, 3)`` camera-frame points, metres.
    """
    check_tensor(depth, "depth", None)
    xy = pixels_to_normalized(px, K)
    if dist is not None:
        xy = undistort_normalized(xy, dist)
    z = depth[..., None]
    return torch.cat([xy * z, z.expand(xy.shape[:-1] + (1,))], dim=-1)


def projection_matrix(K: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """``P = K [R | t]`` (Hartley & Zisserman 2nd ed. Eq. 6.8).

    Args:
        K: ``(..., 3, 3)``.
        R: ``(..., 3, 3)``.
        t: ``(..., 3)`` metres.

    Returns:
        ``(..., 3, 4)`` mapping homogeneous world points (metres) to homogeneous pixels.
    """
    check_tensor(K, "K", 3, 3)
    check_tensor(R, "R", 3, 3)
    check_tensor(t, "t", 3)
    batch = torch.broadcast_shapes(R.shape[:-2], t.shape[:-1])
    Rt = torch.cat([R.expand(batch + (3, 3)), t.expand(batch + (3,))[..., None]], dim=-1)  # (..., 3, 4)
    return K @ Rt


def camera_centers(R: Tensor, t: Tensor) -> Tensor:
    """Camera centre in world coordinates, ``C = -R^T t`` (H&Z 2nd ed. Sec. 6.1).

    Args:
        R: ``(..., 3, 3)``.
        t: ``(..., 3)`` metres.

    Returns:
        ``(..., 3)`` metres.
    """
    check_tensor(R, "R", 3, 3)
    check_tensor(t, "t", 3)
    return -(R.mT @ t[..., None])[..., 0]


def _as_float_tensor(x: object, name: str, dtype: torch.dtype, device: torch.device) -> Tensor:
    try:
        if isinstance(x, Tensor):
            return x.to(device=device, dtype=dtype)
        return torch.as_tensor(x, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError) as e:
        raise InputError(f"{name}: cannot convert to a tensor ({e})") from None


@dataclass(frozen=True, eq=False)
class CameraSet:
    """A calibrated group of ``V`` cameras (the ``CameraGroup`` of aniposelib).

    Construction converts arrays to tensors (float64 unless ``K`` is already a floating-point tensor; every
    field then takes ``K``'s dtype and device) and validates them.

    Attributes:
        K: ``(V, 3, 3)`` intrinsics, pixels, last row ``(0, 0, 1)``.
        R: ``(V, 3, 3)`` world-to-camera rotations.
        t: ``(V, 3)`` world-to-camera translations, metres.
        dist: ``(V, 5)`` OpenCV ``(k1, k2, p1, p2, k3)``; given ``None`` it becomes zeros, and ``(V, 4)``
            is padded. Longer OpenCV vectors (8, 12, 14) are accepted only if the extra terms are zero.
        image_size: ``(V, 2)`` ``(width, height)`` in pixels; given ``None`` it is estimated as twice the
            principal point, which is only right for centred principal points.
        names: ``V`` unique camera names; ``("cam0", "cam1", ...)`` when ``None``.
    """

    K: Tensor
    R: Tensor
    t: Tensor
    dist: Tensor | None = None
    image_size: Tensor | None = None
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        dtype = self.K.dtype if isinstance(self.K, Tensor) and self.K.is_floating_point() else torch.float64
        device = self.K.device if isinstance(self.K, Tensor) else torch.device("cpu")
        K = _as_float_tensor(self.K, "K", dtype, device)
        if K.ndim != 3 or K.shape[1:] != (3, 3):
            raise InputError(f"K: expected shape (V, 3, 3), got {tuple(K.shape)}")
        V = K.shape[0]
        R = _as_float_tensor(self.R, "R", dtype, device)
        t = _as_float_tensor(self.t, "t", dtype, device)
        for name, x, shape in (("R", R, (V, 3, 3)), ("t", t, (V, 3))):
            if tuple(x.shape) != shape:
                raise InputError(f"{name}: expected shape {shape} for {V} cameras, got {tuple(x.shape)}")
        dist = K.new_zeros(V, 5) if self.dist is None else _as_float_tensor(self.dist, "dist", dtype, device)
        if dist.ndim != 2 or dist.shape[0] != V or dist.shape[1] not in (4, 5, 8, 12, 14):
            raise InputError(f"dist: expected shape (V, 4) or (V, 5) for {V} cameras, got {tuple(dist.shape)}")
        if dist.shape[1] > 5:
            if bool((dist[:, 5:] != 0).any()):
                raise InputError("dist: only OpenCV's (k1, k2, p1, p2, k3) model is supported; k4.. are non-zero")
            dist = dist[:, :5]
        dist = _pad_dist(dist)
        if self.image_size is None:
            image_size = (2 * K[:, :2, 2]).round()
        else:
            image_size = _as_float_tensor(self.image_size, "image_size", dtype, device)
        if tuple(image_size.shape) != (V, 2):
            raise InputError(f"image_size: expected shape ({V}, 2) (width, height), got {tuple(image_size.shape)}")
        names = tuple(f"cam{i}" for i in range(V)) if self.names is None else tuple(self.names)
        if len(names) != V or len(set(names)) != V or not all(isinstance(n, str) for n in names):
            raise InputError(f"names: expected {V} unique strings, got {names!r}")
        self._validate_values(K, R, t, dist, image_size)
        for field_name, value in (("K", K), ("R", R), ("t", t), ("dist", dist), ("image_size", image_size)):
            object.__setattr__(self, field_name, value)
        object.__setattr__(self, "names", names)

    @staticmethod
    def _validate_values(K: Tensor, R: Tensor, t: Tensor, dist: Tensor, image_size: Tensor) -> None:
        for name, x in (("K", K), ("R", R), ("t", t), ("dist", dist), ("image_size", image_size)):
            if not bool(torch.isfinite(x).all()):
                raise InputError(f"{name}: contains NaN or inf")
        K, R = K.detach(), R.detach()
        if not bool((K[:, 0, 0] > 0).all() and (K[:, 1, 1] > 0).all()):
            raise InputError("K: focal lengths K[0, 0] and K[1, 1] must be positive")
        last_row = K.new_tensor([0.0, 0.0, 1.0])
        if not bool(torch.allclose(K[:, 2], last_row.expand_as(K[:, 2]), atol=1e-6)):
            raise InputError(f"K: last row must be (0, 0, 1), got {K[:, 2].tolist()}")
        eye = torch.eye(3, dtype=R.dtype, device=R.device)
        # Loose enough for rotations stored with a few decimals; tight enough to catch transposed or scaled R.
        orth_err = (R @ R.mT - eye).abs().amax(dim=(-2, -1))
        if not bool((orth_err < 1e-3).all() and (torch.linalg.det(R) > 0).all()):
            bad = [i for i in range(R.shape[0]) if orth_err[i] >= 1e-3 or torch.linalg.det(R[i]) <= 0]
            raise InputError(f"R: cameras {bad} are not rotation matrices (orthonormal with det +1)")
        if not bool((image_size.detach() > 0).all()):
            raise InputError("image_size: width and height must be positive")

    @classmethod
    def from_numpy(
        cls,
        K: np.ndarray,
        R: np.ndarray,
        t: np.ndarray,
        dist: np.ndarray | None = None,
        image_size: np.ndarray | None = None,
        names: Sequence[str] | None = None,
    ) -> CameraSet:
        """Build from NumPy arrays (float64 tensors on the CPU).

        Args:
            K: ``(V, 3, 3)``.
            R: ``(V, 3, 3)`` rotation matrices or ``(V, 3)`` Rodrigues vectors (as in OpenCV and Pose2Sim
                calibration files), world to camera.
            t: ``(V, 3)`` or ``(V, 3, 1)``, world to camera, metres.
            dist: ``(V, 4|5)``, optional.
            image_size: ``(V, 2)`` (width, height), optional.
            names: ``V`` names, optional.
        """
        K_ = np.asarray(K, dtype=np.float64)
        R_ = np.asarray(R, dtype=np.float64)
        t_ = np.asarray(t, dtype=np.float64)
        if t_.ndim == 3 and t_.shape[2] == 1:
            t_ = t_[..., 0]
        if R_.ndim == 3 and R_.shape[1:] == (3, 1):
            R_ = R_[..., 0]
        # (V, 3) can only be Rodrigues vectors: matrices must be (V, 3, 3).
        R_t = axis_angle_to_matrix(torch.from_numpy(R_)) if R_.ndim == 2 else torch.from_numpy(R_)
        return cls(
            K=torch.from_numpy(K_),
            R=R_t,
            t=torch.from_numpy(t_),
            dist=None if dist is None else torch.from_numpy(np.asarray(dist, dtype=np.float64)),
            image_size=None if image_size is None else torch.from_numpy(np.asarray(image_size, dtype=np.float64)),
            names=None if names is None else tuple(names),
        )

    @property
    def num_views(self) -> int:
        return self.K.shape[0]

    def __repr__(self) -> str:
        return (
            f"CameraSet(num_views={self.num_views}, names={self.names}, dtype={self.K.dtype}, "
            f"device={self.K.device})"
        )

    def __len__(self) -> int:
        return self.num_views

    def projection_matrices(self) -> Tensor:
        """``(V, 3, 4)`` undistorted projection matrices ``K [R | t]``."""
        return projection_matrix(self.K, self.R, self.t)

    def centers(self) -> Tensor:
        """``(V, 3)`` camera centres in world coordinates, metres."""
        return camera_centers(self.R, self.t)

    def _check_dtype(self, x: Tensor, name: str) -> None:
        if x.dtype != self.K.dtype or x.device != self.K.device:
            raise InputError(
                f"{name}: dtype/device {x.dtype}/{x.device} differs from the cameras' "
                f"{self.K.dtype}/{self.K.device}; use CameraSet.to(...)"
            )

    def project(self, points_world: Tensor) -> Tensor:
        """Project world points into every camera, with distortion.

        Args:
            points_world: ``(..., N, 3)`` metres.

        Returns:
            ``(..., V, N, 2)`` pixels in each (distorted) image.
        """
        check_tensor(points_world, "points_world", None, 3)
        self._check_dtype(points_world, "points_world")
        cam = world_to_camera(points_world[..., None, :, :], self.R, self.t)  # (..., V, N, 3)
        return project_camera(cam, self.K, self.dist)

    def undistort(self, px: Tensor) -> Tensor:
        """Undistort per-view pixels, keeping each camera's ``K`` (:func:`undistort_pixels`).

        Args:
            px: ``(..., V, N, 2)`` pixels in each distorted image.

        Returns:
            ``(..., V, N, 2)`` undistorted pixels, ready for :func:`lift3d.geometry.triangulate_dlt` with
            :meth:`projection_matrices`.
        """
        check_tensor(px, "px", self.num_views, None, 2)
        self._check_dtype(px, "px")
        return undistort_pixels(px, self.K, self.dist)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> CameraSet:
        """A copy with every tensor field converted."""
        conv = dict(dtype=dtype or self.K.dtype, device=device or self.K.device)
        return replace(
            self,
            K=self.K.to(**conv),
            R=self.R.to(**conv),
            t=self.t.to(**conv),
            dist=self.dist.to(**conv),
            image_size=self.image_size.to(**conv),
        )

    def subset(self, indices: Sequence[int | str]) -> CameraSet:
        """The cameras at ``indices`` (ints or names), in that order."""
        idx = []
        for i in indices:
            if isinstance(i, str):
                if i not in self.names:
                    raise InputError(f"no camera named {i!r}; cameras are {self.names}")
                idx.append(self.names.index(i))
            elif isinstance(i, (int, np.integer)) and -self.num_views <= int(i) < self.num_views:
                idx.append(int(i) % self.num_views)
            else:
                raise InputError(f"camera index {i!r} out of range for {self.num_views} cameras")
        sel = torch.tensor(idx, dtype=torch.long, device=self.K.device)
        return CameraSet(
            K=self.K[sel],
            R=self.R[sel],
            t=self.t[sel],
            dist=self.dist[sel],
            image_size=self.image_size[sel],
            names=tuple(self.names[i] for i in idx),
        )
