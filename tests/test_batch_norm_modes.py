"""``BatchNormalization(fused=...)``: where TensorFlow's fused kernel runs (by default in
inference only; EdgeConv's in training only), with Keras's numbers in every mode."""

import keras
import numpy as np
import pytest

from keras_mgic.layers import BatchNormalization, EdgeConv
from keras_mgic.layers.batch_norm import FUSED_MODES

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the fused kernel is TensorFlow's"
)


def _ops(layer, x, training):
    import tensorflow as tf

    function = tf.function(lambda x: layer(x, training=training))
    graph = function.get_concrete_function(tf.TensorSpec(x.shape)).graph
    return {op.type for op in graph.get_operations()}


@pytest.mark.parametrize(
    "fused, in_training, in_inference",
    [(None, False, True), (True, True, True), ("training", True, False), (False, False, False)],
)
def test_fused_kernel_runs_in_the_modes_named(fused, in_training, in_inference):
    x = np.random.default_rng(0).normal(1.0, 2.0, (3, 4, 4, 8)).astype("float32")
    ours = BatchNormalization(fused=fused, momentum=0.8, epsilon=1e-3)
    theirs = keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-3)
    assert ("FusedBatchNormV3" in _ops(ours, x, True)) == in_training
    assert ("FusedBatchNormV3" in _ops(ours, x, False)) == in_inference
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    for training in (True, False):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(ours(x, training=training)),
            keras.ops.convert_to_numpy(theirs(x, training=training)),
            atol=1e-4,
        )
        for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5)


def test_fused_argument_is_checked_and_serialized():
    with pytest.raises(ValueError, match="`fused` must be one of.*fused='always'"):
        BatchNormalization(fused="always")
    for mode in FUSED_MODES:
        config = BatchNormalization(fused=mode).get_config()
        assert BatchNormalization.from_config(config).fused == mode
    assert EdgeConv(8).bn.fused == "training"
