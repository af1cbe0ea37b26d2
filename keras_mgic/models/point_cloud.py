"""Point-cloud classifiers of the paper's Sec. 5.4 (Table 6): DGCNN, DiffGCN and
MGIC-DiffGCN, in the style of ``keras.applications``.

One skeleton, DGCNN's (Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", ACM
TOG 2019; public code WangYueFt/dgcnn, ``model.py``) made smaller as in the paper: four graph
convolution stages of widths 64, 64, 128 and 256, each on a k-NN graph (k = 10) built on the
stage's input (the coordinates for the first stage, the features after that: DGCNN's dynamic
graph); the four outputs concatenated (512 channels); a point-wise linear map to the
embedding, BatchNorm and LeakyReLU; then max and average pooling over the points,
concatenated, and a classifier of two hidden layers (Dense, BatchNorm, LeakyReLU, dropout
0.5) and the output layer. DGCNN's embedding and hidden widths 1024, 512 and 256 are 64, 64
and 64 here, as the paper sets them. The graph convolution of a stage is the backbone:

- ``DGCNN``: ``EdgeConv`` (LeakyReLU 0.2).
- ``DiffGCN``: ``DiffGCNConv`` (Eliasof & Treister, NeurIPS 2020; ReLU): the mass, graph
  gradient and graph Laplacian terms of the features, taken along the input coordinates,
  combined point-wise (``terms``; ``["gradient"]`` is the public code's forward pass);
  ``convs_per_stage`` of them share the stage's graph (the ``blocks`` of ``DiffGCNBlock``
  in BGUCompSci/DiffGCNs.py).
- ``MGICDiffGCN``: a ``PointTransition`` where the width changes, then ``convs_per_stage``
  ``MGICBlock`` s whose per-level block is ``DiffGCNResidualBlock`` (a DiffGCN convolution
  added to its input, grouped on the fine levels; ``level_block="diffgcn"`` for the
  convolution alone), all levels on the stage's graph.

DiffGCN and MGIC-DiffGCN pool the points between stages by default
(``point_pooling="multigrid"``), as DiffGCN's classification network does (the DiffGCN
paper's Fig. 1, whose ``N_i`` is the number of vertices after the ``i``-th DiffGCN block; in
its public code a pooled ``DiffGCNBlock`` starts with ``mgpool``, whose pairwise matching at
most halves the points): stages 2, 3 and 4 each start with a ``PointPooling`` (cluster means
of the features and coordinates, clusters of two matched on the previous stage's graph), so
the stages run on 1,024, 512, 256 and 128 points for a 1,024-point cloud. The four stage
outputs are then carried to the coarsest level by ``PointRestriction`` (cluster means),
concatenated and embedded there. ``point_pooling=None`` keeps every stage on all the points
(the layout of DGCNN, which has no pooling).

Input: one tensor ``(batch, points, coordinate_dim + features)``, the coordinates first
(``coordinate_dim = 3`` for ModelNet, 2 for the ``digit_points`` data set, whose third
channel is the ink intensity). Every layer acts on each point alike or on its neighbours and
the global pooling is symmetric; the point pooling's clusters and their order follow the
geometry, not the point order. So the classifiers do not depend on the order of the points
(up to ties among equally distant neighbours or projections). Layer names: ``coordinates``,
``stage1_knn``, ``stage1_edgeconv`` / ``stage1_diffgcn`` / ``stage1_transition`` +
``stage1_mgic``, with pooling ``stage2_pool``, ..., ``stage4_pool`` and ``stage1_to_stage2``,
..., ``stage3_to_stage4``; ``concat``, ``embedding``, ``embedding_bn``, ``embedding_act``,
``max_pool``, ``avg_pool``, ``fc1``, ..., ``predictions``.
"""

import keras

from keras_mgic.layers import DiffGCNConv, EdgeConv, KNNGraph, MGICBlock
from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.channel_hierarchy import check_coarsening
from keras_mgic.layers.point_cloud import (
    PointCoordinates,
    PointPooling,
    PointRestriction,
    PointTransition,
)
from keras_mgic.layers.point_cloud.diffgcn import TERMS, check_terms
from keras_mgic.layers.validation import positive_even_int, positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps
from keras_mgic.models.point_input import point_input

#: Widths of the four graph convolution stages (DGCNN's).
STAGE_WIDTHS = (64, 64, 128, 256)
#: The embedding and the classifier's hidden widths: DGCNN's 1024, 512, 256, set to 64 in
#: the paper's smaller model (Sec. 5.4).
EMBEDDING_WIDTH = 64
HIDDEN_WIDTHS = (64, 64)
BACKBONES = ("edgeconv", "diffgcn", "mgic_diffgcn")
#: MGIC-DiffGCN's per-level blocks: a DiffGCN convolution with a skip (the default), or alone.
LEVEL_BLOCKS = ("diffgcn_residual", "diffgcn")
#: The layouts of the stages' points: ``"multigrid"`` (DiffGCN's classification network:
#: stages 2, 3 and 4 start with a ``PointPooling`` that halves the points) or None (every
#: stage on all the points).
POINT_POOLINGS = ("multigrid", None)
#: Stages that start with a pooling in the ``"multigrid"`` layout (1-based).
POOLED_STAGES = (2, 3, 4)


def _norm(name):
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _leaky(name):
    return keras.layers.Activation("leaky_relu", name=name)  # negative slope 0.2, DGCNN's


def _stage(x, coordinates, neighbors, width, backbone, convs, mgic, terms, name):
    """One graph convolution stage on ``neighbors``; ``mgic``: ``(group_size,
    coarsest_size, coarsening, min_width, level_block)`` for MGIC-DiffGCN, else None;
    ``terms``: the DiffGCN convolutions' operators."""
    dims = coordinates.shape[-1]
    if backbone == "edgeconv":
        return EdgeConv(width, name=f"{name}_edgeconv")(x, neighbors=neighbors)
    if mgic is None or not apps.uses_mgic(width, mgic[3]):
        for index in range(convs):
            suffix = "" if index == 0 else f"{index + 1}"
            x = DiffGCNConv(
                width, coordinate_dim=dims, terms=terms, name=f"{name}_diffgcn{suffix}"
            )(x, neighbors=neighbors, coordinates=coordinates)
        return x
    if x.shape[-1] != width:
        x = PointTransition(width, name=f"{name}_transition")(x)
    group_size, coarsest_size, coarsening, _, level_block = mgic
    for index in range(convs):
        suffix = "" if index == 0 else f"{index + 1}"
        x = MGICBlock(
            group_size,
            coarsest_size,
            block=level_block,
            block_kwargs={"coordinate_dim": dims, "terms": list(terms)},
            coarsening=coarsening,
            name=f"{name}_mgic{suffix}",
        )(x, neighbors=neighbors, coordinates=coordinates)
    return x


def _features(inputs, coordinate_dim, k, backbone, convs, mgic, terms, point_pooling):
    """The embedding ``(batch, points, EMBEDDING_WIDTH)`` (on the coarsest level's points
    with ``point_pooling``)."""
    coordinates = PointCoordinates(coordinate_dim, name="coordinates")(inputs)
    x, outputs, clusters, neighbors = inputs, [], [], None
    for stage, width in enumerate(STAGE_WIDTHS, 1):
        name = f"stage{stage}"
        if point_pooling == "multigrid" and stage in POOLED_STAGES:
            # Matched on the previous stage's graph, as mgpool.py matches its block's graph.
            pooling = PointPooling(aggregation="mean", name=f"{name}_pool")
            x, coordinates, stage_clusters = pooling(x, coordinates, neighbors=neighbors)
            clusters.append((stage, stage_clusters))
        graph_on = coordinates if stage == 1 else x
        neighbors = KNNGraph(k, name=f"{name}_knn")(graph_on)
        x = _stage(x, coordinates, neighbors, width, backbone, convs, mgic, terms, name)
        outputs.append(x)
    # With pooling, every stage's output is carried to the coarsest level (cluster means with
    # the later poolings' clusters), where the embedding and the global pooling run.
    for index in range(len(outputs)):
        for stage, stage_clusters in clusters:
            if stage > index + 1:
                restrict = PointRestriction(name=f"stage{index + 1}_to_stage{stage}")
                outputs[index] = restrict(outputs[index], stage_clusters)
    x = keras.layers.Concatenate(name="concat")(outputs)
    x = keras.layers.Dense(EMBEDDING_WIDTH, use_bias=False, name="embedding")(x)
    return _leaky("embedding_act")(_norm("embedding_bn")(x))


def _classifier(x, classes, classifier_activation, dropout_rate):
    pooled = [
        keras.layers.GlobalMaxPooling1D(name="max_pool")(x),
        keras.layers.GlobalAveragePooling1D(name="avg_pool")(x),
    ]
    x = keras.layers.Concatenate(name="pooled")(pooled)
    for index, width in enumerate(HIDDEN_WIDTHS, 1):
        name = f"fc{index}"
        # DGCNN's first hidden layer has no bias (a BatchNorm follows); its second has one.
        x = keras.layers.Dense(width, use_bias=index > 1, name=name)(x)
        x = _leaky(f"{name}_act")(_norm(f"{name}_bn")(x))
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    dtype = apps.head_dtype()
    x = keras.layers.Dense(classes, dtype=dtype, name="logits")(x)
    return keras.layers.Activation(classifier_activation, dtype=dtype, name="predictions")(x)


def _pool(x, pooling):
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling1D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
    return x


def _check_level_block(level_block):
    if level_block not in LEVEL_BLOCKS:
        raise ValueError(
            f"`level_block` must be one of {LEVEL_BLOCKS}. Received: level_block={level_block!r}"
        )
    return level_block


def _check_point_pooling(point_pooling, points, k):
    if point_pooling not in POINT_POOLINGS:
        raise ValueError(
            f"`point_pooling` must be one of {POINT_POOLINGS}. "
            f"Received: point_pooling={point_pooling!r}"
        )
    factor = 2 ** len(POOLED_STAGES)
    if point_pooling is not None and points is not None:
        if points % factor or points // factor < k + 1:
            raise ValueError(
                f"`point_pooling={point_pooling!r}` halves the points {len(POOLED_STAGES)} "
                f"times, so it needs points divisible by {factor} with at least k + 1 = "
                f"{k + 1} left after the last pooling. Received: points={points}, k={k}"
            )
    return point_pooling


def _check_mgic(group_size, coarsest_size, coarsening, mgic_min_width, level_block):
    return (
        positive_even_int("group_size", group_size),
        positive_int("coarsest_size", coarsest_size),
        check_coarsening(coarsening),
        apps.check_mgic_min_width(mgic_min_width),
        _check_level_block(level_block),
    )


def PointCloudClassifier(
    backbone,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    *,
    points=None,
    features=None,
    coordinate_dim=3,
    k=10,
    convs_per_stage=1,
    dropout_rate=0.5,
    terms=TERMS,
    group_size=4,
    coarsest_size=16,
    coarsening="reference",
    mgic_min_width=None,
    level_block="diffgcn_residual",
    point_pooling=None,
):
    """The generic point-cloud classifier behind ``DGCNN``, ``DiffGCN`` and ``MGICDiffGCN``.

    Args:
        backbone: ``"edgeconv"``, ``"diffgcn"`` or ``"mgic_diffgcn"``.
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name: as for the named builders.
        points, features, coordinate_dim, k, convs_per_stage, dropout_rate, terms: as for
            the named builders (``terms`` only matters for the DiffGCN backbones).
        group_size, coarsest_size, coarsening, mgic_min_width, level_block: MGIC-DiffGCN's.
        point_pooling: None (default: every stage on all the points) or ``"multigrid"``
            (stages 2 to 4 each start by halving the points with ``PointPooling``).

    Returns:
        A ``keras.Model``.

    Example:

    >>> PointCloudClassifier("edgeconv", points=64, k=4, classes=3).output_shape
    (None, 3)
    """
    if backbone not in BACKBONES:
        raise ValueError(f"`backbone` must be one of {BACKBONES}. Received: backbone={backbone!r}")
    apps.check_weights(weights)
    apps.check_head(include_top, classes, pooling, dropout_rate)
    positive_int("convs_per_stage", convs_per_stage)
    terms = check_terms(terms)
    mgic = None
    if backbone == "mgic_diffgcn":
        mgic = _check_mgic(group_size, coarsest_size, coarsening, mgic_min_width, level_block)
    inputs = point_input(input_shape, input_tensor, points, features, coordinate_dim, k)
    point_pooling = _check_point_pooling(point_pooling, inputs.shape[1], k)
    diffgcn = "diffgcn" if backbone == "mgic_diffgcn" else backbone
    x = _features(inputs, coordinate_dim, k, diffgcn, convs_per_stage, mgic, terms, point_pooling)
    if include_top:
        x = _classifier(x, classes, classifier_activation, dropout_rate)
    else:
        x = _pool(x, pooling)
    return apps.finish(
        inputs, input_tensor, x, name or backbone.replace("edgeconv", "dgcnn"), weights
    )


_ARGS_DOC = """\
    include_top: whether to end with the classifier (max and average pooling over the
        points, two hidden layers, the classification layer).
    weights: None (random initialization) or the path of a weights file to load after
        building (``model.save_weights``). ``"imagenet"`` raises a ValueError.
    input_tensor: optional Keras tensor ``(batch, points, channels)`` to build the model
        on; layers before it become part of the model.
    input_shape: ``(points, channels)`` with ``channels = coordinate_dim + features``,
        coordinates first; default ``(points, coordinate_dim + features)``. ``points``
        may be None (any number above ``k``).
    pooling: without the top, None (per-point embeddings ``(batch, points, 64)``, on
        ``points / 8`` points with ``point_pooling="multigrid"``),
        ``"avg"`` or ``"max"`` (``(batch, 64)``).
    classes: number of classes (with ``include_top``); default 10 (ModelNet-10).
    classifier_activation: activation of the output, e.g. ``"softmax"``, or None for the
        logits (float32 under a mixed-precision policy).
    name: the model's name; default ``"{name}"``.
    points: points per cloud; default 1,024 (the paper's), or those of ``input_shape``.
        At least ``k + 1``.
    features: features per point after the coordinates; default 0, or what
        ``input_shape`` has beyond the coordinates.
    coordinate_dim: coordinates per point; default 3.
    k: neighbours of the k-NN graphs; default 10 (the paper's).
    dropout_rate: dropout after each hidden layer of the classifier; default 0.5 (DGCNN's)."""

_CONVS_DOC = """\
    convs_per_stage: graph convolutions ({what}) per stage, all on the stage's graph;
        default 1."""

_TERMS_DOC = """\
    terms: the operators each DiffGCN convolution combines, a selection of ``("mass",
        "gradient", "laplacian")``; default all three (the DiffGCN paper's convolution).
        ``["gradient"]`` is the forward pass of DiffGCN's public code, which learns far
        more slowly (``keras_mgic.layers.DiffGCNConv``)."""

_POOLING_DOC = """\
    point_pooling: ``"multigrid"`` (default: DiffGCN's classification layout; stages 2 to 4
        each start by halving the points with ``PointPooling``, and the embedding runs on
        the coarsest level; ``points`` divisible by 8 with ``points / 8 > k``) or None
        (every stage on all the points)."""

_MGIC_DOC = """\
    group_size: ``s_g``, channels per group on the fine levels; default 4.
    coarsest_size: ``s_c``, the coarsening threshold; default 16. The paper does not give
        Table 6's ``s_g`` and ``s_c``; (4, 16) with the pooled layout gives 0.084M
        parameters and 14.8M MACs at 1,024 points (Table 6: 0.11M, 13.7M), (8, 16) 0.115M
        and 24.3M.
    coarsening: ``"reference"`` (default) or ``"literal"``; see
        ``keras_mgic.layers.MGICBlock``.
    mgic_min_width: None (default: every stage is MGIC) or a positive int: stages narrower
        than it use plain ``DiffGCNConv`` s (a hybrid network).
    level_block: the per-level block of the MGIC blocks: ``"diffgcn_residual"`` (default,
        ``DiffGCNResidualBlock``: a DiffGCN convolution added to its input, as the image
        MGIC blocks run ResNet blocks) or ``"diffgcn"`` (the convolution alone)."""

_DETAILS = (
    "The smaller DGCNN of the paper's Sec. 5.4 with {what} as the graph convolution; see\n"
    "``keras_mgic.models.point_cloud``. Input ``(batch, points, coordinate_dim + features)``,\n"
    "coordinates first. BENCHMARKS.md compares parameters and MACs with the paper's Table 6."
)


def _doc(summary, what, name, extra, example):
    args = _ARGS_DOC.format(name=name) + "".join(f"\n{part}" for part in extra)
    return apps.builder_doc(summary, _DETAILS.format(what=what), args, example)


def DGCNN(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="dgcnn",
    *,
    points=None,
    features=None,
    coordinate_dim=3,
    k=10,
    dropout_rate=0.5,
):
    return PointCloudClassifier(
        "edgeconv",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        points=points,
        features=features,
        coordinate_dim=coordinate_dim,
        k=k,
        dropout_rate=dropout_rate,
    )


def DiffGCN(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="diffgcn",
    *,
    points=None,
    features=None,
    coordinate_dim=3,
    k=10,
    convs_per_stage=1,
    dropout_rate=0.5,
    terms=TERMS,
    point_pooling="multigrid",
):
    return PointCloudClassifier(
        "diffgcn",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        points=points,
        features=features,
        coordinate_dim=coordinate_dim,
        k=k,
        convs_per_stage=convs_per_stage,
        dropout_rate=dropout_rate,
        terms=terms,
        point_pooling=point_pooling,
    )


def MGICDiffGCN(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="mgic_diffgcn",
    *,
    points=None,
    features=None,
    coordinate_dim=3,
    k=10,
    convs_per_stage=1,
    dropout_rate=0.5,
    terms=TERMS,
    group_size=4,
    coarsest_size=16,
    coarsening="reference",
    mgic_min_width=None,
    level_block="diffgcn_residual",
    point_pooling="multigrid",
):
    return PointCloudClassifier(
        "mgic_diffgcn",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        points=points,
        features=features,
        coordinate_dim=coordinate_dim,
        k=k,
        convs_per_stage=convs_per_stage,
        dropout_rate=dropout_rate,
        terms=terms,
        group_size=group_size,
        coarsest_size=coarsest_size,
        coarsening=coarsening,
        mgic_min_width=mgic_min_width,
        level_block=level_block,
        point_pooling=point_pooling,
    )


DGCNN.__doc__ = _doc(
    "DGCNN (paper Table 6): the smaller DGCNN with EdgeConv stages.",
    "DGCNN's ``EdgeConv``",
    "dgcnn",
    [],
    ">>> DGCNN(points=64, k=4).output_shape\n(None, 10)",
)
DiffGCN.__doc__ = _doc(
    "DiffGCN (paper Table 6): the smaller DGCNN with DiffGCN convolutions.",
    "``DiffGCNConv``",
    "diffgcn",
    [_CONVS_DOC.format(what="``DiffGCNConv``"), _TERMS_DOC, _POOLING_DOC],
    '>>> DiffGCN(points=64, k=4, include_top=False, pooling="max").output_shape\n(None, 64)',
)
MGICDiffGCN.__doc__ = _doc(
    "MGIC-DiffGCN (paper Table 6): DiffGCN with every stage an ``MGICBlock`` of DiffGCN\n"
    "convolutions.",
    "``MGICBlock`` s of ``DiffGCNResidualBlock`` s",
    "mgic_diffgcn",
    [_CONVS_DOC.format(what="``MGICBlock`` s"), _TERMS_DOC, _MGIC_DOC, _POOLING_DOC],
    ">>> model = MGICDiffGCN(input_shape=(128, 3), k=4, classes=5)\n"
    '>>> model.get_layer("stage4_mgic").widths\n[256, 128, 64, 32, 16, 8]',
)


def preprocess_input(x, data_format=None):
    """Returns ``x`` unchanged: the classifiers take clouds as the package's data sets give them.

    ModelNet clouds are centred and scaled to the unit sphere when they are sampled
    (``keras_mgic.data.modelnet``), ``digit_points`` clouds have ``x`` and ``y`` in
    ``[-1, 1]`` and the ink intensity in ``[0, 1]``; the models add nothing to that.

    Args:
        x: point clouds ``(batch, points, channels)``.
        data_format: ``None``, ``"channels_last"`` or ``"channels_first"`` (only checked).

    Returns:
        ``x``.

    Example:

    >>> preprocess_input(np.zeros((1, 4, 3))).shape
    (1, 4, 3)
    """
    return helpers.identity_input(x, data_format=data_format)


#: The ``top`` classes of each prediction, as ``keras.applications``' helper (shared by the
#: classifier modules: see ``application_helpers.decode_classes``).
decode_predictions = helpers.decode_classes
