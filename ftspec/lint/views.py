"""Views of a list of findings: text for people, JSON for tools, SARIF 2.1.0, GitHub annotations."""

from __future__ import annotations

import json
import os
from collections import Counter

from ftspec import __version__
from ftspec.core.findings import Finding

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"


def _where(f: Finding) -> str:
    where = f.path
    if f.line:
        where += f":{f.line}"
        if f.column:
            where += f":{f.column}"
    return where


def render_text(findings: list[Finding], *, colour: bool) -> str:
    lines = []
    for f in findings:
        sev = f"{_COLOURS[f.severity]}{f.severity}{_RESET}" if colour else f.severity
        line = f"{_where(f)}: {sev} {f.code} {f.message}"
        if f.hint:
            line += f" ({f.hint})"
        lines.append(line)
    counts = Counter(f.severity for f in findings)
    if findings:
        lines.append(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info")
    return "\n".join(lines)


def render_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False)


def render_github(findings: list[Finding]) -> str:
    # https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions
    level = {"error": "error", "warning": "warning", "info": "notice"}
    out = []
    for f in findings:
        props = [f"file={f.path}"]
        if f.line:
            props.append(f"line={f.line}")
        if f.column:
            props.append(f"col={f.column}")
        props.append(f"title={f.code}")
        msg = f.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        out.append(f"::{level[f.severity]} {','.join(props)}::{msg}")
    return "\n".join(out)


def render_sarif(findings: list[Finding], rules: list) -> str:
    sarif_level = {"error": "error", "warning": "warning", "info": "note"}
    used = sorted({f.code for f in findings})
    by_code = {r.code: r for r in rules}
    rule_entries = []
    for code in used:
        rule = by_code.get(code)
        entry: dict = {"id": code}
        if rule is not None:
            entry["name"] = rule.name
            entry["shortDescription"] = {"text": rule.summary}
            entry["defaultConfiguration"] = {"level": sarif_level[rule.severity]}
        rule_entries.append(entry)
    results = []
    for f in findings:
        region = {}
        if f.line:
            region["startLine"] = f.line
            if f.column:
                region["startColumn"] = f.column
        location = {"physicalLocation": {"artifactLocation": {"uri": _uri(f.path)}}}
        if region:
            location["physicalLocation"]["region"] = region
        results.append({
            "ruleId": f.code,
            "ruleIndex": used.index(f.code),
            "level": sarif_level[f.severity],
            "message": {"text": f.message + (f" ({f.hint})" if f.hint else "")},
            "locations": [location],
        })
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "ftspec", "version": __version__, "informationUri": "https://ftspec.dev",
                                "rules": rule_entries}},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _uri(path: str) -> str:
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return rel.replace(os.sep, "/") if not rel.startswith("..") else path
