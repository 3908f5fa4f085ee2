"""A self-contained HTML page: inline CSS, figures as base64 PNG, no scripts.

A :class:`Page` collects headings, text, figures and tables in order; each
figure is also saved as a PNG and each table as a CSV beside the page, so the
numbers behind a picture are one click away. The page loads nothing from the
network and runs no JavaScript.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import pandas as pd

from corpus.atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The page's only style sheet (inline).
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1150px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #2166ac; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; }
p.meta { color: #555; font-size: .9em; }
ul.findings li { margin: .3em 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
table { border-collapse: collapse; font-size: .8em; margin: .5em 0 1.2em; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
th { background: #f0f4f8; }
td.text, th.text { text-align: left; }
caption { caption-side: top; text-align: left; font-size: .9em; color: #444; padding: .3em 0; }
.note { font-size: .85em; color: #666; }
"""


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _format_cell(value: object, digits: int) -> tuple[str, bool]:
    """(text, is_text) of one table cell."""
    if value is None or (isinstance(value, float) and value != value):
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), True
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value)}", False
        return f"{value:.{digits}g}", False
    if isinstance(value, int):
        return str(value), False
    return str(value), True


#: Rows from which a table is written by Arrow's CSV writer rather than pandas'.
ARROW_CSV_ROWS = 50_000


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as CSV (no index); large tables through Arrow.

    pandas formats object and string columns row by row in Python: the FFL
    instance table of a 30,000-link graph (640,000 rows) took about 4 CPU
    seconds, Arrow's writer half a second. Arrow writes the same values
    (integral floats as ``-74`` rather than ``-74.0``, every string and
    header in double quotes), so a reader gets the same table back.

    Examples
    --------
    >>> import tempfile, os
    >>> frame = pd.DataFrame({"a": [1, 2], "b": ["x,y", "z"], "w": [0.5, -74.0]})
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> write_csv(frame, path); pd.read_csv(path).equals(frame)
    True
    """
    if len(frame) < ARROW_CSV_ROWS:
        frame.to_csv(path, index=False)
        return
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))


def table_html(frame: pd.DataFrame, caption: str = "", max_rows: int | None = 60,
               digits: int = 3) -> str:
    """An HTML table of ``frame`` (index dropped), numbers to ``digits`` significant digits."""
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f'<th class="text">{html.escape(str(c))}</th>' for c in shown.columns)
    body = []
    for record in shown.astype(object).itertuples(index=False):
        cells = []
        for value in record:
            if hasattr(value, "item"):  # numpy scalars to Python
                value = value.item()
            if value is pd.NA:
                value = None
            text, is_text = _format_cell(value, digits)
            cls = ' class="text"' if is_text else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(frame) > max_rows:
        more = f'<p class="note">first {max_rows} of {len(frame)} rows; all in the CSV.</p>'
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


class Page:
    """An HTML report under construction, written to ``out_dir``.

    Parameters
    ----------
    title : str
    out_dir : path
        Created if missing; figures go to ``out_dir/figures``, tables to
        ``out_dir/tables``.

    Examples
    --------
    >>> import tempfile
    >>> page = Page("demo", tempfile.mkdtemp())
    >>> page.paragraph("FFLs: 12 vs 3 expected <enriched>")
    >>> path = page.write("demo.html")
    >>> "&lt;enriched&gt;" in path.read_text() and "<script" not in path.read_text()
    True
    """

    def __init__(self, title: str, out_dir: str | Path):
        self.title = title
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.parts: list[str] = []
        self.files: list[Path] = []

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.parts.append(f"<h{level}{ident}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, cls: str | None = None) -> None:
        attr = f' class="{cls}"' if cls else ""
        self.parts.append(f"<p{attr}>{html.escape(text)}</p>")

    def bullets(self, items: Iterable[str], cls: str = "findings") -> None:
        rows = "".join(f"<li>{html.escape(item)}</li>" for item in items)
        self.parts.append(f'<ul class="{cls}">{rows}</ul>')

    def figure(self, fig: Figure, name: str, caption: str = "") -> Path:
        """Embed ``fig`` as a base64 PNG, save it as ``figures/<name>.png``, close it."""
        import matplotlib.pyplot as plt

        data = figure_png(fig)
        plt.close(fig)
        path = self.out_dir / "figures" / f"{name}.png"
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        self.files.append(path)
        encoded = base64.b64encode(data).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img alt="{html.escape(name)}" '
                          f'src="data:image/png;base64,{encoded}">{cap}</figure>')
        return path

    def table(self, frame: pd.DataFrame, name: str, caption: str = "",
              max_rows: int | None = 60, shown: pd.DataFrame | None = None) -> Path:
        """Write ``frame`` to ``tables/<name>.csv`` and show ``shown`` (default ``frame``)."""
        path = self.save_csv(frame, name)
        label = f"{caption} (tables/{name}.csv)" if caption else f"tables/{name}.csv"
        self.parts.append(table_html(frame if shown is None else shown, label, max_rows))
        return path

    def save_csv(self, frame: pd.DataFrame, name: str) -> Path:
        """Write a table beside the page without showing it."""
        path = self.out_dir / "tables" / f"{name}.csv"
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, lambda tmp: write_csv(frame, tmp))
        self.files.append(path)
        return path

    def raw(self, markup: str) -> None:
        """Append trusted markup (built by this package, never user text)."""
        self.parts.append(markup)

    def html(self) -> str:
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>"
                f"<body><h1>{html.escape(self.title)}</h1>\n" + "\n".join(self.parts)
                + "\n</body></html>\n")

    def write(self, name: str = "report.html") -> Path:
        """Write the page; returns its path."""
        path = self.out_dir / name
        text = self.html()
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return path
