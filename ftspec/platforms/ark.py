"""Volcengine Ark (seeds 000 and 003: the Ark overview and best practices; the Ark API). ftspec's default profile:
the guides' general rules are Ark's, so what is Ark's own here is only what differs from the other platforms."""

from ftspec.platforms.base import Platform

PLATFORM = Platform(
    name="ark", title="Volcengine Ark", short="Ark", source="000 Ark overview; 003 Ark best practices; Ark API",
    sft_recommended_examples=100, sft_recommended_source="000 Ark overview",
    weight_key="loss_weight",
)
