"""Mixed-precision models: a float32 twin to export.

Converting a ``mixed_float16``/``mixed_bfloat16`` (or pure ``float16``/``bfloat16``) model
directly would put float16 casts and arithmetic in the exported graph, and those ops have no
builtin TFLite kernels. :func:`float32_model` rebuilds the model in float32 from its config
and copies the weights, so the exported file computes what the float32 model with the same
weights computes.
"""

import numpy as np

REDUCED_PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16", "float16", "bfloat16")
_DTYPE_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy")


def dtype_name(dtype):
    """The name of a dtype object or string (``"float32"``)."""
    return getattr(dtype, "name", str(dtype))


def _is_reduced_precision(dtype):
    if isinstance(dtype, str):
        return dtype in REDUCED_PRECISION_POLICIES
    if isinstance(dtype, dict) and dtype.get("class_name") in _DTYPE_POLICY_CLASSES:
        return dtype.get("config", {}).get("name") in REDUCED_PRECISION_POLICIES
    return False


def _force_float32(config):
    """Returns ``config`` with every reduced-precision dtype policy replaced by float32."""
    if isinstance(config, dict):
        return {
            key: "float32"
            if key == "dtype" and _is_reduced_precision(value)
            else _force_float32(value)
            for key, value in config.items()
        }
    if isinstance(config, (list, tuple)):
        return type(config)(_force_float32(value) for value in config)
    return config


def _rebuild(serialized, input_shape):
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        twin = keras.saving.deserialize_keras_object(serialized)
    finally:
        keras.config.set_dtype_policy(previous)
    if not twin.built:
        twin.build(input_shape)
    return twin


def _copy_weights(source, target):
    import keras

    if len(source) != len(target):
        raise ValueError(
            "Could not rebuild the model in float32: the rebuilt model has a different "
            f"number of weights. Received: len(model.weights)={len(source)}, "
            f"len(rebuilt.weights)={len(target)}"
        )
    for src, dst in zip(source, target, strict=True):
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(
                "Could not rebuild the model in float32: weight shapes differ. "
                f"Received: {src.path}={tuple(src.shape)}, {dst.path}={tuple(dst.shape)}"
            )
        dst.assign(np.asarray(keras.ops.convert_to_numpy(src.value), dtype="float32"))


def float32_model(model):
    """Returns a float32 twin of a mixed-precision model, or the model itself.

    The twin is rebuilt from the model's serialized config with every ``mixed_float16``,
    ``mixed_bfloat16``, ``float16`` or ``bfloat16`` dtype policy replaced by ``float32``
    (the global policy is ``float32`` while it is built), then receives a float32 copy of
    every weight. Nested MGIC layers follow: they create their sub-layers with their own
    dtype policy. A model that is float32 throughout is returned unchanged.

    Args:
        model: a built ``keras.Model`` whose class can be rebuilt from its config
            (functional, Sequential, or a registered subclass with ``get_config``).

    Returns:
        A ``keras.Model`` with only float32 variables and float32 compute.

    Example:

    >>> keras.mixed_precision.set_global_policy("mixed_float16")
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    >>> keras.mixed_precision.set_global_policy("float32")
    >>> float32_model(model).layers[0].compute_dtype
    'float32'
    """
    import keras

    serialized = keras.saving.serialize_keras_object(model)
    forced = _force_float32(serialized["config"])
    weights_float32 = all(dtype_name(w.dtype) == "float32" for w in model.weights)
    if forced == serialized["config"] and weights_float32:
        return model
    serialized = dict(serialized, config=forced)
    serialized.pop("compile_config", None)
    twin = _rebuild(serialized, model.inputs[0].shape if model.inputs else None)
    _copy_weights(model.weights, twin.weights)
    return twin
