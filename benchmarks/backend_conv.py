"""Grouped convolution on each Keras backend: is ``keras.ops.conv`` the fastest lowering?

Usage: KERAS_BACKEND=jax python benchmarks/backend_conv.py [--write] [--quick] [--threads N]
       [--rounds 15] [--repeat 1]

Times one forward+backward pass (gradients of the input and the kernel) of a grouped 2D
convolution, channels last, batch 8, 16x16, "same" padding, for 3x3 and 1x1 kernels, 64 and
256 channels and group sizes 8 and 16, on the backend named by ``KERAS_BACKEND``, written
in several ways that compute the same numbers:

* ``keras.ops.conv``: the grouped kernel passed to Keras's conv (what ``keras.layers.Conv2D
  (groups=...)`` does; on TensorFlow, Keras compiles it with XLA).
* ``keras_mgic``: ``keras_mgic.ops.grouped_conv2d``, the package's dispatch (``tf.nn.conv2d``
  on TensorFlow; ``keras.ops.conv`` or a measured fast path elsewhere).
* ``split+concat``: one dense conv per group on a channel slice, concatenated.
* ``block-diag``: one dense conv with the block-diagonal kernel (``groups`` times the MACs).
* ``einsum``: 1x1 only, a reshape to ``(..., groups, size)`` and a batched matmul.
* ``shift+einsum``: 3x3 only, the sum over the 9 taps of a shifted input times the tap's
  grouped 1x1 kernel (a batched matmul each).
* ``dense conv``: for scale, the dense conv of the same width (``groups`` times the MACs).

Each step runs as the backend trains: under ``jax.jit`` on JAX, eagerly on PyTorch (Keras's
default there), inside a ``tf.function`` on TensorFlow. Lowerings are timed interleaved over
rounds after warm-up (``_common.compare``), so load from other processes falls on all of
them alike. The table gives the median milliseconds, the package's speed-up over
``keras.ops.conv``, and how the fastest other lowering compares with the package's (both the
median of the per-round ratios, with their spread). ``--quick``: two cases, 2 rounds (well
under a minute on TensorFlow on 2 cores); the default run takes about a minute on TensorFlow
on 2 idle cores, most of it ``keras.ops.conv`` at 256 channels (longer on JAX, whose grouped
conv is slower). ``--write`` updates the ``backend_conv_<backend>`` section of BENCHMARKS.md
(``backend_conv_<backend>_<N>thread`` with ``--threads N``).

Verdicts on a 2-core x86 CPU (Keras 3.15): JAX's CPU grouped conv is 30-150x slower than
dense per-group convs or batched matmuls, so ``keras_mgic.ops`` lowers grouped convs there;
PyTorch's native grouped conv is the fastest with its default threads (a batched matmul wins
some 1x1 cases by 1.2-1.4x only on one thread), so PyTorch keeps ``keras.ops.conv``.
"""

import os
import platform
import sys


def _threads_from_argv(argv):
    """The ``--threads`` value, read before the backend is imported (XLA reads its flags once)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 0


THREADS = _threads_from_argv(sys.argv[1:])
if THREADS > 0:
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    os.environ.setdefault(
        "XLA_FLAGS",
        f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={THREADS}",
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import environment, markdown_table, write_section  # noqa: E402

from keras_mgic import ops as mgic_ops  # noqa: E402

BATCH, SIZE = 8, 16
CASES = [  # kernel size, channels, group size
    (3, 64, 8),
    (3, 64, 16),
    (3, 256, 8),
    (3, 256, 16),
    (1, 64, 8),
    (1, 64, 16),
    (1, 256, 8),
    (1, 256, 16),
]
QUICK_CASES = [(3, 64, 8), (1, 256, 16)]
NAMES = ["keras.ops.conv", "keras_mgic", "split+concat", "block-diag", "einsum / shift+einsum"]
ALTERNATIVES = NAMES[2:]
HEADER = [
    "kernel",
    "channels",
    "s_g",
    "groups",
    *NAMES,
    "dense conv",
    "keras_mgic speed-up",
    "best alternative",
    "alternative vs keras_mgic",
]


# ------------------------------------------------------------------------------ lowerings


def conv_keras(x, kernel, groups):
    return keras.ops.conv(x, kernel, padding="same")


def conv_mgic(x, kernel, groups):
    return mgic_ops.grouped_conv2d(x, kernel, padding="same")


def conv_split(x, kernel, groups):
    size, group_filters = kernel.shape[-2], kernel.shape[-1] // groups
    outputs = [
        keras.ops.conv(
            x[..., g * size : (g + 1) * size],
            kernel[..., g * group_filters : (g + 1) * group_filters],
            padding="same",
        )
        for g in range(groups)
    ]
    return keras.ops.concatenate(outputs, axis=-1)


def block_diagonal(kernel, groups):
    """The dense ``(kh, kw, channels, filters)`` kernel equal to a grouped one."""
    kh, kw, size, filters = kernel.shape
    per_group = keras.ops.reshape(kernel, (kh, kw, size, groups, filters // groups))
    eye = keras.ops.eye(groups, dtype=kernel.dtype)
    dense = keras.ops.einsum("hwcgf,eg->hwecgf", per_group, eye)
    return keras.ops.reshape(dense, (kh, kw, groups * size, filters))


def conv_block_diagonal(x, kernel, groups):
    return keras.ops.conv(x, block_diagonal(kernel, groups), padding="same")


def _grouped_matmul(x, tap, groups):
    """``x`` (n, h, w, channels) times a 1x1 grouped kernel tap (size, filters)."""
    n, h, w, channels = x.shape
    size, filters = tap.shape
    xs = keras.ops.reshape(x, (n, h, w, groups, size))
    ks = keras.ops.transpose(keras.ops.reshape(tap, (size, groups, filters // groups)), (1, 0, 2))
    y = keras.ops.einsum("nhwgc,gcf->nhwgf", xs, ks)
    return keras.ops.reshape(y, (n, h, w, filters))


def conv_einsum(x, kernel, groups):
    return _grouped_matmul(x, kernel[0, 0], groups)


def conv_shift_einsum(x, kernel, groups):
    kh, kw = kernel.shape[:2]
    _, h, w, _ = x.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = keras.ops.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    out = None
    for i in range(kh):
        for j in range(kw):
            term = _grouped_matmul(padded[:, i : i + h, j : j + w, :], kernel[i, j], groups)
            out = term if out is None else out + term
    return out


def lowerings(kernel_size):
    """``{name: (fn, dense_kernel)}``; ``dense_kernel`` marks the dense-width reference."""
    result = {
        "keras.ops.conv": (conv_keras, False),
        "keras_mgic": (conv_mgic, False),
        "split+concat": (conv_split, False),
        "block-diag": (conv_block_diagonal, False),
    }
    if kernel_size == 1:
        result["einsum"] = (conv_einsum, False)
    else:
        result["shift+einsum"] = (conv_shift_einsum, False)
    result["dense conv"] = (conv_keras, True)
    return result


# ------------------------------------------------------------------- per-backend train step


def make_step(fn, x_np, k_np, g_np, groups):
    """A no-argument callable running forward+backward once and blocking until done."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        x, k, g = (jnp.asarray(a) for a in (x_np, k_np, g_np))

        @jax.jit
        def step(x, k):
            return jax.grad(lambda x, k: jnp.sum(fn(x, k, groups) * g), argnums=(0, 1))(x, k)

        return lambda: jax.block_until_ready(step(x, k))
    if backend == "torch":
        import torch

        x = torch.tensor(x_np, requires_grad=True)
        k = torch.tensor(k_np, requires_grad=True)
        g = torch.tensor(g_np)

        def step():
            x.grad = k.grad = None
            torch.sum(fn(x, k, groups) * g).backward()
            return x.grad, k.grad

        return step
    if backend == "tensorflow":
        import tensorflow as tf

        x, k, g = (tf.constant(a) for a in (x_np, k_np, g_np))

        @tf.function
        def tf_step():
            with tf.GradientTape() as tape:
                tape.watch([x, k])
                loss = tf.reduce_sum(fn(x, k, groups) * g)
            return tape.gradient(loss, [x, k])

        return lambda: [t.numpy() for t in tf_step()]
    raise ValueError(f"Unsupported backend. Received: backend={backend!r}")


def forward(fn, x_np, k_np, groups):
    x = keras.ops.convert_to_tensor(x_np)
    k = keras.ops.convert_to_tensor(k_np)
    return np.asarray(keras.ops.convert_to_numpy(fn(x, k, groups)), dtype="float64")


def run_case(kernel_size, channels, group_size, rounds, repeat):
    """A ``Comparison`` of every lowering's step (keys: ``lowerings``' names) against
    ``keras.ops.conv``, after checking that the grouped lowerings agree."""
    groups = channels // group_size
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, SIZE, SIZE, channels)).astype("float32")
    grouped = rng.normal(size=(kernel_size, kernel_size, group_size, channels)).astype("float32")
    dense = rng.normal(size=(kernel_size, kernel_size, channels, channels)).astype("float32")
    g = rng.normal(size=(BATCH, SIZE, SIZE, channels)).astype("float32")
    reference = forward(conv_keras, x, grouped, groups)
    steps = {}
    for name, (fn, dense_kernel) in lowerings(kernel_size).items():
        if not dense_kernel:  # every grouped lowering computes the same numbers
            error = np.abs(forward(fn, x, grouped, groups) - reference).max()
            if error > 1e-3 * np.abs(reference).max():
                raise AssertionError(f"{name} differs from keras.ops.conv by {error}")
        steps[name] = make_step(
            fn, x, dense if dense_kernel else grouped, g, 1 if dense_kernel else groups
        )
    return bench.compare(steps, "keras.ops.conv", rounds, repeat)


def _column(name, comparison):
    """The comparison's key for the table column ``name`` (einsum and shift+einsum share one)."""
    if name != "einsum / shift+einsum":
        return name
    return "einsum" if "einsum" in comparison.ms else "shift+einsum"


def case_row(kernel_size, channels, group_size, comparison):
    """Median ms per lowering; ``keras.ops.conv`` over ``keras_mgic`` and ``keras_mgic`` over
    the fastest other lowering (medians of the per-round ratios, with their spread)."""
    keys = {name: _column(name, comparison) for name in NAMES}
    best = min(ALTERNATIVES, key=lambda name: comparison.median_ms(keys[name]))
    return [
        f"{kernel_size}x{kernel_size}",
        channels,
        group_size,
        channels // group_size,
        *(f"{comparison.median_ms(keys[name]):.2f}" for name in NAMES),
        f"{comparison.median_ms('dense conv'):.2f}",
        comparison.against("keras_mgic").describe("keras.ops.conv"),
        best,
        comparison.against(keys[best]).describe("keras_mgic"),
    ]


def limit_threads():
    """Applies ``--threads`` to the backend's intra-op thread pool (0: library default)."""
    if THREADS <= 0:
        return
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(THREADS)
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(THREADS)


def versions():
    parts = [environment()]
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        parts.append(f"jax {jax.__version__}")
    elif backend == "torch":
        import torch

        parts.append(f"torch {torch.__version__}")
    parts.append(f"threads: {THREADS if THREADS > 0 else 'library default'}")
    return ", ".join(parts)


def main(argv=None):
    parser = bench.parser(__doc__, quick="two cases, 2 rounds", rounds=15, repeat=1)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="intra-op threads of the backend (default 0: the backend's own default; 1 "
        "gives steadier numbers on a busy shared machine, where a multi-threaded kernel "
        "stalls whenever another process holds a core); written to its own section",
    )
    args = parser.parse_args(argv)
    limit_threads()
    backend = keras.backend.backend()
    cases, rounds = (QUICK_CASES, 2) if args.quick else (CASES, args.rounds)
    header_env = versions()
    print(header_env)
    rows, timed = [], {}
    for kernel_size, channels, group_size in cases:
        comparison = run_case(kernel_size, channels, group_size, rounds, args.repeat)
        timed[f"{kernel_size}x{kernel_size}/{channels}/{group_size}"] = comparison
        rows.append(case_row(kernel_size, channels, group_size, comparison))
        print(" | ".join(str(cell) for cell in rows[-1]), flush=True)
    table = markdown_table(HEADER, rows)
    print()
    print(table)
    if args.write:
        write_section(section(backend), markdown(backend, timed, header_env, table))


def section(backend):
    """``backend_conv_<backend>``, with ``_<N>thread`` under ``--threads N``."""
    suffix = f"_{THREADS}thread" if THREADS > 0 else ""
    return f"backend_conv_{backend}{suffix}"


def markdown(backend, timed, env, table):
    """The section: title, ``bench.header`` (with ``KERAS_BACKEND`` in the command), what the
    columns mean, and the table."""
    header = bench.header(timed, env=f"{env}, platform {platform.platform()}")
    header = f"`KERAS_BACKEND={backend} {header[1:]}"
    return "\n\n".join(
        [
            f"## Grouped conv lowerings on the {backend} backend"
            f"{f', {THREADS} thread(s)' if THREADS > 0 else ''}",
            header,
            "Median milliseconds of one forward+backward pass (input and kernel "
            f"gradients), batch {BATCH}, {SIZE}x{SIZE}, channels last, 'same' padding, "
            f"{_threads_text()}; {_how(backend)} "
            "`keras_mgic` is `keras_mgic.ops.grouped_conv2d`, the package's lowering; "
            "`dense conv` is the dense conv of the same width (groups times the MACs), "
            "for scale. `keras_mgic speed-up` is `keras.ops.conv` over `keras_mgic`; "
            "`alternative vs keras_mgic` is `keras_mgic` over the fastest of the other "
            "lowerings (above 1 means something faster is left on the table); both are the "
            "median of the per-round ratios (spread in brackets).",
            table,
        ]
    )


def _threads_text():
    if THREADS <= 0:
        return "the backend's default thread count"
    return f"{THREADS} intra-op thread{'s' if THREADS > 1 else ''} (`--threads`)"


def _how(backend):
    return {
        "jax": "each step under `jax.jit`.",
        "torch": "eager PyTorch.",
        "tensorflow": "each step in a `tf.function` (Keras's grouped `keras.ops.conv` is "
        "XLA-compiled there).",
    }.get(backend, "")


if __name__ == "__main__":
    main()
