"""Which modality a parameter or module belongs to, by its name (the methods that act per
modality: MMUnlearner's saliency mask, MANU's pruning)."""

# Name parts of the vision side of a LLaVA / Qwen-VL style model (the tower and the projector).
VISION_PARTS = ("vision_tower", "vision_model", "visual", "multi_modal_projector")


def in_modality(name: str, modality: str) -> bool:
    """Whether parameter `name` belongs to `modality`: vision (tower and projector), language
    (everything else) or both."""
    vision = any(part in name for part in VISION_PARTS)
    return modality == "both" or (modality == "vision") == vision
