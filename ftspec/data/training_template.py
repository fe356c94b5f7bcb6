"""A training template for any chat template: what ftspec trains with where the model's template has no
``{% generation %}`` markers and TRL ships no training version of it (Llama 3.1/3.2, DeepSeek-V3, ...).

The derived template holds the original, unchanged, as a macro, and renders a conversation as the original does, in
pieces: for each assistant message, the original's rendering of the conversation before it with the generation
prompt, then (inside ``{% generation %}``) what the assistant message adds to it, its end-of-turn token included; then
the rest. The pieces are cut from the original's own renderings, so with the markers removed the derived template
renders every conversation byte-identically to the original. It raises (naming ftspec) where a conversation's
renderings are not prefixes of one another (a template that rewrites earlier turns), so the assistant's tokens would
be ambiguous; such a sample is a located error, never a silently wrong mask.
"""

from __future__ import annotations

import re

MARK = "ftspec-derived-training-template"
_HEAD = "{#- " + MARK + ": the original chat template is the macro below, unchanged -#}\n" \
        "{% macro ftspec_original(messages, add_generation_prompt) +%}"
_TAIL = """{%+ endmacro %}
{%- set ftspec = namespace(done="") -%}
{%- for ftspec_message in messages -%}
{%- if ftspec_message.role == "assistant" -%}
{%- set ftspec_before = ftspec_original(messages[:loop.index0], true) -%}
{%- set ftspec_after = ftspec_original(messages[:loop.index], false) -%}
{%- if not (ftspec_before.startswith(ftspec.done) and ftspec_after.startswith(ftspec_before)) -%}
{{- raise_exception(NOT_PREFIX) -}}
{%- endif -%}
{{- ftspec_before[ftspec.done|length:] -}}
{%- generation -%}{{- ftspec_after[ftspec_before|length:] -}}{%- endgeneration -%}
{%- set ftspec.done = ftspec_after -%}
{%- endif -%}
{%- endfor -%}
{%- set ftspec_full = ftspec_original(messages, add_generation_prompt) -%}
{%- if not ftspec_full.startswith(ftspec.done) -%}
{{- raise_exception(NOT_PREFIX) -}}
{%- endif -%}
{{- ftspec_full[ftspec.done|length:] -}}"""
NOT_PREFIX = ("the chat template renders this conversation's earlier turns differently once later turns follow, so "
              "ftspec cannot tell which tokens the assistant wrote (assistant-only loss)")
_MARKERS = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")


def derive_training_template(original: str) -> str:
    """The training template for ``original`` (any {% generation %} markers it has are left out of the macro: the
    derived template marks each assistant turn itself)."""
    return _HEAD + without_markers(original) + _TAIL.replace("NOT_PREFIX", repr(NOT_PREFIX))


def is_derived(template: str | None) -> bool:
    return isinstance(template, str) and MARK in template


def without_markers(template: str) -> str:
    """The template with its {% generation %} / {% endgeneration %} tags taken out (what it renders is unchanged)."""
    return _MARKERS.sub("", template)
