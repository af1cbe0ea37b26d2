"""Per-level CNN blocks of an MGIC block: each maps ``filters`` channels to ``filters``
channels at the same spatial size, with its convolutions split into ``groups`` groups.

A user's own block only needs the same constructor contract (``filters``, ``groups`` and
``**kwargs`` passed to ``keras.layers.Layer``) and registration with
``keras.saving.register_keras_serializable``; pass the class as ``MGICBlock(block=...)``.
``MGICBlock`` gives it channels-last tensors.

Every convolution kernel gets its own initializer draw (see
``keras_mgic.layers.layer_utils.fresh_initializer``): a shared seeded initializer would start
convolutions of one shape, e.g. the two of a ``ResidualBlock``, with identical kernels.
"""

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.channel_hierarchy import make_divisible
from keras_mgic.layers.grouped_conv import GroupedConv2D
from keras_mgic.layers.layer_utils import (
    channel_axis,
    fresh_initializer,
    from_channels_last,
    shape_to_channels_last,
    standardize_data_format,
    to_channels_last,
)
from keras_mgic.layers.validation import dropout_rate as check_dropout_rate
from keras_mgic.layers.validation import image_channels, positive_int


class _LevelBlock(keras.layers.Layer):
    """Shared argument handling of the per-level blocks.

    Subclasses list their sublayers in ``_chain()`` and compute channels-last in
    ``_forward``; ``call`` converts from and to ``data_format``.
    """

    def __init__(
        self,
        filters,
        groups=1,
        kernel_size=3,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self._weights_made = 0
        self.filters = positive_int("filters", filters)
        self.groups = positive_int("groups", groups)
        if filters % groups:
            raise ValueError(
                "`filters` must be divisible by `groups`. "
                f"Received: filters={filters}, groups={groups}"
            )
        self.kernel_size = positive_int("kernel_size", kernel_size)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(
            ndim=4, axes={channel_axis(self.data_format): filters}
        )

    def _initializer(self):
        """A new instance of the kernel initializer for each weight (its own draw)."""
        self._weights_made += 1
        return fresh_initializer(self.kernel_initializer, offset=self._weights_made - 1)

    def _conv(self, filters, kernel_size, groups, name):
        return GroupedConv2D(
            filters,
            kernel_size,
            padding="same",
            groups=groups,
            use_bias=False,
            kernel_initializer=self._initializer(),
            kernel_regularizer=self.kernel_regularizer,
            data_format="channels_last",
            dtype=self.dtype_policy,
            name=name,
        )

    def _norm(self, name):
        return BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=self.dtype_policy, name=name
        )

    def _check_input(self, input_shape):
        channels = image_channels(self.__class__.__name__, input_shape, self.data_format)
        if channels != self.filters:
            raise ValueError(
                f"{self.__class__.__name__} keeps the width: its input must have "
                f"`filters` channels. Received: channels={channels}, filters={self.filters}"
            )

    def build(self, input_shape):
        self._check_input(input_shape)
        shape = shape_to_channels_last(input_shape, self.data_format)
        for layer in self._chain():
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = to_channels_last(inputs, self.data_format)
        return from_channels_last(self._forward(x, training), self.data_format)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "groups": self.groups,
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "data_format": self.data_format,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_mgic")
class ResidualBlock(_LevelBlock):
    """ResNet basic block with grouped convolutions.

    ``act(x + BN(conv(act(BN(conv(x))))))`` with two ``kernel_size`` convolutions of
    ``groups`` groups each.

    Args:
        filters: input and output channels.
        groups: channel groups of both convolutions (1 is a dense block).
        kernel_size: spatial kernel size.
        activation: activation after each BatchNorm and after the sum.
        kernel_initializer: initializer of the convolution kernels.
        kernel_regularizer: optional regularizer of the convolution kernels.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.

    Example:

    >>> block = ResidualBlock(filters=16, groups=2)
    >>> tuple(block(keras.ops.ones((1, 8, 8, 16))).shape)
    (1, 8, 8, 16)
    """

    def __init__(
        self,
        filters,
        groups=1,
        kernel_size=3,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            groups,
            kernel_size=kernel_size,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            data_format=data_format,
            **kwargs,
        )
        self.conv1 = self._conv(filters, self.kernel_size, groups, "conv1")
        self.bn1 = self._norm("bn1")
        self.conv2 = self._conv(filters, self.kernel_size, groups, "conv2")
        self.bn2 = self._norm("bn2")

    def _chain(self):
        return [self.conv1, self.bn1, self.conv2, self.bn2]

    def _forward(self, inputs, training):
        x = self.activation(self.bn1(self.conv1(inputs), training=training))
        x = self.bn2(self.conv2(x), training=training)
        return self.activation(inputs + x)


@keras.saving.register_keras_serializable(package="keras_mgic")
class BottleneckBlock(_LevelBlock):
    """ResNet-50 bottleneck block with grouped convolutions.

    1x1 conv to ``filters // bottleneck_ratio`` channels, ``kernel_size`` conv, 1x1 conv
    back to ``filters``, each followed by BatchNorm (and the activation, but for the last,
    which comes after the residual sum). All three convolutions have ``groups`` groups.
    With ``activate_before_skip=True`` the activation is also applied to the last BatchNorm's
    output before the sum, ``act(x + act(BN3(...)))``: what the paper's reference code
    (BGUCompSci/MultigridInChannelsCNNs, ``resnetMG.py``) does on the coarsest level of an
    MGIC block, where ``MGICBlock`` sets it.

    Args:
        filters: input and output channels.
        groups: channel groups of the three convolutions; must divide the bottleneck width.
        bottleneck_ratio: ``filters`` over the bottleneck width (4 in ResNet-50).
        activate_before_skip: bool, apply the activation to the last BatchNorm's output
            before the residual sum too.
        kernel_size: spatial kernel size of the middle convolution.
        activation: activation function.
        kernel_initializer: initializer of the convolution kernels.
        kernel_regularizer: optional regularizer of the convolution kernels.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.

    Example:

    >>> block = BottleneckBlock(filters=64, groups=2)
    >>> tuple(block(keras.ops.ones((1, 8, 8, 64))).shape)
    (1, 8, 8, 64)
    """

    def __init__(
        self,
        filters,
        groups=1,
        bottleneck_ratio=4,
        activate_before_skip=False,
        kernel_size=3,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            groups,
            kernel_size=kernel_size,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            data_format=data_format,
            **kwargs,
        )
        self.bottleneck_ratio = positive_int("bottleneck_ratio", bottleneck_ratio)
        if not isinstance(activate_before_skip, bool):
            raise ValueError(
                "`activate_before_skip` must be a bool. "
                f"Received: activate_before_skip={activate_before_skip!r}"
            )
        self.activate_before_skip = activate_before_skip
        width = filters // bottleneck_ratio
        if width == 0 or filters % bottleneck_ratio or width % groups:
            raise ValueError(
                "The bottleneck width `filters // bottleneck_ratio` must be a positive "
                "multiple of `groups`. Received: "
                f"filters={filters}, bottleneck_ratio={bottleneck_ratio}, groups={groups}"
            )
        self.conv1 = self._conv(width, 1, groups, "conv1")
        self.bn1 = self._norm("bn1")
        self.conv2 = self._conv(width, self.kernel_size, groups, "conv2")
        self.bn2 = self._norm("bn2")
        self.conv3 = self._conv(filters, 1, groups, "conv3")
        self.bn3 = self._norm("bn3")

    def _chain(self):
        return [self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3]

    def _forward(self, inputs, training):
        x = self.activation(self.bn1(self.conv1(inputs), training=training))
        x = self.activation(self.bn2(self.conv2(x), training=training))
        x = self.bn3(self.conv3(x), training=training)
        if self.activate_before_skip:
            x = self.activation(x)
        return self.activation(inputs + x)

    def get_config(self):
        config = super().get_config()
        config["bottleneck_ratio"] = self.bottleneck_ratio
        config["activate_before_skip"] = self.activate_before_skip
        return config


@keras.saving.register_keras_serializable(package="keras_mgic")
class PreActResidualBlock(_LevelBlock):
    """Pre-activation basic block of Wide ResNets, with grouped convolutions.

    ``x + conv2(dropout(act(BN2(conv1(act(BN1(x)))))))``: BatchNorm and the activation come
    before each ``kernel_size`` convolution and nothing follows the sum (He et al., "Identity
    Mappings in Deep Residual Networks", 2016; the block of Zagoruyko & Komodakis, "Wide
    Residual Networks", 2016, with dropout between the two convolutions).

    Args:
        filters: input and output channels.
        groups: channel groups of both convolutions (1 is a dense block).
        dropout_rate: dropout between the two convolutions, in ``[0, 1)``; default 0.
        kernel_size: spatial kernel size.
        activation: activation after each BatchNorm.
        kernel_initializer: initializer of the convolution kernels.
        kernel_regularizer: optional regularizer of the convolution kernels.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.

    Example:

    >>> block = PreActResidualBlock(filters=16, groups=2, dropout_rate=0.3)
    >>> tuple(block(keras.ops.ones((1, 8, 8, 16))).shape)
    (1, 8, 8, 16)
    """

    def __init__(
        self,
        filters,
        groups=1,
        dropout_rate=0.0,
        kernel_size=3,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            groups,
            kernel_size=kernel_size,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            data_format=data_format,
            **kwargs,
        )
        self.dropout_rate = check_dropout_rate(dropout_rate)
        self.bn1 = self._norm("bn1")
        self.conv1 = self._conv(filters, self.kernel_size, groups, "conv1")
        self.bn2 = self._norm("bn2")
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout")
        self.conv2 = self._conv(filters, self.kernel_size, groups, "conv2")

    def _chain(self):
        return [self.bn1, self.conv1, self.bn2, self.dropout, self.conv2]

    def _forward(self, inputs, training):
        x = self.conv1(self.activation(self.bn1(inputs, training=training)))
        x = self.activation(self.bn2(x, training=training))
        x = self.conv2(self.dropout(x, training=training))
        return inputs + x

    def get_config(self):
        config = super().get_config()
        config["dropout_rate"] = self.dropout_rate
        return config


@keras.saving.register_keras_serializable(package="keras_mgic")
class SqueezeExcite(keras.layers.Layer):
    """MobileNetV3 squeeze-and-excite: channel gates from globally pooled features.

    Args:
        filters: channels of the input (and of the gates).
        squeeze_filters: width of the bottleneck between the two 1x1 convolutions.
        groups: channel groups of both 1x1 convolutions; must divide ``filters`` and
            ``squeeze_filters`` (an MGIC fine level groups them like its other 1x1 convs).
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.

    Example:

    >>> se = SqueezeExcite(filters=16, squeeze_filters=8)
    >>> tuple(se(keras.ops.ones((1, 4, 4, 16))).shape)
    (1, 4, 4, 16)
    """

    def __init__(self, filters, squeeze_filters, groups=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.filters = positive_int("filters", filters)
        self.squeeze_filters = positive_int("squeeze_filters", squeeze_filters)
        self.groups = positive_int("groups", groups)
        if filters % groups or squeeze_filters % groups:
            raise ValueError(
                "`groups` must divide `filters` and `squeeze_filters`. Received: "
                f"filters={filters}, squeeze_filters={squeeze_filters}, groups={groups}"
            )
        self.input_spec = keras.layers.InputSpec(ndim=4)
        self.reduce = GroupedConv2D(
            squeeze_filters,
            1,
            groups=groups,
            activation="relu",
            data_format="channels_last",
            dtype=self.dtype_policy,
            name="reduce",
        )
        self.expand = GroupedConv2D(
            filters,
            1,
            groups=groups,
            activation="hard_sigmoid",
            data_format="channels_last",
            dtype=self.dtype_policy,
            name="expand",
        )

    def build(self, input_shape):
        channels = image_channels("SqueezeExcite", input_shape, self.data_format)
        if channels != self.filters:
            raise ValueError(
                "SqueezeExcite gates its input's channels: the input must have `filters` "
                f"channels. Received: channels={channels}, filters={self.filters}"
            )
        pooled = (input_shape[0], 1, 1, channels)
        self.reduce.build(pooled)
        self.expand.build(self.reduce.compute_output_shape(pooled))

    def call(self, inputs):
        spatial = (2, 3) if self.data_format == "channels_first" else (1, 2)
        pooled = to_channels_last(
            keras.ops.mean(inputs, axis=spatial, keepdims=True), self.data_format
        )
        return inputs * from_channels_last(self.expand(self.reduce(pooled)), self.data_format)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "squeeze_filters": self.squeeze_filters,
                "groups": self.groups,
                "data_format": self.data_format,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_mgic")
class InvertedResidualBlock(_LevelBlock):
    """MobileNetV3 inverted residual block with grouped 1x1 convolutions.

    Expansion 1x1 conv to ``expanded_filters`` (``groups`` groups), BatchNorm, activation
    (skipped when ``expansion_ratio == 1``, as in MobileNetV3's first block); depthwise
    ``kernel_size`` conv (dilated by ``dilation_rate``), BatchNorm, activation; optional
    squeeze-and-excite (its 1x1 convolutions grouped too); linear projection 1x1 conv back to
    ``filters`` (``groups`` groups), BatchNorm; plus the input.

    Args:
        filters: input and output channels.
        groups: channel groups of the two 1x1 convolutions.
        expansion_ratio: expanded width over ``filters``; the expanded width is rounded to
            a multiple of ``8 * groups`` (or of ``groups`` if smaller than 8).
        kernel_size: depthwise kernel size (3 or 5 in MobileNetV3).
        se_ratio: squeeze-and-excite bottleneck over the expanded width, or None for no SE.
        activation: ``"relu"`` or ``"hard_swish"`` (any Keras activation).
        kernel_initializer: initializer of the convolution kernels.
        kernel_regularizer: optional regularizer of the convolution kernels.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        dilation_rate: positive int, the depthwise convolution's dilation (1: none). The
            segmentation encoders use 2 in their last stage, where MobileNetV3's last
            stride-2 row keeps stride 1 (Howard et al. 2019, Sec. 6.4).
        grouped_squeeze_excite: bool; True (default) groups the squeeze-excite's two 1x1
            convolutions like the block's other 1x1 convolutions (``groups`` groups, the
            squeeze width rounded up to a multiple of ``groups``); False keeps them dense.

    Example:

    >>> block = InvertedResidualBlock(filters=16, groups=2, se_ratio=0.25)
    >>> tuple(block(keras.ops.ones((1, 8, 8, 16))).shape)
    (1, 8, 8, 16)
    """

    def __init__(
        self,
        filters,
        groups=1,
        expansion_ratio=4.0,
        se_ratio=None,
        kernel_size=3,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        data_format=None,
        dilation_rate=1,
        grouped_squeeze_excite=True,
        **kwargs,
    ):
        super().__init__(
            filters,
            groups,
            kernel_size=kernel_size,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            data_format=data_format,
            **kwargs,
        )
        self.dilation_rate = positive_int("dilation_rate", dilation_rate)
        if isinstance(expansion_ratio, bool) or not isinstance(expansion_ratio, (int, float)):
            raise ValueError(
                f"`expansion_ratio` must be a number >= 1. Received: expansion_ratio="
                f"{expansion_ratio!r}"
            )
        if expansion_ratio < 1:
            raise ValueError(
                f"`expansion_ratio` must be a number >= 1. Received: expansion_ratio="
                f"{expansion_ratio!r}"
            )
        if se_ratio is not None and (
            isinstance(se_ratio, bool)
            or not isinstance(se_ratio, (int, float))
            or not (0 < se_ratio <= 1)
        ):
            raise ValueError(
                f"`se_ratio` must be in (0, 1] or None. Received: se_ratio={se_ratio!r}"
            )
        if not isinstance(grouped_squeeze_excite, bool):
            raise ValueError(
                "`grouped_squeeze_excite` must be a bool. Received: grouped_squeeze_excite="
                f"{grouped_squeeze_excite!r}"
            )
        self.expansion_ratio = expansion_ratio
        self.se_ratio = se_ratio
        self.grouped_squeeze_excite = grouped_squeeze_excite
        expanded = make_divisible(filters * expansion_ratio, groups * (8 if filters >= 8 else 1))
        self.expanded_filters = filters if expansion_ratio == 1 else expanded
        self.expand = self.expand_bn = None
        if expansion_ratio != 1:
            self.expand = self._conv(expanded, 1, groups, "expand")
            self.expand_bn = self._norm("expand_bn")
        self.depthwise = keras.layers.DepthwiseConv2D(
            self.kernel_size,
            padding="same",
            dilation_rate=self.dilation_rate,
            use_bias=False,
            depthwise_initializer=self._initializer(),
            depthwise_regularizer=self.kernel_regularizer,
            data_format="channels_last",
            dtype=self.dtype_policy,
            name="depthwise",
        )
        self.depthwise_bn = self._norm("depthwise_bn")
        self.squeeze_excite = None
        if se_ratio is not None:
            se_groups = groups if grouped_squeeze_excite else 1
            squeeze = make_divisible(self.expanded_filters * se_ratio, 8)
            squeeze = -(-squeeze // se_groups) * se_groups
            self.squeeze_excite = SqueezeExcite(
                self.expanded_filters,
                squeeze,
                groups=se_groups,
                data_format="channels_last",
                dtype=self.dtype_policy,
                name="squeeze_excite",
            )
        self.project = self._conv(filters, 1, groups, "project")
        self.project_bn = self._norm("project_bn")

    def _chain(self):
        chain = [self.depthwise, self.depthwise_bn]
        if self.expand is not None:
            chain = [self.expand, self.expand_bn] + chain
        if self.squeeze_excite is not None:
            chain.append(self.squeeze_excite)
        return chain + [self.project, self.project_bn]

    def _forward(self, inputs, training):
        x = inputs
        if self.expand is not None:
            x = self.activation(self.expand_bn(self.expand(x), training=training))
        x = self.activation(self.depthwise_bn(self.depthwise(x), training=training))
        if self.squeeze_excite is not None:
            x = self.squeeze_excite(x)
        x = self.project_bn(self.project(x), training=training)
        return inputs + x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "expansion_ratio": self.expansion_ratio,
                "se_ratio": self.se_ratio,
                "dilation_rate": self.dilation_rate,
                "grouped_squeeze_excite": self.grouped_squeeze_excite,
            }
        )
        return config


LEVEL_BLOCKS = {
    "residual": ResidualBlock,
    "bottleneck": BottleneckBlock,
    "inverted_residual": InvertedResidualBlock,
    "preact_residual": PreActResidualBlock,
}
