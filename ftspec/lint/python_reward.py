"""A python reward's module, read without importing it (lint never runs the user's code): does the function exist
at the module's top level, and can it take what TRL's GRPOTrainer passes it?

TRL 1.16 (``GRPOTrainer._calculate_rewards``) calls every reward with keyword arguments only: ``prompts``,
``completions``, ``completion_ids``, each data column, ``trainer_state``, ``log_extra`` and ``log_metric``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ALWAYS_PASSED = ("prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric")


@dataclass
class RewardSignature:
    problem: str | None = None  # why TRL cannot call it (the module, the function or its signature)
    checked: bool = True  # False: the name is bound some other way (assignment, import): the signature is unknown
    var_keyword: bool = False  # has **kwargs
    named: set = field(default_factory=set)  # parameters TRL can pass by keyword
    required: list = field(default_factory=list)  # parameters without a default (TRL must pass each)


def read_signature(path: Path, function: str, shown: str | None = None) -> RewardSignature:
    """The signature of ``function`` defined at the top level of the module file ``path`` (``shown`` in messages)."""
    name = shown or str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RewardSignature(f"module file {name} not found")
    except (OSError, UnicodeDecodeError) as exc:
        return RewardSignature(f"module file {name} cannot be read ({exc})")
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return RewardSignature(f"{name}:{exc.lineno}: syntax error: {exc.msg}")
    found = None
    bound_otherwise = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            found = node  # the last definition wins, as at import
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.ClassDef)):
            names = _bound_names(node)
            if function in names:
                found, bound_otherwise = None, True
    if found is None:
        if bound_otherwise:
            return RewardSignature(checked=False)
        return RewardSignature(f"{name} defines no function {function!r} at its top level")
    return _signature(found)


def _bound_names(node: ast.AST) -> set:
    if isinstance(node, ast.ClassDef):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> RewardSignature:
    a = fn.args
    sig = RewardSignature(var_keyword=a.kwarg is not None)
    positional = a.posonlyargs + a.args
    defaults_from = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        if arg in a.posonlyargs:
            if i < defaults_from:
                sig.problem = (f"{fn.name}'s parameter {arg.arg!r} is positional-only without a default: TRL passes "
                               "every argument by keyword")
                return sig
            continue
        sig.named.add(arg.arg)
        if i < defaults_from:
            sig.required.append(arg.arg)
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        sig.named.add(arg.arg)
        if default is None:
            sig.required.append(arg.arg)
    return sig


def missing_parameters(sig: RewardSignature, columns: set) -> list[str]:
    """What TRL passes that the function cannot take (no **kwargs and no parameter of that name)."""
    if sig.var_keyword or not sig.checked:
        return []
    return [name for name in (*ALWAYS_PASSED, *sorted(columns)) if name not in sig.named]
