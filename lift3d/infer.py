"""``lift3d infer``: 2D keypoints (from a video through the tracker, or from a file) to 3D with a lifter.

The lifter works at its training frame rate (``ckpt["fps"]``, 30): other rates are resampled to it by linear
interpolation in time (confidence included), lifted, and the 3D interpolated back to the input's frame
times, so the output has exactly one pose per input frame.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from lift3d.checkpoint import checkpoint_id, load_lifter
from lift3d.codec import Pose2DCodec, flip_features, flip_pose3d
from lift3d.errors import InputError
from lift3d.io.kp2d import Keypoints2D, read_keypoints
from lift3d.io.video import is_video
from lift3d.iso import IsoConfig, optimise, tune_lifter
from lift3d.skeletons import H36M17
from lift3d.tracking.gaps import MAX_GAP_S, fill_gaps

log = logging.getLogger(__name__)

CHUNK_FRAMES = 4096
"""Output frames lifted per pass on long sequences (bounds memory; same result as one pass)."""

SMOOTH_S = 2 / 30
"""``lift3d infer``'s default: the Pose-ResNet's per-frame 3D is smoothed over time by a Gaussian of this standard
deviation, seconds (:func:`smooth_per_frame`; chosen on the val split, BENCHMARKS.md ``posresnet_smoothing``)."""

RIGID_BONES = True
"""``lift3d infer``'s default: the Pose-ResNet's per-frame 3D (after smoothing, alone or before fusion) has each
bone held at its median length over the sequence (:func:`rigid_bones`). Its depth scale drifts from frame to
frame. On the val split this lowers its MPJPE by about 10%, and the fusion's by 2.7% with the temporal share
re-chosen (:data:`FUSE_WEIGHT`); on Pose2Sim's real views the fused default then passes the thigh check
(BENCHMARKS.md ``posresnet_rigid``). ``--no-rigid`` turns it off."""

FLIP_TEST = False
"""``lift3d infer``'s default for test-time flip (:func:`lift_sequence`): off. With a single-stride temporal lifter
shipped before the multi-stride default it lowers MPJPE by 1.0-1.3% on the val split but only 0.3-0.4% on
held-out subjects (0.1% fused), and P-MPJPE on Pose2Sim's real views by 0.3% (0.1% fused), for twice the
temporal lifter's work; with the lifter before it (``84f5fa4dfdf5``) it raised that P-MPJPE by 2.3%. With the
shipped multi-stride lifter: 1.6-2.8% lower MPJPE on val, 0.9-1.3% on held-out subjects, and on Pose2Sim's views
0.1% higher P-MPJPE alone, 0.3% lower fused (BENCHMARKS.md ``flip_test``). ``--flip`` turns it on."""


@dataclass
class Pose3DResult:
    """What ``lift3d infer`` writes (schemas in the README, "Output formats").

    Attributes:
        pose3d_cam_m: ``(T, 17, 3)`` root-relative 3D in the camera frame (OpenCV axes: x right, y down,
            z forward), metres, Human3.6M-17 order; the pelvis is 0.
        kp2d_px: ``(T, 17, 2)`` the 2D it was lifted from (H36M-17), pixels; conf: ``(T, 17)``.
        interpolated: ``(T,)`` frames without the person whose 2D was interpolated across a short gap.
        fps, source, checkpoint_id, image_size: frame rate, input path, the lifter's id, ``(width, height)``.
        root_cam_m: ``(T, 3)`` the root (pelvis) in the camera frame, metres, when ISO placed the person in
            the scene (``pose3d_cam_m + root_cam_m[:, None]`` is then absolute); else None.
        camera_K: ``(3, 3)`` the intrinsics ISO fitted with (and ``camera_dist``, OpenCV distortion, if any),
            so that anyone can reproject the result; None without ISO.
        plausibility: ``(T,)`` the pose discriminator's per-frame score in [0, 1], when asked for; else None.
    """

    pose3d_cam_m: np.ndarray
    kp2d_px: np.ndarray
    conf: np.ndarray
    interpolated: np.ndarray
    fps: float
    source: str
    checkpoint_id: str
    image_size: tuple[int, int] | None = None
    root_cam_m: np.ndarray | None = None
    camera_K: np.ndarray | None = None
    camera_dist: np.ndarray | None = None
    plausibility: np.ndarray | None = None

    joint_names = H36M17.joints
    parents = H36M17.parents

    @property
    def num_frames(self) -> int:
        return self.pose3d_cam_m.shape[0]

    def keypoints(self) -> Keypoints2D:
        return Keypoints2D(self.kp2d_px, self.conf, "h36m17", self.fps, self.source, self.image_size,
                           self.interpolated)


def resample(values: np.ndarray, src_fps: float, dst_fps: float, num_out: int | None = None) -> np.ndarray:
    """Linear interpolation of ``(T, ...)`` samples at ``src_fps`` onto a ``dst_fps`` grid starting at t=0.

    ``num_out`` defaults to every ``dst_fps`` sample within the input's duration.
    """
    T = values.shape[0]
    if num_out is None:
        num_out = int(np.floor((T - 1) * dst_fps / src_fps + 1e-9)) + 1
    if T == 1:
        return np.repeat(values[:1], num_out, axis=0)
    t_src = np.arange(T) / src_fps
    t_dst = np.clip(np.arange(num_out) / dst_fps, 0.0, t_src[-1])
    flat = values.reshape(T, -1)
    idx = np.clip(np.searchsorted(t_src, t_dst, side="right") - 1, 0, T - 2)
    w = ((t_dst - t_src[idx]) * src_fps)[:, None]
    out = (1 - w) * flat[idx] + w * flat[idx + 1]
    return out.reshape(num_out, *values.shape[1:]).astype(values.dtype, copy=False)


@torch.no_grad()
def lift_sequence(kp2d_px: np.ndarray, conf: np.ndarray, model, codec: Pose2DCodec, device: str = "cpu",
                  flip: bool = False) -> torch.Tensor:
    """A temporal lifter over a whole H36M-17 sequence at its own frame rate: ``(T, 17, 2)`` px and ``(T, 17)``
    -> ``(T, 17, 3)`` root-relative camera-frame metres, float32 on the CPU.

    ``flip``: test-time flip augmentation (as in training, :func:`lift3d.codec.flip_features`): the mean of the
    3D of the 2D and the mirrored 3D of the mirrored 2D. Twice the lifter's work; mirroring the 2D then mirrors
    the result exactly.
    """
    feats = torch.from_numpy(codec.encode(kp2d_px, conf))[None].to(device)  # (1, T, 17, 3)
    pred = model.predict_sequence(feats, chunk=CHUNK_FRAMES)[0]
    if flip:
        pred = 0.5 * (pred + flip_pose3d(model.predict_sequence(flip_features(feats), chunk=CHUNK_FRAMES)[0]))
    return Pose2DCodec.decode(pred).float().cpu()


def at_model_fps(kp: Keypoints2D, model_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """``kp``'s H36M-17 2D ``(T', 17, 2)`` px and ``(T', 17)`` resampled to ``model_fps`` (unchanged when equal)."""
    h = kp.to_h36m()
    kp2d, conf = h.kp2d_px, h.conf
    if abs(kp.fps - model_fps) > 1e-3:
        # Confidence 0 must stay 0 where a neighbour is missing: interpolate, then zero any mixed sample.
        ok = resample((conf > 0).astype(np.float32), kp.fps, model_fps) > 0.999
        kp2d = resample(kp2d, kp.fps, model_fps)
        conf = np.where(ok, resample(conf, kp.fps, model_fps), 0.0).astype(np.float32)
    return kp2d, conf


def fill_2d_gaps(kp: Keypoints2D, max_gap_s: float) -> Keypoints2D:
    """``kp`` with each joint interpolated across its gaps (confidence 0) of at most ``max_gap_s`` seconds
    (:func:`lift3d.tracking.gaps.fill_gaps`); frames without the person that were filled are added to
    ``interpolated``. ``max_gap_s <= 0`` returns ``kp`` unchanged."""
    if max_gap_s <= 0:
        return kp
    kp2d, conf, filled = fill_gaps(kp.kp2d_px, kp.conf, int(round(max_gap_s * kp.fps)))
    return replace(kp, kp2d_px=kp2d, conf=conf, interpolated=kp.interpolated | filled)


def lift(kp: Keypoints2D, model, codec: Pose2DCodec, model_fps: float, device: str = "cpu",
         flip: bool = False) -> np.ndarray:
    """``(T, 17, 3)`` root-relative camera-frame metres for ``kp`` (any skeleton lift3d maps; any frame rate);
    ``flip``: see :func:`lift_sequence`."""
    kp2d, conf = at_model_fps(kp, model_fps)
    pred = lift_sequence(kp2d, conf, model, codec, device, flip).numpy()
    if abs(kp.fps - model_fps) > 1e-3:
        pred = resample(pred, model_fps, kp.fps, num_out=kp.num_frames)
    return pred.astype(np.float32)


def guess_camera(kp: Keypoints2D) -> np.ndarray:
    """Intrinsics ``(3, 3)`` from the image size (``f = max(w, h)``, centred; :func:`guess_intrinsics`), or,
    when the size is unknown, from the extent of the confident 2D. The volumetric lifter's root-relative
    output depends on them only through perspective (x and y scale with the box, not with ``f``)."""
    from lift3d.multiview.selfcal import guess_intrinsics

    size = kp.image_size
    if size is None:
        pts = kp.kp2d_px[kp.conf > 0]  # (N, 2)
        size = np.maximum(pts.max(axis=0), 1.0) if len(pts) else (1.0, 1.0)
    return guess_intrinsics(np.asarray(size, np.float64)[None])[0]


@torch.no_grad()
def lift_volumetric(kp2d_px: np.ndarray, conf: np.ndarray, K: np.ndarray, model, codec, device: str = "cpu",
                    batch: int = 64, *, video: str | os.PathLike | None = None,
                    frame_index: np.ndarray | None = None) -> np.ndarray:
    """Pose-ResNet, frame by frame: H36M-17 2D ``(T, 17, 2)`` px, ``(T, 17)`` and intrinsics ``(3, 3)`` (or one
    per frame, ``(T, 3, 3)``) -> ``(T, 17, 3)`` root-relative camera-frame metres. Runs the model as it is (call
    ``.eval()`` first).

    A model that takes image crops (``codec.image``) needs the ``video`` the 2D was tracked on; 2D frame ``t``
    is video frame ``frame_index[t]`` (default ``t``). Frames without a crop box
    (:meth:`HeatmapCodec.croppable`) take the pose of the nearest frame that has one.
    """
    from lift3d.models.image_crops import image_input, read_crops

    if model.config.in_channels != codec.channels(model.config.num_joints):
        raise InputError(f"the model takes {model.config.in_channels} input channels but its codec makes "
                         f"{codec.channels(model.config.num_joints)} (heatmaps={codec.heatmaps}, image={codec.image})")
    ok = codec.croppable(conf)  # (T,)
    if not ok.any():
        raise InputError("no frame has two confident joints to crop the person from")
    idx = np.flatnonzero(ok)
    K = np.asarray(K, np.float32)
    if K.shape not in ((3, 3), (len(ok), 3, 3)):
        raise InputError(f"intrinsics must be (3, 3) or one per frame ({len(ok)}, 3, 3), got {K.shape}")
    Ks = torch.from_numpy(np.broadcast_to(K, (len(ok), 3, 3))[idx])  # (T_ok, 3, 3)
    kp, c = torch.from_numpy(kp2d_px[idx]).float(), torch.from_numpy(conf[idx]).float()
    kp_norm, box, K_crop = codec.crop(kp, c, Ks)
    crops = None
    if codec.image:
        if video is None:
            raise InputError("this Pose-ResNet takes image crops as well as 2D: give the video the 2D was tracked on")
        frames = idx if frame_index is None else np.asarray(frame_index)[idx]
        crops = torch.from_numpy(read_crops(video, box.numpy(), codec.input_size, frames))
    out = []
    for b in range(0, len(idx), batch):
        sl = slice(b, b + batch)
        x = codec.model_input(kp_norm[sl], c[sl], None if crops is None else image_input(crops[sl]))
        out.append(codec.decode(model(x.to(device)).cpu(), K_crop[sl]))
    pred = torch.cat(out).numpy()  # (T_ok, 17, 3)
    nearest = idx[np.abs(np.arange(len(ok))[:, None] - idx[None]).argmin(axis=1)]  # (T,) frame to copy from
    return pred[np.searchsorted(idx, nearest)].astype(np.float32)


def smooth_per_frame(pose3d: np.ndarray, fps: float, sigma_s: float) -> np.ndarray:
    """A per-frame lifter's ``(T, J, 3)`` 3D smoothed over time by a Gaussian of ``sigma_s`` seconds (ends held:
    the first and last frames repeat); ``sigma_s <= 0`` returns it unchanged. A frame-by-frame network jitters
    from frame to frame where a temporal one does not; a root-relative root stays 0."""
    if sigma_s <= 0 or len(pose3d) < 2:
        return pose3d
    return gaussian_filter1d(pose3d, sigma_s * fps, axis=0, mode="nearest").astype(pose3d.dtype, copy=False)


def rigid_bones(pose3d: np.ndarray, skeleton=H36M17) -> np.ndarray:
    """A ``(T, J, 3)`` sequence with every bone held at its median length over the sequence: each frame is rebuilt
    outwards from the root along ``skeleton``'s tree, every bone keeping its direction (a bone of zero length in a
    frame stays so). The root does not move. A body's bones do not stretch; a per-frame lifter's do."""
    pose = np.asarray(pose3d, np.float64)
    if pose.ndim != 3 or pose.shape[1:] != (skeleton.num_joints, 3):
        raise InputError(f"rigid_bones needs (T, {skeleton.num_joints}, 3) poses, got shape {pose.shape}")
    if len(pose) == 0:
        return pose3d
    parents, children = zip(*skeleton.bones)
    length = np.linalg.norm(pose[:, list(children)] - pose[:, list(parents)], axis=-1)  # (T, B)
    scale = np.divide(np.median(length, axis=0), length, out=np.zeros_like(length), where=length > 0)
    return skeleton.scale_bones(pose, scale).astype(np.asarray(pose3d).dtype, copy=False)


def steady_per_frame(pose3d: np.ndarray, fps: float, smooth_s: float = SMOOTH_S,
                     rigid: bool = RIGID_BONES) -> np.ndarray:
    """A per-frame lifter's ``(T, J, 3)`` 3D as ``lift3d infer`` uses it, alone or before fusion: smoothed over
    time (:func:`smooth_per_frame`, ``smooth_s`` seconds), then with ``rigid`` each bone held at its median
    length (:func:`rigid_bones`)."""
    pose = smooth_per_frame(pose3d, fps, smooth_s)
    return rigid_bones(pose) if rigid else pose


def load_input(path: str | os.PathLike, fmt: str | None = None, *, fps: float | None = None,
               skeleton: str | None = None, tracker_cfg=None, progress: bool = True) -> Keypoints2D:
    """2D keypoints from a video (BlazePose tracker) or a 2D file/folder (:func:`lift3d.io.kp2d.read_keypoints`)."""
    path = Path(path)
    if fmt == "video" or (fmt is None and is_video(path) and not path.is_dir()):
        from lift3d.tracking.blazepose import track_video

        return track_video(path, tracker_cfg, progress=progress)
    return read_keypoints(path, fmt, fps=fps, skeleton=skeleton,
                          person=tracker_cfg.person if tracker_cfg is not None else "largest")


def fuse(temporal: np.ndarray, per_frame: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` x the temporal lifter's 3D + ``(1 - weight)`` x the Pose-ResNet's, both ``(T, J, 3)``
    root-relative camera-frame metres of the same frames."""
    if not 0.0 <= weight <= 1.0:
        raise InputError(f"fusion weight must be in [0, 1], got {weight}")
    return (weight * temporal + (1.0 - weight) * per_frame).astype(np.float32)


FUSE_WEIGHT = 0.8
"""Default share of the temporal lifter when fusing (``lift3d infer --fuse``): the weight
``tools/bench/bench_rigid.py`` chose on the val split for the shipped Pose-ResNet and the shipped temporal
lifter ``tcn_wide_filled_81.pt`` (``42f13762d77a``), with the Pose-ResNet's 3D smoothed and its bones held as
``lift3d infer`` does (BENCHMARKS.md ``posresnet_rigid``; 0.7 with ``tcn_wide_81.pt``, 0.6 with
``cf942f458912``, 0.5 with the temporal lifter before it, 0.7 before that from the Pose-ResNet's raw 3D:
``posresnet_fusion``).
``tools/bench/bench_fusion.py`` chooses one for other checkpoints."""


def load_fusion_partner(fuse_with: str | os.PathLike, lifter_kind: str, lifter_path=None, device: str = "cpu"):
    """The temporal lifter (``fuse_with``: a checkpoint, or ``"default"`` for the shipped one) that the lifter
    of kind ``lifter_kind`` (from ``lifter_path``) is fused with: ``(model, codec, ckpt)``. Only a Pose-ResNet
    is fused, and only with a temporal lifter."""
    if lifter_kind != "posresnet":
        raise InputError("fusion adds a temporal lifter to a Pose-ResNet one, but this checkpoint is already "
                         "temporal (use --model posresnet or a Pose-ResNet --checkpoint)", lifter_path)
    path = None if str(fuse_with) == "default" else fuse_with
    model, codec, ckpt = load_lifter(path, device)
    if ckpt["kind"] != "tcn":
        raise InputError(f"fusion needs a temporal lifter, this checkpoint is a {ckpt['kind']!r}", path)
    return model, codec, ckpt


@torch.no_grad()
def plausibility(pose3d_cam_m: np.ndarray, fps: float, discriminator, model_fps: float = 30.0,
                 device: str = "cpu") -> np.ndarray:
    """Per-frame plausibility ``(T,)`` in [0, 1] of a root-relative sequence ``(T, 17, 3)``: the pose
    discriminator's probability that the motion is real, judged at its training frame rate ``model_fps``
    (resampled there and back)."""
    T = pose3d_cam_m.shape[0]
    pose = pose3d_cam_m if abs(fps - model_fps) <= 1e-3 else resample(pose3d_cam_m, fps, model_fps)
    logits = discriminator(torch.from_numpy(np.ascontiguousarray(pose, np.float32))[None].to(device))[0].cpu()
    score = torch.sigmoid(logits).numpy()[:, None]  # (T', 1)
    if abs(fps - model_fps) > 1e-3:
        score = resample(score, model_fps, fps, num_out=T)
    return score[:, 0].astype(np.float32)


def infer(kp: Keypoints2D, checkpoint: str | os.PathLike | None = None, device: str = "cpu", *,
          fuse_with: str | os.PathLike | None = None, fuse_weight: float = FUSE_WEIGHT,
          video: str | os.PathLike | None = None, iso: IsoConfig | None = None,
          camera_K: np.ndarray | None = None, camera_dist: np.ndarray | None = None,
          discriminator: str | os.PathLike | bool | None = None, fill_gap_s: float = MAX_GAP_S,
          flip: bool = FLIP_TEST, smooth_s: float = SMOOTH_S, rigid: bool = RIGID_BONES,
          progress: bool = False) -> Pose3DResult:
    """Lift a loaded 2D sequence with a checkpoint (default: the shipped lifter).

    With a Pose-ResNet checkpoint, ``fuse_with`` (a temporal lifter's checkpoint, or ``"default"`` for the
    shipped one) averages its per-frame 3D with the temporal lifter's (:func:`fuse`, ``fuse_weight``). A
    Pose-ResNet that takes image crops reads them from ``video`` (default: the 2D's source when that is a
    video), whose frame ``t`` is the 2D's frame ``t``.

    ``iso`` runs inference-stage optimisation on the lifter's 3D (:func:`lift3d.iso.optimise`; with
    ``iso.tune_steps`` the temporal lifter, or the one fused with a Pose-ResNet, is first fine-tuned on the
    sequence, :func:`lift3d.iso.tune_lifter`) and places the person in the scene (``root_cam_m``).
    ``camera_K`` (and ``camera_dist``) are the camera's intrinsics, default :func:`guess_camera`; the
    volumetric lifter uses them too.

    ``fill_gap_s``: each joint is first interpolated across its gaps in the 2D (confidence 0) of at most this
    many seconds (:func:`fill_2d_gaps`; 0: lift the 2D as given); the result holds the 2D as lifted.

    ``flip``: the temporal lifter (alone or fused) averages its 3D with that of the mirrored 2D
    (:func:`lift_sequence`); a Pose-ResNet's own 3D is not flipped. ``smooth_s``: a Pose-ResNet's per-frame 3D
    (alone or before fusion) is smoothed over time by a Gaussian of this many seconds (:func:`smooth_per_frame`;
    0: as the network gives it); then, with ``rigid``, each of its bones is held at its median length over the
    sequence (:func:`rigid_bones`; both: :func:`steady_per_frame`).

    ``discriminator`` (a checkpoint, or True for the shipped one) adds a per-frame plausibility score of the
    final 3D (:func:`plausibility`).
    """
    if kp.num_frames == 0:
        raise InputError("the 2D sequence has no frames", kp.source or None)
    if not (kp.conf > 0).any():
        raise InputError("no keypoint has a confidence above 0 (no person in any frame)", kp.source or None)
    if not fill_gap_s >= 0:
        raise InputError(f"fill_gap_s must be >= 0 seconds, got {fill_gap_s}")
    if not smooth_s >= 0:
        raise InputError(f"smooth_s must be >= 0 seconds, got {smooth_s}")
    model, codec, ckpt = load_lifter(checkpoint, device)
    judge = None
    if discriminator is not None and discriminator is not False:
        from lift3d.checkpoint import load_discriminator

        judge = load_discriminator(None if discriminator is True else discriminator, device)
    h = fill_2d_gaps(kp.to_h36m(), fill_gap_s)
    K = guess_camera(h) if camera_K is None else np.asarray(camera_K, np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise InputError(f"camera intrinsics must be a finite 3x3 matrix, got shape {K.shape}")
    partner = None if fuse_with is None else load_fusion_partner(fuse_with, ckpt["kind"], checkpoint, device)
    ident = checkpoint_id(model.state_dict())
    tune = iso is not None and iso.tune_steps > 0

    def temporal(tm, tc, fps: float):
        """The temporal lifter's 3D, after test-time fine-tuning on this sequence when ``iso`` asks for it."""
        if tune:
            tm = tune_lifter(tm, tc, *at_model_fps(h, fps), K, fps, iso, dist=camera_dist, device=device)
        return lift(h, tm, tc, fps, device, flip)

    if ckpt["kind"] == "posresnet":
        if tune and partner is None:
            raise InputError("test-time fine-tuning (iso tune_steps) works on a temporal lifter, not a Pose-ResNet "
                             "alone (fuse one in with --fuse, and that one is fine-tuned)", checkpoint)
        if video is None and codec.image and kp.source and is_video(kp.source):
            video = kp.source
        pose = steady_per_frame(lift_volumetric(h.kp2d_px, h.conf, K, model, codec, device, video=video), kp.fps,
                                smooth_s, rigid)
        if partner is not None:
            tm, tc, tck = partner
            pose = fuse(temporal(tm, tc, float(tck["fps"])), pose, fuse_weight)
            ident = f"{ident}+{checkpoint_id(tm.state_dict())}"
    else:
        pose = temporal(model, codec, float(ckpt["fps"]))
    if tune:
        ident = f"{ident}+tuned"
    result = Pose3DResult(pose, h.kp2d_px, h.conf, h.interpolated, kp.fps, kp.source, ident, kp.image_size)
    if iso is not None:
        solved = optimise(pose, h.kp2d_px, h.conf, K, kp.fps, iso, dist=camera_dist, progress=progress)
        result.pose3d_cam_m, result.root_cam_m = solved.pose3d_cam_m, solved.root_cam_m
        result.camera_K, result.camera_dist = solved.camera_K, solved.camera_dist
    if judge is not None:
        result.plausibility = plausibility(result.pose3d_cam_m, kp.fps, judge[0], float(judge[1]["fps"]), device)
    return result
