"""MGICBlock inside your own ``keras.Sequential`` model, trained briefly on digits.

``keras_mgic.MGICBlock`` is an ordinary Keras layer: it keeps the number of channels and the
spatial size, so it goes wherever a residual block would. Width and stride changes are done
by ordinary layers (here a strided ``Conv2D``) or by ``keras_mgic.layers.ChannelTransition``,
the paper's cheap depthwise-style transition.

Usage::

    python examples/sequential_mgic.py            # 5 epochs on the offline digits set
    python examples/sequential_mgic.py --smoke    # one epoch on 64 images
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mgic  # noqa: E402
from keras_mgic import data, training  # noqa: E402
from keras_mgic.layers import ChannelTransition  # noqa: E402


def build_model(input_shape=(32, 32, 3), classes=10):
    """A small Sequential CNN whose body is two MGIC blocks."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            # keras_mgic.data yields raw 0-255 pixels: the model rescales them to [-1, 1].
            keras.layers.Rescaling(1 / 127.5, offset=-1),
            keras.layers.Conv2D(32, 3, padding="same", use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            # 32 channels, groups of 8, coarsest level 8: levels 32 -> 16 -> 8.
            keras_mgic.MGICBlock(group_size=8, coarsest_size=8, name="mgic_1"),
            # Double the width and halve the resolution cheaply, then another MGIC block.
            ChannelTransition(64, strides=2, name="transition"),
            keras_mgic.MGICBlock(group_size=8, coarsest_size=16, name="mgic_2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ],
        name="sequential_mgic",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="one epoch on 64 images")
    args = parser.parse_args(argv)
    limit = 64 if args.smoke else None
    epochs = 1 if args.smoke else args.epochs

    digits = data.load_dataset(
        "digits", batch_size=32, max_train_examples=limit, max_test_examples=limit
    )
    model = build_model(digits.input_shape, digits.num_classes)
    model.summary()
    model.compile(
        optimizer=training.make_optimizer(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # shuffle=False: the tf.data pipeline already shuffles every epoch.
    model.fit(digits.train, validation_data=digits.test, epochs=epochs, shuffle=False, verbose=2)
    _, accuracy = model.evaluate(digits.test, verbose=0)
    print(f"test accuracy {accuracy:.4f}")

    # A .keras file reloads without custom_objects: the MGIC layers are registered.
    images, _ = next(iter(digits.test))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "sequential_mgic.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5
    )
    print("saved and reloaded: same predictions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
