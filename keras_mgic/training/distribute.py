"""``tf.distribute`` strategies and the mixed-precision policy of a run.

``batch_size`` and ``learning_rate`` are per replica: with ``R`` replicas the global batch is
``R * batch_size`` and the learning rate ``R * learning_rate`` (the linear scaling rule, Goyal
et al. 2017, arXiv:1706.02677). Only the chief writes the run directory; other workers write
under ``DIR/workers/<type>_<index>``.
"""

import os

from keras_mgic.training.arguments import DISTRIBUTE, choice


def make_strategy(distribute="none"):
    """Returns the ``tf.distribute`` strategy for ``distribute``.

    Call it before anything else touches TensorFlow's devices: ``MultiWorkerMirroredStrategy``
    must configure collective ops at program start.

    Args:
        distribute: ``"none"`` (the default strategy), ``"mirrored"`` (``MirroredStrategy``
            over every GPU, or every logical CPU when there is no GPU) or ``"multi-worker"``
            (``MultiWorkerMirroredStrategy``, cluster taken from the ``TF_CONFIG``
            environment variable).

    Returns:
        A ``tf.distribute.Strategy``.

    Example:

    >>> make_strategy("none").num_replicas_in_sync
    1
    """
    choice("distribute", distribute, DISTRIBUTE)
    if distribute == "multi-worker" and not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "`distribute='multi-worker'` needs the cluster in the TF_CONFIG environment "
            'variable, e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}. Received: TF_CONFIG=None'
        )
    import tensorflow as tf

    if distribute == "none":
        return tf.distribute.get_strategy()
    if distribute == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(
        devices=cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


def mixed_precision_policy():
    """The mixed-precision policy for this machine: ``mixed_float16`` on a GPU (``compile``
    adds dynamic loss scaling), else ``mixed_bfloat16`` (float32's range, no loss scaling; a
    CPU has no float16 matmul units).

    Example:

    >>> mixed_precision_policy() in ("mixed_float16", "mixed_bfloat16")
    True
    """
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def worker_role(strategy):
    """Returns ``(is_chief, "type_index" or None)`` of this process in a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None)
    if task_type is None:
        return True, None
    cluster = resolver.cluster_spec().as_dict()
    first_worker = task_type == "worker" and task_id == 0 and "chief" not in cluster
    return task_type == "chief" or first_worker, f"{task_type}_{task_id}"
