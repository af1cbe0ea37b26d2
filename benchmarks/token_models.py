"""The token models trained side by side, MGIC against dense.

Usage: python benchmarks/token_models.py [--write] [--quick] [--epochs N] [--seeds N]
       [--depth N] [--json PATH] [--from-json PATH]

``--from-json PATH`` writes the table, figure and section from a saved ``--json`` file
without training again.

The small ViT (``keras_mgic.models.VisionTransformer``) and the MLP-Mixer (``MLPMixer``),
each with ``mgic=False`` and ``mgic=True``, on the offline digits
(``keras_mgic.data.digits``: 1,437 training and 360 test images, upsampled to 32x32, 4x4
patches, so 64 tokens), dim 256, feed-forward hidden width 1024 (``mlp_ratio=4``), the MGIC
twins with the builders' defaults (``group_size=64, coarsest_size=128``, the layer's default
kernels ``VarianceScaling(0.7, "fan_in")``; the dense twin's are LeCun-normal). One recipe
for all: AdamW (weight decay 0.05), learning rate warmed up over the first epoch to 1e-3 and
decayed by a cosine to 0, batch 64, no augmentation, the same seeds. The runs are
interleaved (for each seed, each model in turn), so a load change on a shared machine hits
all alike. Reported: test accuracy (mean and spread over the seeds), parameters, MACs
(``count_params`` / ``count_flops``) and seconds per epoch (median over the epochs after the
first, which traces the graph). A figure of the test accuracy per epoch:
``docs/token_models.png``.

Their wall-clock (feed-forward and whole model, TensorFlow, JAX and TFLite, ViT-S and ViT-B
widths) is ``token_speed.py``'s.
"""

import json
import sys

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

from keras_mgic.data.digits import load_digits_arrays  # noqa: E402
from keras_mgic.models import MLPMixer, VisionTransformer  # noqa: E402

FAMILIES = {"ViT": VisionTransformer, "Mixer": MLPMixer}


def _build(family, mgic, **kwargs):
    if family == "ViT":
        kwargs.setdefault("heads", kwargs["dim"] // 64)
    return FAMILIES[family](mgic=mgic, **kwargs)


def _train(family, mgic, seed, data, epochs, depth):
    keras.utils.set_random_seed(seed)
    model = _build(family, mgic, dim=256, depth=depth, mlp_ratio=4, classes=10)
    return bench.fit_and_measure(model, data, epochs)


def _digits():
    (x_train, y_train), (x_test, y_test) = load_digits_arrays(32)
    scale = lambda x: x.astype("float32") / 127.5 - 1.0  # noqa: E731
    return (scale(x_train), y_train), (scale(x_test), y_test)


def plot(results, epochs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    colors = {"ViT": "tab:blue", "Mixer": "tab:orange"}
    for key in results[0]:
        family = key.split("-")[-1]
        curves = np.array([[100 * a for a in run[key]["curve"]] for run in results])
        mean = curves.mean(0)
        style = "-" if key.startswith("MGIC") else "--"
        ax.plot(range(1, epochs + 1), mean, style, color=colors[family], label=key)
        ax.fill_between(
            range(1, epochs + 1), curves.min(0), curves.max(0), color=colors[family], alpha=0.12
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Digits 32x32, 4x4 patches, dim 256: mean and range of {len(results)} seeds")
    ax.set_ylim(bottom=max(0, ax.get_ylim()[0]))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return bench.save_figure(fig, "token_models.png")


def section(results, args, env, argv=None):
    """The BENCHMARKS.md section from the results (written by ``--write``)."""
    train_table = bench.markdown_table(
        ["model", "test accuracy % (range)", "params", "MACs", "s / epoch"],
        bench.training_summary(results),
    )
    return (
        "## Token models: ViT and MLP-Mixer, MGIC against dense, trained side by side\n\n"
        f"{bench.header(argv=argv, env=env)}\n\n"
        "Trained on the offline digits (1,437 training, 360 test images) upsampled to "
        "32x32, 4x4 patches (64 tokens), dim 256, feed-forward 256 -> 1024 -> 256, "
        f"{args.depth} blocks (ViT: 4 heads), {args.epochs} epochs, {len(results)} seeds, "
        "one recipe for all four (AdamW, weight decay 0.05, one warm-up epoch to 1e-3 "
        "then cosine to 0, batch 64, no augmentation). The MGIC twins differ only in the "
        "feed-forward (`MGICFeedForward`, `group_size=64, coarsest_size=128`, its default "
        'kernels `VarianceScaling(0.7, "fan_in")`; the dense twin\'s are LeCun-normal). Few '
        "epochs and shallow models keep the run affordable on a shared 2-core CPU; the "
        "accuracies are therefore not converged, and the comparison is between the "
        "twins under one budget. s / epoch is the median epoch after the first, on a "
        "machine shared with other jobs (runs interleaved: each seed trains the four "
        "models in turn).\n\n"
        f"{train_table}\n\n![test accuracy per epoch](docs/token_models.png)\n\n"
        "What the accuracy gap comes from and what was tried: "
        "[docs/token_models.md](docs/token_models.md#trained-side-by-side). Their "
        "wall-clock on TensorFlow, JAX and TFLite: `token_speed.py`'s section."
    )


def main(argv=None):
    parser = bench.parser(__doc__, quick="1 seed, 2 epochs, depth 1")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--json", help="also write the raw results to this JSON file")
    parser.add_argument(
        "--from-json", help="write the figure and section from this file's results (no runs)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.seeds, args.depth = 2, 1, 1
    env = bench.announce()
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        results = saved["training"]
        env = saved.get("env", env)
        run_argv = saved.get("argv", ["token_models.py", "--write"])  # the run that measured
    else:
        results = []
        data = _digits()
        for seed in range(args.seeds):
            seed_results = {}
            for family in FAMILIES:
                for mgic in (False, True):
                    key = f"{'MGIC-' if mgic else ''}{family}"
                    seed_results[key] = _train(family, mgic, seed, data, args.epochs, args.depth)
                    run = seed_results[key]
                    print(
                        f"seed {seed} {key}: accuracy {run['accuracy']:.4f}, "
                        f"{run['epoch_s']:.1f} s/epoch",
                        flush=True,
                    )
            results.append(seed_results)
            if args.json:  # the training results so far, in case the run is interrupted
                bench.write_atomically(args.json, json.dumps({"training": results, "env": env}))
        run_argv = sys.argv if argv is None else ["token_models.py", *argv]
        if args.json:
            saved = {"training": results, "env": env, "argv": run_argv}
            bench.write_atomically(args.json, json.dumps(saved))
    text = section(results, args, env, run_argv)
    print(text)
    if args.write:
        plot(results, args.epochs)
        bench.write_section(bench.section_name("token_models"), text)


if __name__ == "__main__":
    main()
