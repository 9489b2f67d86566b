"""The dashboard's one stylesheet, served by the router (no build step, no CDN)."""

from __future__ import annotations

import hashlib

CSS = """
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --panel: #f6f8fa;
  --accent: #0a58ca; --accent-fg: #ffffff; --danger: #b42318; --ok: #1a7f37; --warn: #9a6700;
  --s1: #2f6fde; --s2: #e8833a; --s3: #2aa198;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9ba7b4; --line: #30363d; --panel: #161b22;
    --accent: #4c8dff; --accent-fg: #0d1117; --danger: #ff7b72; --ok: #3fb950; --warn: #d29922;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: var(--panel); padding: 8px; z-index: 2; }
header.top {
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px;
  padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--panel);
}
header.top .brand { font-weight: 700; margin-right: auto; }
header.top .who { color: var(--muted); font-size: 14px; }
nav ul { display: flex; gap: 4px; list-style: none; margin: 0; padding: 0; flex-wrap: wrap; }
nav a { display: block; padding: 6px 10px; border-radius: 6px; text-decoration: none; }
nav a[aria-current="page"] { background: var(--accent); color: var(--accent-fg); }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5rem; margin: 8px 0 16px; }
h2 { font-size: 1.15rem; margin: 28px 0 10px; }
p.muted, .muted { color: var(--muted); }
.panel {
  border: 1px solid var(--line); border-radius: 8px; padding: 16px; background: var(--panel);
}
.notice { border-left: 4px solid var(--accent); }
.error { border-left: 4px solid var(--danger); }
.secret { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all;
  width: 100%; font-size: 15px; padding: 8px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--fg); }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td {
  text-align: left; padding: 8px; border-bottom: 1px solid var(--line); vertical-align: top;
}
th { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.92em; }
.status { font-weight: 600; }
.status.active, .status.available { color: var(--ok); }
.status.revoked, .status.expired, .status.unavailable { color: var(--danger); }
.status.degraded { color: var(--warn); }
form.inline { display: inline; }
.actions { display: flex; gap: 6px; flex-wrap: wrap; }
.grid-form {
  display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr));
}
label { display: block; font-weight: 600; font-size: 14px; margin-bottom: 4px; }
.hint { display: block; font-weight: 400; color: var(--muted); font-size: 13px; }
input[type=text], input[type=email], input[type=password], input[type=number], input[type=date] {
  width: 100%; padding: 8px; font-size: 16px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--fg);
}
button {
  font-size: 15px; padding: 8px 14px; border-radius: 6px; border: 1px solid var(--accent);
  background: var(--accent); color: var(--accent-fg); cursor: pointer; min-height: 40px;
}
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--danger); border-color: var(--danger); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.login { max-width: 380px; margin: 8vh auto; }
.login form > div { margin-bottom: 14px; }
.cards { display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.card .big { font-size: 1.4rem; font-weight: 700; font-variant-numeric: tabular-nums; }
meter, progress { width: 100%; height: 18px; }
svg.chart { width: 100%; max-width: 820px; height: auto; display: block; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis { fill: var(--muted); font-size: 14px; }
svg.chart .s1 { fill: var(--s1); }
svg.chart .s2 { fill: var(--s2); }
svg.chart .s3 { fill: var(--s3); }
.legend { display: flex; gap: 14px; font-size: 13px; color: var(--muted); flex-wrap: wrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.swatch.s1 { background: var(--s1); } .swatch.s2 { background: var(--s2); }
details { margin-top: 8px; }
@media (max-width: 640px) {
  main { padding: 12px; }
  th, td { padding: 6px; }
}
"""

#: Changes whenever the stylesheet does, so it can be cached for a long time.
CSS_VERSION = hashlib.sha256(CSS.encode("utf-8")).hexdigest()[:12]
