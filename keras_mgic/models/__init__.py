"""Ready-made MGIC networks and their dense twins, in the style of ``keras.applications``."""

from keras_mgic.models.lraspp import (
    LRASPPMobileNetV3Large,
    LRASPPMobileNetV3Small,
    MGICLRASPPMobileNetV3Large,
    MGICLRASPPMobileNetV3Small,
)
from keras_mgic.models.mlp_mixer import MGICMLPMixer, MLPMixer
from keras_mgic.models.mobilenet_v3 import (
    MGICMobileNetV3Large,
    MGICMobileNetV3Small,
    MobileNetV3Large,
    MobileNetV3Small,
)
from keras_mgic.models.point_cloud import DGCNN, DiffGCN, MGICDiffGCN
from keras_mgic.models.resnet import (
    MGICResNet20,
    MGICResNet50,
    MGICResNet56,
    MGICResNet110,
    ResNet20,
    ResNet50,
    ResNet56,
    ResNet110,
)
from keras_mgic.models.vision_transformer import MGICVisionTransformer, VisionTransformer
from keras_mgic.models.wide_resnet import (
    MGICWideResNet16_8,
    MGICWideResNet28_10,
    WideResNet,
    WideResNet16_8,
    WideResNet28_10,
)

#: Every builder by its snake_case name (the names the ``keras-mgic`` CLI takes).
MODELS = {
    "resnet20": ResNet20,
    "resnet56": ResNet56,
    "resnet110": ResNet110,
    "mgic_resnet20": MGICResNet20,
    "mgic_resnet56": MGICResNet56,
    "mgic_resnet110": MGICResNet110,
    "resnet50": ResNet50,
    "mgic_resnet50": MGICResNet50,
    "mobilenet_v3_large": MobileNetV3Large,
    "mobilenet_v3_small": MobileNetV3Small,
    "mgic_mobilenet_v3_large": MGICMobileNetV3Large,
    "mgic_mobilenet_v3_small": MGICMobileNetV3Small,
    "wide_resnet16_8": WideResNet16_8,
    "wide_resnet28_10": WideResNet28_10,
    "mgic_wide_resnet16_8": MGICWideResNet16_8,
    "mgic_wide_resnet28_10": MGICWideResNet28_10,
    "lraspp_mobilenet_v3_large": LRASPPMobileNetV3Large,
    "lraspp_mobilenet_v3_small": LRASPPMobileNetV3Small,
    "mgic_lraspp_mobilenet_v3_large": MGICLRASPPMobileNetV3Large,
    "mgic_lraspp_mobilenet_v3_small": MGICLRASPPMobileNetV3Small,
    "dgcnn": DGCNN,
    "diffgcn": DiffGCN,
    "mgic_diffgcn": MGICDiffGCN,
    "vit": VisionTransformer,
    "mgic_vit": MGICVisionTransformer,
    "mlp_mixer": MLPMixer,
    "mgic_mlp_mixer": MGICMLPMixer,
}

#: The semantic segmentation builders of ``MODELS``: images to per-pixel logits
#: ``(batch, height, width, classes)``; every other builder is an image classifier.
SEGMENTATION_MODELS = (
    "lraspp_mobilenet_v3_large",
    "lraspp_mobilenet_v3_small",
    "mgic_lraspp_mobilenet_v3_large",
    "mgic_lraspp_mobilenet_v3_small",
)


def get_model(name, **kwargs):
    """Builds a model by its snake_case name, e.g. ``get_model("mgic_resnet20")``."""
    if name not in MODELS:
        raise ValueError(
            f"Unknown model: expected one of {sorted(MODELS)}. Received: name={name!r}"
        )
    return MODELS[name](**kwargs)


__all__ = [
    "LRASPPMobileNetV3Large",
    "LRASPPMobileNetV3Small",
    "MGICLRASPPMobileNetV3Large",
    "MGICLRASPPMobileNetV3Small",
    "DGCNN",
    "DiffGCN",
    "MGICDiffGCN",
    "MGICMLPMixer",
    "MGICMobileNetV3Large",
    "MGICMobileNetV3Small",
    "MGICResNet20",
    "MGICResNet50",
    "MGICResNet56",
    "MGICResNet110",
    "MGICWideResNet16_8",
    "MGICVisionTransformer",
    "MGICWideResNet28_10",
    "MLPMixer",
    "MODELS",
    "SEGMENTATION_MODELS",
    "MobileNetV3Large",
    "MobileNetV3Small",
    "ResNet20",
    "ResNet50",
    "ResNet56",
    "ResNet110",
    "VisionTransformer",
    "WideResNet",
    "WideResNet16_8",
    "WideResNet28_10",
    "get_model",
]
