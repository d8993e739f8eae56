"""Pictures of reports: a self-contained HTML page (no dependency) or PNG/SVG via matplotlib.

Timelines become line charts, everything else a horizontal bar chart of its first numeric column.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from dbapp.errors import DbappError
from dbapp.report import ReportResult

WIDTH, HEIGHT, MARGIN = 900, 420, 60


def _series(result: ReportResult, report: str) -> tuple[list[str], list[float], str]:
    """(labels, values, what the values are) for a report's chart."""
    cols = result.columns
    if report == "timeline":
        value = (
            "share_of_documents" if result.rows and result.rows[0][1] is not None else "documents"
        )
        i = cols.index(value)
        return [str(r[0]) for r in result.rows], [float(r[i] or 0) for r in result.rows], value
    numeric = [
        i for i, _ in enumerate(cols) if result.rows and isinstance(result.rows[0][i], int | float)
    ]
    if not numeric:
        raise DbappError(f"report {report} has nothing to plot")
    i = numeric[0]
    labels = [" / ".join(str(v) for v in r[:i] if isinstance(v, str)) for r in result.rows]
    return labels, [float(r[i] or 0) for r in result.rows], cols[i]


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


def _compared(result: ReportResult) -> tuple[list[str], dict[str, list[float]], str]:
    """(periods, values per series, what) of a timeline with a ``series`` column first."""
    value = "share_of_documents"
    i = result.columns.index(value)
    periods = list(dict.fromkeys(str(r[1]) for r in result.rows))
    lines: dict[str, list[float]] = {}
    for r in result.rows:
        lines.setdefault(str(r[0]), []).append(float(r[i] or 0))
    return periods, lines, value


def plot(result: ReportResult, report: str, path: Path, title: str) -> Path:
    """Write the chart to ``path``: ``.html`` needs nothing, ``.png``/``.svg`` need matplotlib.

    A timeline with a ``series`` column (``--compare``) draws one line per series."""
    if not result.rows:
        raise DbappError("nothing to plot: the report has no rows")
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".png", ".svg", ".pdf"):
        raise DbappError("--plot needs a .html, .png, .svg or .pdf file name")
    if result.columns and result.columns[0] == "series":
        labels, lines, what = _compared(result)
    else:
        labels, values, what = _series(result, report)
        lines = {"": values}
    line = report == "timeline"
    if suffix in (".html", ".htm"):
        path.write_text(_html(labels, lines, what, title, line=line))
    else:
        _matplotlib(labels, lines, what, title, line, path)
    return path


def _matplotlib(
    labels: list[str],
    lines: dict[str, list[float]],
    what: str,
    title: str,
    line: bool,
    path: Path,
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DbappError(
            "PNG/SVG plots need matplotlib: pip install 'dbapp[plot]', or plot to a .html file"
        ) from None
    fig, ax = plt.subplots(figsize=(10, 4.5))
    if line:
        dates: list[Any] = [dt.date.fromisoformat(x) for x in labels]
        for name, values in lines.items():
            ax.plot(dates, values, marker="o", label=name or None)
        if len(lines) > 1:
            ax.legend()
        fig.autofmt_xdate()
    else:
        values = next(iter(lines.values()))
        ax.barh(labels[::-1], values[::-1])
    ax.set_title(title)
    ax.set_xlabel("" if line else what)
    ax.set_ylabel(what if line else "")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _html(
    labels: list[str], lines: dict[str, list[float]], what: str, title: str, line: bool
) -> str:
    top = max(max(v) for v in lines.values()) or 1.0
    values = next(iter(lines.values()))
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{MARGIN}" y="24" font-size="15">{html.escape(title)}</text>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{HEIGHT - MARGIN}" stroke="#444"/>',
    ]
    n = len(values)
    if line:
        step = plot_w / max(n - 1, 1)
        for k, (name, series) in enumerate(lines.items()):
            colour = COLOURS[k % len(COLOURS)]
            points = [
                (MARGIN + i * step, HEIGHT - MARGIN - v / top * plot_h)
                for i, v in enumerate(series)
            ]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            for (x, y), label, v in zip(points, labels, series, strict=True):
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">')
                parts.append(
                    f"<title>{html.escape(name + ' ' if name else '')}"
                    f"{html.escape(label)}: {v:g}</title></circle>"
                )
            if name:
                parts.append(
                    f'<text x="{WIDTH - MARGIN - 200}" y="{MARGIN + 14 * k}" fill="{colour}">'
                    f"{html.escape(name)}</text>"
                )
        for i in sorted({0, n // 2, n - 1}):
            parts.append(
                f'<text x="{MARGIN + i * step:.1f}" y="{HEIGHT - MARGIN + 16}" '
                f'text-anchor="middle">{html.escape(labels[i])}</text>'
            )
        parts.append(
            f'<text x="{MARGIN}" y="{MARGIN - 8}">{html.escape(what)} (max {top:g})</text>'
        )
    else:
        bar_h = plot_h / max(n, 1)
        for i, (label, v) in enumerate(zip(labels, values, strict=True)):
            y = MARGIN + i * bar_h
            w = v / top * (plot_w - 160)
            parts.append(
                f'<text x="{MARGIN + 150}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">'
                f"{html.escape(label)}</text>"
            )
            parts.append(
                f'<rect x="{MARGIN + 160}" y="{y + 2:.1f}" width="{w:.1f}" '
                f'height="{max(bar_h - 4, 1):.1f}" fill="#1f77b4"><title>{v:g}</title></rect>'
            )
        parts.append(f'<text x="{MARGIN + 160}" y="{MARGIN - 8}">{html.escape(what)}</text>')
    parts.append("</svg>")
    heads = "".join(f"<th>{html.escape(name or what)}</th>" for name in lines)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{series[i]:g}</td>" for series in lines.values())
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "</head><body>" + "".join(parts) + f"<table><tr><th></th>{heads}</tr>"
        f"{rows}</table></body></html>\n"
    )
