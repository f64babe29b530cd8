"""Read everything a report needs from a run folder (and, optionally, a study folder).

The report is built from files other commands wrote (see the shared file contracts):
``run.json`` and ``history.csv`` (``ganaudit train1d`` / ``train2d``), ``scores.csv`` and
``audit/epoch-NNNN/...`` (``ganaudit score``), ``STUDY/analysis/checkpoints.csv``
(``ganaudit study analyze``). When a piece the report cannot do without is missing, the error
names the command that makes it. Optional pieces (audits, sample pictures) may be missing: the
report then says so in the section where they would have been.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ganaudit.gan_models.errors import InputError
from ganaudit.schema import layout
from ganaudit.schema import metrics as M
from ganaudit.schema.values import is_bool_word, parse_bool

HISTORY_COLUMNS = M.HISTORY_COLUMNS
STUDY_COLUMNS = ["label", "n_read", "called_real", "fool_rate", "fool_rate_ci_low",
                 "fool_rate_ci_high", "detect_p"]
_LABEL = layout.EPOCH_LABEL_RE


@dataclass
class CheckpointAudit:
    """Audit outputs of one checkpoint (any part may be missing: ``None``)."""

    epoch: int
    memorization_summary: dict | None = None
    memorization_table: pd.DataFrame | None = None
    memorization_gallery: Path | None = None
    findings_summary: dict | None = None
    findings_table: pd.DataFrame | None = None
    findings_gallery: Path | None = None


@dataclass
class RunData:
    """One run folder, read and checked."""

    path: Path
    run: dict
    kind: str
    history: pd.DataFrame
    scores: pd.DataFrame
    audits: dict[int, CheckpointAudit] = field(default_factory=dict)
    study: pd.DataFrame | None = None
    study_summary: dict | None = None
    study_path: Path | None = None
    study_readers: pd.DataFrame | None = None
    study_plot: Path | None = None
    #: ``STUDY/analysis/comparison.csv`` (with ``epoch_a``/``epoch_b``) and ``comparison.json``
    #: (the Obuchowski–Rockette comparison of checkpoints), or None when nothing was compared
    study_comparison: tuple[pd.DataFrame, dict] | None = None
    #: 2D: real-vs-real baselines from ``RUN/baselines.json`` (metric → value/interval)
    baselines: dict = field(default_factory=dict)
    baselines_info: dict = field(default_factory=dict)
    #: the baselines' anchor metrics (real images blurred by half a pixel), or None
    anchor: dict | None = None

    def sample_png(self, epoch: int) -> Path | None:
        path = layout.sample_grid(self.path, epoch)
        return path if path.is_file() else None

    def sample_points(self, epoch: int) -> np.ndarray | None:
        """The 1D run's stored generator points for ``epoch`` ((n, 2) array), or None."""
        path = layout.sample_points(self.path, epoch)
        if not path.is_file():
            return None
        try:
            points = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot read sample points {path}: {exc}; re-create them by training the run "
                "again (ganaudit train1d ... --out RUN)") from exc
        if points.ndim != 2 or points.shape[1] != 2:
            raise InputError(
                f"sample points {path} have shape {points.shape}, expected (n, 2); the file is "
                "not from ganaudit train1d - re-train the run")
        return points


def _read_csv(path: Path, what: str, how: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read {what} {path} ({exc}); make it again with {how}") from exc


def _require_columns(frame: pd.DataFrame, columns: list[str], path: Path, how: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path} lacks column(s) {', '.join(missing)}; make it again with {how}")


def _check_numbers(frame: pd.DataFrame, path: Path, how: str) -> None:
    """Every column that is not true/false must hold numbers (a hand-edited cell would
    otherwise surface as a traceback deep in the stopping rule)."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        present = values.dropna()
        if present.map(is_bool_word).all():
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.isna().any():
            bad = present[numbers.isna()].index[0]
            raise InputError(f"{path} column {column} holds {present[bad]!r} at epoch "
                             f"{frame.loc[bad, 'epoch']}, not a number; make it again with {how}")
        frame[column] = pd.to_numeric(values, errors="coerce")


def _as_bool(values: pd.Series) -> pd.Series:
    """``healthy`` as read by ``parse_bool`` (True/False, true/false, 1/0 …); unknown stays NA."""
    return values.map(parse_bool).astype("boolean")


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} ({exc}); re-run ganaudit score RUN to make it "
                         "again") from exc


def _load_audit(run_dir: Path, epoch: int) -> CheckpointAudit:
    base = layout.checkpoint_audit_dir(run_dir, epoch)
    audit = CheckpointAudit(epoch=epoch)
    mem, fnd = base / "memorization", base / "findings"
    audit.memorization_summary = _read_json(mem / layout.AUDIT_SUMMARY_JSON)
    if (mem / layout.MEMORIZATION_CSV).is_file():
        audit.memorization_table = _read_csv(mem / layout.MEMORIZATION_CSV, "memorization table",
                                             "ganaudit score RUN")
    if (mem / layout.AUDIT_GALLERY_PNG).is_file():
        audit.memorization_gallery = mem / layout.AUDIT_GALLERY_PNG
    audit.findings_summary = _read_json(fnd / layout.AUDIT_SUMMARY_JSON)
    if (fnd / layout.FINDINGS_CSV).is_file():
        audit.findings_table = _read_csv(fnd / layout.FINDINGS_CSV, "findings table",
                                         "ganaudit score RUN")
    if (fnd / layout.AUDIT_GALLERY_PNG).is_file():
        audit.findings_gallery = fnd / layout.AUDIT_GALLERY_PNG
    return audit


def load_baselines(run_dir: str | Path) -> dict:
    """Read ``RUN/baselines.json`` (real-vs-real baselines written by ``ganaudit score RUN``).

    Strict: a missing file or a file without its ``metrics`` table is an error naming the
    command that makes it.
    """
    path = layout.baselines_json(run_dir)
    how = f"ganaudit score {run_dir}"
    if not path.is_file():
        raise InputError(f"{run_dir} has no baselines.json (the real-vs-real baselines the "
                         f"verdict compares with); run `{how}` again")
    info = _read_json(path)
    metrics = info.get("metrics") if isinstance(info, dict) else None
    if not isinstance(metrics, dict) or not all(
            isinstance(v, dict) and "value" in v for v in metrics.values()):
        raise InputError(f"{path} has no 'metrics' table of {{metric: {{value, ...}}}}; make it "
                         f"again with {how}")
    return info


def load_study(study_dir: str | Path) -> tuple[pd.DataFrame, dict | None, Path]:
    """Read ``STUDY/analysis/checkpoints.csv`` (and ``summary.json`` when present).

    Returns the table with an added integer ``epoch`` column (NA for labels that are not
    ``epoch-NNNN``), the summary dict (or None) and the study path.
    """
    study = Path(study_dir)
    if not study.is_dir():
        raise InputError(f"study folder {study} does not exist; give the folder made by "
                         "ganaudit study create")
    table_path = layout.analysis_dir(study) / layout.ANALYSIS_CHECKPOINTS_CSV
    if not table_path.is_file():
        raise InputError(f"{table_path} is missing; run `ganaudit study analyze {study}` first")
    table = _read_csv(table_path, "reader results", f"ganaudit study analyze {study}")
    _require_columns(table, STUDY_COLUMNS, table_path, f"ganaudit study analyze {study}")
    table["epoch"] = [int(m.group(1)) if (m := _LABEL.match(str(label))) else pd.NA
                      for label in table["label"]]
    table["epoch"] = table["epoch"].astype("Int64")
    summary = None
    summary_path = layout.analysis_dir(study) / layout.ANALYSIS_SUMMARY_JSON
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {summary_path} ({exc}); run `ganaudit study analyze "
                             f"{study}` again") from exc
    return table, summary, study


def load_run(run_dir: str | Path, *, study_dir: str | Path | None = None) -> RunData:
    """Read a run folder for a report.

    Parameters
    ----------
    run_dir : path
        Folder made by ``ganaudit train1d`` / ``train2d`` and scored by ``ganaudit score``.
    study_dir : path, optional
        Reading-study folder analysed by ``ganaudit study analyze``.

    Raises
    ------
    InputError
        When the folder, ``run.json``, ``history.csv`` or ``scores.csv`` is missing or
        unreadable; the message names the command that makes the missing piece.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise InputError(f"run folder {path} does not exist; give the folder written by "
                         "ganaudit train1d or ganaudit train2d (--out RUN)")
    train_cmd = "ganaudit train1d --pattern P --epochs E --out RUN (or ganaudit train2d)"
    run_json = layout.run_json(path)
    if not run_json.is_file():
        raise InputError(f"{path} is not a training run (no run.json); make one with {train_cmd}")
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {run_json} ({exc}); make the run again with "
                         f"{train_cmd}") from exc
    kind = run.get("kind") if isinstance(run, dict) else None
    if kind not in ("1d", "2d", "imported"):
        raise InputError(f"{run_json} has kind {kind!r}, expected '1d', '2d' or 'imported'; it "
                         f"was not written by {train_cmd} or ganaudit import")
    # A run trained elsewhere (ganaudit import) is judged as a 2D run; run["kind"] and
    # run["source"] still say where it came from. Its history.csv is optional (--history).
    imported = kind == "imported"
    kind = "2d" if imported else kind

    history_path = layout.history_csv(path)
    if imported and not history_path.is_file():
        history = pd.DataFrame({c: pd.Series(dtype=float) for c in HISTORY_COLUMNS})
    elif not history_path.is_file():
        raise InputError(f"{path} has no history.csv; train the run with {train_cmd} (or "
                         "finish it with --resume)")
    else:
        history = _read_csv(history_path, "training history", train_cmd)
        _require_columns(history, HISTORY_COLUMNS, history_path, train_cmd)
    history[M.HEALTHY] = _as_bool(history[M.HEALTHY])
    history = history.sort_values("epoch").reset_index(drop=True)

    scores_path = layout.scores_csv(path)
    if not scores_path.is_file():
        raise InputError(f"{path} has no scores.csv; run `ganaudit score {path}` first")
    scores = _read_csv(scores_path, "scores", f"ganaudit score {path}")
    _require_columns(scores, ["epoch"], scores_path, f"ganaudit score {path}")
    if scores.empty:
        raise InputError(f"{scores_path} has no rows; run `ganaudit score {path}` after "
                         "training wrote at least one checkpoint")
    epochs = pd.to_numeric(scores["epoch"], errors="coerce")
    if epochs.isna().any() or (epochs != epochs.round()).any():
        raise InputError(f"{scores_path} has epochs that are not whole numbers; make it again "
                         f"with ganaudit score {path}")
    duplicated = sorted(set(epochs[epochs.duplicated()].astype(int)))
    if duplicated:
        raise InputError(f"{scores_path} lists epoch {duplicated[0]} more than once; make it "
                         f"again with ganaudit score {path}")
    scores["epoch"] = epochs.astype(int)
    scores = scores.sort_values("epoch").reset_index(drop=True)
    unknown = sorted(set(scores["epoch"]) - set(history["epoch"]))
    if unknown and not (imported and history.empty):
        raise InputError(f"{scores_path} scores epoch {unknown[0]}, which {history_path.name} does not "
                         "have: the scores belong to another run or to an earlier training of this "
                         f"one; make them again with ganaudit score {path}")
    _check_numbers(scores, scores_path, f"ganaudit score {path}")
    # Training-health columns come from history.csv when scores.csv lacks them.
    extra = history[HISTORY_COLUMNS].rename(columns={c: f"{c}_history" for c in HISTORY_COLUMNS[1:]})
    merged = scores.merge(extra, on="epoch", how="left")
    for col in HISTORY_COLUMNS[1:]:
        from_history = merged.pop(f"{col}_history")
        if col not in merged.columns:
            merged[col] = from_history
        else:
            merged[col] = merged[col].where(merged[col].notna(), from_history)
    scores = merged
    scores[M.HEALTHY] = _as_bool(scores[M.HEALTHY])

    data = RunData(path=path, run=run, kind=kind, history=history, scores=scores)
    if kind == "2d":
        data.audits = {int(e): _load_audit(path, int(e)) for e in scores["epoch"]}
        data.baselines_info = load_baselines(path)
        data.baselines = data.baselines_info["metrics"]
        anchors = data.baselines_info.get("anchors") or {}
        data.anchor = next((a.get("metrics") for a in anchors.values()
                            if isinstance(a, dict)), None)
    if study_dir is not None:
        data.study, data.study_summary, data.study_path = load_study(study_dir)
        analysis = layout.analysis_dir(data.study_path)
        if (analysis / layout.ANALYSIS_READERS_CSV).is_file():
            data.study_readers = _read_csv(analysis / layout.ANALYSIS_READERS_CSV, "reader table",
                                           f"ganaudit study analyze {data.study_path}")
        if (analysis / layout.ANALYSIS_PLOT).is_file():
            data.study_plot = analysis / layout.ANALYSIS_PLOT
        from ganaudit.reader_study.analysis import COMPARISON_TEST_FILE, load_comparison

        # Analyses older than the checkpoint comparison have no comparison.json: no comparison.
        if (analysis / COMPARISON_TEST_FILE).is_file():
            data.study_comparison = load_comparison(data.study_path)
        if data.study_comparison is not None:
            pairs = data.study_comparison[0]
            for side in ("a", "b"):
                pairs[f"epoch_{side}"] = pd.array(
                    [int(m.group(1)) if (m := _LABEL.match(str(label))) else pd.NA
                     for label in pairs[f"condition_{side}"]], dtype="Int64")
    return data
