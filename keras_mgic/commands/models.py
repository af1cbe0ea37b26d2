"""``keras-mgic models``: the model and data-set names ``train``, ``summary`` and ``export``
take, one line each (imports neither Keras nor TensorFlow)."""

from keras_mgic.commands import names

NEEDS_CORE = False


def add_arguments(parser):
    parser.epilog = names.MGIC_FLAGS + "."


def run(args):
    print(names.listing())
    return 0
