"""A small Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021)
and its MGIC twin, in the style of ``keras.applications``.

The image is cut into ``patch_size x patch_size`` patches (a strided convolution,
``patch_embed``), a learned position embedding is added (``pos_embed``), and ``depth``
pre-norm encoder blocks follow::

    x = x + MultiHeadAttention(LayerNorm(x))      # blockN_norm1, blockN_attention
    x = x + FeedForward(LayerNorm(x))             # blockN_norm2, blockN_mlp

then a final LayerNorm and, with ``include_top``, global average pooling over the tokens and
the classifier (no class token, as in Beyer et al., "Better plain ViT baselines", 2022).
``include_top=False`` returns the tokens on their patch grid, a 4D feature map.

- **Dense** (``mgic=False``): the feed-forward is ``Dense(dim * mlp_ratio, gelu)``
  (``blockN_mlp_dense1``) then ``Dense(dim)`` (``blockN_mlp_dense2``).
- **MGIC** (``mgic=True``): it is one :class:`~keras_mgic.layers.MGICFeedForward`
  (``blockN_mlp``), with its default kernels (``VarianceScaling(0.7, "fan_in")``, so that
  it starts no larger than the dense feed-forward). Everything else (patch embedding,
  attention, norms, head) is the same code, so the two twins differ only there.

The feed-forward holds two thirds of a ViT block's weights (``8 dim^2`` of ``12 dim^2``);
at ``dim = 256`` with the defaults ``group_size=64, coarsest_size=128`` MGIC keeps about a
third of them (see ``MGICFeedForward`` and BENCHMARKS.md, section ``token_models``).
"""

import functools

import keras

from keras_mgic.layers.tokens import PositionEmbedding
from keras_mgic.layers.validation import positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps
from keras_mgic.models import token_blocks as tokens

#: Defaults of the builders: a ViT for 32x32 images with 4x4 patches (64 tokens).
DEFAULTS = {"patch_size": 4, "dim": 256, "depth": 4, "heads": 4, "mlp_ratio": 4}
#: Default ``(group_size, coarsest_size)`` of the MGIC twin (``MGICFeedForward``'s).
MGIC_DEFAULTS = (64, 128)


def _check_heads(heads, dim):
    positive_int("heads", heads)
    if dim % heads:
        raise ValueError(
            f"`dim` must be a multiple of `heads` (each head is dim / heads wide). "
            f"Received: dim={dim}, heads={heads}"
        )


def _encoder_block(x, heads, hidden, dropout_rate, mgic_args, name):
    dim = x.shape[-1]
    y = tokens.layer_norm(f"{name}_norm1")(x)
    y = keras.layers.MultiHeadAttention(
        heads, dim // heads, dropout=dropout_rate, name=f"{name}_attention"
    )(y, y)
    x = keras.layers.Add(name=f"{name}_add1")([x, y])
    y = tokens.layer_norm(f"{name}_norm2")(x)
    y = tokens.feed_forward(y, hidden, dropout_rate, mgic_args, f"{name}_mlp")
    return keras.layers.Add(name=f"{name}_add2")([x, y])


def VisionTransformer(
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
    heads=DEFAULTS["heads"],
    mlp_ratio=DEFAULTS["mlp_ratio"],
    dropout_rate=0.0,
    mgic=False,
    group_size=MGIC_DEFAULTS[0],
    coarsest_size=MGIC_DEFAULTS[1],
    coarsening="reference",
):
    """Builds a Vision Transformer, dense (``mgic=False``) or with MGIC feed-forwards.

    See the module docstring for the layout; ``MGICVisionTransformer`` is this builder with
    ``mgic=True``.

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name: as in ``keras.applications`` (see
            ``MGICVisionTransformer``); the default input is ``(32, 32, 3)``, 10 classes,
            name ``"vit"`` (``"mgic_vit"`` with ``mgic=True``).
        include_preprocessing: whether the model rescales raw ``[0, 255]`` pixels to
            ``[-1, 1]`` inside; default False.
        patch_size, dim, depth, heads, mlp_ratio, dropout_rate: the architecture (defaults
            4, 256, 4, 4, 4, 0).
        mgic: whether every feed-forward is an ``MGICFeedForward``.
        group_size, coarsest_size, coarsening: of the ``MGICFeedForward`` s (ignored when
            ``mgic=False``); defaults 64, 128, ``"reference"``.

    Returns:
        A ``keras.Model``.

    Raises:
        ValueError: for an argument out of range, naming it and its value.

    Example:

    >>> dense = VisionTransformer(dim=128, depth=1, heads=2)
    >>> mgic = VisionTransformer(dim=128, depth=1, heads=2, mgic=True, group_size=16,
    ...                          coarsest_size=32)
    >>> mgic.count_params() < dense.count_params()
    True
    """
    mgic_args = (group_size, coarsest_size, coarsening)
    hidden = tokens.check_arguments(
        patch_size, dim, depth, mlp_ratio, dropout_rate, mgic, mgic_args
    )
    _check_heads(heads, dim)
    apps.check_head(include_top, classes, pooling, 0.0)
    apps.check_weights(weights)
    size = tokens.DEFAULT_SIZE
    img_input = apps.model_input(input_shape, input_tensor, size, patch_size)
    grid = tokens.patch_grid(img_input, patch_size)

    x = apps.preprocess(img_input, include_preprocessing)
    x = tokens.patch_embedding(x, patch_size, dim)
    x = PositionEmbedding(name="pos_embed")(x)
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, name="embed_dropout")(x)
    for index in range(1, depth + 1):
        x = _encoder_block(
            x, heads, hidden, dropout_rate, mgic_args if mgic else None, f"block{index}"
        )
    x = tokens.head(x, grid, include_top, pooling, classes, classifier_activation)
    name = name or ("mgic_vit" if mgic else "vit")
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
        ("name", "mgic_vit"),
    )
    keyword_only = [
        ("include_preprocessing", False),
        *DEFAULTS.items(),
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
        name="mgic_vit",
    )
    args += "\n" + tokens.TOKEN_ARGS_DOC.format(
        heads_doc="\n    heads: attention heads (``dim`` must be a multiple); default 4.",
        **{k: v for k, v in DEFAULTS.items() if k != "heads"},
    )
    args += "\n" + tokens.TOKEN_MGIC_ARGS_DOC.format(
        group_size=MGIC_DEFAULTS[0], coarsest_size=MGIC_DEFAULTS[1]
    )
    return apps.builder_doc(
        "MGIC-ViT: a small Vision Transformer whose feed-forwards are ``MGICFeedForward`` s.",
        "``VisionTransformer(mgic=True)`` with the same arguments; its dense twin is\n"
        "``VisionTransformer()`` (``keras_mgic.models.MODELS['vit']``).",
        args,
        ">>> MGICVisionTransformer(dim=128, depth=1, heads=2, group_size=16).output_shape\n"
        "(None, 10)",
    )


MGICVisionTransformer = apps.named_builder(
    "MGICVisionTransformer",
    functools.partial(VisionTransformer, mgic=True),
    _signature(),
    _doc(),
    __name__,
)


#: Raw ``[0, 255]`` images to ``[-1, 1]`` (``token_blocks.preprocess_input``).
preprocess_input = tokens.preprocess_input


#: The ``top`` classes of each prediction, as ``keras.applications``' helper.
decode_predictions = helpers.decode_classes
