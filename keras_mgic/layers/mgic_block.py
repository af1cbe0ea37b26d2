"""MGICBlock: Algorithm 1 of the paper, the multigrid-in-channels block."""

import inspect

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.channel_hierarchy import check_coarsening, level_groups, level_widths
from keras_mgic.layers.layer_utils import (
    channel_axis,
    from_channels_last,
    shape_to_channels_last,
    standardize_data_format,
    to_channels_last,
)
from keras_mgic.layers.level_blocks import LEVEL_BLOCKS, BottleneckBlock
from keras_mgic.layers.point_cloud import POINT_LEVEL_BLOCKS
from keras_mgic.layers.point_cloud.diffgcn import input_coordinates
from keras_mgic.layers.point_cloud.knn import check_enough_points, knn_indices
from keras_mgic.layers.transfer import ChannelProlongation, ChannelRestriction
from keras_mgic.layers.validation import feature_channels, positive_even_int, positive_int

#: Built-in per-level blocks by name: image blocks, then point-set blocks.
_BUILT_IN_BLOCKS = {**LEVEL_BLOCKS, **POINT_LEVEL_BLOCKS}

#: The graph inputs a point-set per-level block may take in ``call``, in order.
GRAPH_INPUTS = ("neighbors", "coordinates")


def graph_inputs(block_class):
    """The :data:`GRAPH_INPUTS` that ``block_class.call`` takes, as ``{name: required}``;
    empty for an image block."""
    parameters = inspect.signature(block_class.call).parameters
    return {
        name: parameters[name].default is inspect.Parameter.empty
        for name in GRAPH_INPUTS
        if name in parameters
    }


def _resolve_block(block):
    """Returns the per-level block class for a built-in name, a registered name or a class."""
    if isinstance(block, str):
        if block in _BUILT_IN_BLOCKS:
            return _BUILT_IN_BLOCKS[block]
        registered = keras.saving.get_registered_object(block)
        if inspect.isclass(registered) and issubclass(registered, keras.layers.Layer):
            return registered
        raise ValueError(
            f"Unknown `block`: expected one of {sorted(_BUILT_IN_BLOCKS)}, the registered name "
            "of a Layer class (decorate it with `keras.saving.register_keras_serializable`), or a "
            f"Layer class. Received: block={block!r}"
        )
    if inspect.isclass(block) and issubclass(block, keras.layers.Layer):
        return block
    raise ValueError(
        f"`block` must be one of {sorted(_BUILT_IN_BLOCKS)}, a registered name or a Layer class "
        f"taking `filters` and `groups`. Received: block={block!r}"
    )


def _deserialize_if_serialized(value):
    if isinstance(value, dict) and "class_name" in value:
        return keras.saving.deserialize_keras_object(value)
    return value


def _block_name(block_class):
    for name, cls in _BUILT_IN_BLOCKS.items():
        if cls is block_class:
            return name
    return keras.saving.get_registered_name(block_class)


@keras.saving.register_keras_serializable(package="keras_mgic")
class MGICBlock(keras.layers.Layer):
    """Multigrid-in-channels block (Algorithm 1 of Eliasof et al., SIAM J. Sci. Comput. 2023).

    A drop-in replacement for a CNN block with ``c`` input and output channels whose
    parameters and FLOPs grow linearly with ``c``. The channels form a hierarchy of levels,
    halving the width each time (``c, c/2, c/4, ...``); on every level but the coarsest the
    per-level CNN block, the restriction ``R_j`` and the prolongation ``P_j`` are grouped
    convolutions with ``c_j / group_size`` groups; the coarsest block is fully coupled, so every
    output channel depends on every input channel::

        x_0 = x;  x_{j+1} = R_j x_j                      (going down)
        x_n = block_n(x_n)                                (coarsest, dense)
        x_j = block_j(x_j + BN(P_j(x_{j+1} - R_j x_j)))   (going up, grouped)

    If the per-level block is the identity, so is the whole MGIC block (paper Sec. 4.3).

    Coarsening rule (``coarsening``): by default the paper's public reference code's
    (BGUCompSci/MultigridInChannelsCNNs, ``resnetMG.py``): restrict at least once, then keep
    halving while the width is at least ``coarsest_size``, so for ``c >= s_c`` the coarsest
    level has between ``s_c / 2`` and ``s_c`` channels (``c = 64, s_c = 16``: levels 64, 32,
    16, 8) and a block narrower than ``s_c`` still gets one coarse level (``c = 16, s_c = 32``:
    16, 8). ``coarsening="literal"`` reads Algorithm 1 literally, ``floor(log2(c / s_c)) + 1``
    restrictions and none when ``c < s_c``; the two agree whenever ``c >= s_c``.
    ``BENCHMARKS.md`` compares both with the paper's tables. A level narrower than
    ``group_size`` is fully coupled. See ``keras_mgic.layers.channel_hierarchy`` for the group
    rule on widths that are not ``group_size`` times a power of two.

    With ``block="residual"`` or ``"bottleneck"`` the block computes what the reference code's
    ``MgBlockDwGroup`` computes, given the same weights (``tests/test_golden_blocks.py``). As
    there, the coarsest level's bottleneck also applies the activation to its last
    BatchNorm's output before the skip addition (``BottleneckBlock(...,
    activate_before_skip=True)``, unless ``block_kwargs`` says otherwise). In the reference
    code ``s_g`` and ``s_c`` of a bottleneck block count bottleneck channels (a quarter of the
    block width): its ``(s_g, s_c)`` is ``MGICBlock(group_size=4 * s_g,
    coarsest_size=4 * s_c, block="bottleneck")``.

    Point sets: with a point-set per-level block (``block="diffgcn"`` or ``"edgeconv"``, or
    any block whose ``call`` takes ``neighbors``) the block acts on point features
    ``(batch, points, c)`` (always channels-last; ``data_format`` is for images), the
    transfers are grouped point-wise maps (``ChannelRestriction(..., points=True)``), and the
    graph inputs given to the MGIC block, ``neighbors`` (``(batch, points, k)`` indices, e.g.
    from ``KNNGraph``) and ``coordinates``, are passed to the block of every level, each
    block getting those its ``call`` takes. One graph serves all levels: the levels differ in
    channels, not in points. Without ``neighbors``, ``block_kwargs={"k": k}`` builds the
    k-NN graph of the block's input; without ``coordinates``, the input's first
    ``coordinate_dim`` channels serve (the package's layout: coordinates first).

    Args:
        group_size: positive even int ``s_g``, the channels per group on the fine levels.
        coarsest_size: positive int ``s_c``, see the coarsening rule above.
        block: the per-level CNN block: ``"residual"`` (ResNet basic block),
            ``"bottleneck"`` (ResNet-50 bottleneck), ``"inverted_residual"`` (MobileNetV3),
            ``"diffgcn"`` (``DiffGCNConv``) or ``"edgeconv"`` (``EdgeConv``) on point sets,
            or a registered ``keras.layers.Layer`` class (or its registered name) whose
            constructor takes ``filters`` and ``groups``; it gets channels-last tensors. A
            point-set block must implement ``compute_output_shape``.
        block_kwargs: dict of extra constructor arguments for every per-level block.
        coarsening: ``"reference"`` (default) or ``"literal"``, see above.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``. The block computes channels-last inside
            (a channels-first input is transposed in and out).
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Input and output: ``(batch, height, width, c)`` (``(batch, c, height, width)`` for
    channels-first), or ``(batch, points, c)`` with a point-set block, with ``c`` divisible
    by ``group_size`` when ``c >= group_size``.

    Call arguments: ``inputs``; ``training``; for a point-set block, ``neighbors`` and
    ``coordinates`` (those its ``call`` requires must be given).

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input((32, 32, 64)),
    ...     MGICBlock(group_size=8, coarsest_size=16),
    ... ])
    >>> tuple(model(keras.ops.ones((2, 32, 32, 64))).shape)
    (2, 32, 32, 64)
    >>> points = keras.random.normal((2, 50, 3))
    >>> features = keras.random.normal((2, 50, 64))
    >>> block = MGICBlock(8, 16, block="diffgcn")
    >>> from keras_mgic.layers import KNNGraph
    >>> neighbors = KNNGraph(k=10)(features)
    >>> tuple(block(features, neighbors=neighbors, coordinates=points).shape)
    (2, 50, 64)
    """

    def __init__(
        self,
        group_size,
        coarsest_size,
        block="residual",
        block_kwargs=None,
        coarsening="reference",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.group_size = positive_even_int("group_size", group_size)
        self.coarsest_size = positive_int("coarsest_size", coarsest_size)
        self.coarsening = check_coarsening(coarsening)
        self.data_format = standardize_data_format(data_format)
        self.block_class = _resolve_block(block)
        if block_kwargs is not None and not isinstance(block_kwargs, dict):
            raise ValueError(
                f"`block_kwargs` must be a dict or None. Received: block_kwargs={block_kwargs!r}"
            )
        self.block_kwargs = dict(block_kwargs or {})
        self._graph_inputs = graph_inputs(self.block_class)
        self._points = bool(self._graph_inputs)
        self.input_spec = keras.layers.InputSpec(ndim=self._ndim())

    def _ndim(self):
        return 3 if self._points else 4

    def build(self, input_shape):
        channels = feature_channels("MGICBlock", input_shape, self.data_format, self._points)
        self.widths = level_widths(channels, self.coarsest_size, self.coarsening)
        if len(self.widths) > 1 and channels >= self.group_size and channels % self.group_size:
            raise ValueError(
                "MGICBlock needs the number of channels to be divisible by `group_size` "
                f"(or smaller than it). Received: channels={channels}, "
                f"group_size={self.group_size}"
            )
        self.level_blocks, self.restrictions, self.prolongations, self.corrections = [], [], [], []
        shape = tuple(input_shape)
        if not self._points:
            shape = shape_to_channels_last(input_shape, self.data_format)
        for level, width in enumerate(self.widths):
            self._build_level(level, width, shape)
        axis = -1 if self._points else channel_axis(self.data_format)
        self.input_spec = keras.layers.InputSpec(ndim=self._ndim(), axes={axis: channels})

    def _build_level(self, level, width, shape):
        """Builds level ``level``'s block and, but on the coarsest level, its restriction,
        prolongation and correction BatchNorm, appended to their lists in that order."""
        level_shape = (*shape[:-1], width)
        coarsest = level == len(self.widths) - 1
        groups = 1 if coarsest else level_groups(width, self.group_size)
        block = self._make_block(width, groups, level)
        block.build(level_shape)
        self._check_block_output(block, level_shape, groups)
        self.level_blocks.append(block)
        if coarsest:
            return
        transfer_kwargs = dict(
            data_format="channels_last", points=self._points, dtype=self.dtype_policy
        )
        restriction = ChannelRestriction(
            self.group_size, name=f"restrict_{level}", **transfer_kwargs
        )
        restriction.build(level_shape)
        prolongation = ChannelProlongation(
            self.group_size, name=f"prolong_{level}", **transfer_kwargs
        )
        prolongation.build((*shape[:-1], width // 2))
        correction = BatchNormalization(
            momentum=BN_MOMENTUM,
            epsilon=BN_EPSILON,
            dtype=self.dtype_policy,
            name=f"correction_bn_{level}",
        )
        correction.build(level_shape)
        self.restrictions.append(restriction)
        self.prolongations.append(prolongation)
        self.corrections.append(correction)

    def _level_kwargs(self, coarsest):
        """``block_kwargs`` plus what a built-in block needs: channels-last inputs and, on
        the coarsest level of bottlenecks, the reference code's activation before the skip."""
        kwargs = dict(self.block_kwargs)
        if issubclass(self.block_class, tuple(LEVEL_BLOCKS.values())):
            kwargs["data_format"] = "channels_last"
        if coarsest and issubclass(self.block_class, BottleneckBlock):
            kwargs.setdefault("activate_before_skip", True)
        return kwargs

    def _make_block(self, width, groups, level):
        try:
            return self.block_class(
                filters=width,
                groups=groups,
                dtype=self.dtype_policy,
                name=f"level_{level}_block",
                **self._level_kwargs(level == len(self.widths) - 1),
            )
        except TypeError as error:
            raise ValueError(
                f"Could not create the per-level block {self.block_class.__name__} with "
                f"filters={width}, groups={groups} and block_kwargs={self.block_kwargs}: "
                f"{error}"
            ) from error

    def _check_block_output(self, block, level_shape, groups):
        """Raises a ValueError unless the per-level block keeps its input's shape."""
        if self._points:  # a point-set block needs its graph inputs to run: ask its shape
            output_shape = tuple(block.compute_output_shape(level_shape))
        else:
            spec = block.compute_output_spec(
                keras.KerasTensor(level_shape, dtype=self.compute_dtype)
            )
            output_shape = tuple(getattr(spec, "shape", ()))
        same = len(output_shape) == len(level_shape) and output_shape[-1] == level_shape[-1]
        same = same and all(
            a is None or b is None or a == b
            for a, b in zip(output_shape[1:-1], level_shape[1:-1], strict=True)
        )
        if not same:
            raise ValueError(
                "MGICBlock's per-level block must keep the shape of its input (c_in == c_out, "
                f"same spatial size), but {self.block_class.__name__}(filters="
                f"{level_shape[-1]}, groups={groups}) maps input_shape={level_shape} to "
                f"another shape. Received: output_shape={output_shape}"
            )

    def call(self, inputs, training=None, neighbors=None, coordinates=None):
        graph = self._block_graph_inputs(neighbors=neighbors, coordinates=coordinates)
        if self._points:
            return self._cycle(inputs, training, self._complete_graph(inputs, graph))
        outputs = self._cycle(to_channels_last(inputs, self.data_format), training, graph)
        return from_channels_last(outputs, self.data_format)

    def _block_graph_inputs(self, **given):
        """The graph inputs for the per-level blocks: those their ``call`` takes (a required
        one must be given), and no other."""
        name = self.block_class.__name__
        for key, value in given.items():
            if value is not None and key not in self._graph_inputs:
                raise ValueError(
                    f"MGICBlock's per-level block {name} does not take `{key}` (only point-set "
                    f"blocks take graph inputs). Received: {key} of shape "
                    f"{tuple(getattr(value, 'shape', ()))}"
                )
        for key, required in self._graph_inputs.items():
            if required and given[key] is None:
                usage = ", ".join(f"{k}=..." for k in self._graph_inputs)
                raise ValueError(
                    f"MGICBlock's per-level block {name} needs `{key}`: call the block as "
                    f"block(features, {usage}). Received: {key}=None"
                )
        return {key: value for key, value in given.items() if key in self._graph_inputs}

    def _complete_graph(self, inputs, graph):
        """The graph inputs the caller left out, built once from the block's input for every
        level: ``neighbors``, the k-NN graph (``k`` in ``block_kwargs``); ``coordinates``,
        the input's first ``coordinate_dim`` channels."""
        name = self.block_class.__name__
        if "neighbors" in graph and graph["neighbors"] is None:
            k = self.block_kwargs.get("k")
            if k is None:
                raise ValueError(
                    f"MGICBlock's per-level block {name} needs `neighbors`: call the block as "
                    "block(features, neighbors=...), or give `k` in `block_kwargs` to build "
                    "the k-NN graph of the block's input. Received: neighbors=None"
                )
            check_enough_points("MGICBlock", inputs.shape[1], k)
            graph["neighbors"] = knn_indices(inputs, k)
        dim = getattr(self.level_blocks[0], "coordinate_dim", None)
        if "coordinates" in graph and graph["coordinates"] is None and dim is not None:
            graph["coordinates"] = input_coordinates("MGICBlock", inputs, None, dim)
        return graph

    def _cycle(self, inputs, training, graph):
        fine = [inputs]
        for restriction in self.restrictions:
            fine.append(restriction(fine[-1]))
        coarse = self.level_blocks[-1](fine[-1], training=training, **graph)
        for level in reversed(range(len(self.restrictions))):
            # fine[level + 1] is R_level(x_level): x_level is unchanged since the way down.
            residual = coarse - fine[level + 1]
            correction = self.corrections[level](
                self.prolongations[level](residual), training=training
            )
            coarse = self.level_blocks[level](fine[level] + correction, training=training, **graph)
        return coarse

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "group_size": self.group_size,
                "coarsest_size": self.coarsest_size,
                "block": _block_name(self.block_class),
                "coarsening": self.coarsening,
                "data_format": self.data_format,
                # Keras objects (regularizers, initializers, ...) serialized, so that the
                # config is JSON-able and identical before and after a .keras round trip.
                "block_kwargs": {
                    key: keras.saving.serialize_keras_object(value)
                    for key, value in self.block_kwargs.items()
                },
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        block_kwargs = config.get("block_kwargs")
        if isinstance(block_kwargs, dict):
            config["block_kwargs"] = {
                key: _deserialize_if_serialized(value) for key, value in block_kwargs.items()
            }
        return super().from_config(config)
