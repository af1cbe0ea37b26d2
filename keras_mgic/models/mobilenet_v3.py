"""MobileNetV3 and MGIC-MobileNetV3 (draft; full builder in progress)."""


def _not_ready(*args, **kwargs):
    raise NotImplementedError("MobileNetV3 builders are being written.")


MobileNetV3Large = _not_ready
MobileNetV3Small = _not_ready
MGICMobileNetV3Large = _not_ready
MGICMobileNetV3Small = _not_ready
