"""Target 2: MGIC-ResNet-56 (8/16) vs ResNet-56, training step and inference, batch 64.

Usage: python benchmarks/resnet56.py [--write] [--quick] [--batch 64]

Both models come from the same builder (MGIC on / off) and run side by side in one process
on the same random CIFAR-shaped batch: the median time of one ``train_on_batch`` step
(SGD, momentum 0.9) and of one ``predict_on_batch`` call, and the ratio MGIC / dense
(target: at most 1.3 for both; the paper's FLOPs ratio is about 0.48).
"""

import sys

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import interleaved_ms, markdown_table, write_section  # noqa: E402

from keras_mgic import models, profiling  # noqa: E402


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


def time_interleaved(prepared, rounds, repeat):
    """Median times of every (train, infer) pair, measured in alternating rounds so that a
    load change on a shared machine hits all models alike."""
    fns = {}
    for key, (train, infer, _) in prepared.items():
        fns[key, "train"], fns[key, "infer"] = train, infer
    ms = interleaved_ms(fns, rounds, repeat)
    return {
        key: {**info, "train": ms[key, "train"], "infer": ms[key, "infer"]}
        for key, (_, _, info) in prepared.items()
    }


def time_model(name, batch, repeat, jit_compile=False, input_size=32, **kwargs):
    """Times one model alone (median of ``repeat`` calls after warm-up)."""
    prepared = {name: prepare(name, batch, jit_compile, input_size, **kwargs)}
    return time_interleaved(prepared, rounds=1, repeat=repeat)[name]


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer repeats")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    env = bench.announce()
    rounds = 2 if args.quick else 5
    prepared = {
        "dense": prepare("resnet56", args.batch),
        "mgic": prepare("mgic_resnet56", args.batch, group_size=8, coarsest_size=16),
    }
    results = time_interleaved(prepared, rounds=rounds, repeat=3)
    dense, mgic = results["dense"], results["mgic"]
    print("dense", dense, "\nmgic", mgic, flush=True)
    rows = [
        (
            name,
            f"{r['params'] / 1e6:.3f}M",
            f"{r['flops'] / 1e6:.1f}M",
            f"{r['train']:.0f}",
            f"{r['infer']:.0f}",
        )
        for name, r in (("ResNet-56", dense), ("MGIC-ResNet-56 (8/16)", mgic))
    ]
    rows.append(
        (
            "ratio MGIC / dense",
            f"{mgic['params'] / dense['params']:.2f}",
            f"{mgic['flops'] / dense['flops']:.2f}",
            f"{mgic['train'] / dense['train']:.2f}",
            f"{mgic['infer'] / dense['infer']:.2f}",
        )
    )
    table = markdown_table(
        ["model", "params", "MACs", "train step ms", "inference ms"],
        rows,
    )
    print(table)
    if args.write:
        text = (
            "## Whole network: MGIC-ResNet-56 vs ResNet-56\n\n"
            f"`python benchmarks/resnet56.py {' '.join(sys.argv[1:])}` "
            f"(batch {args.batch}, 32x32x3; median over "
            f"{rounds} alternating rounds of the median of 3 `train_on_batch` / "
            f"`predict_on_batch` calls, after warm-up).\n{env}\n\n"
            f"{table}\n\nTarget: train and inference ratios at most 1.3 (aim 0.6)."
        )
        write_section("resnet56", text)


if __name__ == "__main__":
    main()
