"""What the token models (``vision_transformer``, ``mlp_mixer``) share: argument checks, the
patch embedding, the feed-forward (dense or MGIC, the only part that differs between a model
and its twin) and the head.

Both models cut the image into ``patch_size x patch_size`` patches with one strided
convolution (``patch_embed``), work on the ``(batch, tokens, dim)`` sequence, and end with a
LayerNormalization (``final_norm``) whose output is reshaped back to the patch grid
``(batch, height / patch_size, width / patch_size, dim)``: that 4D feature map is what
``include_top=False`` returns, and the head pools it like the CNN builders'
(``GlobalAveragePooling2D`` named ``avg_pool``, then ``predictions``).
"""

import numbers

import keras

from keras_mgic.layers.channel_hierarchy import check_coarsening
from keras_mgic.layers.feed_forward import MGICFeedForward
from keras_mgic.layers.validation import dropout_rate as check_dropout_rate
from keras_mgic.layers.validation import positive_even_int, positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps

#: LayerNormalization's epsilon in the token models (the ViT paper's code uses 1e-6).
LN_EPSILON = 1e-6
#: The default input: the size of the offline digits and CIFAR images.
DEFAULT_SIZE = 32


def hidden_dim(dim, mlp_ratio):
    """``dim * mlp_ratio``, the feed-forward's hidden width: a positive integer, or a
    ValueError naming ``mlp_ratio``."""
    ok = isinstance(mlp_ratio, numbers.Real) and not isinstance(mlp_ratio, bool)
    hidden = dim * mlp_ratio if ok and mlp_ratio > 0 else None
    if hidden is None or hidden != int(hidden):
        raise ValueError(
            "`mlp_ratio` must be a positive number with `dim * mlp_ratio` a whole number of "
            f"hidden units. Received: mlp_ratio={mlp_ratio!r} (dim={dim})"
        )
    return int(hidden)


def check_arguments(patch_size, dim, depth, mlp_ratio, dropout_rate, mgic, mgic_args):
    """Checks the architecture arguments; returns the feed-forward's hidden width."""
    positive_int("patch_size", patch_size)
    positive_int("dim", dim)
    positive_int("depth", depth)
    check_dropout_rate(dropout_rate)
    hidden = hidden_dim(dim, mlp_ratio)
    if not isinstance(mgic, bool):
        raise ValueError(f"`mgic` must be True or False. Received: mgic={mgic!r}")
    if mgic:
        group_size, coarsest_size, coarsening = mgic_args
        positive_even_int("group_size", group_size)
        positive_int("coarsest_size", coarsest_size)
        check_coarsening(coarsening)
        if dim >= group_size and dim % group_size:
            raise ValueError(
                "`dim` must be a multiple of `group_size` (or smaller than it) in an MGIC model. "
                f"Received: dim={dim}, group_size={group_size}"
            )
        # The layer's own check of the hidden widths per level, before anything is built.
        MGICFeedForward(hidden, group_size, coarsest_size, coarsening=coarsening).levels(dim)
    return hidden


def patch_grid(img_input, patch_size):
    """``(rows, cols)`` of patches; a ValueError unless the input's height and width are
    known multiples of ``patch_size``."""
    height, width = img_input.shape[1:3]
    if height is None or width is None or height % patch_size or width % patch_size:
        raise ValueError(
            "The token models need a fixed input height and width, each a multiple of "
            f"`patch_size` (one token per patch). Received: input_shape="
            f"{tuple(img_input.shape[1:])}, patch_size={patch_size}"
        )
    return height // patch_size, width // patch_size


def patch_embedding(x, patch_size, dim):
    """Patches to tokens: a ``patch_size``-strided ``patch_size x patch_size`` convolution
    (``patch_embed``) and a reshape to ``(batch, tokens, dim)``."""
    x = keras.layers.Conv2D(
        dim, patch_size, strides=patch_size, padding="valid", name="patch_embed"
    )(x)
    return keras.layers.Reshape((-1, dim), name="tokens")(x)


def layer_norm(name):
    return keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=name)


def feed_forward(x, hidden, dropout_rate, mgic_args, name):
    """The token feed-forward ``(..., dim) -> (..., dim)``: ``MGICFeedForward`` named
    ``{name}`` when ``mgic_args = (group_size, coarsest_size, coarsening)``, else the dense
    ``Dense(hidden, gelu)`` (``{name}_dense1``) and ``Dense(dim)`` (``{name}_dense2``). The
    dense one has LeCun-normal kernels; the MGIC one ``MGICFeedForward``'s default,
    ``VarianceScaling(0.7, "fan_in")`` (fan-in scaling, which the grouped kernels need, scaled
    down so that the sum of its levels starts no larger than the dense output)."""
    dim = x.shape[-1]
    if mgic_args is not None:
        group_size, coarsest_size, coarsening = mgic_args
        x = MGICFeedForward(
            hidden,
            group_size=group_size,
            coarsest_size=coarsest_size,
            coarsening=coarsening,
            name=name,
        )(x)
    else:
        x = keras.layers.Dense(
            hidden, activation="gelu", kernel_initializer="lecun_normal", name=f"{name}_dense1"
        )(x)
        x = keras.layers.Dense(dim, kernel_initializer="lecun_normal", name=f"{name}_dense2")(x)
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    return x


def head(x, grid, include_top, pooling, classes, classifier_activation):
    """``final_norm``, the tokens back on the patch grid, then the classifier or the pooling."""
    x = layer_norm("final_norm")(x)
    x = keras.layers.Reshape((*grid, x.shape[-1]), name="feature_map")(x)
    if not include_top:
        return apps.global_pooling(x, pooling)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.layers.Dense(
        classes, activation=classifier_activation, dtype=apps.head_dtype(), name="predictions"
    )(x)


#: The ``Args`` lines of the architecture arguments both families share.
TOKEN_ARGS_DOC = """\
    patch_size: side of the square patches, one token each; the input height and width must
        be multiples of it. Default {patch_size}.
    dim: the token width (channels); default {dim}.
    depth: the number of blocks; default {depth}.{heads_doc}
    mlp_ratio: the feed-forward's hidden width over ``dim`` (``dim * mlp_ratio`` must be
        whole); default {mlp_ratio}.
    dropout_rate: dropout after the feed-forward (and the attention) of every block, in
        ``[0, 1)``; default 0."""

#: The ``Args`` lines of the MGIC arguments of the token models.
TOKEN_MGIC_ARGS_DOC = """\
    group_size: ``s_g`` of every ``MGICFeedForward``, channels per group on the fine levels;
        ``dim`` must be a multiple of it. Default {group_size}.
    coarsest_size: ``s_c``, the coarsening threshold of every ``MGICFeedForward``; default
        {coarsest_size}.
    coarsening: ``"reference"`` (default) or ``"literal"``, see ``MGICFeedForward``."""


def preprocess_input(x, data_format=None):
    """Raw ``[0, 255]`` images to ``[-1, 1]``, what ``include_preprocessing=True`` does
    inside the model (these builders default to preprocessed input).

    Example:

    >>> preprocess_input(np.array([0.0, 255.0])).tolist()
    [-1.0, 1.0]
    """
    return helpers.rescale_input(x, data_format=data_format)
