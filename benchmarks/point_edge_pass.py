"""DiffGCN's gradient and Laplacian from one pass over the edges against the layer's own
pass per operator.

Usage: python benchmarks/point_edge_pass.py [--write] [--quick] [--batch 8]

``DiffGCNConv`` computes its gradient and its Laplacian each in its own pass over the k-NN
graph's edges (``keras_mgic.layers.point_cloud.diffgcn._edge_sums``: the features and the
coordinates gathered, one ``segment_sum`` per coordinate and one for the in-degree). The
"one pass" reading here shares them: the features and the coordinates gathered once, every
weighted edge value of both operators scattered by one ``segment_sum`` (same outputs). Timed
side by side, interleaved (``_common.compare``): the training step (``train_on_batch``) and
inference (``predict_on_batch``) of pooled DiffGCN and MGIC-DiffGCN at batch ``--batch`` of
1,024 points, TensorFlow. ``--write`` replaces the ``point_edge_pass`` section of
BENCHMARKS.md.
"""

import sys

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

from keras_mgic import models  # noqa: E402
from keras_mgic.layers import DiffGCNConv  # noqa: E402
from keras_mgic.layers.point_cloud.graph_ops import (  # noqa: E402
    gather_neighbors,
    scatter_to_neighbors,
)

POINTS = 1024


def one_pass_operators(features, neighbors, coordinates):
    """DiffGCN's gradient and Laplacian (``graph_gradient``, ``graph_laplacian``) from one
    pass over the edges."""
    coordinates = keras.ops.cast(coordinates, features.dtype)
    shape = keras.ops.shape(features)
    channels, k, dims = features.shape[-1], neighbors.shape[-1], coordinates.shape[-1]
    delta = keras.ops.expand_dims(features, 2) - gather_neighbors(features, neighbors)
    offset = gather_neighbors(coordinates, neighbors) - keras.ops.expand_dims(coordinates, 2)
    w = keras.ops.concatenate([offset, keras.ops.square(offset)], axis=-1)
    own = keras.ops.einsum("bnkd,bnkc->bndc", w, delta)
    edges = keras.ops.expand_dims(w, -1) * keras.ops.expand_dims(delta, 3)
    edges = keras.ops.reshape(edges, (shape[0], shape[1], k, 2 * dims * channels))
    chosen = scatter_to_neighbors(edges, neighbors)
    chosen = keras.ops.reshape(chosen, (shape[0], shape[1], 2 * dims, channels))
    in_degree = scatter_to_neighbors(keras.ops.ones_like(w[..., :1]), neighbors)
    count = keras.ops.expand_dims(in_degree + float(k), -1)
    gradient = (own[:, :, :dims] + chosen[:, :, :dims]) / (4.0 * count)
    laplacian = (chosen[:, :, dims:] - own[:, :, dims:]) / (8.0 * count)
    return gradient, laplacian


def one_pass_components(layer, inputs, neighbors, coordinates):
    """``DiffGCNConv._components`` for the default terms, from one pass over the edges."""
    if layer.terms != ("mass", "gradient", "laplacian"):
        raise ValueError(f"Only the default terms. Received: terms={layer.terms}")
    neighbors = keras.ops.convert_to_tensor(neighbors)
    parts = [keras.ops.expand_dims(inputs, 2), *one_pass_operators(inputs, neighbors, coordinates)]
    return keras.ops.concatenate(parts, axis=2)


def _all_layers(layer):
    yield layer
    for child in layer._layers:
        yield from _all_layers(child)


def use_one_pass(model):
    """Makes every ``DiffGCNConv`` of ``model`` compute both operators in one pass."""
    for layer in _all_layers(model):
        if isinstance(layer, DiffGCNConv):
            object.__setattr__(
                layer, "_components", lambda *args, layer=layer: one_pass_components(layer, *args)
            )


def functions(batch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, POINTS, 3)).astype("float32")
    y = rng.integers(0, 10, size=(batch,))
    fns = {}
    for name in ("diffgcn", "mgic_diffgcn"):
        for reading in ("separate", "one pass"):
            keras.utils.set_random_seed(0)
            model = models.get_model(name, points=POINTS, classifier_activation=None)
            if reading == "one pass":
                use_one_pass(model)
            model.compile(
                optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            fns[name, reading, "train"] = lambda m=model: m.train_on_batch(x, y)
            fns[name, reading, "infer"] = lambda m=model: m.predict_on_batch(x)
    return fns


def main(argv=None):
    parser = bench.parser(__doc__)
    parser.add_argument("--batch", type=int, default=8, help="clouds per batch")
    args = parser.parse_args(argv)
    env = bench.announce()
    fns = functions(args.batch)
    rounds, repeat = (3, 1) if args.quick else (7, 2)
    rows = []
    for name in ("diffgcn", "mgic_diffgcn"):
        for step in ("train", "infer"):
            pair = {key: fns[key] for key in ((name, "separate", step), (name, "one pass", step))}
            comparison = bench.compare(pair, (name, "separate", step), rounds, repeat, warmup=1)
            one = (name, "one pass", step)
            rows.append(
                (
                    name,
                    step,
                    f"{comparison.median_ms((name, 'separate', step)):.0f}",
                    f"{comparison.median_ms(one):.0f}",
                    comparison.describe(one),
                    f"{comparison.load_before} / {comparison.load_after}",
                )
            )
            print(rows[-1], flush=True)
    header = [
        "model (pooled)",
        "step",
        "pass per operator ms",
        "one pass ms",
        "one pass / per operator",
        "load before / after",
    ]
    table = bench.markdown_table(header, rows)
    print(table)
    if args.write:
        text = [
            "## DiffGCN's two operators in one pass over the edges\n",
            f"`{bench.command(argv and ['point_edge_pass.py', *argv])}`\n",
            f"{env}\n",
            f"Batch {args.batch} of 1,024 points, TensorFlow on this CPU; each pair interleaved "
            f"over {rounds} rounds of the median of {repeat} calls after a warm-up call; the "
            "ratio is the median of the per-round ratios (lowest-highest in brackets). The "
            "machine was shared with other jobs (load average before / after each pair).\n",
            table + "\n",
        ]
        bench.write_section("point_edge_pass", "\n".join(text))


if __name__ == "__main__":
    main()
