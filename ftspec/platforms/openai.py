"""OpenAI fine-tuning (GUIDE-RULES: the OpenAI cookbook's data-prep checks, the fine-tuning API, the pricing page)."""

from ftspec.platforms.base import ManagedPrice, Platform, Range

PRICES = "OpenAI pricing page, 2026 (shared/GUIDE-RULES.md)"

PLATFORM = Platform(
    name="openai", title="OpenAI", short="OpenAI", source="OpenAI data-prep checks and fine-tuning API",
    sft_recommended_examples=50, sft_recommended_source="004 primer",
    example_token_limit=16_385,
    accepted_formats=("messages", "preference"),
    message_keys=frozenset({"role", "content", "name", "function_call", "weight"}),
    roles=frozenset({"system", "user", "assistant", "function"}), expected_roles=("system", "user"),
    weight_key="weight", binary_weights=True,
    epochs=Range("n_epochs", 1, 50, whole=True), batch_size=Range("batch_size", 1, 256),
    dpo_beta=Range("DPO beta", 0, 2, low_inclusive=False),
    # Billed training tokens = tokens per epoch x epochs.
    training_prices=(
        ManagedPrice("openai", "gpt-4.1-nano", 1.50, "USD", 1_000_000, PRICES),
        ManagedPrice("openai", "gpt-4o-mini", 3.00, "USD", 1_000_000, PRICES),
        ManagedPrice("openai", "gpt-4.1-mini", 5.00, "USD", 1_000_000, PRICES),
        ManagedPrice("openai", "gpt-4.1", 25.00, "USD", 1_000_000, PRICES),
        ManagedPrice("openai", "gpt-4o", 25.00, "USD", 1_000_000, PRICES),
    ),
)
