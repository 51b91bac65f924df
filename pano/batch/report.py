"""The batch's report files in OUTDIR: a CSV row per video, and an HTML page with each video's shots.

Both are rewritten whole (atomically) at the end of every batch from the manifest, so they always
describe every video the manifest knows, from this run and the earlier ones.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from common.outputs import atomic_output
from pano.run.names import NFOV

COLUMNS = ("input", "output", "state", "frames", "wall_s", "cpu_s", "localizer", "attempts", "reason", "outputs")


def _fmt(x) -> str:
    return "" if x is None else (f"{x:.2f}" if isinstance(x, float) else str(x))


def write_csv(path: Path, rows) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([r.key, r.rel, r.state, _fmt(r.frames), _fmt(r.wall_s), _fmt(r.cpu_s), _fmt(r.localizer),
                    r.attempts, r.reason or "", ";".join(r.outputs or [])])
    with atomic_output(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return path


def write_html(path: Path, rows) -> Path:
    """One line per video: its state, its shots as thumbnails (links to the NFOV video), or its reason."""
    parts = ["<!doctype html><meta charset='utf-8'><title>pano-pan batch</title>",
             "<!-- written by pano-pan -->",
             "<style>body{font:14px sans-serif}td{padding:4px;vertical-align:top}img{margin:1px}"
             ".failed{color:#b00}</style><table>"]
    for r in rows:
        outs = r.outputs or []
        nfov = next((o for o in outs if o.endswith(NFOV)), None)
        shots = "".join(f"<img src='{html.escape(o)}' height='60'>" for o in outs if o.endswith(".jpg"))
        body = (f"<a href='{html.escape(nfov)}'>{shots or 'video'}</a>" if nfov
                else f"<span class='failed'>{html.escape(r.reason or '')}</span>")
        parts.append(f"<tr><td>{html.escape(r.rel)}</td><td class='{r.state}'>{r.state}</td>"
                     f"<td>{_fmt(r.frames)}</td><td>{body}</td></tr>")
    parts.append("</table>")
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return path
