"""BatchNormalization with a fused fast path on the TensorFlow backend."""

import keras

from keras_mgic import ops

#: BatchNorm settings of every layer and builder in the package, as the paper's PyTorch code
#: uses them (PyTorch's momentum 0.1 on the new batch is Keras's 0.9 on the running value).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
#: The input dtypes TensorFlow's fused kernel takes (its statistics are float32).
FUSED_DTYPES = ("float32", "float16", "bfloat16")
#: The values of ``BatchNormalization(fused=...)``.
FUSED_MODES = (None, True, False, "training", "inference")


@keras.saving.register_keras_serializable(package="keras_mgic")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with TensorFlow's fused kernel where it pays.

    Same arguments, weights, config and numbers as ``keras.layers.BatchNormalization``
    (moving statistics use the biased batch variance, as Keras does), plus ``fused``: where
    TensorFlow's fused kernel (``FusedBatchNormV3``) replaces Keras's separate moment,
    normalization and update ops. It is taken for rank-4 channels-last float32, float16 or
    bfloat16 inputs without a mask, renormalization or synchronization, on the TensorFlow
    backend (it raises an epsilon below 1.001e-5 to that value), in the modes ``fused``
    names. Measured (``benchmarks/batch_norm_fused.py``, section ``batch_norm_fused`` of
    BENCHMARKS.md): training MGIC-ResNet-20 with it was no faster (1.00x, 0.95-1.04), with a
    larger gradient error against float64 (median 8.6% against 5.3%) and a lower test
    accuracy on the digits in 3 of 3 seeds, so by default (``FUSED_DEFAULT = "inference"``)
    it runs in inference only, where it computes the same affine map and TensorFlow folds it
    into the convolution before it. EdgeConv trains with it (``fused="training"``): its
    BatchNorm of the ``(batch, points, k, channels)`` edge tensor made DGCNN's training step
    1.65x (1.56-1.72) faster, and in inference it takes Keras's path, since tf2onnx turns
    the fused kernel on that tensor into a graph ONNX Runtime rejects. float64 takes
    :meth:`_float64_call`, the normalization written out (the fused kernel has no float64
    version, and Keras's path loses precision on JAX).

    Args:
        fused: ``None`` (default): :attr:`FUSED_DEFAULT`; ``True``: the fused kernel in
            training and inference; ``"training"`` or ``"inference"``: in that mode only;
            ``False``: never.
        **kwargs: the arguments of ``keras.layers.BatchNormalization``.

    Example:

    >>> bn = BatchNormalization()
    >>> tuple(bn(keras.ops.ones((2, 4, 4, 8)), training=True).shape)
    (2, 4, 4, 8)
    """

    #: Where ``fused=None`` layers take the fused kernel: in inference only. Training with
    #: it measured no faster for MGIC-ResNet-20, with a larger gradient error against
    #: float64 and a lower test accuracy on the digits (BENCHMARKS.md, ``batch_norm_fused``).
    FUSED_DEFAULT = "inference"

    def __init__(self, *args, fused=None, **kwargs):
        super().__init__(*args, **kwargs)
        if fused not in FUSED_MODES:
            raise ValueError(f"`fused` must be one of {FUSED_MODES}. Received: fused={fused!r}")
        self.fused = fused

    def get_config(self):
        config = super().get_config()
        if self.fused is not None:
            config["fused"] = self.fused
        return config

    def _can_fuse(self, inputs, training, mask):
        mode = self.FUSED_DEFAULT if self.fused is None else self.fused
        mode = "inference" if mode is None else mode
        in_training = bool(training and self.trainable)
        wanted = mode is True or mode == ("training" if in_training else "inference")
        return (
            wanted
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and keras.backend.standardize_dtype(inputs.dtype) in FUSED_DTYPES
            and keras.backend.standardize_dtype(self.variable_dtype) == "float32"
            and ops.has_fused_batch_norm()
        )

    def _float64_call(self, inputs, training):
        """Keras's normalization written out in float64: ``(x - mean) / sqrt(var + eps)``.

        On JAX and PyTorch, Keras's own path loses float64 precision (measured: outputs
        4e-7 from the exact values on JAX, and finite-difference gradient checks of MGIC
        blocks off by 0.5% to 1%), so float64 layers without a mask, renormalization or
        synchronization take this path on every backend.
        """
        axes = [i for i in range(len(inputs.shape)) if i != self.axis % len(inputs.shape)]
        if training and self.trainable:
            mean, variance = keras.ops.moments(inputs, axes=axes)
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1 - self.momentum)
            )
        else:
            mean, variance = self.moving_mean, self.moving_variance
        shape = [1] * len(inputs.shape)
        shape[self.axis] = inputs.shape[self.axis]
        outputs = (inputs - keras.ops.reshape(mean, shape)) / keras.ops.sqrt(
            keras.ops.reshape(variance, shape) + self.epsilon
        )
        if self.scale:
            outputs = outputs * keras.ops.reshape(self.gamma, shape)
        if self.center:
            outputs = outputs + keras.ops.reshape(self.beta, shape)
        return outputs

    def call(self, inputs, training=None, mask=None):
        if (
            keras.backend.standardize_dtype(inputs.dtype) == "float64"
            and mask is None
            and not self.renorm
            and not self.synchronized
        ):
            return self._float64_call(inputs, training)
        if not self._can_fuse(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else keras.ops.ones((channels,), "float32")
        beta = self.beta if self.center else keras.ops.zeros((channels,), "float32")
        if training and self.trainable:
            outputs, mean, variance = ops.fused_batch_norm(
                inputs, gamma, beta, epsilon=self.epsilon, training=True
            )
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1 - self.momentum)
            )
        else:
            outputs, _, _ = ops.fused_batch_norm(
                inputs,
                gamma,
                beta,
                mean=self.moving_mean,
                variance=self.moving_variance,
                epsilon=self.epsilon,
                training=False,
            )
        return keras.ops.cast(outputs, self.compute_dtype)
