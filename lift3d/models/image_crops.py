"""Person crops from video frames: the image input of :class:`lift3d.models.PoseResNet`.

A crop is the square ``box = (cx, cy, side)`` of :mod:`lift3d.models.crop_codec` resampled to ``size x size``
pixels edge to edge, so the crop's pixels line up with the rendered heatmaps and with ``crop_intrinsics`` of
the same box. Parts of a box outside the frame are black. Crops are stored as ``(N, S, S, 3)`` uint8 RGB;
:func:`image_input` normalises them for the model and :func:`occlude` is the occlusion augmentation of
images (random filled rectangles).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from lift3d.errors import InputError
from lift3d.io.video import iter_frames

IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
"""Per-channel RGB mean and standard deviation (in [0, 1]) subtracted and divided out by :func:`image_input`:
the ImageNet statistics, the usual choice for a ResNet."""


def crop_frame(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """One crop: ``frame`` ``(H, W, 3)`` uint8 and ``box`` ``(3,)`` pixels -> ``(size, size, 3)`` uint8.

    The box is snapped to whole source pixels (at most half a source pixel, ``side / (2 size)`` of a crop
    pixel at the usual downscales) and resized with area averaging when it shrinks (no aliasing), bilinear
    when it grows.
    """
    cx, cy, side = (float(v) for v in box)
    if not (np.isfinite([cx, cy, side]).all() and side > 0):
        raise InputError(f"crop box must be finite with a positive side, got {tuple(box)}")
    H, W = frame.shape[:2]
    n = max(int(round(side)), 1)
    # Source pixel i covers [i - 1/2, i + 1/2]: the n pixels from x0 span [x0 - 1/2, x0 + n - 1/2].
    x0, y0 = int(round(cx - side / 2 + 0.5)), int(round(cy - side / 2 + 0.5))
    # The part of [x0, x0 + n) x [y0, y0 + n) inside the frame, placed in a black n x n canvas.
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + n, W), min(y0 + n, H)
    canvas = np.zeros((n, n, 3), np.uint8)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    interp = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interp)


def read_crops(video: str | os.PathLike, boxes: np.ndarray, size: int, frame_index: np.ndarray | None = None,
               *, progress: bool = False) -> np.ndarray:
    """Crops of ``N`` boxes from one video, decoding it once in order.

    Args:
        video: the video file.
        boxes: ``(N, 3)`` crop boxes, pixels.
        size: crop side, pixels.
        frame_index: ``(N,)`` video frame of each box (any order, repeats allowed); default ``0 .. N-1``.

    Returns:
        ``(N, size, size, 3)`` uint8 RGB.

    Raises:
        InputError: a missing or unreadable video, or one with fewer frames than ``frame_index`` needs.
    """
    boxes = np.asarray(boxes, np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 3:
        raise InputError(f"boxes must be (N, 3), got {boxes.shape}", video)
    idx = np.arange(len(boxes)) if frame_index is None else np.asarray(frame_index, np.int64)
    if idx.shape != (len(boxes),):
        raise InputError(f"frame_index must be ({len(boxes)},), got {idx.shape}", video)
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    if not len(boxes):
        return out
    if idx.min() < 0:
        raise InputError(f"frame indices must be >= 0, got {idx.min()}", video)
    order = np.argsort(idx, kind="stable")
    k, last = 0, -1
    frames = iter_frames(video)
    with tqdm(total=int(idx.max()) + 1, desc=f"crops {Path(video).name}", unit="frame", disable=not progress) as bar:
        for last, frame in enumerate(frames):
            bar.update(1)
            while k < len(order) and idx[order[k]] == last:
                out[order[k]] = crop_frame(frame, boxes[order[k]], size)
                k += 1
            if k == len(order):
                break
    frames.close()
    if k < len(order):
        raise InputError(f"needs frame {idx.max()} but the video has {last + 1} frames (is this the video the 2D "
                         "was tracked on?)", video)
    return out


def image_input(crops: Tensor) -> Tensor:
    """``(..., S, S, 3)`` uint8 RGB crops -> ``(..., 3, S, S)`` float32, normalised by :data:`IMAGE_MEAN` and
    :data:`IMAGE_STD`."""
    if crops.dtype != torch.uint8 or crops.ndim < 3 or crops.shape[-1] != 3:
        raise InputError(f"crops must be (..., S, S, 3) uint8, got {tuple(crops.shape)} {crops.dtype}")
    x = crops.float().div(255.0)
    x = (x - torch.tensor(IMAGE_MEAN)) / torch.tensor(IMAGE_STD)
    return x.movedim(-1, -3).contiguous()


def occlude(x: Tensor, prob: float, max_frac: float, rng: np.random.Generator) -> Tensor:
    """Occlusion augmentation on normalised image input ``(N, 3, S, S)``: with probability ``prob`` a sample
    gets one rectangle (each side a uniform fraction ``[0.1, max_frac]`` of the crop, anywhere inside it)
    filled with one random colour. Returns a new tensor."""
    N, _, S, _ = x.shape
    out = x.clone()
    hit = np.flatnonzero(rng.random(N) < prob)
    for n in hit:
        h, w = (max(1, int(round(f * S))) for f in rng.uniform(0.1, max(max_frac, 0.1), 2))
        y0, x0 = int(rng.integers(0, S - h + 1)), int(rng.integers(0, S - w + 1))
        colour = (torch.from_numpy(rng.random(3)).float() - torch.tensor(IMAGE_MEAN)) / torch.tensor(IMAGE_STD)
        out[n, :, y0 : y0 + h, x0 : x0 + w] = colour[:, None, None]
    return out
