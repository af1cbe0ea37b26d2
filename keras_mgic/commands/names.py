"""The model and data-set names the CLI accepts, listed without importing Keras or TensorFlow.

``MODEL_NAMES`` mirrors ``keras_mgic.models.MODELS`` (a test checks that they hold the same
names), so ``keras-mgic train --help`` and ``keras-mgic models`` answer at once.
"""

#: ``keras_mgic.models.MODELS``' names, each with one line on what it builds.
MODEL_NAMES = {
    "resnet20": "CIFAR ResNet-20 (32x32x3, 10 classes)",
    "resnet56": "CIFAR ResNet-56",
    "resnet110": "CIFAR ResNet-110",
    "mgic_resnet20": "MGIC-ResNet-20 (s_g 8, s_c 16)",
    "mgic_resnet56": "MGIC-ResNet-56 (s_g 8, s_c 16)",
    "mgic_resnet110": "MGIC-ResNet-110 (s_g 8, s_c 16)",
    "resnet50": "ImageNet ResNet-50 (224x224x3, 1000 classes)",
    "mgic_resnet50": "MGIC-ResNet-50 (s_g 32, s_c 64)",
    "mobilenet_v3_large": "MobileNetV3-Large (224x224x3, 1000 classes, raw 0-255 input)",
    "mobilenet_v3_small": "MobileNetV3-Small",
    "mgic_mobilenet_v3_large": "MGIC-MobileNetV3-Large (s_g 64, s_c 64)",
    "mgic_mobilenet_v3_small": "MGIC-MobileNetV3-Small (s_g 64, s_c 64)",
    "wide_resnet16_8": "CIFAR Wide ResNet-16-8 (pre-activation)",
    "wide_resnet28_10": "CIFAR Wide ResNet-28-10",
    "mgic_wide_resnet16_8": "MGIC-WRN-16-8 (s_g 16, s_c 32)",
    "mgic_wide_resnet28_10": "MGIC-WRN-28-10 (s_g 16, s_c 32)",
    "lraspp_mobilenet_v3_large": "segmentation: LR-ASPP, MobileNetV3-Large (any size, 19 classes)",
    "lraspp_mobilenet_v3_small": "segmentation: LR-ASPP, MobileNetV3-Small",
    "mgic_lraspp_mobilenet_v3_large": "segmentation: MGIC-LR-ASPP-Large (s_g 16, s_c 32)",
    "mgic_lraspp_mobilenet_v3_small": "segmentation: MGIC-LR-ASPP-Small (s_g 16, s_c 32)",
    "dgcnn": "point clouds: DGCNN (1,024 points, 10 classes)",
    "diffgcn": "point clouds: DiffGCN",
    "mgic_diffgcn": "point clouds: MGIC-DiffGCN (s_g 8, s_c 16)",
    "vit": "small ViT (32x32x3, 4x4 patches, dim 256, 4 blocks)",
    "mgic_vit": "MGIC-ViT: MGICFeedForward MLPs (s_g 64, s_c 128)",
    "mlp_mixer": "small MLP-Mixer (32x32x3, 4x4 patches, dim 256, 4 blocks)",
    "mgic_mlp_mixer": "MGIC-Mixer: MGICFeedForward channel MLPs (s_g 64, s_c 128)",
}

#: The data sets ``--dataset`` takes, by the kind of model that trains on them.
DATASET_NAMES = {
    "digits": "classification, offline (default): handwritten digits, 32x32",
    "cifar10, cifar100, ...": "classification: a TFDS image-classification name (--data-dir)",
    "digit_mosaics": "segmentation, offline: digits on 128x128 canvases, 11 classes",
    "oxford_iiit_pet": "segmentation: TFDS, background / pet (--data-dir)",
    "cityscapes": "segmentation: TFDS, 19 classes (--data-dir)",
    "digit_points": "point clouds, offline: the digits as (x, y, intensity) points",
    "modelnet10": "point clouds: a ModelNet10 folder of .off meshes (--data-dir)",
}

#: How the CLI's flags name the paper's two MGIC settings.
MGIC_FLAGS = (
    "--group-size is the paper's s_g: channels per group on the fine levels (a level of width "
    "c has c / s_g groups); --coarsest-size is the paper's s_c: channels are halved level by "
    "level down to a coarsest level of at most s_c channels, the only fully coupled one"
)


def listing(width=31):
    """The models and data sets, one line each (``keras-mgic models``, ``train --help``)."""
    lines = ["models (--model):"]
    lines += [f"  {name:<{width}} {text}" for name, text in MODEL_NAMES.items()]
    lines += ["data sets (--dataset):"]
    lines += [f"  {name:<{width}} {text}" for name, text in DATASET_NAMES.items()]
    return "\n".join(lines)
