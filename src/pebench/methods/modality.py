"""Which modality a parameter or module belongs to, by its name (the methods that act per
modality: MMUnlearner's saliency mask, MANU's pruning)."""

from pebench.models.family import vision_parts


def in_modality(name: str, modality: str) -> bool:
    """Whether parameter `name` belongs to `modality`: vision (tower and projector), language
    (everything else) or both."""
    vision = any(part in name for part in vision_parts())  # the tower and projector of any registered family
    return modality == "both" or (modality == "vision") == vision
