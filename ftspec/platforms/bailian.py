"""Alibaba Cloud Bailian (Model Studio) fine-tuning (seed 001; its fine-tunes API and billing docs)."""

from ftspec.platforms.base import ManagedPrice, Platform

PRICES = "Alibaba Bailian billing docs, read 2026-11 (shared/GUIDE-RULES.md)"

PLATFORM = Platform(
    name="bailian", title="Alibaba Bailian", short="Bailian", source="001 Bailian; Bailian fine-tunes API",
    sft_recommended_examples=1000, sft_recommended_source="001 Bailian",
    max_length_limit=8192,
    file_bytes_limit=300 * 1024 * 1024,
    accepted_formats=("messages", "preference", "text"),
    refused_message_keys=("name", "weight", "loss_weight"),
    own_lora_defaults="Bailian's defaults are rank 8 / alpha 32",
    # Billed training tokens = tokens per epoch x epochs, mixed-in data included.
    training_prices=(
        ManagedPrice("bailian", "qwen3-8b", 0.006, "CNY", 1_000, PRICES),
        ManagedPrice("bailian", "qwen3-14b", 0.03, "CNY", 1_000, PRICES),
        ManagedPrice("bailian", "qwen3-32b", 0.04, "CNY", 1_000, PRICES),
        ManagedPrice("bailian", "qwen2.5-72b", 0.15, "CNY", 1_000, PRICES),
    ),
)
