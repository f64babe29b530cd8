"""The 1D scoring bar counts checkpoints in the same words as the 2D one (issue 13)."""

from __future__ import annotations

import re

from ganaudit.evaluation.scoring1d import score_run_1d


def test_1d_scoring_bar_counts_checkpoints(tiny_run_1d, copy_run, capsys):
    run = copy_run(tiny_run_1d)
    score_run_1d(run, n=200, progress=True)
    err = capsys.readouterr().err
    assert "scoring checkpoints" in err and "2/2" in err, err
    assert re.search(r"(checkpoint/s|s/checkpoint)", err), err
    assert "it/s" not in err and "s/it" not in err and "ckpt" not in err
