"""Earlier versions' adapters merged into a loaded model, in the order incremental training merged them: the trainer,
evaluation and export must rebuild the same weights."""

from __future__ import annotations


def merge_adapters(model, adapters):
    """``model`` with each PEFT adapter folder of ``adapters`` merged into its weights, in order (peft imported only
    when there is one)."""
    for folder in adapters or ():
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    return model
