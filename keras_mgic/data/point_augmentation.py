"""Augmentation of point clouds inside ``tf.data``: a random rotation about the normal (up)
axis, a random isotropic scaling and Gaussian jitter, applied to the coordinate channels
only (features such as intensity stay as they are).

Defaults follow common practice on ModelNet (PointNet: rotation about the up axis, jitter
of standard deviation 0.01 clipped at 0.05; DGCNN and PointNet++: random scaling). A digit
rotated by half a turn can become another digit (6 and 9), so ``digit_points`` rotates by
at most 15 degrees.
"""

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class PointAugmentation:
    """What ``augment_points`` does.

    Attributes:
        coordinate_dim: leading coordinate channels (2: a plane, 3: space).
        max_angle: rotations are uniform in ``[-max_angle, max_angle]`` radians about the
            normal axis (the plane's normal for 2 dimensions, ``up_axis`` for 3).
        up_axis: the axis rotated about in 3 dimensions (2, z, for ModelNet's meshes).
        scale_range: the scale factor is uniform in this range.
        jitter_stddev: standard deviation of the per-coordinate Gaussian jitter.
        jitter_clip: the jitter is clipped to ``[-jitter_clip, jitter_clip]``.
    """

    coordinate_dim: int = 3
    max_angle: float = math.pi
    up_axis: int = 2
    scale_range: tuple = (0.8, 1.25)
    jitter_stddev: float = 0.01
    jitter_clip: float = 0.05


MODELNET_AUGMENTATION = PointAugmentation(coordinate_dim=3)
DIGIT_POINTS_AUGMENTATION = PointAugmentation(coordinate_dim=2, max_angle=math.radians(15))


def _rotation(angle, dims, up_axis):
    """The ``(dims, dims)`` rotation by ``angle`` in the plane normal to ``up_axis``."""
    import tensorflow as tf

    cos, sin = tf.cos(angle), tf.sin(angle)
    if dims == 2:
        return tf.stack([tf.stack([cos, -sin]), tf.stack([sin, cos])])
    first, second = [axis for axis in range(3) if axis != up_axis]
    planar = {(first, first): cos, (first, second): -sin, (second, first): sin}
    planar[(second, second)] = cos

    def entry(i, j):
        return planar.get((i, j), tf.constant(1.0 if i == j else 0.0))

    return tf.stack([tf.stack([entry(i, j) for j in range(3)]) for i in range(3)])


def augment_points(points, augmentation, seed):
    """One cloud ``(num_points, channels)`` rotated, scaled and jittered.

    Args:
        points: float32 tensor, the coordinates first.
        augmentation: a :class:`PointAugmentation`.
        seed: a stateless seed, shape ``(2,)`` int tensor (e.g. from ``tf.data``'s
            ``Dataset.random``), so a pipeline with a fixed seed repeats itself.

    Returns:
        The augmented cloud, same shape and dtype.
    """
    import tensorflow as tf

    dims = augmentation.coordinate_dim
    seeds = tf.random.experimental.stateless_split(seed, 3)
    angle = tf.random.stateless_uniform(
        (), seeds[0], -augmentation.max_angle, augmentation.max_angle
    )
    low, high = augmentation.scale_range
    scale = tf.random.stateless_uniform((), seeds[1], low, high)
    coordinates, features = points[:, :dims], points[:, dims:]
    rotation = _rotation(angle, dims, augmentation.up_axis)
    coordinates = tf.matmul(coordinates, rotation, transpose_b=True)  # each row p -> R p
    jitter = tf.random.stateless_normal(
        tf.shape(coordinates), seeds[2], stddev=augmentation.jitter_stddev
    )
    jitter = tf.clip_by_value(jitter, -augmentation.jitter_clip, augmentation.jitter_clip)
    coordinates = coordinates * scale + jitter
    return tf.concat([coordinates, features], axis=-1)
