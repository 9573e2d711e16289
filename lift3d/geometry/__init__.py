"""Camera geometry for lift3d: pure, batched, differentiable torch functions.

Camera convention (the one used everywhere in lift3d)
-----------------------------------------------------
- OpenCV axes: in the camera frame x points right, y down, z forward (along the optical axis).
- Extrinsics ``R (3, 3)``, ``t (3,)`` map world to camera: ``X_cam = R @ X_world + t``; the camera centre in
  the world is ``C = -R^T t``.
- Units: metres for 3D points and translations, pixels for image coordinates, radians for angles.
- Intrinsics ``K (3, 3) = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels; the centre of the top-left pixel
  is ``(0, 0)`` (as OpenCV).
- Lens distortion: OpenCV's Brown-Conrady coefficients ``(k1, k2, p1, p2[, k3])``, a ``(..., 4)`` or
  ``(..., 5)`` tensor (padded to 5 internally). Projection applies distortion; triangulation and epipolar
  geometry work on undistorted pixels (:func:`undistort_pixels` first).
- Quaternions are ``(w, x, y, z)``, scalar first.

Every function is batched over leading ``...`` dimensions (broadcast where natural), works in float32 and
float64, and raises :class:`lift3d.errors.InputError` for tensors of the wrong trailing shape. The only
non-differentiable function is :func:`estimate_relative_pose` (OpenCV RANSAC, for real data).
"""

from lift3d.geometry.camera import (
    CameraSet,
    camera_centers,
    camera_to_world,
    distort_normalized,
    normalized_to_pixels,
    pixels_to_normalized,
    project_camera,
    project_points,
    projection_matrix,
    undistort_normalized,
    undistort_pixels,
    unproject_points,
    world_to_camera,
)
from lift3d.geometry.epipolar import (
    decompose_essential,
    essential_from_fundamental,
    essential_from_pose,
    estimate_relative_pose,
    fundamental_from_essential,
    fundamental_from_points,
    recover_pose,
    sampson_distance,
    symmetric_epipolar_distance,
)
from lift3d.geometry.procrustes import apply_rigid, apply_similarity, rigid_align, similarity_align
from lift3d.geometry.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_to_matrix,
    rotation_about_axis,
    skew_symmetric,
)
from lift3d.geometry.triangulation import (
    TriangulationResult,
    reprojection_error,
    triangulate_dlt,
    triangulate_robust,
)

__all__ = [
    "CameraSet",
    "TriangulationResult",
    "apply_rigid",
    "apply_similarity",
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "camera_centers",
    "camera_to_world",
    "decompose_essential",
    "distort_normalized",
    "essential_from_fundamental",
    "essential_from_pose",
    "estimate_relative_pose",
    "euler_to_matrix",
    "fundamental_from_essential",
    "fundamental_from_points",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "matrix_to_rot6d",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "project_camera",
    "project_points",
    "projection_matrix",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "recover_pose",
    "reprojection_error",
    "rigid_align",
    "rot6d_to_matrix",
    "rotation_about_axis",
    "sampson_distance",
    "similarity_align",
    "skew_symmetric",
    "symmetric_epipolar_distance",
    "triangulate_dlt",
    "triangulate_robust",
    "undistort_normalized",
    "undistort_pixels",
    "unproject_points",
    "world_to_camera",
]
