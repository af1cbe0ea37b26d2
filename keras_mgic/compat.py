"""Run-time patches of private Keras code: the only ones in keras_mgic, each gated on the Keras
versions that need it and covered by a test (``tests/test_compat.py``) that fails once the
installed Keras no longer needs it.

Both patches are for ``model.fit`` under ``tf.distribute.MultiWorkerMirroredStrategy`` with
several workers on the TensorFlow backend (keras-team/keras#20585, tensorflow/tensorflow#72388).
No public API does the job: ``keras.distribution`` distributes the JAX backend only, and
``tf.distribute``'s documented multi-worker route without these code paths is a custom
training loop, which would give up ``model.fit``'s callbacks (the run's per-epoch
checkpoint, ``keras_mgic.training.checkpoint.RunCheckpoint``, and the progress lines).
Single-worker strategies (``MirroredStrategy``) need no patch and get none.

One call of private Keras code, not a patch, is here too: ``build_training_state`` builds
a compiled model's optimizer, loss and metric state before ``fit`` (see its docstring).

1. **Scalar logs** (``keras/src/backend/tensorflow/trainer.py``, ``reduce_per_replica``): each
   step's logs are averaged across workers with ``strategy.reduce("MEAN", v, axis=0)``, which
   raises on the rank-0 loss and metric results. Patched: rank-0 values are averaged with
   ``axis=None``.
2. **Symbolic build** (same file, ``TensorFlowTrainer._maybe_symbolic_build``): ``fit`` and
   ``evaluate`` build the model's state from a sample batch reduced across workers. Patched
   per model instance: the build gets this worker's first local batch (it needs only shapes
   and dtypes).
"""

import contextlib

#: ``(first Keras version that needs it, first version that does not or None)`` per patch.
SCALAR_LOGS_VERSIONS = ((3, 0, 0), None)
SYMBOLIC_BUILD_VERSIONS = ((3, 0, 0), None)


def keras_version():
    """The installed Keras version as a tuple of ints, e.g. ``(3, 15, 1)``."""
    import keras

    parts = []
    for part in keras.version().split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def applies(versions, version=None):
    """True when ``version`` (default: the installed Keras) is in ``[first, fixed_in)``."""
    first, fixed_in = versions
    version = keras_version() if version is None else version
    return version >= first and (fixed_in is None or version < fixed_in)


@contextlib.contextmanager
def multi_worker_fit(model, strategy):
    """Patches Keras while ``model`` trains under a multi-worker ``strategy``; a no-op for
    other strategies and for Keras versions without the bugs."""
    import keras

    if keras.backend.backend() != "tensorflow" or not _multi_worker(strategy):
        yield
        return
    if applies(SYMBOLIC_BUILD_VERSIONS):
        _patch_symbolic_build(model, strategy)
    with contextlib.ExitStack() as stack:
        if applies(SCALAR_LOGS_VERSIONS):
            stack.enter_context(_scalar_logs_patch())
        yield


def _multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    )


def _patch_symbolic_build(model, strategy):
    import tensorflow as tf

    original = model._maybe_symbolic_build

    def local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_value, next(batches))
                break
        return original(data_batch=data_batch)

    model._maybe_symbolic_build = maybe_symbolic_build


def build_training_state(model, data_spec):
    """Creates a compiled model's optimizer, loss and metric variables before ``fit``.

    On the TensorFlow backend without a distribution strategy, Keras creates them inside the
    first traced training step, and ``tf.function`` then traces that step a second time
    without variable creation: an MGIC-ResNet-20 (about 500 weights, each with its own update
    ops) spent 11 of its 23 seconds of ``fit`` on that second trace. Building them first
    (Keras's own ``Trainer._symbolic_build``, from shapes only: no batch is drawn) leaves one
    trace. ``data_spec``: an ``(x, y)`` structure of anything with ``shape`` and ``dtype``
    (a ``tf.data.Dataset``'s ``element_spec``, or a batch of arrays). Other backends, and a
    Keras without that method, get the optimizer built (public API).
    """
    import keras

    symbolic_build = getattr(model, "_symbolic_build", None)
    if keras.backend.backend() == "tensorflow" and symbolic_build is not None:
        symbolic_build(data_batch=data_spec)
    elif model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def scalar_safe_reduce_per_replica(original):
    """Wraps Keras's ``reduce_per_replica``: rank-0 values are averaged with ``axis=None``
    under a multi-worker strategy; everything else goes to ``original``."""
    import tensorflow as tf

    def rank(value):
        if isinstance(value, tf.distribute.DistributedValues):
            value = value.values[0]
        shape = getattr(value, "shape", None)
        return None if shape is None else shape.rank

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not _multi_worker(strategy):
            return original(values, strategy, reduction)

        def reduce(value):
            if rank(value) == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tf.nest.map_structure(reduce, values)

    return reduce_per_replica


@contextlib.contextmanager
def _scalar_logs_patch():
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    tf_trainer.reduce_per_replica = scalar_safe_reduce_per_replica(original)
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original
