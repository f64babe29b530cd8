"""CSV cells that a spreadsheet cannot run as a formula.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before looking for one) is read as a formula when the file is opened in a
spreadsheet ("CSV injection", OWASP). Reader notes are free text, so every text cell of an
export goes through ``neutralise_csv_cell``: such a cell gets a leading apostrophe, which
spreadsheets show as text and do not display. Numbers are left as they are (``-0.5`` stays a
number).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_csv_cell(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_csv_frame(frame: "pd.DataFrame") -> "pd.DataFrame":
    """A copy of ``frame`` whose text cells (and column names) are neutralised."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(neutralise_csv_cell)
    out.columns = [neutralise_csv_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def frame_to_safe_csv(frame: "pd.DataFrame", path_or_buf=None, **kwargs):
    """``frame.to_csv(...)`` with every text cell neutralised first."""
    return neutralise_csv_frame(frame).to_csv(path_or_buf, **kwargs)
