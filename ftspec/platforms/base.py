"""What a managed fine-tuning platform is to ftspec: its limits, the data it accepts, its hyperparameter ranges and
its training prices. One module per platform fills one ``Platform``; lint rules (under ``lint.profile``) and the
cost model read them from there, so no platform figure is written twice."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ManagedPrice:
    platform: str
    model: str
    price: float
    currency: str
    per_tokens: int  # the price is per this many training tokens
    source: str


@dataclass(frozen=True)
class Range:
    """A hyperparameter range a platform accepts, under the platform's own name for the parameter."""

    name: str
    low: float
    high: float
    low_inclusive: bool = True
    whole: bool = False  # whole numbers only

    def holds(self, value: float) -> bool:
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and value <= self.high and (not self.whole or float(value).is_integer())

    def describe(self) -> str:
        if self.whole:
            return f"a whole number from {self.low:g} to {self.high:g}"
        if not self.low_inclusive:
            return f"in ({self.low:g}, {self.high:g}]"
        return f"{self.low:g}-{self.high:g}"

    def short(self) -> str:
        return f"{self.low:g}-{self.high:g}" if self.low_inclusive else self.describe()


@dataclass(frozen=True)
class Platform:
    name: str  # the lint.profile that applies its rules
    title: str
    short: str  # in messages: "Bailian's limit"
    source: str  # where its figures come from (a seed guide or the platform's docs)
    sft_recommended_examples: int | None = None  # the volume it recommends for SFT (FT102)
    sft_recommended_source: str = ""
    max_length_limit: int | None = None  # the largest data.max_length it accepts (FT006, an error)
    example_token_limit: int | None = None  # longer examples are truncated there (FT006, a warning)
    file_bytes_limit: int | None = None  # per data file (FT605)
    accepted_formats: tuple[str, ...] | None = None  # record formats its upload takes (FT602); None: not checked
    message_keys: frozenset[str] | None = None  # keys a message may have (FT601); None: not checked
    refused_message_keys: tuple[str, ...] = ()  # keys it refuses on a message (FT601)
    roles: frozenset[str] | None = None  # roles it accepts (FT602); None: not checked
    expected_roles: tuple[str, ...] = ()  # an example without a message of each is warned about (FT602)
    weight_key: str | None = None  # its own per-message loss weight key (FT603)
    binary_weights: bool = False  # weights are 0 or 1 only
    own_lora_defaults: str | None = None  # its LoRA defaults differ from Ark's sqrt(r) >= alpha (FT201 relaxed)
    epochs: Range | None = None  # accepted hyperparameter ranges (FT604)
    batch_size: Range | None = None  # micro-batch x accumulation
    dpo_beta: Range | None = None
    training_prices: tuple[ManagedPrice, ...] = ()

    def token_limit(self) -> int | None:
        """The per-example token count lint decides against for this platform, if any."""
        return self.example_token_limit or self.max_length_limit
