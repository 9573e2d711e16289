"""Checkpoints that rebuild their model alone (STYLE §10), loaded with ``weights_only=True``.

A lifter checkpoint is a dict of tensors and plain Python values:
``format`` (``lift3d.checkpoint``), ``version``, ``kind`` (model kind, e.g. ``tcn``), ``model_config``
(the architecture dataclass as a dict), ``codec`` (the 2D codec's parameters), ``skeleton`` (joint names),
``fps`` (frame rate the model works at), ``model`` (state dict), ``id`` (a short content hash, set on
export), and for training runs also ``train_state`` (optimizer, scheduler, epoch, RNG states, history) and
``config`` (the resolved training config).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from lift3d import __version__
from lift3d.codec import Pose2DCodec
from lift3d.config import from_dict, to_dict
from lift3d.errors import InputError
from lift3d.io.atomic import atomic_output
from lift3d.skeletons import H36M17

FORMAT = "lift3d.checkpoint"
REPO_CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_LIFTER = REPO_CHECKPOINTS / "tcn_wide_filled_81.pt"
# The shipped Pose-ResNet (``lift3d infer --model posresnet``), once one earns its place (checkpoints/README.md).
DEFAULT_POSRESNET = REPO_CHECKPOINTS / "posresnet_heatmap64.pt"
# The shipped plausibility scorer (``lift3d infer --plausibility``): a pose discriminator, kind "discriminator".
DEFAULT_DISCRIMINATOR = REPO_CHECKPOINTS / "pose_discriminator.pt"


def model_kinds() -> dict:
    """Model kinds a checkpoint can name: ``kind -> (config class, model class, codec class)``."""
    from lift3d.models.crop_codec import HeatmapCodec
    from lift3d.models.posresnet import PoseResNet, PoseResNetConfig
    from lift3d.models.tcn import TCN, TCNConfig

    return {"tcn": (TCNConfig, TCN, Pose2DCodec), "posresnet": (PoseResNetConfig, PoseResNet, HeatmapCodec)}


def build_model(kind: str, model_config: dict):
    kinds = model_kinds()
    if kind not in kinds:
        raise InputError(f"unknown model kind {kind!r}; known: {sorted(kinds)}")
    cfg_cls, model_cls, _ = kinds[kind]
    return model_cls(from_dict(cfg_cls, model_config, where="model_config"))


def save_checkpoint(path: str | Path, model, *, kind: str, codec: Pose2DCodec | None, fps: float, **extra) -> None:
    """Write atomically (temporary file + rename). ``codec`` is None only for models that take no 2D (the
    pose discriminator)."""
    payload = {
        "format": FORMAT,
        "version": __version__,
        "kind": kind,
        "model_config": to_dict(model.config),
        **({} if codec is None else {"codec": codec.to_dict()}),
        "skeleton": list(H36M17.joints),
        "fps": float(fps),
        "model": model.state_dict(),
        **extra,
    }
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dict, validated. Never unpickles arbitrary objects (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("checkpoint not found", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, not a torch file, or holding objects weights_only refuses
        raise InputError(f"not a loadable lift3d checkpoint ({type(e).__name__}: {e})", path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError("not a lift3d checkpoint (no format tag)", path)
    for key in ("kind", "model_config", "skeleton", "fps", "model") + (("codec",) if ckpt.get("kind") != "discriminator" else ()):
        if key not in ckpt:
            raise InputError(f"checkpoint lacks {key!r}", path)
    if list(ckpt["skeleton"]) != list(H36M17.joints):
        raise InputError(f"checkpoint skeleton {ckpt['skeleton']} is not {H36M17.name}", path)
    return ckpt


def load_lifter(path: str | Path | None = None, device: str | torch.device = "cpu"):
    """Rebuild a lifter from its checkpoint: ``(model in eval mode, codec, checkpoint dict)``.

    ``path=None`` loads the shipped default (:data:`DEFAULT_LIFTER`). A checkpoint whose weights do not fit
    its stated architecture is an error naming the file.
    """
    path = Path(path) if path is not None else DEFAULT_LIFTER
    ckpt = read_checkpoint(path)
    if ckpt["kind"] == "discriminator":
        raise InputError("this checkpoint is a pose discriminator (a plausibility scorer), not a lifter; give it "
                         "to --discriminator", path)
    model = build_model(ckpt["kind"], ckpt["model_config"])
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise InputError(f"weights do not match the architecture in the checkpoint: {e}", path) from None
    model.to(device).float().eval()
    codec = from_dict(model_kinds()[ckpt["kind"]][2], ckpt["codec"], where=f"{path}:codec")
    return model, codec, ckpt


def load_discriminator(path: str | Path | None = None, device: str | torch.device = "cpu"):
    """The pose discriminator of a ``kind: discriminator`` checkpoint (default: :data:`DEFAULT_DISCRIMINATOR`), or
    the one an adversarial lifter run saved beside its lifter: ``(model in eval mode, checkpoint dict)``."""
    from lift3d.models.discriminator import DiscriminatorConfig, PoseDiscriminator

    path = Path(path) if path is not None else DEFAULT_DISCRIMINATOR
    if not path.is_file() and path == DEFAULT_DISCRIMINATOR:
        raise InputError("no pose discriminator is shipped yet: train one (lift3d train "
                         "configs/pose_discriminator.yaml) and give it with --discriminator", path)
    ckpt = read_checkpoint(path)
    part = ckpt if ckpt["kind"] == "discriminator" else ckpt.get("discriminator")
    if part is None:
        raise InputError(f"a {ckpt['kind']!r} checkpoint without a discriminator (not an adversarial run)", path)
    model = PoseDiscriminator(from_dict(DiscriminatorConfig, part["model_config"], where=f"{path}:model_config"))
    try:
        model.load_state_dict(part["model"])
    except RuntimeError as e:
        raise InputError(f"weights do not match the discriminator in the checkpoint: {e}", path) from None
    return model.to(device).float().eval(), ckpt


def checkpoint_id(state_dict: dict) -> str:
    """A short content hash of the weights, recorded in exports so results name the model that made them."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        h.update(k.encode())
        h.update(state_dict[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]
