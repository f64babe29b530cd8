"""The report title names a 1D run's pattern once (issue 13: 'sine — sine' on the demo's runs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganaudit.reports.build import _run_title
from ganaudit.reports.load import RunData


def _data(folder: str, pattern: str) -> RunData:
    return RunData(path=Path("/runs") / folder, run={"pattern": {"name": pattern}}, kind="1d",
                   history=pd.DataFrame(), scores=pd.DataFrame())


def test_folder_named_after_its_pattern_is_not_repeated():
    assert _run_title(_data("sine", "sine")) == "1D GAN ‘sine’"


def test_other_folder_names_are_shown():
    assert _run_title(_data("sine-seed3", "sine")) == "1D GAN ‘sine’ — sine-seed3"
