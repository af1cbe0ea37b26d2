"""Fused BatchNorm or Keras's own: gradient error against float64, training, step time.

Usage: python benchmarks/batch_norm_fused.py [--write] [--quick] [--points-only] [--rounds 15]

``keras_mgic.layers.BatchNormalization`` trains with TensorFlow's fused kernel on rank-4
channels-last float32 inputs (``BatchNormalization.FUSED_DEFAULT``; inference is always
Keras's path); ``fused=False`` or ``FUSED_DEFAULT = False`` trains with Keras's own path.
On the TensorFlow backend this measures, for both paths:

1. Gradient error: one training-mode gradient of MGIC-ResNet-20 (32x32 digits, batch 64,
   cross-entropy) in float32 against the same weights and batch in float64; per weight
   tensor ``|g32 - g64| / |g64|`` (Euclidean norms), median and max over the tensors.
2. Training: MGIC-ResNet-20 on the digits (16x16, batch 64, Adam with learning rate 1e-3,
   3 epochs), 3 seeds; per seed both paths start from the same weights and see
   identical batches. Final training loss and test accuracy.
3. Step time: median ms of a compiled training step (``train_on_batch``), both paths
   interleaved (``_common.compare``; keras / fused is the median of the per-round ratios
   with their spread), for MGIC-ResNet-20 (32x32, batch 64) and DGCNN (256 points, k = 10,
   batch 16; there only EdgeConv's BatchNorm of the ``(batch, points, k, channels)`` edge
   tensor changes, the other BatchNorms see rank-3 tensors and are never fused).
4. DGCNN training on the digit point sets (``--points-only`` runs this alone), as 2.

The decision drawn from the numbers (``BatchNormalization.FUSED_DEFAULT`` and EdgeConv's
``fused="training"``) is written under the section in BENCHMARKS.md.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402

from keras_mgic import models  # noqa: E402
from keras_mgic.data import load_digits_arrays  # noqa: E402
from keras_mgic.layers import EdgeConv  # noqa: E402
from keras_mgic.layers.batch_norm import BatchNormalization  # noqa: E402

PATHS = {"fused": True, "keras": False}
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _digits(size):
    (x_train, y_train), (x_test, y_test) = load_digits_arrays(image_size=size)
    scale = lambda x: x.astype("float32") / 127.5 - 1.0  # noqa: E731
    return scale(x_train), y_train, scale(x_test), y_test


def _resnet(size, fused, weights=None, dtype="float32"):
    """MGIC-ResNet-20 with logits; ``fused`` decides every BatchNorm it builds."""
    BatchNormalization.FUSED_DEFAULT = fused
    keras.config.set_dtype_policy(dtype)
    model = models.MGICResNet20(input_shape=(size, size, 3), classes=10, classifier_activation=None)
    keras.config.set_dtype_policy("float32")
    if weights is not None:
        model.set_weights([w.astype(dtype) for w in weights])
    return model


def _gradients(model, x, y):
    x = tf.constant(x, model.inputs[0].dtype)
    with tf.GradientTape() as tape:
        loss = LOSS(y, model(x, training=True))
    return [g.numpy().astype("float64") for g in tape.gradient(loss, model.trainable_weights)]


def gradient_errors(quick):
    x, y, _, _ = _digits(32)
    x, y = x[:64], y[:64]
    weights = _resnet(32, True).get_weights()
    reference = _gradients(_resnet(32, False, weights, "float64"), x.astype("float64"), y)
    rows = []
    for name, fused in PATHS.items():
        grads = _gradients(_resnet(32, fused, weights), x, y)
        errors = [
            np.linalg.norm(g - r) / np.linalg.norm(r)
            for g, r in zip(grads, reference, strict=True)
            if np.linalg.norm(r) > 0
        ]
        rows.append([name, f"{100 * np.median(errors):.2f}%", f"{100 * np.max(errors):.2f}%"])
        print("gradient error", rows[-1], flush=True)
    return rows


def training(quick):
    x_train, y_train, x_test, y_test = _digits(16)
    epochs, seeds = (1, 1) if quick else (3, 3)
    rows = []
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        weights = _resnet(16, True).get_weights()
        rng = np.random.default_rng(seed)
        order = np.concatenate([rng.permutation(len(x_train)) for _ in range(epochs)])
        for name, fused in PATHS.items():
            keras.utils.set_random_seed(seed)
            model = _resnet(16, fused, weights)
            model.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])
            history = model.fit(
                x_train[order], y_train[order], batch_size=64, epochs=1, shuffle=False, verbose=0
            )
            _, accuracy = model.evaluate(x_test, y_test, verbose=0)
            rows.append([seed, name, f"{history.history['loss'][-1]:.4f}", f"{accuracy:.4f}"])
            print("training", rows[-1], flush=True)
    return rows


def _dgcnn(fused, weights=None, points=128):
    """DGCNN (k = 10) whose EdgeConv BatchNorms are fused or not."""
    model = models.DGCNN(input_shape=(points, 3), classes=10, classifier_activation=None)
    for layer in model.layers:
        if isinstance(layer, EdgeConv):
            layer.bn.fused = fused
    if weights is not None:
        model.set_weights(weights)
    return model


def point_training(quick):
    """DGCNN on the digit point sets (128 points), as ``training`` does MGIC-ResNet-20."""
    from keras_mgic.data.digit_points import load_digit_points_arrays

    (x_train, y_train), (x_test, y_test) = load_digit_points_arrays(128)
    epochs, seeds = (1, 1) if quick else (3, 3)
    rows = []
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        weights = _dgcnn(True).get_weights()
        rng = np.random.default_rng(seed)
        order = np.concatenate([rng.permutation(len(x_train)) for _ in range(epochs)])
        for name, fused in PATHS.items():
            keras.utils.set_random_seed(seed)
            model = _dgcnn(fused, weights)
            model.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])
            history = model.fit(
                x_train[order], y_train[order], batch_size=32, epochs=1, shuffle=False, verbose=0
            )
            _, accuracy = model.evaluate(x_test, y_test, verbose=0)
            rows.append([seed, name, f"{history.history['loss'][-1]:.4f}", f"{accuracy:.4f}"])
            print("point training", rows[-1], flush=True)
    return rows


def _timed_step(model, x, y):
    model.compile(keras.optimizers.SGD(0.01), LOSS)
    return lambda: model.train_on_batch(x, y)


def step_times(rounds, repeat):
    """The step-time rows (fused ms, keras ms, keras / fused) and their comparisons."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 64)
    weights = _resnet(32, True).get_weights()
    resnet = {name: _timed_step(_resnet(32, fused, weights), x, y) for name, fused in PATHS.items()}
    BatchNormalization.FUSED_DEFAULT = True
    points = rng.uniform(-1, 1, (16, 256, 3)).astype("float32")
    labels = rng.integers(0, 10, 16)
    dgcnn = {
        name: _timed_step(_dgcnn(fused, points=256), points, labels)
        for name, fused in PATHS.items()
    }
    rows, comparisons = [], {}
    for label, fns in (("MGIC-ResNet-20, 32x32, batch 64", resnet), ("DGCNN, 256 points", dgcnn)):
        comparisons[label] = bench.compare(fns, "fused", rounds=rounds, repeat=repeat)
        rows.append(step_row(label, comparisons[label]))
        print("step time", rows[-1], flush=True)
    return rows, comparisons


def step_row(label, comparison):
    """Median ms of both paths and keras / fused, the median of the per-round ratios."""
    times = [f"{comparison.median_ms(name):.1f}" for name in PATHS]
    return [label, *times, comparison.describe("keras")]


def main():
    parser = bench.parser(__doc__, quick="one seed, one epoch, few steps", rounds=15)
    parser.add_argument(
        "--points-only", action="store_true", help="only the DGCNN training comparison"
    )
    args = parser.parse_args()
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("The fused BatchNorm exists on the TensorFlow backend only.")
    header = ["seed", "path", "mean training loss", "test accuracy"]
    point_rows = point_training(args.quick)
    points = [
        "DGCNN on the digit point sets (128 points, k = 10, batch 32, Adam 1e-3, 3 epochs, "
        "identical batches and initial weights per seed; only EdgeConv's BatchNorms change):",
        markdown_table(header, point_rows),
    ]
    if args.points_only:
        print("\n\n".join(points))
        if args.write:
            write_section("batch_norm_fused_points", "\n\n".join(points))
        return
    gradient_rows = gradient_errors(args.quick)
    training_rows = training(args.quick)
    rounds, repeat = (2, 3) if args.quick else (args.rounds, 5)
    time_rows, comparisons = step_times(rounds, repeat)
    BatchNormalization.FUSED_DEFAULT = True
    markdown = "\n\n".join(
        [
            "## BatchNorm: TensorFlow's fused kernel or Keras's own path",
            bench.header(comparisons),
            "Gradient error of one float32 training-mode step of MGIC-ResNet-20 against "
            "float64 (per weight tensor, relative Euclidean norm):",
            markdown_table(["path", "median", "max"], gradient_rows),
            "Training on the digits (MGIC-ResNet-20, 16x16, 3 epochs, identical batches "
            "and initial weights per seed; the loss is the mean over the run):",
            markdown_table(header, training_rows),
            *points,
            "Training step time (ms, median, the two paths interleaved; keras / fused: the "
            "median of the per-round ratios, spread in brackets):",
            markdown_table(["model", "fused", "keras", "keras / fused"], time_rows),
        ]
    )
    print(markdown)
    if args.write:
        write_section("batch_norm_fused", markdown)


if __name__ == "__main__":
    main()
