"""The paper's Table 1 and Fig. 2: how well the coarse channels represent 64 feature maps.

Usage: python benchmarks/coarse_representation.py [--images digits|photos] [--write] [--smoke]

The paper (Sec. 5.1) passes 1,024 ImageNet images through the first convolution of a
pre-trained ResNet-50 (64 channels), restricts the feature maps down to the coarsest level
(s_c = 8) and prolongs them back, with no CNN blocks and no long skips, trains the transfers
to minimise the reconstruction's mean squared error and reports it with the transfers'
parameter counts for s_g = 32, 16, 8, 4 (MSE 11 / 13 / 17 / 24 x 1e-3; 3.3K / 1.8K / 0.9K /
0.4K parameters). Neither ImageNet nor pre-trained weights are at hand, so here:

- The first convolution is trained: a small classifier whose stem is ResNet-50's (7x7
  convolution with 64 filters, stride 2, no bias, then BatchNorm and ReLU) followed by two
  3x3 convolutions, global pooling and a softmax, trained on the scikit-learn digits (8x8
  images upsampled bilinearly to 32x32 RGB, the package's offline data set; Adam, a few
  epochs).
- The feature maps are the stem's output (convolution, BatchNorm in inference mode, ReLU:
  64 maps of 16x16) of real images: ``--images digits`` (default) the digits themselves,
  the first 1,024 training images to train the transfers and the 360 test images to measure
  the error; ``--images photos`` 32x32 grayscale crops of scikit-learn's two sample
  photographs (``load_sample_images``), 1,024 to train and 360 (from other positions) to
  measure.
- Normalisation: the features are divided by one number, the root mean square of all the
  training features, so that their mean square is 1 and the MSE is a relative error
  (``||x - x_hat||^2 / ||x||^2``), of the same order as the paper's.
- Transfers: the package's ``ChannelRestriction`` / ``ChannelProlongation`` (grouped 1x1
  convolutions, no bias) for levels 64 -> 32 -> 16 -> 8 and back, trained with Adam on the
  MSE; reported from the default initialization, from exact averaging, and exact averaging
  untrained (the baseline).
"""

import argparse
import json
import pathlib
import sys
import time

import keras
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    environment,
    markdown_table,
    save_figure,
    write_section,
)

from keras_mgic.initializers import ChannelAveraging  # noqa: E402
from keras_mgic.layers import ChannelProlongation, ChannelRestriction  # noqa: E402

GROUP_SIZES = (32, 16, 8, 4)
WIDTH = 64
COARSEST = 8
PAPER_MSE = {32: 11e-3, 16: 13e-3, 8: 17e-3, 4: 24e-3}
PAPER_PARAMS = {32: "3.3K", 16: "1.8K", 8: "0.9K", 4: "0.4K"}
NUM_TRAIN, NUM_TEST = 1024, 360
#: Relative difference under which two MSEs count as equal in the trend check.
TIE = 0.01


# ---------------------------------------------------------------------------- parameter counts


def level_widths(width, coarsest, reference_rule=False):
    """Level widths from ``width`` down to the coarsest level.

    Args:
        width: the finest width.
        coarsest: the coarsest size ``s_c``.
        reference_rule: halve at least once, then while the width is at least ``coarsest``
            (the reference code's rule: 64, s_c = 8 gives 64, 32, 16, 8, 4); otherwise halve
            until the width is ``coarsest`` (64, 32, 16, 8).

    Returns:
        The list of widths, finest first.
    """
    widths = [width, width // 2]
    if reference_rule:
        while widths[-1] >= coarsest and widths[-1] % 2 == 0:
            widths.append(widths[-1] // 2)
    else:
        while widths[-1] > coarsest:
            widths.append(widths[-1] // 2)
    return widths


def distinct_coarse_maps(group_size, width=WIDTH, coarsest=COARSEST):
    """Distinct coarsest channels when every transfer starts as exact averaging.

    Averaging gives the outputs of a group equal weights, hence equal values and equal
    gradients, for ever: the coarsest level holds one distinct map per group of the last
    restriction.
    """
    widths = level_widths(width, coarsest)
    return max(1, widths[-2] // group_size)


def mse_trend_holds(errors, tie=TIE):
    """True when the MSEs (largest s_g first) never rise by more than ``tie`` (relative).

    Two group sizes whose transfers both reach the best rank-8 code tie; a strict decrease
    would then be decided by optimisation noise.
    """
    return all(b >= a * (1 - tie) for a, b in zip(errors[:-1], errors[1:], strict=True))


def restriction_weights(width, group_size):
    """Weights of R_j from ``width`` channels: ``w * s_g / 2``, or ``w^2 / 2`` if ``w < s_g``."""
    return width * min(width, group_size) // 2


def parameter_readings(group_size, width=WIDTH, coarsest=COARSEST):
    """The transfers' parameter counts under three readings of the paper's setting."""
    widths = level_widths(width, coarsest)
    reference = level_widths(width, coarsest, reference_rule=True)
    r = sum(restriction_weights(w, group_size) for w in widths[:-1])
    r_ref = sum(restriction_weights(w, group_size) for w in reference[:-1])
    return {
        "R and P, 64 -> 8 (3 + 3)": 2 * r,
        "R only, 64 -> 8 (3)": r,
        "R and P, reference levels 64 -> 4 (4 + 4)": 2 * r_ref,
    }


# --------------------------------------------------------------------------------- features


def load_digits_32():
    """The digits as the package's offline loader prepares them: uint8, 32x32 RGB, split."""
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float32) * (255.0 / 16.0)
    images = tf.image.resize(images[..., None], (32, 32), method="bilinear")
    images = np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8)
    images = np.repeat(images, 3, axis=-1)
    labels = digits.target.astype(np.int64)
    return train_test_split(images, labels, test_size=360, stratify=labels, random_state=0)


def photo_crops(count, size=32, seed=0, test=False):
    """``count`` grayscale ``size`` x ``size`` crops of scikit-learn's two sample photos.

    Training crops come from the left 60% of each photo, test crops from the right 40%, so
    the two sets do not overlap. Returned as uint8 RGB (the gray repeated).
    """
    from sklearn.datasets import load_sample_images

    photos = [image.astype(np.float32).mean(axis=-1) for image in load_sample_images().images]
    rng = np.random.default_rng(seed + (1 if test else 0))
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        height, width = photo.shape
        split = int(0.6 * width)
        low, high = (split, width - size) if test else (0, split - size)
        row = rng.integers(0, height - size + 1)
        col = rng.integers(low, high + 1)
        crops.append(photo[row : row + size, col : col + size])
    crops = np.clip(np.round(np.stack(crops)), 0, 255).astype(np.uint8)
    return np.repeat(crops[..., None], 3, axis=-1)


def train_stem(x_train, y_train, epochs, seed=0, max_steps=None):
    """A small digits classifier with ResNet-50's stem; returns the stem as a model."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(x_train.shape[1:])
    x = keras.layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9, name="bn1")(x)
    features = keras.layers.ReLU(name="relu1")(x)
    x = features
    for filters in (64, 128):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    classifier = keras.Model(inputs, outputs)
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    classifier.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=epochs,
        steps_per_epoch=max_steps,
        verbose=0,
    )
    return classifier, keras.Model(inputs, features)


def normalise_images(x, mean, std):
    return (x.astype(np.float32) / 255.0 - mean) / std


# -------------------------------------------------------------------------------- transfers


def build_autoencoder(group_size, initializer=None, width=WIDTH, coarsest=COARSEST):
    """Restrictions down to the coarsest level, then prolongations back: no blocks, no skips."""
    widths = level_widths(width, coarsest)
    inputs = keras.Input((None, None, width))
    x = inputs
    for level in range(len(widths) - 1):
        x = ChannelRestriction(group_size, kernel_initializer=initializer, name=f"R{level}")(x)
    for level in reversed(range(len(widths) - 1)):
        x = ChannelProlongation(group_size, kernel_initializer=initializer, name=f"P{level}")(x)
    return keras.Model(inputs, x, name=f"transfers_sg{group_size}")


def low_rank_mse(train, test, rank=COARSEST):
    """The error of the best rank-``rank`` linear code (no groups): a bound for any transfers.

    The projection on the top ``rank`` eigenvectors of the training features' (uncentered)
    second-moment matrix, the optimum of a linear encoder-decoder without bias through
    ``rank`` channels.
    """
    x = train.reshape(-1, train.shape[-1]).astype(np.float64)
    _, vectors = np.linalg.eigh(x.T @ x)
    basis = vectors[:, -rank:]
    y = test.reshape(-1, test.shape[-1]).astype(np.float64)
    return float(np.mean((y - y @ basis @ basis.T) ** 2))


def mse(model, features):
    reconstruction = model.predict(features, batch_size=64, verbose=0)
    return float(np.mean((reconstruction - features) ** 2))


def fit_transfers(model, features, epochs, lr, max_steps=None):
    """Minimises the reconstruction MSE over the features' pixels (1x1 maps: same thing)."""
    pixels = features.reshape(-1, 1, 1, features.shape[-1])
    schedule = keras.optimizers.schedules.CosineDecay(
        lr, decay_steps=epochs * (max_steps or int(np.ceil(len(pixels) / 2048)))
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    model.fit(
        pixels,
        pixels,
        batch_size=2048,
        epochs=epochs,
        steps_per_epoch=max_steps,
        shuffle=True,
        verbose=0,
    )
    return model


# ---------------------------------------------------------------------------------- running


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", choices=("digits", "photos"), default="digits")
    parser.add_argument("--stem-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=30, help="epochs of transfer training")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md and the plot")
    parser.add_argument(
        "--smoke", action="store_true", help="a few images and steps (tests; no writing)"
    )
    args = parser.parse_args(argv)
    env = environment()
    command = "python benchmarks/coarse_representation.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    print(env)
    print(command.strip())
    start = time.perf_counter()

    x_train, x_test, y_train, y_test = load_digits_32()
    num_train, num_test, stem_steps, steps = NUM_TRAIN, NUM_TEST, None, None
    if args.smoke:
        num_train, num_test, stem_steps, steps = 32, 16, 1, 2
        args.stem_epochs, args.epochs, args.write = 1, 1, False
    pixels = x_train.reshape(-1, 3).astype(np.float64) / 255.0
    mean, std = pixels.mean(axis=0), pixels.std(axis=0)
    classifier, stem = train_stem(
        normalise_images(x_train, mean, std), y_train, args.stem_epochs, args.seed, stem_steps
    )
    _, stem_accuracy = classifier.evaluate(
        normalise_images(x_test, mean, std), y_test, batch_size=256, verbose=0
    )
    print(f"stem network: digits test accuracy {100 * stem_accuracy:.1f}%")
    if args.images == "digits":
        images_train, images_test = x_train[:num_train], x_test[:num_test]
    else:
        images_train = photo_crops(num_train, seed=args.seed)
        images_test = photo_crops(num_test, seed=args.seed, test=True)
    f_train = stem.predict(normalise_images(images_train, mean, std), verbose=0)
    f_test = stem.predict(normalise_images(images_test, mean, std), verbose=0)
    scale = float(np.sqrt(np.mean(f_train**2)))
    f_train, f_test = f_train / scale, f_test / scale
    print(
        f"features: {f_train.shape[0]} training and {f_test.shape[0]} test maps of "
        f"{f_train.shape[1:]}, divided by their RMS {scale:.4f}"
    )

    bound = low_rank_mse(f_train, f_test)
    print(f"best rank-{COARSEST} linear code (no groups): MSE {bound:.4f}")
    results = []
    for group_size in GROUP_SIZES:
        row = {"group_size": group_size, "readings": parameter_readings(group_size)}
        averaging = build_autoencoder(group_size, ChannelAveraging())
        row["params"] = averaging.count_params()
        row["mse_averaging"] = mse(averaging, f_test)
        fit_transfers(averaging, f_train, args.epochs, args.lr, steps)
        row["mse_trained_from_averaging"] = mse(averaging, f_test)
        keras.utils.set_random_seed(args.seed)
        default = fit_transfers(build_autoencoder(group_size), f_train, args.epochs, args.lr, steps)
        row["mse_trained"] = mse(default, f_test)
        row["mse_trained_train"] = mse(default, f_train)
        row["model"] = default
        row["averaging_model"] = build_autoencoder(group_size, ChannelAveraging())
        results.append(row)
        print(
            f"s_g {group_size}: {row['params']} params; MSE averaging "
            f"{row['mse_averaging']:.4f}, trained {row['mse_trained']:.4f} (from averaging "
            f"{row['mse_trained_from_averaging']:.4f})",
            flush=True,
        )

    table = markdown_table(
        [
            "s_g",
            "transfer params (paper)",
            "MSE trained from the default start (paper)",
            "MSE trained from averaging",
            "MSE averaging, untrained",
        ],
        [
            (
                r["group_size"],
                f"{r['params']:,} ({PAPER_PARAMS[r['group_size']]})",
                f"{1e3 * r['mse_trained']:.1f}e-3 ({1e3 * PAPER_MSE[r['group_size']]:.0f}e-3)",
                f"{1e3 * r['mse_trained_from_averaging']:.1f}e-3",
                f"{1e3 * r['mse_averaging']:.1f}e-3",
            )
            for r in results
        ],
    )
    readings = list(results[0]["readings"])
    readings_table = markdown_table(
        ["reading", *[f"s_g = {r['group_size']}" for r in results], "matches the paper"],
        [
            (
                name,
                *[f"{r['readings'][name]:,}" for r in results],
                "yes"
                if all(
                    f"{r['readings'][name] / 1e3:.1f}K" == PAPER_PARAMS[r["group_size"]]
                    for r in results
                )
                else "no",
            )
            for name in readings
        ],
    )
    trend = mse_trend_holds([r["mse_trained"] for r in results])
    print(table)
    print(readings_table)
    print(f"trend (larger s_g, no higher MSE within {TIE:.0%}): {'holds' if trend else 'NO'}")
    print(f"total {time.perf_counter() - start:.0f} s")
    summary = {
        "images": args.images,
        "stem_accuracy": float(stem_accuracy),
        "scale": scale,
        "low_rank_mse": bound,
        "trend": trend,
        "rows": [
            {k: v for k, v in r.items() if k not in ("model", "averaging_model")} for r in results
        ],
    }
    print(json.dumps(summary))
    if args.write:
        write_outputs(args, env, command, results, f_test, table, readings_table, summary)
    return summary


def pick_map(features):
    """The test image and channel with the most varied feature map (a readable example)."""
    variance = features.var(axis=(1, 2))
    image, channel = np.unravel_index(np.argmax(variance), variance.shape)
    return int(image), int(channel)


def write_outputs(args, env, command, results, f_test, table, readings_table, summary):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, channel = pick_map(f_test)
    example = f_test[image : image + 1]
    fig, axes = plt.subplots(2, 1 + len(results), figsize=(2.2 * (1 + len(results)), 4.6))
    vmin, vmax = 0.0, float(example[..., channel].max())
    axes[0, 0].imshow(example[0, ..., channel], cmap="gray", vmin=vmin, vmax=vmax)
    axes[0, 0].set_title("feature map")
    axes[1, 0].axis("off")
    for column, r in enumerate(results, start=1):
        for row, (model, label) in enumerate(
            [(r["model"], "trained"), (r["averaging_model"], "averaging")]
        ):
            out = model.predict(example, verbose=0)[0, ..., channel]
            axes[row, column].imshow(out, cmap="gray", vmin=vmin, vmax=vmax)
            axes[row, column].set_title(f"s_g={r['group_size']}, {label}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"channel {channel} of a {args.images} test image, restricted 64 -> 8 and prolonged back"
    )
    fig.tight_layout()
    save_figure(fig, f"coarse_representation_{args.images}.png")
    first, second = results[0]["mse_trained"], results[1]["mse_trained"]
    gap = 100 * abs(second - first) / first
    ratio = np.mean([r["mse_trained"] / PAPER_MSE[r["group_size"]] for r in results])
    source = {
        "digits": "the digits (1,024 training images to train the transfers, the 360 test "
        "images to measure)",
        "photos": "32x32 grayscale crops of scikit-learn's two sample photos (1,024 from the "
        "left 60% of each photo to train, 360 from the right 40% to measure)",
    }[args.images]
    text = (
        f"## Coarse channel representation, paper Table 1 and Fig. 2 ({args.images})\n\n"
        f"`{command.strip()}`\n{env}\n\n"
        "No ImageNet and no pre-trained ResNet-50 here: the first convolution is ResNet-50's "
        "stem (7x7, 64 filters, stride 2, BatchNorm, ReLU) of a small classifier trained on "
        f"the digits for {args.stem_epochs} epochs (test accuracy "
        f"{100 * summary['stem_accuracy']:.1f}%); its 64 feature maps (16x16) of {source}, "
        f"divided by the training features' RMS ({summary['scale']:.3f}) so the MSE is "
        "relative to the features' mean square. Restrictions 64 -> 32 -> 16 -> 8 (s_c = 8) "
        "and prolongations back, no CNN blocks, no skips; transfers trained with Adam "
        "from the layers' default start (`ChannelHeNormal`) or from exact averaging "
        f"(lr {args.lr}, cosine, {args.epochs} epochs, batches of 2,048 pixels) on the MSE. "
        "MSE on the held-out maps; paper values in parentheses.\n\n"
        f"{table}\n\n"
        f"Larger s_g, no higher trained MSE (MSEs within {TIE:.0%} counted equal): "
        f"{'holds' if summary['trend'] else 'does not hold'}. "
        f"The best rank-{COARSEST} linear code with no groups (the top {COARSEST} principal "
        "directions of the training features, uncentered) reaches "
        f"{1e3 * summary['low_rank_mse']:.1f}e-3, a bound for any transfers. Trained from "
        "exact averaging the transfers stay far above it: the coarse channels of a group start "
        "equal and receive equal gradients, so they stay equal, and the 8 coarsest channels "
        "carry only as many distinct maps as the last restriction has groups ("
        + ", ".join(f"{distinct_coarse_maps(g)} for s_g = {g}" for g in GROUP_SIZES)
        + "), the symmetry that the default initialization (`ChannelHeNormal`) breaks. "
        f"s_g = 32 and 16 differ by {gap:.1f}%: both reach the bound. The MSEs are about "
        f"{ratio:.0f} times the paper's: even the best rank-8 code leaves "
        f"{100 * summary['low_rank_mse']:.0f}% of these features' mean square, so the gap is "
        "in the features (small digits-trained filters; the paper does not state its "
        "normalisation), not in the transfers. "
        "The paper's parameter counts are three restrictions and three prolongations from 64 "
        "down to 8 channels, R_j with `w_j * s_g / 2` weights (`w_j^2 / 2` when "
        "`w_j < s_g`, a fully coupled level):\n\n"
        f"{readings_table}\n\n"
        f"![coarse representation](docs/coarse_representation_{args.images}.png)"
    )
    write_section(f"coarse_representation_{args.images}", text)


if __name__ == "__main__":
    main()
