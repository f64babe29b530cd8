"""Score every checkpoint of a 1D run: true error (with a bootstrap interval) and FD.

FD here is the Fréchet distance between the generated points and fresh real points of the
pattern, on the raw (x, y) coordinates (2-D "features"). Lower is better for every column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganaudit.gan_models.atomic import write_csv
from ganaudit.gan_models.checkpoints import every_kth, list_checkpoints
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.patterns import resolve_pattern
from ganaudit.gan_models.runs import load_run, read_history
from ganaudit.gan_models.sampling import generate
from ganaudit.schema import layout
from ganaudit.schema import metrics as M

SCORE_COLUMNS_1D = M.SCORE_COLUMNS_1D
HISTORY_COLUMNS = M.HISTORY_IN_SCORES


def score_points(points: np.ndarray, pattern, *, seed: int = 0) -> dict:
    """One scores row (without epoch and history) for generated ``points``."""
    from ganaudit.evaluation.frechet import frechet_distance_from_features
    from ganaudit.evaluation.true_error import true_error_1d, true_error_ci

    pattern = resolve_pattern(pattern)
    row = true_error_1d(points, pattern)
    row[M.TRUE_ERROR_CI_LOW], row[M.TRUE_ERROR_CI_HIGH] = true_error_ci(points, pattern, seed=seed)
    real = pattern.sample(len(points), np.random.default_rng([seed, 2]))
    row[M.FD] = frechet_distance_from_features(real.astype(np.float64), points.astype(np.float64))
    return row


def score_run_1d(run_dir, *, n: int = 2000, seed: int = 0, every: int = 1,
                 progress: bool = True) -> pd.DataFrame:
    """Score the checkpoints of a 1D run (every ``every``-th epoch and the last; default all)
    and write RUN/scores.csv (atomically)."""
    from tqdm.auto import tqdm

    run = load_run(run_dir)
    if run.get("kind") != "1d":
        raise InputError(f"{run_dir} is a {run.get('kind')} run, not a 1D run")
    pattern = resolve_pattern(run["pattern"].get("spec", run["pattern"]["name"]))
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise InputError(f"{run_dir} has no checkpoints yet; run `ganaudit train1d ... --out {run_dir}` first")
    checkpoints = every_kth(checkpoints, every)
    history = read_history(run_dir).set_index("epoch")
    rows = []
    for epoch, _ in tqdm(checkpoints, desc="scoring checkpoints", unit="checkpoint", disable=not progress,
                         leave=False):
        points = generate(run_dir, epoch, n, seed=seed)
        row = {"epoch": epoch, **score_points(points, pattern, seed=seed)}
        for column in HISTORY_COLUMNS:
            row[column] = history.loc[epoch, column] if epoch in history.index else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows, columns=SCORE_COLUMNS_1D + HISTORY_COLUMNS)
    write_csv(layout.scores_csv(run_dir), frame)
    return frame
