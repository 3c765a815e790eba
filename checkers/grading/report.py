"""The HTML report: a class overview and one feedback page per student, all offline.

``report/index.html``: how many students, the verdicts, the score distribution (an inline SVG
histogram: no JavaScript, no network), the pass rate of every check, lowest first (the common
mistakes), and a table of students linking to ``report/students/<student>.html``, the feedback page:
every check with what was found, what was expected, the fix, the evidence, and the logs.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from . import verdicts as V
from .gradebook import student_total, write_atomic

COLORS = {V.PASS: "#1a7f37", V.FAIL: "#cf222e", V.BUILD_FAILED: "#bc4c00", V.REFUSED: "#8250df",
          V.OOM_KILLED: "#bf3989", V.TIMEOUT: "#9a6700", V.ENGINE_ERROR: "#9a6700", V.MISSING: "#57606a"}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#1f2328;padding:0 1em}
h1,h2,h3{font-weight:600} table{border-collapse:collapse;margin:.5em 0 1.5em} td,th{padding:.3em .6em;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top}
.v{font-weight:600;white-space:nowrap} .muted{color:#57606a} pre{background:#f6f8fa;padding:.6em;overflow-x:auto;max-height:20em;font-size:85%}
.bar{display:inline-block;height:.8em;background:#2da44e} .barbg{display:inline-block;width:12em;background:#eaeef2;height:.8em}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.2em 1em 1em;margin:1em 0} details{margin:.3em 0}
.flag{background:#fff8c5;padding:.1em .4em;border-radius:4px}
"""


def _e(x) -> str:
    return html.escape(str(x))


def badge(verdict: str) -> str:
    return f'<span class="v" style="color:{COLORS.get(verdict, "#57606a")}">{_e(verdict)}</span>'


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f"<body>{body}</body></html>")


def histogram_svg(values: list[float], bins: int = 10, width: int = 520, height: int = 200) -> str:
    """An inline SVG histogram of percentages (0-100)."""
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v * bins / 100))] += 1
    top = max(counts) or 1
    pad_l, pad_b, pad_t = 30, 30, 10
    bw = (width - pad_l - 10) / bins
    ch = height - pad_b - pad_t
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="score distribution">',
             f'<line x1="{pad_l}" y1="{pad_t + ch}" x2="{width - 10}" y2="{pad_t + ch}" stroke="#57606a"/>']
    for i, c in enumerate(counts):
        h = ch * c / top
        x = pad_l + i * bw
        parts.append(f'<rect x="{x + 2:.1f}" y="{pad_t + ch - h:.1f}" width="{bw - 4:.1f}" height="{h:.1f}" fill="#2da44e">'
                     f"<title>{i * 100 // bins}-{(i + 1) * 100 // bins}%: {c}</title></rect>")
        if c:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{pad_t + ch - h - 2:.1f}" font-size="11" text-anchor="middle">{c}</text>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{height - 12}" font-size="10" text-anchor="middle">{i * 100 // bins}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 1}" font-size="10" text-anchor="end">% of points</text>')
    parts.append(f'<text x="2" y="{pad_t + 8}" font-size="10">{top}</text></svg>')
    return "".join(parts)


def check_rates(results: dict) -> list[dict]:
    """Pass rate of every check over the records that were graded (re-run ones left out)."""
    table: dict[tuple[str, str], dict] = {}
    for recs in results.values():
        for ex, rec in recs.items():
            for c in rec.get("checks", []):
                row = table.setdefault((ex, c["id"]), {"exercise": ex, "check": c["id"], "title": c.get("title", c["id"]),
                                                       "passed": 0, "graded": 0, "statuses": {}})
                row["statuses"][c["status"]] = row["statuses"].get(c["status"], 0) + 1
                if c["status"] in V.RERUN:
                    continue
                row["graded"] += 1
                row["passed"] += c["status"] == V.PASS
    rows = list(table.values())
    for r in rows:
        r["rate"] = r["passed"] / r["graded"] if r["graded"] else None
    rows.sort(key=lambda r: (r["rate"] if r["rate"] is not None else 2, r["exercise"], r["check"]))
    return rows


def overview_html(data: dict) -> str:
    results = data.get("results", {})
    ex_ids = list(data.get("exercises", {}))
    percents, rows = [], []
    for s in sorted(results):
        score, maximum, rerun = student_total(results[s], ex_ids)
        if maximum:
            percents.append(100 * score / maximum)
        cells = []
        for ex in ex_ids:
            rec = results[s].get(ex)
            if rec is None:
                cells.append('<td class="muted">-</td>')
            elif rec.get("rerun"):
                cells.append(f'<td>{badge(rec["verdict"])} <span class="flag">re-run</span></td>')
            else:
                cells.append(f'<td>{rec["score"]}/{rec["max_score"]} {badge(rec["verdict"]) if rec["verdict"] != V.PASS else ""}</td>')
        rows.append(f'<tr><td><a href="students/{_e(s)}.html">{_e(s)}</a></td>{"".join(cells)}'
                    f"<td><b>{score}/{maximum}</b></td><td>{_e(' '.join(rerun))}</td></tr>")
    summary = data.get("summary", {})
    verdicts = "".join(f"<tr><td>{badge(v)}</td><td>{n}</td></tr>" for v, n in sorted(summary.get("verdicts", {}).items()))
    rate_rows = []
    for r in check_rates(results):
        pct = "n/a" if r["rate"] is None else f"{100 * r['rate']:.0f}%"
        bar = "" if r["rate"] is None else f'<span class="barbg"><span class="bar" style="width:{12 * r["rate"]:.2f}em"></span></span>'
        others = ", ".join(f"{k}: {n}" for k, n in sorted(r["statuses"].items()) if k not in (V.PASS,))
        rate_rows.append(f"<tr><td>{_e(r['exercise'])}</td><td>{_e(r['title'])}</td><td>{bar} {pct}</td>"
                         f"<td>{r['passed']}/{r['graded']}</td><td class='muted'>{_e(others)}</td></tr>")
    runs = data.get("runs", [])
    last = runs[-1] if runs else {}
    rerun_list = summary.get("needs_rerun", [])
    body = (f"<h1>Gradebook</h1><p class='muted'>{summary.get('students', 0)} students, exercises: {_e(', '.join(ex_ids))}. "
            f"Last run {_e(last.get('run', '?'))} ({_e(last.get('mode', ''))}), finished {_e(last.get('finished', '?'))}. "
            f"Checker {_e((last.get('checker') or {}).get('version', '?'))} "
            f"{_e(((last.get('checker') or {}).get('commit') or '')[:10])}.</p>"
            + (f"<p class='flag'>{len(rerun_list)} exercise(s) could not be graded because of the engine or a deadline "
               f"(not counted, re-run them): {_e(', '.join(rerun_list[:30]))}</p>" if rerun_list else "")
            + f"<h2>Score distribution</h2><p class='muted'>Percent of the points of the graded exercises, per student "
            f"({len(percents)} students).</p>{histogram_svg(percents)}"
            f"<h2>Verdicts</h2><table>{verdicts}</table>"
            f"<h2>Pass rate per check</h2><p class='muted'>Lowest first: the common mistakes. Re-run outcomes are not counted.</p>"
            f"<table><tr><th>exercise</th><th>check</th><th>pass rate</th><th>passed</th><th>other outcomes</th></tr>"
            f"{''.join(rate_rows)}</table>"
            f"<h2>Students</h2><table><tr><th>student</th>{''.join(f'<th>{_e(e)}</th>' for e in ex_ids)}"
            f"<th>total</th><th>re-run</th></tr>{''.join(rows)}</table>")
    return _page("Gradebook", body)


def _evidence(ev: dict) -> str:
    if not ev:
        return ""
    text = json.dumps(ev, indent=1, default=str)
    if len(text) > 6000:
        text = text[:6000] + "\n\u2026"
    return f"<details><summary>evidence</summary><pre>{_e(text)}</pre></details>"


def in_own_names(rec: dict):
    """A function putting the grader's names back into the student's own (``g1a2b3-amy-web`` -> ``web``,
    the free port the grader published -> the exercise's port): feedback reads like the student's machine."""
    names = rec.get("names") or {}
    prefix, ports = names.get("prefix") or "", names.get("ports") or {}
    pattern = re.compile(r"\b(" + "|".join(re.escape(p) for p in ports) + r")\b") if ports else None

    def own(value):
        if isinstance(value, str):
            if prefix:
                value = value.replace(f"-p {prefix}", "-p ").replace(prefix, "")
            if pattern is not None:
                value = pattern.sub(lambda m: str(ports[m.group(1)]), value)
            return value
        if isinstance(value, dict):
            return {own(k): own(v) for k, v in value.items()}
        if isinstance(value, list):
            return [own(v) for v in value]
        return value

    return own


def student_html(student: str, recs: dict, ex_ids: list[str]) -> str:
    score, maximum, rerun = student_total(recs, ex_ids)
    cards = []
    for ex in [e for e in ex_ids if e in recs] + sorted(set(recs) - set(ex_ids)):
        own = in_own_names(recs[ex])
        rec = {**recs[ex], **{k: own(recs[ex].get(k)) for k in ("checks", "advice", "stages", "containers", "summary")
                               if k in recs[ex]}}
        rows = []
        for c in rec.get("checks", []):
            detail = "" if c["status"] == V.PASS and not c.get("hint") else (
                f"<div>{_e(c.get('message', ''))}</div>" + (f"<div><b>{_e(c['hint'])}</b></div>" if c.get("hint") else ""))
            if c["status"] == V.PASS:
                detail = f"<div class='muted'>{_e(c.get('message', ''))}</div>" + (
                    f"<div>{_e(c['hint'])}</div>" if c.get("hint") else "")
            rows.append(f"<tr><td>{badge(c['status'])}</td><td>{_e(c.get('title', c['id']))}{detail}"
                        f"{_evidence(c.get('evidence') or {})}</td><td>{c.get('points', 0)}/{c.get('max_points', 1)}</td></tr>")
        extra = []
        if rec.get("advice"):
            extra.append("<p>Advice (never counted):</p><ul>" + "".join(f"<li>{_e(a)}</li>" for a in rec["advice"]) + "</ul>")
        if rec.get("policy"):
            extra.append("<p>Refused settings:</p><ul>" + "".join(
                f"<li><code>{_e(v['where'])}</code> = <code>{_e(json.dumps(v['value'], default=str))}</code>: {_e(v['why'])}. "
                f"<b>Fix: {_e(v['fix'])}</b></li>" for v in rec["policy"]) + "</ul>")
        skipped = (rec.get("intake") or {}).get("skipped") or []
        if skipped:
            extra.append("<p>Left out of the submission when it was taken in:</p><ul>" +
                         "".join(f"<li>{_e(s)}</li>" for s in skipped) + "</ul>")
        for st in rec.get("stages", []):
            extra.append(f"<details><summary>step <code>{_e(st.get('step'))}</code>: exit {_e(st.get('returncode'))}, "
                         f"{_e(st.get('seconds'))} s{' (deadline passed)' if st.get('timed_out') else ''}</summary>"
                         f"<pre>{_e(st.get('log_tail', ''))}</pre></details>")
        for ct in rec.get("containers", []):
            facts = {k: v for k, v in ct.items() if k not in ("logs_tail", "name")}
            extra.append(f"<details><summary>container <code>{_e(ct.get('name'))}</code>: {_e(ct.get('State.Status'))}"
                         f"{', OOM-killed' if ct.get('State.OOMKilled') else ''}</summary><pre>{_e(json.dumps(facts, default=str))}"
                         f"</pre><pre>{_e(ct.get('logs_tail', ''))}</pre></details>")
        if rec.get("audit"):
            extra.append(f"<details><summary>audit</summary><pre>{_e(json.dumps(rec['audit'], indent=1, default=str))}</pre></details>")
        flag = " <span class='flag'>not counted: re-run</span>" if rec.get("rerun") else ""
        points = "" if rec.get("rerun") else f"{rec.get('score', 0)}/{rec.get('max_score', 0)} points"
        cards.append(f"<div class='card'><h2>{_e(ex)} \u2014 {_e(rec.get('title', ex))}</h2>"
                     f"<p>{badge(rec['verdict'])}{flag} {points}"
                     f" <span class='muted'>{_e(rec.get('summary', ''))}</span></p>"
                     + (f"<p class='muted'>Lesson: {_e(rec['lesson'])}</p>" if rec.get("lesson") else "")
                     + f"<table><tr><th>status</th><th>check</th><th>points</th></tr>{''.join(rows)}</table>{''.join(extra)}</div>")
    body = (f"<p><a href='../index.html'>\u2190 class overview</a></p><h1>Feedback for {_e(student)}</h1>"
            f"<p><b>{score}/{maximum}</b> points in the graded exercises."
            + (f" <span class='flag'>Not graded yet (engine or deadline trouble, not your doing): {_e(', '.join(rerun))}</span>"
               if rerun else "") + "</p>" + "".join(cards))
    return _page(f"Feedback: {student}", body)


def write_report(out: Path, data: dict) -> Path:
    folder = Path(out) / "report"
    (folder / "students").mkdir(parents=True, exist_ok=True)
    ex_ids = list(data.get("exercises", {}))
    for s, recs in data.get("results", {}).items():
        write_atomic(folder / "students" / f"{s}.html", student_html(s, recs, ex_ids))
    write_atomic(folder / "index.html", overview_html(data))
    return folder / "index.html"
