"""Self-contained HTML pages: inline CSS, images as data URIs, print-friendly.

Small building blocks (``page``, ``section``, ``table``, ``figure``, ``badge``) that
``ganaudit.reports.build`` assembles into the run page and the per-checkpoint pages. Every text that
comes from files is escaped.
"""

from __future__ import annotations

import html
from typing import Iterable, Sequence

CSS = """
:root { --ink:#1d2733; --muted:#5b6875; --line:#d9dee3; --ok:#0b7a3e; --bad:#c0392b;
        --warn:#9a6700; --accent:#1f4e79; --box:#f3f7fb; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fff; line-height: 1.45; font-size: 15px; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 60px; }
header.top { border-bottom: 3px solid var(--accent); margin-bottom: 18px; padding-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; font-weight: 600; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line);
     font-weight: 600; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: var(--muted); font-size: 13px; }
.summary { background: var(--box); border: 1px solid #c8d6e5; border-left: 6px solid var(--ok);
           border-radius: 6px; padding: 16px 22px; margin: 16px 0 8px; }
.summary.none { border-left-color: var(--bad); }
.summary.longer { border-left-color: var(--warn); }
.summary .verdict { font-size: 24px; font-weight: 700; margin: 0 0 6px; }
.summary ul { margin: 6px 0 4px 18px; padding: 0; }
.summary li { margin: 3px 0; }
.keyfigs { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0 6px; }
.keyfig { background: #fff; border: 1px solid var(--line); border-radius: 5px; padding: 6px 12px;
          min-width: 150px; }
.keyfig .k { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.keyfig .v { font-size: 17px; font-weight: 600; }
.recommend { border-left: 6px solid var(--warn); background: #fff8e6; padding: 10px 18px;
             border-radius: 6px; margin: 8px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right;
         vertical-align: top; }
th { background: #eef2f6; font-weight: 600; position: sticky; top: 0; }
td.l, th.l { text-align: left; }
table.narrow { width: auto; min-width: 320px; }
tr.chosen td { background: #e4f4ea; font-weight: 600; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 11px;
         font-weight: 600; white-space: nowrap; }
.badge.pass { background: #dff1e6; color: var(--ok); }
.badge.fail { background: #f9dedb; color: var(--bad); }
.badge.na { background: #eceff2; color: var(--muted); }
figure { margin: 10px 0; }
td small { color: var(--muted); white-space: nowrap; font-size: 11px; }
figure img.pic { width: 100%; max-width: 420px; image-rendering: pixelated; }
figure img { max-width: 100%; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 3px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; }
.note { color: var(--muted); font-style: italic; }
.scroll { overflow-x: auto; }
a { color: var(--accent); }
code { background: #eef2f6; padding: 0 4px; border-radius: 3px; font-size: 13px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
         padding-top: 8px; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, .summary, table, tr { break-inside: avoid; }
  th { position: static; }
  a { color: inherit; text-decoration: none; }
  .noprint { display: none; }
}
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: str, *, subtitle: str = "", footer: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f"<header class=\"top\"><h1>{esc(title)}</h1>"
        f"<div class=\"meta\">{subtitle}</div></header>"
        f"{body}<footer>{footer}</footer></main></body></html>\n")


def section(title: str, body: str, *, anchor: str | None = None) -> str:
    ident = f" id=\"{esc(anchor)}\"" if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def para(text: str, *, cls: str | None = None) -> str:
    klass = f" class=\"{cls}\"" if cls else ""
    return f"<p{klass}>{esc(text)}</p>"


def bullets(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def figure(uri: str | None, caption: str, *, alt: str | None = None,
           missing: str = "Not available.", picture: bool = False) -> str:
    """An inline image with its caption; ``picture`` scales small images up (pixelated)."""
    if not uri:
        return f"<figure><p class=\"note\">{esc(missing)}</p><figcaption>{esc(caption)}</figcaption></figure>"
    cls = " class=\"pic\"" if picture else ""
    return (f"<figure><img{cls} src=\"{uri}\" alt=\"{esc(alt or caption)}\">"
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def badge(state: str) -> str:
    cls = {"pass": "pass", "fail": "fail"}.get(state, "na")
    text = {"pass": "pass", "fail": "fail", "not audited": "not audited"}.get(state, state)
    return f"<span class=\"badge {cls}\">{esc(text)}</span>"


def keyfigs(items: Sequence[tuple[str, str]]) -> str:
    return "<div class=\"keyfigs\">" + "".join(
        f"<div class=\"keyfig\"><div class=\"k\">{esc(k)}</div><div class=\"v\">{esc(v)}</div></div>"
        for k, v in items) + "</div>"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
          left: Sequence[int] = (0,), row_classes: Sequence[str] | None = None,
          raw: bool = False, narrow: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (then the caller escaped them)."""
    def cell(tag, i, value):
        cls = " class=\"l\"" if i in left else ""
        return f"<{tag}{cls}>{value if raw else esc(value)}</{tag}>"

    head = "".join(cell("th", i, esc(h) if raw else h) for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        cls = row_classes[r] if row_classes else ""
        klass = f" class=\"{cls}\"" if cls else ""
        body.append(f"<tr{klass}>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>")
    klass = " class=\"narrow\"" if narrow else ""
    return (f"<div class=\"scroll\"><table{klass}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")
