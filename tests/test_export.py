"""Export: SavedModel and TFLite (float32, float16, int8), checked for parity with Keras.

Every builder family (an MGIC-ResNet-20 and an MGIC-MobileNetV3-Small at width 0.5, 32x32
inputs, logits outputs) is trained for a few epochs on 1,000 images of the offline digits set,
exported once per format (module-scoped fixtures), and compared with the Keras model on the
360 held-out test images:

- SavedModel and float32 TFLite: max |diff| / max |Keras logits| <= 1e-4;
- float16 TFLite: <= 1e-2;
- full-integer int8 TFLite (calibrated on 200 other training images): top-1 agreement
  >= 95%;
- builtin ops only; grouped convolutions stay grouped ``CONV_2D`` ops run by XNNPACK;
- dynamic batch (batch 1 and 3), mixed-precision export, the CLI.
"""

import argparse
import json
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mgic import export
from keras_mgic.commands import export as export_command
from keras_mgic.layers import ChannelTransition, GroupedConv2D, MGICBlock

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
TRAIN, CALIBRATION, HELD_OUT, EPOCHS = 1000, 200, 360, 5
FAMILIES = ("mgic_resnet", "mgic_mobilenet_v3")
MIXED_POLICY = {"mgic_resnet": "mixed_float16", "mgic_mobilenet_v3": "mixed_bfloat16"}


def _build(family):
    """A small model of a builder family, with logits outputs."""
    from keras_mgic.models import get_model

    if family == "mgic_resnet":
        return get_model(
            "mgic_resnet20",
            input_shape=INPUT_SHAPE,
            num_classes=NUM_CLASSES,
            classifier_activation=None,
        )
    # s_g = 8, s_c = 16: at width 0.5 (block widths 8 to 48) the wider blocks keep a
    # two-level channel hierarchy with grouped convolutions (the paper's s_g = s_c = 64
    # would leave every block of this narrow network fully coupled).
    return get_model(
        "mgic_mobilenet_v3_small",
        input_shape=INPUT_SHAPE,
        num_classes=NUM_CLASSES,
        width_multiplier=0.5,
        group_size=8,
        coarsest_size=16,
        classifier_activation=None,
    )


@pytest.fixture(scope="module")
def digits():
    """The offline digits set as ``keras-mgic train`` feeds it (normalised): training images,
    calibration images (other training images) and the held-out test split.
    """
    from keras_mgic import data

    datasets = data.load_dataset("digits", batch_size=64, augment=False)
    x_train, y_train = (np.concatenate(a) for a in zip(*datasets.train, strict=True))
    x_test, y_test = (np.concatenate(a) for a in zip(*datasets.test, strict=True))
    return {
        "x_train": np.asarray(x_train[:TRAIN]),
        "y_train": np.asarray(y_train[:TRAIN]),
        "calibration": np.asarray(x_train[TRAIN : TRAIN + CALIBRATION]),
        "held_out": np.asarray(x_test[:HELD_OUT]),
        "y_held_out": np.asarray(y_test[:HELD_OUT]),
    }


def _precise_batch_norm(model, inputs):
    """Sets every BatchNorm's moving statistics to those of ``inputs`` ("precise BN").

    After a few epochs the moving averages (momentum 0.9) still lag behind the weights;
    one forward pass in training mode with momentum 0 makes inference-mode logits those of
    the trained network, so the exported files have meaningful logits to agree on.
    """
    norms = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(inputs, training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum


def _train(model, digits, epochs=EPOCHS):
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    model.fit(digits["x_train"], digits["y_train"], batch_size=64, epochs=epochs, verbose=0)
    _precise_batch_norm(model, digits["x_train"][:500])
    return model


@pytest.fixture(scope="module")
def trained(digits):
    """``trained(family)``: the briefly trained model of a family, built once per module."""
    models = {}

    def get(family):
        if family not in models:
            keras.utils.set_random_seed(0)
            models[family] = _train(_build(family), digits)
        return models[family]

    return get


@pytest.fixture(scope="module", params=FAMILIES)
def exported(request, trained, digits, tmp_path_factory):
    """A trained model of one family, its SavedModel and its float32/float16/int8 files.

    The three TFLite files are converted from the one SavedModel (``to_tflite`` of a
    SavedModel folder); ``to_tflite`` of a Keras model is exercised by the mixed-precision
    and CLI tests.
    """
    model = trained(request.param)
    folder = tmp_path_factory.mktemp(request.param)
    saved_model = export.to_saved_model(model, folder / "saved_model")
    paths = {
        "saved_model": saved_model,
        "float32": export.to_tflite(saved_model, folder / "float32.tflite"),
        "float16": export.to_tflite(saved_model, folder / "float16.tflite", "float16"),
        "int8": export.to_tflite(
            saved_model,
            folder / "int8.tflite",
            "int8",
            representative_data=digits["calibration"],
        ),
    }
    logits = _keras_logits(model, digits["held_out"])
    return {"family": request.param, "model": model, "paths": paths, "logits": logits}


def _keras_logits(model, inputs):
    return np.asarray(model.predict(inputs, verbose=0))


def _rel_error(reference, outputs):
    return float(np.max(np.abs(reference - outputs)) / np.max(np.abs(reference)))


# --------------------------------------------------------------------------- parity per format


def test_trained_logits_are_not_trivial(exported, digits):
    logits = exported["logits"]
    assert np.all(np.isfinite(logits))
    assert len(np.unique(np.argmax(logits, -1))) == NUM_CLASSES
    assert np.mean(np.argmax(logits, -1) == digits["y_held_out"]) >= 0.5


def test_saved_model_parity_and_dynamic_batch(exported, digits):
    path, model = exported["paths"]["saved_model"], exported["model"]
    assert export.serving_batch_dims(path) == {"inputs": None}
    figures = export.check_parity(model, path, digits["held_out"])
    assert figures["max_rel_error"] <= 1e-4
    assert figures["top1_agreement"] == 1.0
    serve = tf.saved_model.load(path).signatures["serving_default"]
    for batch in (1, 3):
        inputs = digits["held_out"][:batch]
        (outputs,) = serve(inputs=tf.constant(inputs)).values()
        assert outputs.shape == (batch, NUM_CLASSES)
        assert _rel_error(_keras_logits(model, inputs), outputs.numpy()) <= 1e-4


def test_tflite_float32_parity_and_dynamic_batch(exported, digits):
    path, model = exported["paths"]["float32"], exported["model"]
    figures = export.check_parity(model, path, digits["held_out"])
    assert figures["max_rel_error"] <= 1e-4
    assert figures["top1_agreement"] == 1.0
    (details,) = export.interpreter_class()(model_path=path).get_input_details()
    assert details["shape_signature"][0] == -1
    for batch in (1, 3):
        inputs = digits["held_out"][:batch]
        outputs = export.run_tflite(path, inputs, batch_size=batch)
        assert outputs.shape == (batch, NUM_CLASSES)
        assert _rel_error(_keras_logits(model, inputs), outputs) <= 1e-4


def test_tflite_float16_parity_and_size(exported, digits):
    paths = exported["paths"]
    outputs = export.run_tflite(paths["float16"], digits["held_out"])
    figures = export.parity(exported["logits"], outputs)
    assert figures["max_rel_error"] <= 1e-2
    assert figures["top1_agreement"] >= 0.99
    ops = export.list_ops(paths["float16"], details=True)
    assert any(op["name"] == "DEQUANTIZE" and op["input_types"] == ["float16"] for op in ops)
    assert os.path.getsize(paths["float16"]) < 0.7 * os.path.getsize(paths["float32"])


def test_tflite_int8_top1_and_full_integer(exported, digits):
    paths = exported["paths"]
    outputs = export.run_tflite(paths["int8"], digits["held_out"])
    figures = export.parity(exported["logits"], outputs)
    assert figures["num_inputs"] == HELD_OUT
    assert figures["top1_agreement"] >= 0.95, export.format_parity(figures)
    ops = export.list_ops(paths["int8"], details=True)
    assert ops[0]["name"] == "QUANTIZE" and ops[-1]["name"] == "DEQUANTIZE"
    for op in ops[1:-1]:  # int8 activations, int32 biases and shapes: no float op inside
        assert set(op["input_types"] + op["output_types"]) <= {"int8", "int32"}, op
    assert os.path.getsize(paths["int8"]) < 0.6 * os.path.getsize(paths["float32"])


# --------------------------------------------------------------------------- ops and runtimes


def test_every_file_has_builtin_ops_only(exported):
    for name in ("float32", "float16", "int8"):
        ops = export.check_builtin_ops(exported["paths"][name])
        assert not any(op.startswith("Flex") for op in ops)
        assert "CONV_2D" in ops


def test_check_builtin_ops_rejects_flex_ops(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32)])
    def erf(x):
        return tf.math.erf(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([erf.get_concrete_function()], erf)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    path = tmp_path / "flex.tflite"
    path.write_bytes(converter.convert())
    assert "FlexErf" in export.list_ops(path)
    with pytest.raises(ValueError, match=r"Received: ops=\['FlexErf'\]"):
        export.check_builtin_ops(path)


def test_grouped_convs_stay_grouped_conv2d_and_run_on_xnnpack(exported):
    # Regression guard for DESIGN.md section 5: TF 2.21's converter keeps a grouped conv as
    # one CONV_2D and XNNPACK runs it in float and int8, so no export-time lowering is needed.
    for name in ("float32", "float16", "int8"):
        path = exported["paths"][name]
        assert max(export.conv_groups(path)) > 1, name
        assert "CONV_2D" not in export.undelegated_ops(path), name


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_single_grouped_conv_matches_keras(quantization, tmp_path):
    model = keras.Sequential(
        [keras.Input((8, 8, 16)), GroupedConv2D(32, 3, groups=4, padding="same")]
    )
    inputs = np.random.default_rng(1).uniform(-1, 1, size=(64, 8, 8, 16)).astype("float32")
    path = export.to_tflite(
        model, tmp_path / "grouped.tflite", quantization, representative_data=inputs[:32]
    )
    assert export.conv_groups(path) == [4]
    assert export.undelegated_ops(path) == []
    figures = export.check_parity(model, path, inputs[32:])
    assert figures["max_rel_error"] <= (1e-5 if quantization is None else 2e-2)


def test_litert_and_tensorflow_interpreters_agree(exported, digits):
    pytest.importorskip("ai_edge_litert")
    assert export.interpreter_class("auto").__module__.startswith("ai_edge_litert")
    for name in ("float32", "int8"):
        path = exported["paths"][name]
        litert = export.run_tflite(path, digits["held_out"][:16], runtime="litert")
        with warnings.catch_warnings():  # tf.lite.Interpreter warns that it is deprecated
            warnings.simplefilter("ignore", UserWarning)
            tensorflow = export.run_tflite(path, digits["held_out"][:16], runtime="tensorflow")
        np.testing.assert_allclose(litert, tensorflow, atol=1e-5)


# --------------------------------------------------------------------------- mixed precision


def test_mixed_precision_model_exports_in_float32(exported, digits, tmp_path):
    """A model built and compiled under a mixed policy exports as its float32 twin.

    The trained float32 weights are copied in rather than trained again under the mixed
    policy (the export only sees the config and the weights; ``compile`` adds the
    ``LossScaleOptimizer`` and a compile config, which the float32 rebuild drops).
    """
    family, trained_model = exported["family"], exported["model"]
    policy = MIXED_POLICY[family]
    keras.config.set_dtype_policy(policy)
    model = _build(family)
    keras.config.set_dtype_policy("float32")
    assert policy in json.dumps(model.get_config())
    model.set_weights(trained_model.get_weights())
    model.compile(
        optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)

    twin = export.float32_model(model)
    assert twin is not model
    assert "mixed" not in json.dumps(twin.get_config())
    assert {str(w.dtype) for w in twin.weights} == {"float32"}
    assert keras.config.dtype_policy().name == "float32"
    assert policy in json.dumps(model.get_config())  # the original is untouched

    inputs = digits["held_out"]
    mixed_logits, twin_logits = _keras_logits(model, inputs), _keras_logits(twin, inputs)
    # to_saved_model rebuilds the model in float32 (as to_tflite of the Keras model does);
    # converting its output saves tracing the model a second time.
    saved_model = export.to_saved_model(model, tmp_path / "saved_model")
    tflite = export.to_tflite(saved_model, tmp_path / "mixed.tflite")
    export.check_builtin_ops(tflite)
    # bfloat16 keeps 8 bits of mantissa against float16's 11: a looser bound against the
    # mixed model itself; against its float32 twin both files are exact.
    bound = 2e-2 if policy == "mixed_float16" else 1e-1
    for outputs in (export.run_saved_model(saved_model, inputs), export.run_tflite(tflite, inputs)):
        assert export.parity(twin_logits, outputs)["max_rel_error"] <= 1e-4
        figures = export.parity(mixed_logits, outputs)
        assert figures["max_rel_error"] <= bound, export.format_parity(figures)
        assert figures["top1_agreement"] >= 0.95, export.format_parity(figures)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16", "float16"])
def test_to_tflite_converts_a_reduced_precision_keras_model(policy, tmp_path):
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(policy)
    model = _tiny_mgic_model()
    keras.config.set_dtype_policy("float32")
    path = export.to_tflite(model, tmp_path / "tiny.tflite")
    inputs = np.random.default_rng(0).normal(size=(8, *INPUT_SHAPE)).astype("float32")
    twin_logits = _keras_logits(export.float32_model(model), inputs)
    assert export.parity(twin_logits, export.run_tflite(path, inputs))["max_rel_error"] <= 1e-4


def test_float32_model_returns_a_float32_model_itself():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert export.float32_model(model) is model


# --------------------------------------------------------------------------- options and errors


def _tiny_mgic_model():
    inputs = keras.Input(INPUT_SHAPE)
    x = ChannelTransition(16, strides=2)(inputs)
    x = MGICBlock(group_size=4, coarsest_size=4)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(x))


def test_int8_integer_io_matches_float_io(digits, tmp_path):
    keras.utils.set_random_seed(0)
    model = _tiny_mgic_model()
    dataset = tf.data.Dataset.from_tensor_slices(
        (digits["calibration"], np.zeros(CALIBRATION, "int32"))
    ).batch(16)
    integer = export.to_tflite(
        model, tmp_path / "io.tflite", "int8", representative_data=dataset, integer_io=True
    )
    floating = export.to_tflite(
        model,
        tmp_path / "float_io.tflite",
        "int8",
        representative_data=lambda: iter(np.split(digits["calibration"], 10)),
    )
    interpreter = export.interpreter_class()(model_path=integer)
    (input_details,), (output_details,) = (
        interpreter.get_input_details(),
        interpreter.get_output_details(),
    )
    assert input_details["dtype"] == np.int8 and output_details["dtype"] == np.int8
    assert export.interpreter_class()(model_path=floating).get_input_details()[0]["dtype"] == (
        np.float32
    )
    # The same quantized graph: outputs agree to one output quantization step.
    step = output_details["quantization"][0]
    outputs_integer = export.run_tflite(integer, digits["held_out"])
    outputs_floating = export.run_tflite(floating, digits["held_out"])
    assert np.max(np.abs(outputs_integer - outputs_floating)) <= 1.01 * step
    assert export.check_parity(model, integer, digits["held_out"])["max_rel_error"] <= 0.1


def test_argument_errors(tmp_path):
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 1)])
    with pytest.raises(ValueError, match="Received: representative_data=None"):
        export.to_tflite(model, tmp_path / "m.tflite", "int8")
    with pytest.raises(ValueError, match="Received: quantization='int4'"):
        export.to_tflite(model, tmp_path / "m.tflite", "int4")
    with pytest.raises(ValueError, match="Received: quantization=None"):
        export.to_tflite(model, tmp_path / "m.tflite", integer_io=True)
    with pytest.raises(ValueError, match="Received: runtime='onnx'"):
        export.interpreter_class("onnx")
    with pytest.raises(ValueError, match="Received: model="):
        export.to_tflite(str(tmp_path), tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="Received: 0 samples"):
        export.to_tflite(
            model,
            tmp_path / "m.tflite",
            "int8",
            representative_data=np.zeros((0, 4, 4, 3), "float32"),
        )
    first, second = keras.Input((2,)), keras.Input((2,))
    two_inputs = keras.Model([first, second], keras.layers.Add()([first, second]))
    with pytest.raises(ValueError, match=r"Received: len\(model.inputs\)=2"):
        export.to_saved_model(two_inputs, tmp_path / "two")


# --------------------------------------------------------------------------- the CLI


def _cli(*argv):
    parser = argparse.ArgumentParser()
    export_command.add_arguments(parser)
    return export_command.run(parser.parse_args([str(a) for a in argv]))


def test_cli_int8_with_digits(trained, tmp_path, capsys):
    model_path = tmp_path / "model.keras"
    trained("mgic_mobilenet_v3").save(model_path)
    code = _cli(model_path, "--format", "tflite", "--quantization", "int8")
    assert code == 2
    assert "Received: representative_data=None" in capsys.readouterr().err

    code = _cli(
        model_path,
        "--format",
        "tflite",
        "--quantization",
        "int8",
        "--representative-data",
        "digits",
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    output = tmp_path / "model_int8.tflite"
    assert output.is_file()
    export.check_builtin_ops(output)
    assert "calibrated on 200 inputs" in printed
    assert "parity vs Keras on 200 held-out inputs of 'digits'" in printed
    agreement = float(printed.split("top-1 agreement ")[1].split("%")[0])
    assert agreement >= 95.0, printed


def test_cli_saved_model_with_a_folder_of_npy_and_images(digits, tmp_path, capsys):
    model_path = tmp_path / "tiny.keras"
    _tiny_mgic_model().save(model_path)
    folder = tmp_path / "samples"
    folder.mkdir()
    np.save(folder / "a_batch.npy", digits["held_out"][:5])
    np.save(folder / "b_one.npy", digits["held_out"][5])
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, *INPUT_SHAPE), dtype=np.uint8)
    for i in range(2):
        keras.utils.save_img(folder / f"c_image{i}.png", pixels[i], scale=False)
    (folder / "notes.txt").write_text("ignored")
    calibration, held_out = export_command.load_representative_data(
        str(folder), INPUT_SHAPE, calibration_samples=3
    )
    assert calibration.shape == (3, *INPUT_SHAPE) and held_out.shape == (5, *INPUT_SHAPE)
    everything = np.concatenate([calibration, held_out])
    expected = np.concatenate([digits["held_out"][:6], pixels / 255.0])
    for row in expected:  # the same inputs, shuffled
        assert np.min(np.max(np.abs(everything - row), axis=(1, 2, 3))) < 1e-6

    code = _cli(
        model_path,
        "--format",
        "saved_model",
        "--representative-data",
        folder,
        "--calibration-samples",
        3,
        "--output",
        tmp_path / "exported",
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert export.serving_batch_dims(tmp_path / "exported") == {"inputs": None}
    assert "parity vs Keras on 5 held-out inputs" in printed
    assert "top-1 agreement 100.0%" in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "saved_model", "--quantization", "int8"], "Received: quantization='int8'"),
        (
            ["--format", "tflite", "--representative-data", "nowhere"],
            "Received: representative_data='nowhere'",
        ),
        (["--format", "tflite", "--parity-samples", "0"], "Received: parity_samples=0"),
    ],
)
def test_cli_errors(argv, message, tmp_path, capsys):
    model_path = tmp_path / "m.keras"
    keras.Sequential([keras.Input(INPUT_SHAPE), keras.layers.Conv2D(2, 1)]).save(model_path)
    assert _cli(model_path, *argv) == 2
    assert message in capsys.readouterr().err


def test_cli_missing_model_file(tmp_path, capsys):
    assert _cli(tmp_path / "absent.keras", "--format", "tflite") == 2
    assert "Received: model=" in capsys.readouterr().err


def test_cli_digits_needs_a_square_rgb_input(tmp_path, capsys):
    model_path = tmp_path / "gray.keras"
    keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(2, 1)]).save(model_path)
    assert _cli(model_path, "--format", "tflite", "--representative-data", "digits") == 2
    assert "Received: input_shape=(32, 32, 1)" in capsys.readouterr().err
