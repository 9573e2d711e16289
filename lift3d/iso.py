"""Inference-stage optimisation (ISO): refine a lifter's 3D so that it projects onto the 2D it was lifted from.

Given the network's root-relative camera-frame 3D ``(T, J, 3)``, the 2D ``(T, J, 2)`` px with confidence
``(T, J)`` and the intrinsics, ISO solves for every frame's root position in the camera frame and adjusts the
joints, minimising (terms in :func:`iso_terms`, weights in :class:`IsoConfig`, summed once):

* ``reprojection``: robust (Geman-McClure) 2D error of each joint, weighted by its confidence, in units of the
  person's size in the image, so that the weights do not depend on resolution or distance;
* ``prior``: squared distance to the network's joints, weighted more where the 2D is unsure
  (``prior_floor + 1 - conf``), so joints the 2D does not see stay where the network put them;
* ``bone``: squared deviation of each bone's length from one length per bone for the whole sequence (a variable
  of the optimisation, started at the network's median);
* ``smooth``: squared acceleration of every joint in the camera frame (root included), in m/s^2.

The root starts at the confidence-weighted least-squares translation that best places the network's pose on
the 2D (:func:`solve_root`; the linear system of VideoPose3D's trajectory evaluation), so the optimiser starts
near the answer; L-BFGS then runs a bounded number of iterations. Long sequences are solved in overlapping
chunks blended linearly, so memory and time grow linearly with length. Everything is float64 on the CPU and
deterministic: the same input gives the same output.

Residuals are aniposelib's idea (reprojection + limb length + smoothness stacked in one problem); the robust
loss is Geman & McClure's (1987), as used by SMPLify (Bogo et al. 2016) for the same reason: a wrong 2D joint
should not drag the pose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from lift3d.codec import ROOT, half_box_size
from lift3d.errors import InputError
from lift3d.geometry.camera import project_camera
from lift3d.geometry.rotations import axis_angle_to_matrix
from lift3d.skeletons import H36M17, Skeleton
from lift3d.train.losses import bone_lengths

log = logging.getLogger(__name__)

MIN_DEPTH_M = 0.3  # a root nearer than this to the camera is taken as a failed solve


@dataclass
class IsoConfig:
    """ISO settings (``lift3d infer --iso``; ``configs/iso.yaml`` holds the shipped values).

    Attributes:
        reprojection, prior, bone, smooth: weights of the terms (module docstring).
        robust_scale: Geman-McClure scale of the reprojection error, as a fraction of the person's half size in
            the image (an error of this size costs half of the most an outlier can cost).
        prior_scale_m: distance from the network's joint that costs 1 (at prior weight 1 and conf 1 ... 0).
        prior_floor: the prior's weight on a joint the 2D is sure of (conf 1); 1 + floor where conf is 0.
        bone_scale_m: bone-length deviation that costs 1.
        smooth_scale_ms2: acceleration (m/s^2) that costs 1.
        iterations: L-BFGS iterations per chunk (the bound on the work).
        chunk_frames, overlap_frames: long sequences are solved in chunks of this many frames, neighbours
            sharing ``overlap_frames`` blended linearly.
        min_joints: frames with fewer confident joints have no 2D to fit; their root is interpolated in time.
        rotate: the prior measures distance to the network's pose turned by one rotation per chunk, solved with
            the rest, so that an orientation the network got wrong as a whole (a camera tilted beyond training)
            costs nothing to correct.
        tune_steps: test-time fine-tuning of a temporal lifter before ISO (:func:`tune_lifter`): Adam steps on
            a copy of its weights, minimising the same terms over this sequence (0 = off).
        tune_lr: Adam learning rate of those steps.
    """

    reprojection: float = 1.0
    prior: float = 0.3
    bone: float = 0.1
    smooth: float = 1.0
    robust_scale: float = 0.1
    prior_scale_m: float = 0.1
    prior_floor: float = 0.05
    bone_scale_m: float = 0.02
    smooth_scale_ms2: float = 30.0
    iterations: int = 600
    chunk_frames: int = 600
    overlap_frames: int = 30
    min_joints: int = 4
    rotate: bool = True
    tune_steps: int = 0
    tune_lr: float = 1e-4

    def __post_init__(self):
        for name in ("robust_scale", "prior_scale_m", "bone_scale_m", "smooth_scale_ms2"):
            if not getattr(self, name) > 0:
                raise InputError(f"iso.{name} must be > 0, got {getattr(self, name)}")
        for name in ("reprojection", "prior", "bone", "smooth", "prior_floor"):
            if getattr(self, name) < 0:
                raise InputError(f"iso.{name} must be >= 0, got {getattr(self, name)}")
        if self.tune_steps < 0 or not self.tune_lr > 0:
            raise InputError(f"iso: need tune_steps >= 0 and tune_lr > 0, got {self.tune_steps}, {self.tune_lr}")
        if self.iterations < 1 or self.chunk_frames < 2 or not 0 <= self.overlap_frames < self.chunk_frames:
            raise InputError(f"iso: need iterations >= 1, chunk_frames >= 2 and 0 <= overlap_frames < chunk_frames, "
                             f"got {self.iterations}, {self.chunk_frames}, {self.overlap_frames}")


@dataclass
class IsoResult:
    """ISO output: ``pose3d_cam_m (T, J, 3)`` root-relative (root exactly 0), ``root_cam_m (T, 3)`` the root in
    the camera frame (metres), ``camera_K (3, 3)`` and ``camera_dist`` (or None) the camera it fits, and the
    median reprojection error over confident joints before (network + :func:`solve_root`) and after, px."""

    pose3d_cam_m: np.ndarray
    root_cam_m: np.ndarray
    camera_K: np.ndarray
    camera_dist: np.ndarray | None
    reproj_px_before: float
    reproj_px_after: float


def geman_mcclure(sq: Tensor, scale: float) -> Tensor:
    """Geman-McClure robust cost of squared residuals ``sq`` (any shape): ``sq / (sq + scale^2)``, in [0, 1)."""
    return sq / (sq + scale * scale)


def _pixels_to_rays(kp2d_px: Tensor, K: Tensor, dist: Tensor | None) -> Tensor:
    """``(T, J, 2)`` px -> ``(T, J, 2)`` normalised image coordinates ``(x/z, y/z)``, distortion removed."""
    from lift3d.geometry.camera import pixels_to_normalized, undistort_normalized

    xy = pixels_to_normalized(kp2d_px, K)
    return xy if dist is None else undistort_normalized(xy, dist)


def solve_root(pose3d_rel: Tensor, rays: Tensor, weight: Tensor, min_joints: int = 4) -> tuple[Tensor, Tensor]:
    """Per frame, the translation ``r`` that best places a root-relative pose on 2D rays (weighted least squares).

    A joint ``X`` seen at normalised coordinates ``(x, y)`` gives ``x (Z + r_z) = X + r_x`` and the same in y:
    two equations linear in ``r``. Args: ``pose3d_rel (T, J, 3)`` metres, ``rays (T, J, 2)`` normalised
    coordinates, ``weight (T, J)``. Returns ``(T, 3)`` roots and ``(T,)`` bool: solved (enough weighted joints
    and a depth in front of the camera). Differentiable in the pose.
    """
    T, J, _ = pose3d_rel.shape
    x, y = rays[..., 0], rays[..., 1]
    X, Y, Z = pose3d_rel.unbind(-1)
    zero, one = torch.zeros_like(x), torch.ones_like(x)
    A = torch.stack([torch.stack([one, zero, -x], -1), torch.stack([zero, one, -y], -1)], dim=2)  # (T, J, 2, 3)
    b = torch.stack([x * Z - X, y * Z - Y], dim=-1)  # (T, J, 2)
    w = weight[..., None]  # (T, J, 1)
    A, b = A.reshape(T, 2 * J, 3), b.reshape(T, 2 * J)  # (T, 2J, 3), (T, 2J)
    w = w.expand(T, J, 2).reshape(T, 2 * J)
    AtA = torch.einsum("tki,tk,tkj->tij", A, w, A) + 1e-9 * torch.eye(3, dtype=A.dtype)
    Atb = torch.einsum("tki,tk,tk->ti", A, w, b)
    root = torch.linalg.solve(AtA, Atb)  # (T, 3)
    ok = ((weight > 0).sum(-1) >= min_joints) & (root[:, 2] > MIN_DEPTH_M)
    return root, ok


def fill_roots(root: Tensor, ok: Tensor) -> Tensor:
    """Roots of unsolved frames interpolated linearly in time from solved ones (held at the ends): ``(T, 3)``."""
    if ok.all():
        return root
    idx = torch.nonzero(ok).flatten().numpy()
    t = np.arange(root.shape[0])
    filled = np.stack([np.interp(t, idx, root[idx, k].detach().numpy()) for k in range(3)], -1)
    return torch.where(ok[:, None], root, torch.as_tensor(filled, dtype=root.dtype))


def iso_terms(pose3d_rel: Tensor, root: Tensor, pose3d_net: Tensor, bones_m: Tensor, kp2d_px: Tensor, conf: Tensor,
              K: Tensor, dist: Tensor | None, size_px: Tensor, fps: float, cfg: IsoConfig,
              skeleton: Skeleton = H36M17) -> dict[str, Tensor]:
    """The named, unweighted ISO terms of one sequence (means, so that their size does not grow with T).

    ``pose3d_rel (T, J, 3)`` and ``root (T, 3)`` are the variables, ``pose3d_net (T, J, 3)`` the network's
    3D, ``bones_m (B,)`` one length per bone, ``kp2d_px (T, J, 2)``, ``conf (T, J)``, ``size_px (T,)`` the
    person's half size in the image.
    """
    pose_cam = pose3d_rel + root[:, None]  # (T, J, 3)
    err = project_camera(pose_cam, K, dist) - kp2d_px  # (T, J, 2)
    sq = (err / size_px[:, None, None]).square().sum(-1)  # (T, J)
    behind = pose_cam[..., 2] < MIN_DEPTH_M  # no meaningful projection: the prior holds these joints
    reproj = (geman_mcclure(sq, cfg.robust_scale) * conf * ~behind).sum() / conf.sum().clamp(min=1.0)
    prior_w = cfg.prior_floor + 1.0 - conf  # (T, J)
    prior = (prior_w * ((pose3d_rel - pose3d_net) / cfg.prior_scale_m).square().sum(-1)).mean()
    bone = ((bone_lengths(pose3d_rel, skeleton) - bones_m) / cfg.bone_scale_m).square().mean()
    if pose_cam.shape[0] >= 3:
        acc = (pose_cam[2:] - 2 * pose_cam[1:-1] + pose_cam[:-2]) * fps * fps  # (T-2, J, 3), m/s^2
        smooth = (acc / cfg.smooth_scale_ms2).square().sum(-1).mean()
    else:
        smooth = pose_cam.new_zeros(())
    return {"reprojection": reproj, "prior": prior, "bone": bone, "smooth": smooth}


def person_size_px(kp2d_px: np.ndarray, conf: np.ndarray, K: np.ndarray, min_joints: int) -> np.ndarray:
    """``(T,)`` the person's half size in the image (:func:`half_box_size`), px; frames with too few joints take
    the sequence's median (a tenth of the focal length when no frame has enough)."""
    size = half_box_size(kp2d_px, conf > 0, min_joints)
    fallback = np.nanmedian(size) if np.isfinite(size).any() else max(K[0, 0], 1.0) * 0.1
    return np.where(np.isfinite(size), size, fallback)


def _prepared(kp2d_px: np.ndarray, conf: np.ndarray, K: np.ndarray, dist, min_joints: int):
    """The 2D as ISO and test-time tuning read it: ``(kp2d_px, conf, size_px)`` float64 NumPy (confidence clipped to
    [0, 1], missing joints at 0 px) and the camera as float64 tensors ``(K, dist or None)``."""
    conf = np.clip(np.asarray(conf, np.float64), 0.0, 1.0)
    kp2d_px = np.where(conf[..., None] > 0, np.asarray(kp2d_px, np.float64), 0.0)
    K = np.asarray(K, np.float64)
    size = person_size_px(kp2d_px, conf, K, min_joints)  # (T,)
    dist_t = None if dist is None else torch.as_tensor(np.asarray(dist, np.float64))
    return kp2d_px, conf, size, torch.from_numpy(K), dist_t


def _weighted(terms: dict[str, Tensor], cfg: IsoConfig) -> Tensor:
    """The one place ISO's terms are weighted and summed."""
    return sum(getattr(cfg, name) * value for name, value in terms.items())


def _solve_chunk(pose3d_net: Tensor, kp2d_px: Tensor, conf: Tensor, K: Tensor, dist: Tensor | None, size_px: Tensor,
                 fps: float, cfg: IsoConfig, skeleton: Skeleton) -> tuple[Tensor, Tensor]:
    rays = _pixels_to_rays(kp2d_px, K, dist)
    root0, ok = solve_root(pose3d_net, rays, conf, cfg.min_joints)
    if not ok.any():  # nothing to fit: keep the network's pose, roots at a nominal 3 m
        return pose3d_net, pose3d_net.new_tensor([0.0, 0.0, 3.0]).expand(pose3d_net.shape[0], 3).clone()
    root0 = fill_roots(root0, ok)
    rotation = torch.zeros(3, dtype=pose3d_net.dtype, requires_grad=cfg.rotate)  # axis-angle, whole chunk
    keep = torch.ones(pose3d_net.shape[1], 1, dtype=pose3d_net.dtype)
    keep[ROOT] = 0.0  # the root joint stays exactly 0
    joints = (pose3d_net * keep).contiguous().requires_grad_(True)  # (T, J, 3)
    root = root0.detach().contiguous().requires_grad_(True)
    bones = bone_lengths(pose3d_net, skeleton).median(dim=0).values.contiguous().requires_grad_(True)
    params = [joints, root, bones] + ([rotation] if cfg.rotate else [])
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=cfg.iterations, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

    def assemble() -> Tensor:
        return joints * keep

    def closure() -> Tensor:
        opt.zero_grad()
        net = pose3d_net @ axis_angle_to_matrix(rotation).T if cfg.rotate else pose3d_net  # (T, J, 3)
        loss = _weighted(iso_terms(assemble(), root, net, bones, kp2d_px, conf, K, dist, size_px, fps, cfg,
                                   skeleton), cfg)
        loss.backward()
        return loss

    opt.step(closure)
    return assemble().detach(), root.detach()


def closed_form_root(pose3d_cam_m: np.ndarray, kp2d_px: np.ndarray, conf: np.ndarray, K: np.ndarray,
                     dist: np.ndarray | None = None, min_joints: int = 4) -> np.ndarray | None:
    """``(T, 3)`` the root that places a root-relative pose ``(T, J, 3)`` on its 2D (:func:`solve_root`, unsolved
    frames interpolated), or None when no frame can be solved: the network's own placement, without ISO."""
    t = lambda a: torch.as_tensor(np.asarray(a, np.float64))  # noqa: E731
    rays = _pixels_to_rays(t(kp2d_px), t(K), None if dist is None else t(dist))
    root, ok = solve_root(t(pose3d_cam_m), rays, t(conf), min_joints)
    return fill_roots(root, ok).numpy() if ok.any() else None


def median_reprojection_px(pose3d_cam_m: np.ndarray, root_cam_m: np.ndarray, kp2d_px: np.ndarray, conf: np.ndarray,
                           K: np.ndarray, dist: np.ndarray | None = None) -> float:
    """Median pixel distance between the placed pose ``(T, J, 3) + (T, 3)`` projected and the 2D, over joints
    with confidence > 0 in front of the camera (NaN if none)."""
    pose_cam = np.asarray(pose3d_cam_m, np.float64) + np.asarray(root_cam_m, np.float64)[:, None]
    px = project_camera(torch.from_numpy(pose_cam), torch.from_numpy(np.asarray(K, np.float64)),
                        None if dist is None else torch.as_tensor(np.asarray(dist, np.float64))).numpy()
    seen = (conf > 0) & (pose_cam[..., 2] > MIN_DEPTH_M)
    return float(np.median(np.linalg.norm(px - kp2d_px, axis=-1)[seen])) if seen.any() else float("nan")


def optimise(pose3d_cam_m: np.ndarray, kp2d_px: np.ndarray, conf: np.ndarray, K: np.ndarray, fps: float,
             cfg: IsoConfig | None = None, *, dist: np.ndarray | None = None, skeleton: Skeleton = H36M17,
             progress: bool = False) -> IsoResult:
    """Run ISO on one sequence (module docstring).

    Args:
        pose3d_cam_m: ``(T, J, 3)`` the lifter's root-relative camera-frame 3D, metres.
        kp2d_px: ``(T, J, 2)`` the 2D it was lifted from, pixels (distorted, as detected, when ``dist`` is given).
        conf: ``(T, J)`` in [0, 1]; 0 = missing.
        K: ``(3, 3)`` intrinsics; dist: optional ``(4|5,)`` OpenCV distortion.
        fps: frame rate (the smoothness term is an acceleration in m/s^2).

    Example:
        >>> res = optimise(pose, kp2d, conf, guess_camera(kp), fps=30.0)  # doctest: +SKIP
        >>> res.root_cam_m.shape  # (T, 3)
    """
    cfg = cfg or IsoConfig()
    pose3d_cam_m, kp2d_px, conf = (np.asarray(a, np.float64) for a in (pose3d_cam_m, kp2d_px, conf))
    if pose3d_cam_m.ndim != 3 or pose3d_cam_m.shape[-1] != 3 or pose3d_cam_m.shape[1] != skeleton.num_joints:
        raise InputError(f"ISO needs 3D of shape (T, {skeleton.num_joints}, 3), got {pose3d_cam_m.shape}")
    T, J, _ = pose3d_cam_m.shape
    if kp2d_px.shape != (T, J, 2) or conf.shape != (T, J):
        raise InputError(f"ISO needs 2D (T, J, 2) and conf (T, J) matching the 3D {pose3d_cam_m.shape}, got "
                         f"{kp2d_px.shape} and {conf.shape}")
    if T == 0:
        raise InputError("ISO got an empty sequence")
    if not (np.isfinite(pose3d_cam_m).all() and np.isfinite(conf).all() and np.isfinite(kp2d_px[conf > 0]).all()):
        raise InputError("ISO input contains NaN/inf (3D, confidences, or 2D where the confidence is > 0)")
    K = np.asarray(K, np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise InputError(f"intrinsics must be a finite (3, 3) matrix with positive focal lengths, got {K.tolist()}")
    if not fps > 0:
        raise InputError(f"fps must be > 0, got {fps}")
    kp2d_px, conf, size, K_t, dist_t = _prepared(kp2d_px, conf, K, dist, cfg.min_joints)

    pose = np.zeros_like(pose3d_cam_m)
    root = np.zeros((T, 3))
    weight = np.zeros(T)
    step = cfg.chunk_frames - cfg.overlap_frames
    starts = list(range(0, max(T - cfg.overlap_frames, 1), step))
    for s in tqdm(starts, desc="iso", unit="chunk", disable=not progress or len(starts) < 2):
        e = min(s + cfg.chunk_frames, T)
        sl = slice(s, e)
        p, r = _solve_chunk(*(torch.from_numpy(a[sl]) for a in (pose3d_cam_m, kp2d_px, conf)), K_t, dist_t,
                            torch.from_numpy(size[sl]), fps, cfg, skeleton)
        w = np.ones(e - s)  # blend: ramps across the overlaps with the neighbouring chunks
        n = min(cfg.overlap_frames, e - s)
        if s > 0 and n > 0:
            w[:n] = (np.arange(n) + 1) / (n + 1)
        if e < T and n > 0:
            w[-n:] = np.minimum(w[-n:], (n - np.arange(n)) / (n + 1))
        pose[sl] += w[:, None, None] * p.numpy()
        root[sl] += w[:, None] * r.numpy()
        weight[sl] += w
    pose /= weight[:, None, None]
    root /= weight[:, None]
    pose -= pose[:, ROOT : ROOT + 1]

    root_before = closed_form_root(pose3d_cam_m, kp2d_px, conf, K, dist, cfg.min_joints)
    before = median_reprojection_px(pose3d_cam_m, root if root_before is None else root_before, kp2d_px, conf, K, dist)
    after = median_reprojection_px(pose, root, kp2d_px, conf, K, dist)
    log.info("ISO: median reprojection error %.1f px -> %.1f px over %d frames", before, after, T)
    return IsoResult(pose.astype(np.float32), root.astype(np.float32), K, None if dist is None else
                     np.asarray(dist, np.float64), before, after)


def tune_lifter(model, codec, kp2d_px: np.ndarray, conf: np.ndarray, K: np.ndarray, fps: float, cfg: IsoConfig,
                *, dist: np.ndarray | None = None, device: str = "cpu", skeleton: Skeleton = H36M17):
    """A copy of the temporal lifter ``model`` fine-tuned on one sequence (test-time fine-tuning).

    ``cfg.tune_steps`` Adam steps on the copy's weights minimise :func:`iso_terms` of its own output, with every
    frame's root solved in closed form (:func:`solve_root`, differentiable) and the prior and bone lengths
    taken from the untuned network. The copy stays in eval mode (batch-norm statistics and dropout as trained),
    so only the weights adapt. ``kp2d_px (T, J, 2)``, ``conf (T, J)`` at the model's frame rate ``fps``.
    Returns the tuned copy; ``model`` is not changed.
    """
    import copy

    from lift3d.codec import Pose2DCodec

    tuned = copy.deepcopy(model).to(device).eval()
    if cfg.tune_steps == 0:
        return tuned
    kp2d_px, conf, size, K_t, dist_t = _prepared(kp2d_px, conf, K, dist, cfg.min_joints)
    feats = torch.from_numpy(codec.encode(kp2d_px, conf))[None].to(device)  # (1, T, J, 3)
    kp_t, conf_t, size = torch.from_numpy(kp2d_px), torch.from_numpy(conf), torch.from_numpy(size)
    rays = _pixels_to_rays(kp_t, K_t, dist_t)
    with torch.no_grad():
        net0 = Pose2DCodec.decode(tuned.predict_sequence(feats)[0]).double().cpu()  # (T, J, 3)
    bones0 = bone_lengths(net0, skeleton).median(dim=0).values
    opt = torch.optim.Adam(tuned.parameters(), lr=cfg.tune_lr)
    for _ in range(cfg.tune_steps):
        pose = Pose2DCodec.decode(tuned.predict_sequence(feats)[0]).double().cpu()
        root, ok = solve_root(pose, rays, conf_t, cfg.min_joints)
        if not ok.any():
            break
        root = fill_roots(root, ok)
        loss = _weighted(iso_terms(pose, root, net0, bones0, kp_t, conf_t, K_t, dist_t, size, fps, cfg, skeleton), cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return tuned.eval()
