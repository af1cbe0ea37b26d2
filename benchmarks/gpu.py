"""Throughput of MGIC networks vs their dense twins on whatever accelerator Keras sees.

Usage: KERAS_BACKEND=torch python benchmarks/gpu.py [--write] [--quick] [--no-mixed-precision]

Meant for a GPU machine with PyTorch or JAX (TensorFlow is not needed): trains
MGIC-ResNet-56 and ResNet-56, MGIC-WRN-16-8 and WRN-16-8, MGIC-WRN-28-10 and WRN-28-10
(32x32, batch 128), and MGIC-MobileNetV3-Large and the dense MobileNetV3-Large (224x224,
batch 64), on synthetic data of the right shape under
``mixed_float16`` (``mixed_bfloat16`` on a CPU), and prints images per second for training
and inference and the MGIC / dense ratios, with the device, backend and versions. It also
runs on a CPU (``--quick`` shrinks it to a smoke run).
"""

import platform
import sys
import time

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402

from keras_mgic import models  # noqa: E402

PAIRS = [
    ("resnet56", "mgic_resnet56", 32, 128),
    ("mobilenet_v3_large", "mgic_mobilenet_v3_large", 224, 64),
    ("wide_resnet16_8", "mgic_wide_resnet16_8", 32, 128),
    ("wide_resnet28_10", "mgic_wide_resnet28_10", 32, 128),
]
#: ``--quick`` (the suite's smoke run on a CPU) leaves out the 36.5M-parameter WRN-28-10,
#: whose builder is the WRN-16-8's.
QUICK_SKIPS = ("wide_resnet28_10",)


def device_description():
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})", True
        return f"CPU (torch {torch.__version__})", False
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.device_kind} (jax {jax.__version__})", device.platform == "gpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = gpus[0].name if gpus else "CPU"
    return f"{device} (tensorflow {tf.__version__})", bool(gpus)


def images_per_second(fn, batch, steps):
    fn()  # compile / warm up
    fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return batch * steps / (time.perf_counter() - start)


def measure(name, size, batch, steps):
    model = models.get_model(
        name,
        input_shape=(size, size, 3),
        classes=1000 if size > 64 else 10,
        classifier_activation=None,
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, size, size, 3)).astype("float32")
    y = rng.integers(0, model.output_shape[-1], size=(batch,))
    train = images_per_second(lambda: model.train_on_batch(x, y), batch, steps)
    infer = images_per_second(lambda: model.predict_on_batch(x), batch, steps)
    return train, infer


def main(argv=None):
    parser = bench.parser(__doc__, quick="a smoke run: tiny sizes")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-mixed-precision", action="store_true")
    args = parser.parse_args(argv)
    device, on_gpu = device_description()
    policy = "float32"
    if not args.no_mixed_precision:
        policy = "mixed_float16" if on_gpu else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    env = (
        f"device: {device}, backend: {keras.backend.backend()}, keras {keras.__version__}, "
        f"python {platform.python_version()}, policy {policy}"
    )
    print(env)
    rows, results = [], {}
    for dense_name, mgic_name, size, batch in PAIRS:
        if args.quick and dense_name in QUICK_SKIPS:
            continue
        if args.quick:
            size, batch = (32, 4)
        steps = 2 if args.quick else args.steps
        dense = measure(dense_name, size, batch, steps)
        keras.backend.clear_session()
        mgic = measure(mgic_name, size, batch, steps)
        keras.backend.clear_session()
        results[dense_name], results[mgic_name] = dense, mgic
        for label, (train, infer) in ((dense_name, dense), (mgic_name, mgic)):
            rows.append((label, f"{size}x{size}", batch, f"{train:.0f}", f"{infer:.0f}", ""))
        rows.append(
            (
                f"{mgic_name} / {dense_name}",
                "",
                "",
                f"{mgic[0] / dense[0]:.2f}",
                f"{mgic[1] / dense[1]:.2f}",
                "throughput ratio",
            )
        )
        print(
            f"{mgic_name} / {dense_name}: training {rows[-1][3]}x, inference {rows[-1][4]}x "
            f"the dense model's images per second",
            flush=True,
        )
    table = markdown_table(
        ["model", "input", "batch", "train img/s", "inference img/s", "note"], rows
    )
    print(table)
    if args.write:
        text = (
            "## Accelerator throughput (benchmarks/gpu.py)\n\n"
            f"`KERAS_BACKEND={keras.backend.backend()} python benchmarks/gpu.py --write`.\n"
            f"{env}\n\n{table}"
        )
        write_section(f"gpu_{keras.backend.backend()}", text)
    return results


if __name__ == "__main__":
    main()
