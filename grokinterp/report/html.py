"""One self-contained HTML file: plotly.js inlined once, every figure a div that references it, so the
report opens offline (no CDN)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import plotly.graph_objects as go


@dataclass
class Section:
    """A titled group of figures with an optional paragraph of text."""

    title: str
    figures: list[go.Figure] = field(default_factory=list)
    text: str = ""


_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table.header { border-collapse: collapse; } table.header td { padding: 2px 12px 2px 0; vertical-align: top; }
table.header td:first-child { color: #666; white-space: nowrap; } p.note { color: #555; }
"""


def render_html(title: str, header: list[tuple[str, str]], sections: list[Section]) -> str:
    """The report as a string: a header table, then each section's text and figures."""
    from plotly.offline import get_plotlyjs

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(title)}</h1><table class='header'>",
    ]
    parts += [f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in header]
    parts.append("</table>")
    n = 0
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p class='note'>{html.escape(section.text)}</p>")
        for fig in section.figures:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{n}",
                                     config={"responsive": True, "displaylogo": False}))
            n += 1
    parts.append("</body></html>")
    return "\n".join(parts)
