"""Option B: MediaPipe Tasks PoseLandmarker (VIDEO running mode) with the .task built by build_task.py.

Works with mediapipe 1.x (ctypes C API) and with 0.10.21 (pybind) - same Python API names.
Usage: python run_tasks.py [--task pose_landmarker_full.task] [--num-poses 1] [--out tasks.npz]
Output npz: xy (T,P,33,2) pixels (NaN = no person; persons sorted by bbox area, largest first),
            z, vis, presence (T,P,33), world (T,P,33,3), count (T,) poses per frame, infer_ms (T,)
"""
import argparse
import json
import time

import cv2
import numpy as np

import mediapipe as mp

VIDEO = "/work/shared/data/pose2sim_demo/single_balancing/videos/cam04.mp4"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--video", default=VIDEO)
    ap.add_argument("--task", default="pose_landmarker_full.task")
    ap.add_argument("--num-poses", type=int, default=1)
    ap.add_argument("--out", default="tasks.npz")
    ap.add_argument("--buffer", action="store_true", help="pass the model as model_asset_buffer bytes")
    args = ap.parse_args()

    cap = cv2.VideoCapture(args.video)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    W, H = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)))
    T, P = len(frames), args.num_poses

    vision = mp.tasks.vision
    if args.buffer:
        base = mp.tasks.BaseOptions(model_asset_buffer=open(args.task, "rb").read())
    else:
        base = mp.tasks.BaseOptions(model_asset_path=args.task)
    opts = vision.PoseLandmarkerOptions(base_options=base, running_mode=vision.RunningMode.VIDEO,
                                        num_poses=P, min_pose_detection_confidence=0.5,
                                        min_pose_presence_confidence=0.5, min_tracking_confidence=0.5,
                                        output_segmentation_masks=False)
    t_init = time.perf_counter()
    lm = vision.PoseLandmarker.create_from_options(opts)
    t_init = time.perf_counter() - t_init

    xy = np.full((T, P, 33, 2), np.nan, np.float32)
    z = np.full((T, P, 33), np.nan, np.float32)
    vis = np.full((T, P, 33), np.nan, np.float32)
    pres = np.full((T, P, 33), np.nan, np.float32)
    world = np.full((T, P, 33, 3), np.nan, np.float32)
    count = np.zeros(T, np.int32)
    infer_ms = np.zeros(T)
    for t, rgb in enumerate(frames):
        img = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        ts = int(round(t * 1000.0 / fps))
        t0 = time.perf_counter()
        res = lm.detect_for_video(img, ts)
        infer_ms[t] = (time.perf_counter() - t0) * 1e3
        poses = res.pose_landmarks or []
        count[t] = len(poses)
        pts = [np.array([(p.x * W, p.y * H) for p in pose]) for pose in poses]
        order = sorted(range(len(poses)), key=lambda i: -np.ptp(pts[i][:, 0]) * np.ptp(pts[i][:, 1]))
        for k, i in enumerate(order):
            xy[t, k] = pts[i]
            z[t, k] = [p.z for p in poses[i]]
            vis[t, k] = [p.visibility if p.visibility is not None else np.nan for p in poses[i]]
            pres[t, k] = [p.presence if p.presence is not None else np.nan for p in poses[i]]
            world[t, k] = [(p.x, p.y, p.z) for p in res.pose_world_landmarks[i]]
    lm.close()

    np.savez(args.out, xy=xy, z=z, vis=vis, presence=pres, world=world, count=count, infer_ms=infer_ms)
    steady = infer_ms[1:]
    print(json.dumps({
        "mediapipe": mp.__version__, "numpy": np.__version__, "cv2": cv2.__version__,
        "task": args.task, "num_poses": P, "frames": T, "size": [W, H],
        "frames_with_landmarks": int((count > 0).sum()),
        "poses_per_frame": "".join(map(str, count)),
        "init_s": round(t_init, 3), "first_frame_ms": round(infer_ms[0], 1),
        "median_ms": round(float(np.median(steady)), 1),
        "fps_excl_first": round(1e3 / float(np.mean(steady)), 2),
        "fps_all": round(1e3 * T / float(infer_ms.sum()), 2),
        "mean_visibility": round(float(np.nanmean(vis)), 3) if np.isfinite(vis).any() else None,
    }, indent=1))


if __name__ == "__main__":
    main()
