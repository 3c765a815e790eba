"""Showing results: a terminal table, an HTML table for Jupyter, JSON and JUnit XML."""
from __future__ import annotations

import html
import json
import sys
import xml.etree.ElementTree as ET

from .model import ERROR, FAIL, PASS, ExerciseResult

_SYMBOLS_UTF8 = {PASS: "\u2714", FAIL: "\u2718", ERROR: "!"}
_SYMBOLS_ASCII = {PASS: "ok", FAIL: "X", ERROR: "!"}
_COLORS = {PASS: "\033[32m", FAIL: "\033[31m", ERROR: "\033[33m"}
_RESET = "\033[0m"


def _symbols() -> dict:
    enc = (getattr(sys.stdout, "encoding", "") or "").lower()
    return _SYMBOLS_UTF8 if "utf" in enc else _SYMBOLS_ASCII


def render_text(result: ExerciseResult, color: bool | None = None) -> str:
    if color is None:
        color = sys.stdout.isatty()
    sym = _symbols()
    verdict = "all checks pass" if result.passed else ("could not check everything" if result.errored else "not done yet")
    lines = [f"{result.exercise} \u2014 {result.title}: {result.score}/{result.max_score} points, {verdict}"]
    for c in result.checks:
        mark = sym[c.status]
        if color:
            mark = f"{_COLORS[c.status]}{mark}{_RESET}"
        lines.append(f"  {mark} {c.title}")
        if c.status != PASS or c.hint:
            lines.append(f"      {c.message}")
            for hint_line in c.hint.splitlines():
                lines.append(f"      {hint_line}")
    for tip in result.advice:
        lines.append(f"  advice: {tip}")
    return "\n".join(lines)


def render_html(result: ExerciseResult) -> str:
    colors = {PASS: "#1a7f37", FAIL: "#cf222e", ERROR: "#9a6700"}
    bg = {PASS: "#dafbe1", FAIL: "#ffebe9", ERROR: "#fff8c5"}
    rows = []
    for c in result.checks:
        detail = "" if c.status == PASS and not c.hint else (
            f"<div>{html.escape(c.message)}</div>" + (f"<div><b>{html.escape(c.hint).replace(chr(10), '<br>')}</b></div>" if c.hint else ""))
        if c.status == PASS and not c.hint:
            detail = f"<div>{html.escape(c.message)}</div>"
        rows.append(
            f'<tr style="background:{bg[c.status]}"><td style="color:{colors[c.status]};font-weight:bold">'
            f"{c.status.upper()}</td><td>{html.escape(c.title)}{detail}</td><td>{c.points}/{c.max_points}</td></tr>")
    advice = "".join(f"<li>{html.escape(a)}</li>" for a in result.advice)
    head = "All checks pass" if result.passed else ("Could not check everything" if result.errored else "Not done yet")
    return (f'<div class="dockercourse-result"><p><b>{html.escape(result.exercise)}</b> \u2014 '
            f"{html.escape(result.title)}: <b>{head}</b> ({result.score}/{result.max_score} points)</p>"
            '<table style="border-collapse:collapse;text-align:left">'
            "<tr><th>status</th><th>check</th><th>points</th></tr>" + "".join(rows) + "</table>"
            + (f"<p>Advice (never counted):</p><ul>{advice}</ul>" if advice else "") + "</div>")


def render_json(result: ExerciseResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def junit_tree(results: list[ExerciseResult], suite_name: str = "dockercourse") -> ET.ElementTree:
    root = ET.Element("testsuites", name=suite_name)
    for res in results:
        fails = sum(1 for c in res.checks if c.status == FAIL)
        errs = sum(1 for c in res.checks if c.status == ERROR)
        suite = ET.SubElement(root, "testsuite", name=res.exercise, tests=str(len(res.checks)),
                              failures=str(fails), errors=str(errs), time=f"{res.seconds:.3f}")
        for c in res.checks:
            case = ET.SubElement(suite, "testcase", classname=res.exercise, name=c.id, time=f"{c.seconds:.3f}")
            if c.status == FAIL:
                el = ET.SubElement(case, "failure", message=c.message)
                el.text = f"{c.message}\n{c.hint}\n{json.dumps(c.evidence, default=str)}"
            elif c.status == ERROR:
                el = ET.SubElement(case, "error", message=c.message)
                el.text = c.hint
    return ET.ElementTree(root)


def write_junit(results: list[ExerciseResult], path, suite_name: str = "dockercourse") -> None:
    tree = junit_tree(results, suite_name)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
