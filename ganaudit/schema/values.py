"""Values in the files between packages: true/false cells, strict JSON, and the rule for
which folder a result may be written into.

- :func:`parse_bool`: how every reader reads a true/false cell (``healthy``,
  ``findings_significant`` …) — the spellings pandas, Python and people write.
- :func:`json_text`: strict JSON (RFC 8259 has no NaN): NaN and ±inf become ``null``, NumPy
  scalars and arrays plain numbers and lists, paths strings. Every JSON file ganaudit writes
  goes through it (``ganaudit.gan_models.atomic.write_json`` included).
- :func:`folder_problem`: a result folder is replaced as a whole, so it may only go where
  nothing else would be lost: a path that does not exist, an empty folder, or a folder that
  holds only what an earlier run of the same writer put there.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

#: the spellings of true and false a cell may hold (compared lower-case, stripped)
TRUE_WORDS = frozenset({"true", "1", "1.0", "yes"})
FALSE_WORDS = frozenset({"false", "0", "0.0", "no"})


def parse_bool(value) -> bool | None:
    """True/False for a true/false cell; None when it is empty (None, NaN, NA, "") or not
    a recognised spelling."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        return None
    try:
        if value != value:  # NaN (float or NumPy); pandas.NA raises TypeError here
            return None
    except TypeError:
        return None
    return bool(value)


def is_bool_word(value) -> bool:
    """Whether ``value`` is one of the true/false spellings (for telling a true/false column
    from a numeric one)."""
    return str(value).strip().lower() in TRUE_WORDS | FALSE_WORDS


def json_ready(obj):
    """``obj`` with NaN/±inf → None, NumPy scalars/arrays → Python numbers/lists, paths →
    strings, tuples → lists (recursively)."""
    import numpy as np

    if isinstance(obj, dict):
        return {key: json_ready(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(value) for value in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def json_text(obj) -> str:
    """Strict, indented JSON of ``obj`` (see :func:`json_ready`), ending in a newline; a value
    JSON cannot hold is a TypeError naming its type."""
    return json.dumps(json_ready(obj), indent=2, allow_nan=False, default=_unknown) + "\n"


def _unknown(obj):
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def folder_problem(path, *, ours: tuple[str, ...] | None = None, marker: str | None = None) -> str | None:
    """Why a result folder may not be written at ``path``, or None when it may.

    It may when ``path`` does not exist or is an empty folder; and when it holds only names in
    ``ours`` (what the writer produces) or holds ``marker`` (the file that marks an earlier
    result of the same writer). Otherwise the answer is ``"is a file"`` or ``"is not empty"``;
    with ``ours``, ``"holds other files (a, b, c and N more)"``.
    """
    path = Path(path)
    if not path.exists():
        return None
    if not path.is_dir():
        return "is a file"
    names = sorted(p.name for p in path.iterdir())
    if not names or (marker is not None and marker in names):
        return None
    if ours is None:
        return "is not empty"
    others = [name for name in names if name not in ours]
    if not others:
        return None
    listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
    return f"holds other files ({listed})"
