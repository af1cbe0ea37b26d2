"""Target 2: MGIC-ResNet-56 (8/16) vs ResNet-56, training step and inference, batch 64.

Usage: python benchmarks/resnet56.py [--write] [--quick] [--batch 64] [--rounds 15]
       [--repeat 3]

Both models come from the same builder (MGIC on / off) and run side by side in one process
on the same random CIFAR-shaped batch: the median time of one ``train_on_batch`` step
(SGD, momentum 0.9) and of one ``predict_on_batch`` call, timed in interleaved rounds
(``_common.compare``), and the ratios MGIC / dense: the medians of the per-round ratios with
their spread (target: at most 1.3 for both; the paper's FLOPs ratio is about 0.48).
"""

import sys

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402

from keras_mgic import models, profiling  # noqa: E402

MODES = ("train", "infer")
LABELS = {"dense": "ResNet-56", "mgic": "MGIC-ResNet-56 (8/16)"}


def prepare(name, batch, jit_compile=False, input_size=32, **kwargs):
    """Builds and compiles ``name``; returns (train_fn, infer_fn, info)."""
    model = models.get_model(
        name, input_shape=(input_size, input_size, 3), classifier_activation=None, **kwargs
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, input_size, input_size, 3)).astype("float32")
    y = rng.integers(0, model.output_shape[-1], size=(batch,))
    info = {
        "params": profiling.count_params(model),
        "flops": profiling.count_flops(model),
        "layers": len(model.layers),
    }
    return (lambda: model.train_on_batch(x, y)), (lambda: model.predict_on_batch(x)), info


def compare_interleaved(prepared, rounds, repeat):
    """Every model's train step and inference in alternating rounds, so that a load change on
    a shared machine hits all alike: a ``Comparison`` of the keys ``(model, "train" or
    "infer")`` against the first model's train step (``against`` picks another baseline)."""
    fns = {}
    for key, (train, infer, _) in prepared.items():
        fns[key, "train"], fns[key, "infer"] = train, infer
    return bench.compare(fns, next(iter(fns)), rounds, repeat)


def time_interleaved(prepared, rounds, repeat):
    """Median times of every (train, infer) pair (``compare_interleaved``), with the info."""
    comparison = compare_interleaved(prepared, rounds, repeat)
    return {
        key: {**info, **{mode: comparison.median_ms((key, mode)) for mode in MODES}}
        for key, (_, _, info) in prepared.items()
    }


def time_model(name, batch, repeat, jit_compile=False, input_size=32, **kwargs):
    """Times one model alone (median of ``repeat`` calls after warm-up)."""
    prepared = {name: prepare(name, batch, jit_compile, input_size, **kwargs)}
    return time_interleaved(prepared, rounds=1, repeat=repeat)[name]


def table(infos, comparison):
    """Params, MACs and median ms per model; the last row MGIC / dense, the time ratios as
    medians of the per-round ratios with their spread."""
    rows = [
        (
            label,
            f"{infos[key]['params'] / 1e6:.3f}M",
            f"{infos[key]['flops'] / 1e6:.1f}M",
            *(f"{comparison.median_ms((key, mode)):.0f}" for mode in MODES),
        )
        for key, label in LABELS.items()
    ]
    dense, mgic = infos["dense"], infos["mgic"]
    rows.append(
        (
            "ratio MGIC / dense",
            f"{mgic['params'] / dense['params']:.2f}",
            f"{mgic['flops'] / dense['flops']:.2f}",
            *(comparison.against(("dense", m)).describe(("mgic", m)) for m in MODES),
        )
    )
    return markdown_table(["model", "params", "MACs", "train step ms", "inference ms"], rows)


def main(argv=None):
    parser = bench.parser(__doc__, quick="2 rounds", rounds=15, repeat=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    env = bench.announce()
    rounds = 2 if args.quick else args.rounds
    prepared = {
        "dense": prepare("resnet56", args.batch),
        "mgic": prepare("mgic_resnet56", args.batch, group_size=8, coarsest_size=16),
    }
    comparison = compare_interleaved(prepared, rounds, args.repeat)
    text = table({key: info for key, (_, _, info) in prepared.items()}, comparison)
    print(text)
    if args.write:
        body = (
            "## Whole network: MGIC-ResNet-56 vs ResNet-56\n\n"
            f"{bench.header(comparison, env=env)}\n\n"
            f"Batch {args.batch}, 32x32x3; per round the median of {args.repeat} "
            "`train_on_batch` / `predict_on_batch` calls.\n\n"
            f"{text}\n\nTarget: train and inference ratios at most 1.3 (aim 0.6)."
        )
        write_section("resnet56", body)


if __name__ == "__main__":
    main()
