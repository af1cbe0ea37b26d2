"""Peak memory of a training step of the point-cloud classifiers: batch 32 of 1,024 points.

Usage: python benchmarks/point_cloud_memory.py [--batch 32] [--points 1024] [--write]

Each of ``dgcnn``, ``diffgcn`` and ``mgic_diffgcn`` (the builders' defaults, k = 10) runs in
its own subprocess (TensorFlow backend, CPU): the model is built and compiled (SGD, sparse
cross-entropy), one ``train_on_batch`` warms up, a second is timed, and the process's peak
resident memory (``ru_maxrss``) is read before the first step and after the second. The
k-NN graphs hold one ``(batch, points, points)`` float32 distance matrix at a time (128 MB
here); the edge tensors ``(batch, points, k, channels)`` of the graph convolutions and their
gradients take the rest. ``--write`` replaces the ``point_cloud_memory`` section of
BENCHMARKS.md.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import command, environment, markdown_table, write_section  # noqa: E402

MODELS = {"DGCNN": "dgcnn", "DiffGCN": "diffgcn", "MGIC-DiffGCN": "mgic_diffgcn"}


def peak_mib():
    """The process's peak resident memory in MiB (Linux reports kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(name, batch, points):
    """One model's figures, as a JSON line on stdout."""
    import time

    import numpy as np

    from keras_mgic import models

    model = models.get_model(name, points=points)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, points, 3)).astype("float32")
    y = rng.integers(0, 10, size=(batch,))
    before = peak_mib()
    model.train_on_batch(x, y)
    start = time.perf_counter()
    model.train_on_batch(x, y)
    seconds = time.perf_counter() - start
    print(json.dumps({"before": before, "peak": peak_mib(), "seconds": seconds}))


def run(name, batch, points):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    argv = [sys.executable, __file__, "--worker", name, "--batch", str(batch)]
    result = subprocess.run(
        [*argv, "--points", str(points)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(results):
    rows = [
        (
            label,
            f"{r['before']:.0f}",
            f"{r['peak']:.0f}",
            f"{r['peak'] - r['before']:.0f}",
            f"{r['seconds']:.1f}",
        )
        for label, r in results.items()
    ]
    header = ["model", "RSS before the step (MiB)", "peak RSS (MiB)", "step adds (MiB)", "step s"]
    return markdown_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.batch, args.points)
    env = environment()
    print(env, flush=True)
    results = {}
    for label, name in MODELS.items():
        results[label] = run(name, args.batch, args.points)
        print(label, results[label], flush=True)
    text = table(results)
    print(text)
    if args.write:
        write_section(
            "point_cloud_memory",
            "## Point clouds: peak memory of a training step\n\n"
            f"`{command()}`: batch {args.batch} of {args.points} points, the builders' "
            "defaults (k = 10), one model per process (TensorFlow, CPU); peak resident "
            "memory of the process before the first training step and after the second.\n"
            f"{env}\n\n{text}",
        )


if __name__ == "__main__":
    main()
