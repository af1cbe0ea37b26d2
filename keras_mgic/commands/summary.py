"""``keras-mgic summary MODEL``: parameters and MACs of an MGIC model next to its dense twin.

MODEL is a snake_case name from ``keras_mgic.models.MODELS``; ``mgic_resnet56`` and
``resnet56`` both print the pair. ``--group-size``, ``--coarsest-size`` and
``--mgic-min-width`` (blocks narrower than it stay dense) go to the MGIC model, ``--alpha``
(MobileNetV3's width multiplier; ``--width-multiplier`` is its deprecated old name) and
``--input-size`` (the points per cloud for the point-cloud models) to both. FLOPs are
counted as multiply-adds, as in the paper (see ``keras_mgic.profiling.count_flops``). The
segmentation models (``lraspp_mobilenet_v3_small`` and the others of
``keras_mgic.models.SEGMENTATION_MODELS``) are counted at 1024x2048, the paper's Table 5
setting (Cityscapes), unless ``--input-size`` is given.

Example::

    keras-mgic summary mgic_resnet56 --group-size 16 --coarsest-size 32
"""

import inspect
import sys
import textwrap

from keras_mgic.commands import names
from keras_mgic.commands.arguments import positive_float, positive_int


def add_arguments(parser):
    parser.epilog = names.listing() + "\n\n" + textwrap.fill(names.MGIC_FLAGS + ".", width=92)
    parser.add_argument("model", help="model name, e.g. resnet56 or mgic_resnet56 (listed below)")
    parser.add_argument(
        "--group-size",
        type=positive_int,
        metavar="S_G",
        help="s_g of the MGIC model: channels per group on the fine levels",
    )
    parser.add_argument(
        "--coarsest-size",
        type=positive_int,
        metavar="S_C",
        help="s_c of the MGIC model: the coarsest level's width at most",
    )
    parser.add_argument(
        "--mgic-min-width",
        type=positive_int,
        help="blocks of the MGIC model narrower than this stay dense (a hybrid)",
    )
    parser.add_argument(
        "--alpha", "--width-multiplier", type=positive_float, help="MobileNetV3's width multiplier"
    )
    parser.add_argument(
        "--input-size",
        type=positive_int,
        help="input height and width, or points per cloud (default: the model's)",
    )


def model_pair(name, models):
    """``(dense_name, mgic_name)`` for either name of a pair, or raises ValueError."""
    dense = name[len("mgic_") :] if name.startswith("mgic_") else name
    mgic = f"mgic_{dense}"
    if dense not in models or mgic not in models:
        pairs = sorted(n for n in models if not n.startswith("mgic_") and f"mgic_{n}" in models)
        choices = ", ".join(f"{n} / mgic_{n}" for n in pairs)
        raise ValueError(f"Unknown model: expected one of {choices}. Received: model={name!r}")
    return dense, mgic


def _accepts(builder, argument):
    return argument in inspect.signature(builder).parameters


def _build(builder, name, kwargs):
    for argument, value in kwargs.items():
        if not _accepts(builder, argument):
            flag = "--" + argument.replace("_", "-")
            raise ValueError(
                f"{flag} does not apply to {name}, whose builder has no `{argument}` argument. "
                f"Received: {argument}={value!r}"
            )
    return builder(**kwargs)


def summarize(
    name, group_size=None, coarsest_size=None, alpha=None, input_size=None, mgic_min_width=None
):
    """Rows ``(label, params, macs)`` for the dense model, the MGIC model and their ratio."""
    import keras

    from keras_mgic import models, profiling

    dense_name, mgic_name = model_pair(name, models.MODELS)
    common = {}
    if alpha is not None:
        common["alpha"] = alpha
    if input_size is not None and _accepts(models.MODELS[dense_name], "points"):
        common["points"] = input_size  # a point-cloud model: points per cloud
    elif input_size is not None:
        common["input_shape"] = (input_size, input_size, 3)
    elif dense_name in models.SEGMENTATION_MODELS:  # any size by default: Table 5's
        from keras_mgic.models.lraspp import TABLE5_INPUT_SHAPE

        common["input_shape"] = TABLE5_INPUT_SHAPE
    mgic_kwargs = dict(common)
    if group_size is not None:
        mgic_kwargs["group_size"] = group_size
    if coarsest_size is not None:
        mgic_kwargs["coarsest_size"] = coarsest_size
    if mgic_min_width is not None:
        mgic_kwargs["mgic_min_width"] = mgic_min_width

    rows = []
    for label, kwargs in ((dense_name, common), (mgic_name, mgic_kwargs)):
        model = _build(models.MODELS[label], label, kwargs)
        rows.append((label, profiling.count_params(model), profiling.count_flops(model)))
        shape = tuple(model.inputs[0].shape[1:])
        del model
        # Fresh layer names for the next model; Python's collector frees the model's
        # memory on its own schedule (an explicit gc.collect() here took 0.5 s a model).
        keras.backend.clear_session(free_memory=False)
    return rows, shape


def _settings(args, models):
    parts = []
    mgic = models.MODELS[model_pair(args.model, models.MODELS)[1]]
    signature = inspect.signature(mgic).parameters
    for argument in ("group_size", "coarsest_size", "alpha", "mgic_min_width"):
        value = getattr(args, argument)
        if value is None and argument in signature:
            value = signature[argument].default
        if value is not None:
            parts.append(f"{argument}={value}")
    return ", ".join(parts)


def run(args):
    from keras_mgic import models

    try:
        rows, shape = summarize(
            args.model,
            group_size=args.group_size,
            coarsest_size=args.coarsest_size,
            alpha=args.alpha,
            input_size=args.input_size,
            mgic_min_width=args.mgic_min_width,
        )
        settings = _settings(args, models)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    (dense, dense_params, dense_macs), (mgic, mgic_params, mgic_macs) = rows
    size = "x".join(str(d) for d in shape)
    print(f"{mgic} ({settings}) vs {dense}, input {size}, batch 1")
    print("FLOPs are multiply-adds (MACs), as the paper counts them.")
    width = max(len(dense), len(mgic), len("ratio MGIC / dense"))
    print(f"{'model':<{width}}  {'params':>12}  {'MACs':>15}")
    for label, params, macs in rows:
        print(f"{label:<{width}}  {params:>12d}  {macs:>15d}")
    print(
        f"{'ratio MGIC / dense':<{width}}  {mgic_params / dense_params:>12.3f}  "
        f"{mgic_macs / dense_macs:>15.3f}"
    )
    return 0
