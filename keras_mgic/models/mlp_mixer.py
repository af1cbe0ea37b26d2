"""A small MLP-Mixer (Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision",
NeurIPS 2021) and its MGIC twin, in the style of ``keras.applications``.

The image is cut into ``patch_size x patch_size`` patches (a strided convolution,
``patch_embed``) and ``depth`` Mixer blocks follow::

    x = x + TokenMLP(LayerNorm(x)^T)^T      # blockN_norm1, blockN_token_mlp_dense1/2
    x = x + ChannelMLP(LayerNorm(x))        # blockN_norm2, blockN_mlp

then a final LayerNorm and, with ``include_top``, global average pooling and the classifier.
The token MLP mixes the patches, per channel: ``Dense(token_mlp_dim, gelu) -> Dense(tokens)``
on the transposed tokens (``token_mlp_dim`` defaults to ``dim / 2``, the Mixer paper's ratio).
``include_top=False`` returns the tokens on their patch grid, a 4D feature map.

- **Dense** (``mgic=False``): the channel MLP is ``Dense(dim * mlp_ratio, gelu)``
  (``blockN_mlp_dense1``) then ``Dense(dim)`` (``blockN_mlp_dense2``).
- **MGIC** (``mgic=True``): it is one :class:`~keras_mgic.layers.MGICFeedForward`
  (``blockN_mlp``), which works on the channels of each token. The token MLP mixes
  positions, not channels, and stays dense in both twins.
"""

import functools

import keras

from keras_mgic.layers.validation import positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps
from keras_mgic.models import token_blocks as tokens

#: Defaults of the builders: a Mixer for 32x32 images with 4x4 patches (64 tokens).
DEFAULTS = {"patch_size": 4, "dim": 256, "depth": 4, "mlp_ratio": 4}
#: Default ``(group_size, coarsest_size)`` of the MGIC twin (``MGICFeedForward``'s).
MGIC_DEFAULTS = (64, 128)


def _mixer_block(x, token_hidden, hidden, dropout_rate, mgic_args, name):
    tokens_count = x.shape[1]
    y = tokens.layer_norm(f"{name}_norm1")(x)
    y = keras.layers.Permute((2, 1), name=f"{name}_transpose1")(y)
    y = keras.layers.Dense(
        token_hidden,
        activation="gelu",
        kernel_initializer="lecun_normal",
        name=f"{name}_token_mlp_dense1",
    )(y)
    y = keras.layers.Dense(
        tokens_count, kernel_initializer="lecun_normal", name=f"{name}_token_mlp_dense2"
    )(y)
    y = keras.layers.Permute((2, 1), name=f"{name}_transpose2")(y)
    if dropout_rate > 0:
        y = keras.layers.Dropout(dropout_rate, name=f"{name}_token_dropout")(y)
    x = keras.layers.Add(name=f"{name}_add1")([x, y])
    y = tokens.layer_norm(f"{name}_norm2")(x)
    y = tokens.feed_forward(y, hidden, dropout_rate, mgic_args, f"{name}_mlp")
    return keras.layers.Add(name=f"{name}_add2")([x, y])


def MLPMixer(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    *,
    include_preprocessing=False,
    patch_size=DEFAULTS["patch_size"],
    dim=DEFAULTS["dim"],
    depth=DEFAULTS["depth"],
    mlp_ratio=DEFAULTS["mlp_ratio"],
    token_mlp_dim=None,
    dropout_rate=0.0,
    mgic=False,
    group_size=MGIC_DEFAULTS[0],
    coarsest_size=MGIC_DEFAULTS[1],
    coarsening="reference",
):
    """Builds an MLP-Mixer, dense (``mgic=False``) or with MGIC channel MLPs.

    See the module docstring for the layout; ``MGICMLPMixer`` is this builder with
    ``mgic=True``.

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name: as in ``keras.applications`` (see
            ``MGICMLPMixer``); the default input is ``(32, 32, 3)``, 10 classes, name
            ``"mlp_mixer"`` (``"mgic_mlp_mixer"`` with ``mgic=True``).
        include_preprocessing: whether the model rescales raw ``[0, 255]`` pixels to
            ``[-1, 1]`` inside; default False.
        patch_size, dim, depth, mlp_ratio, dropout_rate: the architecture (defaults 4, 256,
            4, 4, 0).
        token_mlp_dim: hidden width of the token MLPs; default ``dim // 2``.
        mgic: whether every channel MLP is an ``MGICFeedForward``.
        group_size, coarsest_size, coarsening: of the ``MGICFeedForward`` s (ignored when
            ``mgic=False``); defaults 64, 128, ``"reference"``.

    Returns:
        A ``keras.Model``.

    Raises:
        ValueError: for an argument out of range, naming it and its value.

    Example:

    >>> dense = MLPMixer(dim=128, depth=1)
    >>> mgic = MLPMixer(dim=128, depth=1, mgic=True, group_size=16, coarsest_size=32)
    >>> mgic.count_params() < dense.count_params()
    True
    """
    mgic_args = (group_size, coarsest_size, coarsening)
    hidden = tokens.check_arguments(
        patch_size, dim, depth, mlp_ratio, dropout_rate, mgic, mgic_args
    )
    token_hidden = max(dim // 2, 1) if token_mlp_dim is None else token_mlp_dim
    positive_int("token_mlp_dim", token_hidden)
    apps.check_head(include_top, classes, pooling, 0.0)
    apps.check_weights(weights)
    img_input = apps.model_input(input_shape, input_tensor, tokens.DEFAULT_SIZE, patch_size)
    grid = tokens.patch_grid(img_input, patch_size)

    x = apps.preprocess(img_input, include_preprocessing)
    x = tokens.patch_embedding(x, patch_size, dim)
    for index in range(1, depth + 1):
        x = _mixer_block(
            x, token_hidden, hidden, dropout_rate, mgic_args if mgic else None, f"block{index}"
        )
    x = tokens.head(x, grid, include_top, pooling, classes, classifier_activation)
    name = name or ("mgic_mlp_mixer" if mgic else "mlp_mixer")
    return apps.finish(img_input, input_tensor, x, name, weights)


# ------------------------------------------------------------------------- named builder


def _signature():
    positional = (
        ("include_top", True),
        ("weights", None),
        ("input_tensor", None),
        ("input_shape", None),
        ("pooling", None),
        ("classes", 10),
        ("classifier_activation", "softmax"),
        ("name", "mgic_mlp_mixer"),
    )
    keyword_only = [
        ("include_preprocessing", False),
        *DEFAULTS.items(),
        ("token_mlp_dim", None),
        ("dropout_rate", 0.0),
        ("group_size", MGIC_DEFAULTS[0]),
        ("coarsest_size", MGIC_DEFAULTS[1]),
        ("coarsening", "reference"),
    ]
    return apps.parameters(positional, keyword_only)


def _doc():
    args = apps.KERAS_ARGS_DOC.format(
        default_shape="``(32, 32, 3)``",
        min_size="``patch_size`` (and multiples of it)",
        classes=10,
        include_preprocessing="False",
        preprocessing_note=" (the model expects preprocessed input)",
        name="mgic_mlp_mixer",
    )
    args += "\n" + tokens.TOKEN_ARGS_DOC.format(heads_doc="", **DEFAULTS)
    args += (
        "\n    token_mlp_dim: hidden width of the token-mixing MLPs; default ``dim // 2``.\n"
        + tokens.TOKEN_MGIC_ARGS_DOC.format(
            group_size=MGIC_DEFAULTS[0], coarsest_size=MGIC_DEFAULTS[1]
        )
    )
    return apps.builder_doc(
        "MGIC-Mixer: a small MLP-Mixer whose channel MLPs are ``MGICFeedForward`` s.",
        "``MLPMixer(mgic=True)`` with the same arguments; its dense twin is ``MLPMixer()``\n"
        "(``keras_mgic.models.MODELS['mlp_mixer']``).",
        args,
        ">>> MGICMLPMixer(dim=128, depth=1, group_size=16).output_shape\n(None, 10)",
    )


MGICMLPMixer = apps.named_builder(
    "MGICMLPMixer",
    functools.partial(MLPMixer, mgic=True),
    _signature(),
    _doc(),
    __name__,
)


#: Raw ``[0, 255]`` images to ``[-1, 1]`` (``token_blocks.preprocess_input``).
preprocess_input = tokens.preprocess_input


#: The ``top`` classes of each prediction, as ``keras.applications``' helper.
decode_predictions = helpers.decode_classes
