"""One self-contained HTML page of a run (`trace --report DIR`, `check --report DIR`): what people would rather look
at than read.

Each group (a network of a trace, in the order its data flows; a piece of check, in the order its checks ran) gets a
figure of every row's allowance used on a log scale (the worst element's error over what the tolerance allowed it:
1 is the tolerance, drawn as a line), the first divergence marked, a table of its rows, and for every mismatching
tensor whose two arrays came back a heat map of where its elements differ (each element's error over its own
allowance), beside the report with its diagnosis.  The figures are PNGs inlined as data: URIs; the page needs no
server, no script and no file beside it.  Matplotlib draws them (the plot extra); nothing else here needs it.
"""

import base64
import html
import io
from dataclasses import dataclass

import numpy as np

from bp_parity.reference.report.compare import Comparison
from bp_parity.reference.report.tables import num, pct

FLOOR = 1e-6  # an allowance used of exactly 0 (bit for bit) is drawn here, and said so
MAX_LABELS = 60  # more rows than this: no label per row on the figure's x axis (the table names them)
MAX_HEATMAPS = 12  # per group: the first mismatches with arrays (the table lists every one)
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
code, pre { font-family: monospace; font-size: 0.85em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
tr.bad td { background: #fde4e4; } tr.first td { background: #f8b4b4; font-weight: bold; }
.ok { color: #176617; } .bad { color: #b00020; font-weight: bold; }
.pair { display: flex; gap: 1em; align-items: flex-start; flex-wrap: wrap; }
.pair img { max-width: 520px; } .pair pre { flex: 1; min-width: 420px; }
.cause { background: #fff4cc; padding: 0.4em 0.8em; border-left: 4px solid #e0a800; }
"""


@dataclass
class Group:
    """A network of a trace or a piece of check: its name and its rows (Comparison or NotRun, in order)."""

    name: str
    rows: list
    first: object = None  # the first divergence (a trace's), marked on the figure and in the table


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--report draws its figures with matplotlib: pip install -e '.[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    _matplotlib().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _label(row):
    c = row.context
    return f"{c.layer} {c.shown}" + (f" [{c.oracle}]" if c.oracle != "twin" else "")


def allowance_figure(group):
    """Every row's allowance used on a log scale, the tolerance at 1; rows that compared nothing (raised, not run,
    skipped) drawn at the top as crosses; the first divergence marked."""
    plt = _matplotlib()
    rows = group.rows
    figure, axes = plt.subplots(figsize=(10, 3.6))
    used = np.array([r.used if r.compared and not np.isnan(r.used) else np.nan for r in rows], dtype=float)
    x = np.arange(len(rows))
    top = max(10.0, float(np.nanmax(used)) * 3 if np.isfinite(used).any() else 10.0)
    finite = np.isfinite(used)
    shown = np.where(finite, np.maximum(used, FLOOR), np.nan)
    good = finite & (used <= 1) & np.array([r.passed for r in rows])
    axes.scatter(x[good], shown[good], s=14, color="#2a7a2a", label="within tolerance", zorder=3)
    axes.scatter(x[finite & ~good], np.minimum(shown[finite & ~good], top), s=22, color="#b00020",
                 label="beyond tolerance", zorder=3)
    other = ~finite
    if other.any():
        failed = np.array([not r.passed and not r.skipped for r in rows])
        axes.scatter(x[other & failed], np.full((other & failed).sum(), top), marker="x", color="#b00020", s=30,
                     label="no values compared (shape, dtype, raised, not run)", zorder=3)
        axes.scatter(x[other & ~failed], np.full((other & ~failed).sum(), top), marker="x", color="#999", s=20,
                     label="skipped", zorder=3)
    axes.axhline(1.0, color="#b00020", linewidth=1, linestyle="--")
    axes.text(0, 1.15, "tolerance", color="#b00020", fontsize=8)
    axes.axhline(FLOOR, color="#bbb", linewidth=0.8, linestyle=":")
    axes.text(0, FLOOR * 1.3, "exact (0 drawn here)", color="#888", fontsize=7)
    if group.first is not None and group.first in rows:
        at = rows.index(group.first)
        axes.axvline(at, color="#b00020", linewidth=1.5, alpha=0.6)
        axes.annotate(f"first divergence: {_label(group.first)}", (at, top), xytext=(6, -12),
                      textcoords="offset points", color="#b00020", fontsize=8)
    axes.set_yscale("log")
    axes.set_ylim(FLOOR / 3, top * 2)
    axes.set_ylabel("allowance used (worst element)")
    axes.set_title(f"{group.name}: {len(rows)} rows", fontsize=10, pad=22)
    if len(rows) <= MAX_LABELS:
        axes.set_xticks(x)
        axes.set_xticklabels([_label(r) for r in rows], rotation=90, fontsize=7)
    else:
        axes.set_xlabel("rows, in the order they ran (the table names them)")
    axes.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def _as_matrix(array):
    array = np.asarray(array, dtype=float)
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(1, -1)
    return array.reshape(array.shape[0], -1)


def allowance_ratio(row):
    """Each element's error over its own allowance, atol + rtol |expected|, with the comparison's atol (scaled where
    the tolerance is; where finite differences add a rounding allowance per element, its largest, so an element
    drawn above 1 is beyond tolerance and one just below may be too)."""
    actual, expected = np.asarray(row.actual, dtype=float), np.asarray(row.expected, dtype=float)
    allowed = row.atol + row.tolerance.rtol * np.abs(expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(allowed > 0, np.abs(actual - expected) / allowed, np.where(actual == expected, 0.0, np.inf))


def heatmap(row):
    """Where the elements differ: each element's error over its own allowance (atol + rtol |expected|), the
    array drawn as (first axis, the rest flattened); None where the two arrays are not both there and alike."""
    try:
        actual, expected = np.asarray(row.actual, dtype=float), np.asarray(row.expected, dtype=float)
    except (TypeError, ValueError):
        return None
    if row.actual is None or row.expected is None or actual.shape != expected.shape or actual.size == 0:
        return None
    plt = _matplotlib()
    ratio = allowance_ratio(row)
    ratio = np.where(np.isfinite(ratio), ratio, np.nanmax(np.where(np.isfinite(ratio), ratio, 0)) * 10 + 10)
    matrix = _as_matrix(ratio)
    figure, axes = plt.subplots(figsize=(5.5, 3.6))
    from matplotlib.colors import LogNorm

    image = axes.imshow(np.maximum(matrix, FLOOR), aspect="auto", cmap="magma_r", interpolation="nearest",
                        norm=LogNorm(vmin=FLOOR, vmax=max(float(matrix.max()), 10.0)))
    figure.colorbar(image, ax=axes, label="error / allowance (1: the tolerance)")
    beyond = int((ratio > 1).sum())
    axes.set_title(f"{_label(row)}: {beyond} of {ratio.size} beyond tolerance\nshape {actual.shape} drawn as "
                   f"{matrix.shape}", fontsize=9)
    axes.set_xlabel("the other axes, flattened" if actual.ndim > 1 else "index")
    axes.set_ylabel("first axis" if actual.ndim > 1 else "")
    if actual.ndim <= 1:
        axes.set_yticks([])
    return _png(figure)


def _verdict(row):
    css = "ok" if row.passed else ("" if row.skipped else "bad")
    return f'<span class="{css}">{html.escape(str(row.verdict))}</span>'


def _table(group):
    lines = ["<table><tr><th>#</th><th>row</th><th>oracle</th><th>dtype</th><th>max abs err</th><th>max rel err</th>"
             "<th>tolerance</th><th>allowance used</th><th>verdict</th></tr>"]
    for n, r in enumerate(group.rows):
        css = "first" if r is group.first else ("bad" if not r.passed and not r.skipped else "")
        c = r.context
        figures = (num(r.max_abs), num(r.max_rel), html.escape(r.tolerance.describe()), pct(r.used)) if r.compared \
            else ("-", "-", "-", "-")
        lines.append(f'<tr class="{css}"><td>{n}</td><td>{html.escape(c.layer)} {html.escape(c.shown)}</td>'
                     f"<td>{html.escape(str(c.oracle))}</td><td>{html.escape(str(c.dtype))}</td>"
                     + "".join(f"<td>{f}</td>" for f in figures) + f"<td>{_verdict(r)}</td></tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _mismatches(group):
    parts, shown = [], 0
    for r in group.rows:
        if r.passed or r.skipped:
            continue
        picture = heatmap(r) if isinstance(r, Comparison) and shown < MAX_HEATMAPS else None
        shown += picture is not None
        causes = "".join(f'<p class="cause">likely cause: {html.escape(text)}</p>'
                         for _, text in getattr(r, "diagnosis", None) or [])
        image = f'<img alt="where {html.escape(_label(r))} differs" src="{picture}">' if picture else ""
        parts.append(f'<div class="pair">{image}<div style="flex:1">{causes}<pre>{html.escape(r.render())}</pre>'
                     "</div></div>")
        if len(parts) >= MAX_HEATMAPS:
            left = sum(not x.passed and not x.skipped for x in group.rows) - len(parts)
            if left > 0:
                parts.append(f"<p>{left} more failing rows: the table above lists them, the run's output has "
                             "their reports.</p>")
            break
    return "\n".join(parts)


def write(path, title, command, groups, summary):
    """The page of a run at `path` (its folder made): `title`, the `command` that reruns the run, the groups in
    order, and `summary` (the run's closing line)."""
    from pathlib import Path

    sections, contents = [], []
    # the groups that fail first (a page opens on what is wrong), each group's rows in their own order
    groups = sorted(groups, key=lambda g: not any(not r.passed and not r.skipped for r in g.rows))
    for number, group in enumerate(groups):
        failing = sum(not r.passed and not r.skipped for r in group.rows)
        state = (f'<span class="bad">{failing} of {len(group.rows)} rows fail</span>' if failing
                 else '<span class="ok">every row passes</span>' if any(r.passed for r in group.rows)
                 else "nothing compared")
        first = ""
        if group.first is not None:
            c = group.first.context
            first = (f"<p>first divergence: <b>{html.escape(c.layer)} {html.escape(c.shown)}</b> "
                     f"(blame: {html.escape(c.blamed)})</p>")
        figure = allowance_figure(group) if group.rows else None
        image = f'<img alt="allowance used by every row of {html.escape(group.name)}" src="{figure}">' \
            if figure else ""
        sections.append(f'<h2 id="g{number}">{html.escape(group.name)}</h2><p>{state}</p>{first}{image}'
                        f"{_mismatches(group)}{_table(group)}")
        contents.append(f'<li><a href="#g{number}">{html.escape(group.name)}</a>: {state}</li>')
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>rerun: <code>{html.escape(command)}</code></p><p>{html.escape(summary)}</p>"
            "<p>Each figure: every row's worst element's error over what the tolerance allowed it, on a log scale "
            "(the dashed line is the tolerance); each heat map: where a failing tensor's elements differ.</p>"
            + f"<ul>{''.join(contents)}</ul>" + "\n".join(sections) + "</body></html>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
