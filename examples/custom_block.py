"""Your own per-level block inside ``MGICBlock(block=...)``, saved and reloaded.

``MGICBlock`` runs one CNN block per level of its channel hierarchy. Besides the built-in
``"residual"``, ``"bottleneck"`` and ``"inverted_residual"`` blocks it takes any Keras layer
class that

1. takes ``filters`` (its input and output channels) and ``groups`` (how many channel
   groups its convolutions use on this level: 1 on the coarsest level, more on finer ones)
   and passes ``**kwargs`` on to ``keras.layers.Layer``;
2. keeps the shape of its input;
3. is registered with ``keras.saving.register_keras_serializable`` and returns its
   constructor arguments from ``get_config``, so ``.keras`` files reload it.

Extra constructor arguments go in ``block_kwargs``. Below: a ConvNeXt-flavoured block (grouped
3x3 conv, BatchNorm, a grouped 1x1 expansion with GELU, a grouped 1x1 projection, residual).

Usage::

    python examples/custom_block.py            # 3 epochs on the offline digits set
    python examples/custom_block.py --smoke    # one epoch on 64 images
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mgic  # noqa: E402
from keras_mgic import data, training  # noqa: E402
from keras_mgic.layers import GroupedConv2D  # noqa: E402


@keras.saving.register_keras_serializable(package="my_project")
class GroupedGELUBlock(keras.layers.Layer):
    """``x + project(gelu(expand(BN(conv3x3(x)))))`` with every conv split into ``groups``.

    Args:
        filters: input and output channels.
        groups: channel groups of every convolution.
        expansion: width multiplier of the hidden 1x1 layer.
    """

    def __init__(self, filters, groups=1, expansion=2, **kwargs):
        super().__init__(**kwargs)
        if filters % groups:
            raise ValueError(
                "`filters` must be divisible by `groups`. "
                f"Received: filters={filters}, groups={groups}"
            )
        self.filters = filters
        self.groups = groups
        self.expansion = expansion
        common = dict(groups=groups, padding="same", dtype=self.dtype_policy)
        self.spatial = GroupedConv2D(filters, 3, use_bias=False, name="spatial", **common)
        self.norm = keras.layers.BatchNormalization(dtype=self.dtype_policy, name="norm")
        self.expand = GroupedConv2D(
            filters * expansion, 1, activation="gelu", name="expand", **common
        )
        self.project = GroupedConv2D(filters, 1, name="project", **common)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in (self.spatial, self.norm, self.expand, self.project):
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = self.norm(self.spatial(inputs), training=training)
        return inputs + self.project(self.expand(x))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "groups": self.groups, "expansion": self.expansion})
        return config


def build_model(input_shape=(32, 32, 3), classes=10):
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)  # raw 0-255 pixels to [-1, 1]
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras_mgic.MGICBlock(
        group_size=8,
        coarsest_size=8,
        block=GroupedGELUBlock,  # the class itself, or its registered name
        block_kwargs={"expansion": 2},
        name="mgic_custom",
    )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="custom_block_mgic")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one epoch on 64 images")
    args = parser.parse_args(argv)
    limit = 64 if args.smoke else None
    epochs = 1 if args.smoke else args.epochs

    digits = data.load_dataset(
        "digits", batch_size=32, max_train_examples=limit, max_test_examples=limit
    )
    model = build_model(digits.input_shape, digits.num_classes)
    mgic = model.get_layer("mgic_custom")
    levels = [(block.filters, block.groups) for block in mgic.level_blocks]
    # Widths halve level by level; groups = width / group_size on fine levels and 1 on the
    # coarsest (fully coupled) one: (32, 4), (16, 2), ...
    print("levels (filters, groups):", levels)
    model.compile(
        optimizer=training.make_optimizer(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # shuffle=False: the tf.data pipeline already shuffles every epoch.
    model.fit(digits.train, validation_data=digits.test, epochs=epochs, shuffle=False, verbose=2)

    # The config names the block by its registered name; loading needs no custom_objects,
    # only that the module defining the block has been imported (it is: it is this one).
    print("block in the config:", mgic.get_config()["block"])
    images, _ = next(iter(digits.test))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "custom_block.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.get_layer("mgic_custom").level_blocks[0], GroupedGELUBlock)
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5
    )
    print("saved and reloaded: same predictions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
