"""DiffGCN's gradient and Laplacian from one pass over the edges against one pass each.

Usage: python benchmarks/point_edge_pass.py [--write] [--quick] [--batch 8]

``DiffGCNConv`` computes its two operators in one pass over the k-NN graph's edges: the
features and the coordinates gathered once, one ``segment_sum`` for every weighted edge
value and the in-degree (``keras_mgic.layers.point_cloud.diffgcn._operators``). The
"separate" reading runs the same code once per operator (two gathers of the features and of
the coordinates, two scatters, the in-degree twice), which is what the layer did before; the
outputs are the same. Timed side by side, interleaved (``_common.compare``): the training
step (``train_on_batch``) and inference (``predict_on_batch``) of pooled DiffGCN and
MGIC-DiffGCN at batch ``--batch`` of 1,024 points, TensorFlow. ``--write`` replaces the
``point_edge_pass`` section of BENCHMARKS.md.
"""

import sys

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

from keras_mgic import models  # noqa: E402
from keras_mgic.layers import DiffGCNConv  # noqa: E402
from keras_mgic.layers.point_cloud import diffgcn  # noqa: E402

POINTS = 1024


def separate_components(layer, inputs, neighbors, coordinates):
    """``DiffGCNConv._components`` with one pass over the edges per operator."""
    parts = [keras.ops.expand_dims(inputs, 2)] if "mass" in layer.terms else []
    for term in ("gradient", "laplacian"):
        if term in layer.terms:
            only = {"gradient": term == "gradient", "laplacian": term == "laplacian"}
            parts += diffgcn._operators(inputs, neighbors, coordinates, **only)
    return parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=2)


def _all_layers(layer):
    yield layer
    for child in layer._layers:
        yield from _all_layers(child)


def use_separate_passes(model):
    """Makes every ``DiffGCNConv`` of ``model`` run one pass per operator."""
    for layer in _all_layers(model):
        if isinstance(layer, DiffGCNConv):
            object.__setattr__(
                layer, "_components", lambda *args, layer=layer: separate_components(layer, *args)
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
            if reading == "separate":
                use_separate_passes(model)
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
    header = ["model (pooled)", "step", "separate ms", "one pass ms", "one pass / separate",
              "load before / after"]  # fmt: skip
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
