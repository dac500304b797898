"""``rtcore loadtest --html``: one self-contained HTML file, to open anywhere without a network.

The run's result (what ``--out`` writes as JSON) is inlined in a
``<script type="application/json">`` block, and a small inline script draws
the charts as SVG from it: latency over time (p50 and p99 of each latency per
interval), the distribution of each latency (``loadtest_metrics.histogram``),
sessions up and errors over time, with the intervals where the generator was
the bottleneck shaded in every time chart; then the run's parameters, the
summary figures and the generator's verdict as tables. No stylesheet, font or
script is fetched from anywhere: the report works from a file:// URL.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

__all__ = ["render_report", "write_report"]

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th:first-child,td:first-child{text-align:left}
.verdict{padding:.6em 1em;background:#eef6ee;border-left:4px solid #4a4}
.verdict.bound{background:#fdf0e6;border-color:#e80}
svg.chart{background:#fafafa;border:1px solid #ddd;margin:.3em 0}
svg text{font:11px system-ui,sans-serif;fill:#444}
.legend span{display:inline-block;margin-right:1.2em}
.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}
"""

# Drawn by hand: an SVG chart is a few lines of DOM calls, and a charting library
# would have to be inlined (or fetched, which the report must never do).
_SCRIPT = r"""
"use strict";
const R = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
const W = 1000, H = 240, L = 60, T = 12, B = 30, RM = 12;
function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function text(parent, x, y, s, anchor) {
  const t = el("text", {x: x, y: y, "text-anchor": anchor || "middle"}, parent);
  t.textContent = s;
  return t;
}
function chart(id, title) {
  const box = document.getElementById(id);
  const svg = el("svg", {class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`,
                         role: "img", "aria-label": title});
  box.appendChild(svg);
  return svg;
}
function legend(id, names) {
  const div = document.getElementById(id + "-legend");
  names.forEach((n, i) => {
    const s = document.createElement("span");
    s.innerHTML = `<i style="background:${COLORS[i % COLORS.length]}"></i>`;
    s.appendChild(document.createTextNode(n));
    div.appendChild(s);
  });
}
function axes(svg, xmax, ymax, xlabel, ylabel) {
  const x = v => L + (W - L - RM) * (xmax ? v / xmax : 0);
  const y = v => H - B - (H - T - B) * (ymax ? v / ymax : 0);
  el("line", {x1: L, y1: H - B, x2: W - RM, y2: H - B, stroke: "#888"}, svg);
  el("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#888"}, svg);
  for (let k = 0; k <= 4; k++) {
    const v = ymax * k / 4;
    el("line", {x1: L, y1: y(v), x2: W - RM, y2: y(v), stroke: "#eee"}, svg);
    text(svg, L - 4, y(v) + 4, v >= 10 ? v.toFixed(0) : v.toFixed(1), "end");
    const u = xmax * k / 4;
    text(svg, x(u), H - B + 14, u.toFixed(1));
  }
  text(svg, (L + W) / 2, H - 3, xlabel);
  const yl = text(svg, 12, (T + H - B) / 2, ylabel);
  yl.setAttribute("transform", `rotate(-90 12 ${(T + H - B) / 2})`);
  return [x, y];
}
function shadeBound(svg, x, step) {
  R.intervals.forEach(i => {
    if (!i.generator_bound) return;
    el("rect", {class: "bound", x: x(i.t), y: T, width: Math.max(1, x(i.t + step) - x(i.t)),
                height: H - T - B, fill: "#e80", "fill-opacity": 0.18}, svg);
  });
}
function polyline(svg, pts, color, dash) {
  if (!pts.length) return;
  el("polyline", {points: pts.map(p => p.join(",")).join(" "), fill: "none", stroke: color,
                  "stroke-width": 2, "stroke-dasharray": dash || ""}, svg);
  pts.forEach(p => el("circle", {cx: p[0], cy: p[1], r: 2, fill: color}, svg));
}
const step = R.parameters.interval_s;
const tmax = Math.max(step, ...R.intervals.map(i => i.t + step));
const metrics = Object.keys(R.latency_ms);
(function latencyOverTime() {
  const svg = chart("latency", "latency over time");
  let ymax = 1;
  R.intervals.forEach(i => metrics.forEach(m => {
    const p = i.latency_ms[m]; if (p) ymax = Math.max(ymax, p.p99);
  }));
  const [x, y] = axes(svg, tmax, ymax * 1.1, "seconds into the run", "ms");
  shadeBound(svg, x, step);
  const names = [];
  metrics.forEach((m, k) => {
    const color = COLORS[k % COLORS.length];
    const at = q => R.intervals.filter(i => i.latency_ms[m])
      .map(i => [x(i.t + step / 2), y(i.latency_ms[m][q])]);
    polyline(svg, at("p99"), color);
    polyline(svg, at("p50"), color, "4 3");
    names.push(m + " (p99 solid, p50 dashed)");
  });
  legend("latency", names);
})();
(function distributions() {
  const svg = chart("distribution", "latency distributions");
  const edges = R.histograms.edges_ms;
  const bins = edges.length + 1;
  let ymax = 1;
  metrics.forEach(m => R.histograms[m].forEach(c => { ymax = Math.max(ymax, c); }));
  const [x, y] = axes(svg, bins, ymax * 1.1, "ms (bin upper edge)", "samples");
  svg.querySelectorAll("text").forEach(t => {
    if (+t.getAttribute("y") === H - B + 14) t.remove();  // bins get their own labels
  });
  const width = (x(1) - x(0)) / (metrics.length + 1);
  metrics.forEach((m, k) => R.histograms[m].forEach((c, b) => {
    if (!c) return;
    el("rect", {class: "bar", x: x(b) + width * (k + 0.5), y: y(c), width: width,
                height: y(0) - y(c), fill: COLORS[k % COLORS.length]}, svg);
  }));
  for (let b = 0; b < bins; b++) {
    text(svg, x(b + 0.5), H - B + 14, b < edges.length ? "≤" + edges[b] : ">" + edges[b - 1]);
  }
  legend("distribution", metrics);
})();
(function sessionsAndErrors() {
  const svg = chart("sessions", "sessions and errors over time");
  let ymax = 1;
  R.intervals.forEach(i => { ymax = Math.max(ymax, i.sessions, i.errors); });
  const [x, y] = axes(svg, tmax, ymax * 1.1, "seconds into the run", "count");
  shadeBound(svg, x, step);
  R.intervals.forEach(i => {
    if (i.errors) el("rect", {class: "bar", x: x(i.t) + 2, y: y(i.errors),
      width: Math.max(1, x(i.t + step) - x(i.t) - 4), height: y(0) - y(i.errors),
      fill: COLORS[1], "fill-opacity": 0.7}, svg);
  });
  polyline(svg, R.intervals.map(i => [x(i.t + step / 2), y(i.sessions)]), COLORS[0]);
  legend("sessions", ["sessions up", "errors in the interval"]);
})();
document.body.dataset.drawn = "yes";
"""


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _latency_table(result: dict[str, Any]) -> str:
    head = "<tr><th>latency (ms)</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>"
    rows = []
    for metric, p in result["latency_ms"].items():
        cells = (
            ["0", "-", "-", "-", "-"]
            if p is None
            else [str(p["count"]), *(f"{p[k]:.1f}" for k in ("p50", "p90", "p99", "max"))]
        )
        rows.append(f"<tr><td>{metric}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none"


def render_report(result: dict[str, Any]) -> str:
    """The report as one HTML document."""
    params = result["parameters"]
    gen = result["generator"]
    data = json.dumps(result, separators=(",", ":")).replace("</", "<\\/")
    bound = " bound" if gen["bound_intervals"] else ""
    sessions = result["sessions"]
    counts = [
        ("sessions connected", sum(1 for s in sessions if s["handshake_ms"] is not None)),
        ("turns", sum(s["turns"] for s in sessions)),
        ("responses", sum(s["responses"] for s in sessions)),
        ("events received", sum(result["events"].values())),
        ("errors", _counts(result["errors"])),
        ("refused handshakes (HTTP status)", _counts(result["rejected"])),
        ("failed connections", _counts(result["failed"])),
        ("close codes from the server", _counts(result["close_codes"])),
        ("dropped (1006)", result["dropped"]),
    ]
    events = sorted(result["events"].items(), key=lambda kv: -kv[1])
    title = f"rtcore loadtest: {params['sessions']} sessions, {params['scenario']}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="verdict{bound}">{html.escape(gen["verdict"])}</p>
<h2>Latency over time</h2>
<p>Shaded: intervals where the generator, not the server, was the bottleneck.</p>
<div id="latency"></div><div class="legend" id="latency-legend"></div>
<h2>Latency distributions</h2>
<div id="distribution"></div><div class="legend" id="distribution-legend"></div>
<h2>Sessions and errors over time</h2>
<div id="sessions"></div><div class="legend" id="sessions-legend"></div>
<h2>Summary</h2>
{_latency_table(result)}
{_table(counts)}
<h2>Parameters</h2>
{_table(list(params.items()))}
<h2>Events received by type</h2>
{_table(events)}
<script type="application/json" id="data">{data}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


def write_report(result: dict[str, Any], path: Path) -> None:
    path.write_text(render_report(result), encoding="utf-8")
