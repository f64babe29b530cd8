"""Statistics of a finished (or running) reader study: could the readers tell real from fake?

For the *GAN*, lower is better: accuracy near 50 %, AUC near 0.5, high fool rates and large
``detect_p`` mean the readers could not tell its images from real ones. For the *readers*
the same numbers read the other way.

Fake = positive throughout: sensitivity = share of fakes called fake, specificity = share of
reals called real. ROC analysis uses the 6-point score (1 = surely real … 6 = surely fake).

Outputs in ``STUDY/analysis/`` (written all at once):
``readers.csv`` (per reader + pooled), ``pairs_kappa.csv``, ``checkpoints.csv`` (per checkpoint
label), ``regions.csv`` (marks per case), ``mrmc.csv`` (Obuchowski–Rockette), ``imrmc.csv`` /
``imrmc.imrmc`` / ``imrmc_ids.csv`` (export for iMRMC), ``summary.json``, ``reader_accuracy.png``,
``variance_components.json`` (for ``ganaudit study plan --pilot``), ``comparison.json`` and, with
two or more checkpoint labels, ``comparison.csv`` (Obuchowski–Rockette comparison of the
checkpoints' mean AUCs in the split design: see :func:`ganaudit.reader_study.mrmc.or_compare`).

References
----------
Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the
case of the binomial. Biometrika 26:404-413 (exact binomial intervals and tests).
DeLong ER et al. (1988), Biometrics 44:837-845 (AUC variance per reader).
Cohen J (1960). A coefficient of agreement for nominal scales. Educ Psychol Meas 20:37-46.
Fleiss JL (1971). Measuring nominal scale agreement among many raters. Psychol Bull 76:378-382.
Obuchowski & Rockette (1995); Hillis (2007): see ``ganaudit.reader_study.mrmc``.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ganaudit.gan_models.atomic import atomic_path
from ganaudit.gan_models.errors import InputError
from ganaudit.reader_study.errors import MissingKey, StudyError
from ganaudit.reader_study.mrmc import COMPARISON_COLUMNS, delong_variance, imrmc_rows, or_analysis, or_compare, placements
from ganaudit.reader_study.power import VARIANCE_FILE, components_from_scores
from ganaudit.schema import layout
from ganaudit.schema.values import json_text

READER_COLUMNS = ["reader", "n_read", "n_real", "n_fake", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
                  "binom_p", "sensitivity", "sensitivity_ci_low", "sensitivity_ci_high", "specificity",
                  "specificity_ci_low", "specificity_ci_high", "auc", "auc_se", "auc_ci_low", "auc_ci_high",
                  "mean_seconds", "median_seconds", "ci_method"]
CHECKPOINT_COLUMNS = ["label", "n_read", "called_real", "fool_rate", "fool_rate_ci_low", "fool_rate_ci_high",
                      "detect_p", "n_cases", "auc", "p_vs_real"]
PAIR_COLUMNS = ["reader_a", "reader_b", "n_common", "agreement", "kappa"]
COMPARISON_FILE = layout.COMPARISON_CSV
COMPARISON_TEST_FILE = layout.COMPARISON_JSON
REGION_COLUMNS = ["case_id", "truth", "label", "n_read", "n_called_fake", "n_marks", "n_finding", "n_artifact",
                  "n_readers_marked", "mean_x", "mean_y", "marks", "notes"]


# --- small statistics (pure functions on arrays) ----------------------------------------------
def proportion_ci(k: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for k successes in n trials; (nan, nan) when n = 0."""
    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(int(k), int(n), 0.5).proportion_ci(confidence_level=1 - alpha, method="exact")
    return float(ci.low), float(ci.high)


def cohen_kappa(a, b) -> float:
    """Cohen's (1960) κ of two raters' labels on the same cases (nan when chance agreement is 1)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.size == 0:
        raise StudyError("Cohen's kappa needs two equally long, non-empty label lists")
    cats = np.union1d(a, b)
    po = float(np.mean(a == b))
    pe = float(sum(np.mean(a == c) * np.mean(b == c) for c in cats))
    return math.nan if pe >= 1 else (po - pe) / (1 - pe)


def fleiss_kappa(counts) -> float:
    """Fleiss' (1971) κ from a (subjects, categories) table of rating counts (equal raters per subject)."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=1)
    if counts.ndim != 2 or counts.shape[0] == 0 or not np.all(n == n[0]) or n[0] < 2:
        raise StudyError("Fleiss' kappa needs the same number (>= 2) of ratings for every case")
    n = n[0]
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = (np.sum(counts**2, axis=1) - n) / (n * (n - 1))
    pe = float(np.sum(p_j**2))
    return math.nan if pe >= 1 else float((p_i.mean() - pe) / (1 - pe))


def auc_with_ci(scores, truth, *, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """Empirical AUC, DeLong SE and a normal interval clipped to [0, 1]."""
    truth = np.asarray(truth).astype(int)
    if truth.sum() == 0 or truth.sum() == truth.size:
        return math.nan, math.nan, math.nan, math.nan
    a = placements(scores, truth)[0]
    se = math.sqrt(delong_variance(scores, truth)) if min(truth.sum(), truth.size - truth.sum()) >= 2 else math.nan
    z = stats.norm.ppf(1 - alpha / 2)
    return a, se, max(0.0, a - z * se), min(1.0, a + z * se)


# --- loading ------------------------------------------------------------------------------------
def load_key(study_dir: Path) -> pd.DataFrame:
    """``key/key.csv`` (case_id, truth, label, source); ``MissingKey`` if absent or damaged."""
    path = Path(study_dir) / "key" / "key.csv"
    if not path.is_file():
        raise MissingKey(f"study folder {study_dir} has no key/key.csv, so real and fake cannot be told apart; "
                         "restore the key/ folder written by 'ganaudit study create' (keep a copy apart from the "
                         "reading server)")
    try:
        key = pd.read_csv(path, dtype=str)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MissingKey(f"{path} is damaged ({str(exc).splitlines()[0]}), so real and fake cannot be told apart; "
                         "restore the key/ folder written by 'ganaudit study create' from your copy") from exc
    missing = {"case_id", "truth", "label"} - set(key.columns)
    if missing:
        raise MissingKey(f"{path} lacks columns {sorted(missing)}; restore the key written by 'ganaudit study create'")
    return key


def load_answers(study_dir, *, db: str | None = None) -> tuple[pd.DataFrame, "object"]:
    """Counted answers joined with the key: one row per (reader, case) with truth and label."""
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    study = Study.open(study_dir)
    key = load_key(study.path)
    # Read only: a mistyped --db must not leave a new, empty database behind.
    store = AnswerStore(db or study.default_db_url(), study=study, create=False)
    try:
        frame = store.answers_frame()
    finally:
        store.close()
    frame = frame[~frame["practice"]]
    frame = frame.merge(key[["case_id", "truth", "label"]], on="case_id", how="inner")
    return frame, study


# --- the analysis -------------------------------------------------------------------------------
def reader_table(answers: pd.DataFrame, readers: list[str], *, alpha: float = 0.05) -> pd.DataFrame:
    """Per-reader accuracy, sensitivity, specificity (exact CIs), binomial p, AUC (DeLong), time."""
    rows = []
    for reader in readers:
        a = answers[answers["reader_id"] == reader]
        rows.append(_metrics_row(reader, a, alpha=alpha))
    return pd.DataFrame(rows, columns=READER_COLUMNS)


def _metrics_row(name: str, a: pd.DataFrame, *, alpha: float) -> dict:
    n = len(a)
    is_fake = (a["truth"] == "fake").to_numpy()
    called_fake = (a["call"] == "fake").to_numpy()
    correct = int(np.sum(is_fake == called_fake))
    tp, fakes = int(np.sum(is_fake & called_fake)), int(is_fake.sum())
    tn, reals = int(np.sum(~is_fake & ~called_fake)), int((~is_fake).sum())
    acc_ci, sens_ci, spec_ci = proportion_ci(correct, n, alpha=alpha), proportion_ci(tp, fakes, alpha=alpha), \
        proportion_ci(tn, reals, alpha=alpha)
    auc, se, lo, hi = auc_with_ci(a["score6"].to_numpy(), is_fake.astype(int), alpha=alpha) if n else (math.nan,) * 4
    secs = a["seconds"].dropna() if n else pd.Series(dtype=float)
    return {
        "reader": name, "n_read": n, "n_real": reals, "n_fake": fakes,
        "accuracy": correct / n if n else math.nan, "accuracy_ci_low": acc_ci[0], "accuracy_ci_high": acc_ci[1],
        "binom_p": float(stats.binomtest(correct, n, 0.5).pvalue) if n else math.nan,
        "sensitivity": tp / fakes if fakes else math.nan, "sensitivity_ci_low": sens_ci[0],
        "sensitivity_ci_high": sens_ci[1],
        "specificity": tn / reals if reals else math.nan, "specificity_ci_low": spec_ci[0],
        "specificity_ci_high": spec_ci[1],
        "auc": auc, "auc_se": se, "auc_ci_low": lo, "auc_ci_high": hi,
        "mean_seconds": float(secs.mean()) if len(secs) else math.nan,
        "median_seconds": float(secs.median()) if len(secs) else math.nan,
        "ci_method": "exact binomial; AUC DeLong",
    }


def _score_matrix(answers: pd.DataFrame, readers: list[str], column: str) -> pd.DataFrame:
    return answers.pivot_table(index="reader_id", columns="case_id", values=column, aggfunc="first").reindex(readers)


def pair_table(answers: pd.DataFrame, readers: list[str]) -> pd.DataFrame:
    """Cohen's κ and raw agreement for every pair of readers on the cases both read."""
    calls = _score_matrix(answers.assign(fake=(answers["call"] == "fake").astype(float)), readers, "fake")
    rows = []
    for a, b in itertools.combinations(readers, 2):
        both = calls.loc[[a, b]].dropna(axis=1)
        n = both.shape[1]
        if n == 0:
            rows.append({"reader_a": a, "reader_b": b, "n_common": 0, "agreement": math.nan, "kappa": math.nan})
            continue
        x, y = both.loc[a].to_numpy(), both.loc[b].to_numpy()
        rows.append({"reader_a": a, "reader_b": b, "n_common": n, "agreement": float(np.mean(x == y)),
                     "kappa": cohen_kappa(x, y)})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def fleiss_from_answers(answers: pd.DataFrame, readers: list[str]) -> tuple[float, int]:
    """Fleiss' κ over the cases read by every reader; returns (kappa, n_cases)."""
    calls = _score_matrix(answers.assign(fake=(answers["call"] == "fake").astype(float)), readers, "fake")
    complete = calls.dropna(axis=1)
    if len(readers) < 2 or complete.shape[1] == 0:
        return math.nan, 0
    n_fake = complete.sum(axis=0).to_numpy()
    table = np.stack([len(readers) - n_fake, n_fake], axis=1)
    return fleiss_kappa(table), complete.shape[1]


def checkpoint_table(answers: pd.DataFrame, key: pd.DataFrame, readers: list[str], *, alpha: float = 0.05) -> pd.DataFrame:
    """Per checkpoint label: fool rate (fakes called real) with exact CI and detect_p.

    ``detect_p``: one-sided exact binomial p that readers call this label's fakes "fake" more
    often than 50 %. ``p_vs_real``: one-sided Fisher exact p that they call them "fake" more
    often than they call real images "fake" (robust to a reader's bias toward one answer).
    ``auc``: mean over readers of the AUC of this label's fakes against all real cases.
    Reads of one case by several readers are treated as independent here; see ``mrmc.csv``
    for the analysis that accounts for reader and case variability.
    """
    real = answers[answers["truth"] == "real"]
    real_fake_calls = int((real["call"] == "fake").sum())
    rows = []
    labels = sorted(pd.unique(key.loc[key["truth"] == "fake", "label"]))
    for label in labels:
        a = answers[(answers["truth"] == "fake") & (answers["label"] == label)]
        n = len(a)
        called_real = int((a["call"] == "real").sum())
        lo, hi = proportion_ci(called_real, n, alpha=alpha)
        detect_p = float(stats.binomtest(n - called_real, n, 0.5, alternative="greater").pvalue) if n else math.nan
        p_vs_real = float(stats.fisher_exact([[n - called_real, called_real],
                                              [real_fake_calls, len(real) - real_fake_calls]],
                                             alternative="greater").pvalue) if n and len(real) else math.nan
        aucs = []
        for reader in readers:
            sub = answers[(answers["reader_id"] == reader) & ((answers["truth"] == "real") | (answers["label"] == label))]
            y = (sub["truth"] == "fake").to_numpy().astype(int)
            if 0 < y.sum() < len(y):
                aucs.append(placements(sub["score6"].to_numpy(), y)[0])
        rows.append({"label": label, "n_read": n, "called_real": called_real,
                     "fool_rate": called_real / n if n else math.nan, "fool_rate_ci_low": lo, "fool_rate_ci_high": hi,
                     "detect_p": detect_p, "n_cases": int(((key["truth"] == "fake") & (key["label"] == label)).sum()),
                     "auc": float(np.mean(aucs)) if aucs else math.nan, "p_vs_real": p_vs_real})
    return pd.DataFrame(rows, columns=CHECKPOINT_COLUMNS)


def region_table(answers: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    """Per case: how many readers called it fake, marks by kind, their mean position, notes."""
    rows = []
    info = key.set_index("case_id")
    for case_id, a in answers.groupby("case_id", sort=True):
        marks = []
        readers_marked = 0
        for text in a["marks"]:
            m = json.loads(text) if isinstance(text, str) and text else []
            marks += m
            readers_marked += bool(m)
        xs = [m["x"] for m in marks]
        ys = [m["y"] for m in marks]
        rows.append({
            "case_id": case_id, "truth": info.at[case_id, "truth"], "label": info.at[case_id, "label"],
            "n_read": len(a), "n_called_fake": int((a["call"] == "fake").sum()), "n_marks": len(marks),
            "n_finding": sum(m.get("kind") == "finding" for m in marks),
            "n_artifact": sum(m.get("kind") == "artifact" for m in marks), "n_readers_marked": readers_marked,
            "mean_x": float(np.mean(xs)) if xs else math.nan, "mean_y": float(np.mean(ys)) if ys else math.nan,
            "marks": json.dumps(marks), "notes": int((a["note"].fillna("").str.strip() != "").sum()),
        })
    return pd.DataFrame(rows, columns=REGION_COLUMNS)


def checkpoint_scores(answers: pd.DataFrame, key: pd.DataFrame, readers: list[str], *,
                      column: str = "score6") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(checkpoints, readers, cases) scores in the split design, the truth (1 = fake) and the labels.

    Cases are those read by every reader. A real case belongs to every checkpoint (each reader
    read it once; that one score enters every checkpoint's AUC); a fake belongs to its own
    checkpoint only (NaN elsewhere). ``column="call"`` gives 1 for a "fake" call, 0 for "real".
    """
    data = answers.assign(call=(answers["call"] == "fake").astype(float)) if column == "call" else answers
    matrix = _score_matrix(data, readers, column).dropna(axis=1)
    info = key.set_index("case_id").reindex(matrix.columns)
    truth = (info["truth"] == "fake").to_numpy()
    labels = sorted(pd.unique(key.loc[key["truth"] == "fake", "label"]))
    values = matrix.to_numpy(dtype=float)
    scores = np.full((len(labels), len(readers), matrix.shape[1]), np.nan)
    for i, label in enumerate(labels):
        cols = ~truth | (info["label"] == label).to_numpy()
        scores[i][:, cols] = values[:, cols]
    return scores, truth.astype(int), labels


def compare_checkpoints(answers: pd.DataFrame, key: pd.DataFrame, readers: list[str], *,
                        alpha: float = 0.05) -> tuple[pd.DataFrame | None, dict]:
    """OR comparison of the checkpoints' mean AUCs (``comparison.csv`` and ``comparison.json``).

    Returns (pairwise table or None, test dict). The dict says why when there is nothing to
    compare (one label, or fewer than 2 real or 2 fake cases per checkpoint read by all).
    """
    scores, truth, labels = checkpoint_scores(answers, key, readers)
    if len(labels) < 2:
        return None, {"method": f"one checkpoint label ({', '.join(labels) or 'none'}): nothing to compare"}
    member = np.isfinite(scores).all(axis=1)
    counts = [(int((m & (truth == 0)).sum()), int((m & (truth == 1)).sum())) for m in member]
    if min(min(c) for c in counts) < 2:
        return None, {"method": "not enough cases read by every reader to compare checkpoints (need >= 2 real "
                                "and 2 fake per checkpoint); cases per checkpoint (real, fake): "
                                + ", ".join(f"{lab} {c}" for lab, c in zip(labels, counts))}
    res = or_compare(scores, truth, alpha=alpha, conditions=labels)
    test = res.to_dict()
    test["auc"] = {lab: dict(zip(readers, row)) for lab, row in zip(labels, res.auc.tolist())}
    test["readers"] = list(readers)
    test["checkpoints"] = [{"label": lab, "auc": float(res.auc_mean[i]), "auc_ci_low": float(res.auc_ci_low[i]),
                            "auc_ci_high": float(res.auc_ci_high[i]), "n_real": counts[i][0],
                            "n_fake": counts[i][1]} for i, lab in enumerate(labels)]
    test["pairs"] = [[labels[a], labels[b]] for a, b in res.pairs]
    return res.table(), test


def variance_components(answers: pd.DataFrame, key: pd.DataFrame, readers: list[str]) -> dict:
    """OR variance components of this study for the AUC and for accuracy (``variance_components.json``)."""
    out = {}
    for fom, column in (("auc", "score6"), ("accuracy", "call")):
        scores, truth, labels = checkpoint_scores(answers, key, readers, column=column)
        try:
            out[fom] = components_from_scores(scores, truth, fom=fom, source=f"pilot study ({len(readers)} readers, "
                                              f"checkpoints {', '.join(labels)})").to_dict()
        except InputError as exc:
            out[fom] = {"error": str(exc)}
    return out


def load_comparison(study_dir) -> tuple[pd.DataFrame, dict] | None:
    """``STUDY/analysis/comparison.csv`` and ``comparison.json``, or None when nothing was compared.

    Strict: a missing ``comparison.json`` (an analysis older than the comparison) or a table
    without its columns is an error naming the command that rewrites them.
    """
    folder = layout.analysis_dir(study_dir)
    table_path, test_path = folder / COMPARISON_FILE, folder / COMPARISON_TEST_FILE
    how = f"run 'ganaudit study analyze {study_dir}' again"
    if not test_path.is_file():
        raise InputError(f"{test_path} is missing (the analysis predates the checkpoint comparison); {how}")
    try:
        test = json.loads(test_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {test_path} ({exc}); {how}") from exc
    if not table_path.is_file():
        return None
    try:
        table = pd.read_csv(table_path, dtype={"condition_a": str, "condition_b": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read {table_path} ({exc}); {how}") from exc
    missing = sorted(set(COMPARISON_COLUMNS) - set(table.columns))
    missing += [k for k in ("p_value", "df1") if not isinstance(test, dict) or k not in test]
    if missing:
        raise InputError(f"{table_path} / {test_path} lack {missing}; {how}")
    return table, test


def losing_pairs(table: pd.DataFrame, test: dict, *, alpha: float = 0.05) -> list[dict]:
    """Pairs where readers detected one checkpoint's fakes significantly better than another's.

    One dict per significant pair of ``comparison.csv``: ``loser`` (higher mean AUC: its fakes
    are easier to tell from real), ``winner``, ``difference`` (loser − winner, > 0),
    ``p_value``, ``ci_low``, ``ci_high`` (of that difference). With more than two checkpoints
    a pair counts only when the omnibus F test (``test``, from ``comparison.json``) is
    significant too (protected comparisons).
    """
    if test["df1"] > 1 and not (test["p_value"] is not None and test["p_value"] < alpha):
        return []
    out = []
    for row in table.itertuples():
        if not row.p_value < alpha:
            continue
        flip = row.difference < 0
        out.append({"loser": row.condition_b if flip else row.condition_a,
                    "winner": row.condition_a if flip else row.condition_b,
                    "difference": abs(float(row.difference)), "p_value": float(row.p_value),
                    "ci_low": float(-row.ci_high if flip else row.ci_low),
                    "ci_high": float(-row.ci_low if flip else row.ci_high)})
    return out


def losing_checkpoints(study_dir, *, alpha: float = 0.05) -> list[dict]:
    """:func:`losing_pairs` of an analysed study folder; an empty list when nothing was compared."""
    loaded = load_comparison(study_dir)
    return [] if loaded is None else losing_pairs(*loaded, alpha=alpha)


def bootstrap_accuracy_ci(answers: pd.DataFrame, readers: list[str], *, n_boot: int = 2000, seed: int = 0,
                          alpha: float = 0.05) -> tuple[float, float]:
    """Two-way bootstrap (readers and cases resampled) interval of the pooled accuracy.

    Unlike the pooled binomial interval it accounts for reads of the same case and by the
    same reader being correlated.
    """
    correct = _score_matrix(answers.assign(correct=(answers["call"] == answers["truth"]).astype(float)),
                            readers, "correct").to_numpy()
    r, c = correct.shape
    if r == 0 or c == 0 or n_boot < 1:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    stats_b = np.empty(n_boot)
    for b in range(n_boot):
        sub = correct[np.ix_(rng.integers(0, r, r), rng.integers(0, c, c))]
        stats_b[b] = np.nanmean(sub) if np.isfinite(sub).any() else np.nan
    lo, hi = np.nanquantile(stats_b, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass
class AnalysisResult:
    """Tables of ``analyze_study`` (also written to ``out_dir``)."""

    out_dir: Path
    summary: dict
    readers: pd.DataFrame
    pairs: pd.DataFrame
    checkpoints: pd.DataFrame
    regions: pd.DataFrame
    mrmc: dict = field(default_factory=dict)
    comparison: pd.DataFrame | None = None
    comparison_test: dict = field(default_factory=dict)
    components: dict = field(default_factory=dict)

    def text(self) -> str:
        s = self.summary
        lines = [f"study {s['study_id']}: {s['n_readers']} readers, {s['n_answers']} counted answers"
                 f"{'' if s['complete'] else ' (study not finished)'}"]
        p = s["pooled"]
        lines.append(f"pooled accuracy {p['accuracy']:.3f} (two-way bootstrap 95% CI {p['accuracy_ci_low']:.3f}-"
                     f"{p['accuracy_ci_high']:.3f}); sensitivity {p['sensitivity']:.3f}, specificity {p['specificity']:.3f}")
        m = s["mrmc"]
        if m and not math.isnan(m.get("auc", math.nan)):
            lines.append(f"MRMC AUC {m['auc']:.3f} (95% CI {m['ci_low']:.3f}-{m['ci_high']:.3f}, df {m['df']:.1f}), "
                         f"p = {m['p_value']:.3g} for H0 AUC = 0.5")
        lines.append(f"Fleiss' kappa {s['fleiss_kappa']:.3f}" if not math.isnan(s["fleiss_kappa"]) else "Fleiss' kappa: n/a")
        for row in self.checkpoints.itertuples():
            lines.append(f"  {row.label}: fool rate {row.fool_rate:.3f} ({row.called_real}/{row.n_read}), detect_p {row.detect_p:.3g}")
        test = self.comparison_test
        if self.comparison is not None:
            lines.append(f"checkpoints compared (Obuchowski-Rockette, Hillis ddf): F({test['df1']}, {test['ddf']:.1f}) = "
                         f"{test['f']:.3f}, p = {test['p_value']:.3g}")
            for row in self.comparison.itertuples():
                lines.append(f"  {row.condition_a} - {row.condition_b}: AUC {row.auc_a:.3f} - {row.auc_b:.3f} = "
                             f"{row.difference:+.3f} (95% CI {row.ci_low:+.3f} to {row.ci_high:+.3f}), p = {row.p_value:.3g}")
        elif test:
            lines.append(f"checkpoint comparison: {test['method']}")
        return "\n".join(lines)


def analyze_study(study_dir, *, db: str | None = None, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05,
                  write: bool = True) -> AnalysisResult:
    """Analyse a study's counted answers and write ``STUDY/analysis/``.

    Parameters
    ----------
    study_dir
        The study folder (needs ``key/key.csv``).
    db
        Answers database URL (default: the study's SQLite file).
    n_boot
        Resamples of the two-way bootstrap interval of the pooled accuracy.
    seed
        Seed of the bootstrap (a whole number >= 0).
    alpha
        1 − confidence level of all intervals.
    write
        Write the tables (False: only return them).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be a whole number >= 0, got {seed!r}")
    study_dir = Path(study_dir)
    answers, study = load_answers(study_dir, db=db)
    key = load_key(study_dir)
    if answers.empty:
        raise StudyError(f"no counted answers yet in study {study_dir}; readers must answer cases first "
                         "('ganaudit study serve STUDY')")
    readers = [r for r in study.reader_ids if r in set(answers["reader_id"])]

    readers_t = reader_table(answers, readers, alpha=alpha)
    pooled = _metrics_row("pooled", answers, alpha=alpha)
    boot = bootstrap_accuracy_ci(answers, readers, n_boot=n_boot, seed=seed, alpha=alpha)
    pooled.update({"accuracy_ci_low": boot[0], "accuracy_ci_high": boot[1],
                   "ci_method": "accuracy: two-way bootstrap over readers and cases; AUC: Obuchowski-Rockette; "
                                "binom_p ignores correlation between reads (summary only)"})

    # MRMC on the cases every reader has read (the OR method needs a fully crossed design).
    scores = _score_matrix(answers, readers, "score6").dropna(axis=1)
    truth_by_case = key.set_index("case_id")["truth"]
    mrmc: dict = {}
    y = (truth_by_case.reindex(scores.columns) == "fake").to_numpy().astype(int)
    if scores.shape[1] and min(y.sum(), len(y) - y.sum()) >= 2:
        res = or_analysis(scores.to_numpy(), y, alpha=alpha)
        mrmc = {k: v for k, v in res.to_dict().items() if k != "reader_aucs"}
        pooled.update({"auc": res.auc, "auc_se": res.se, "auc_ci_low": res.ci_low, "auc_ci_high": res.ci_high})
    else:
        mrmc = {"auc": math.nan, "method": "not enough cases read by every reader (need >= 2 real and 2 fake)"}
        pooled.update({"auc": math.nan, "auc_se": math.nan, "auc_ci_low": math.nan, "auc_ci_high": math.nan})
    readers_t = pd.concat([readers_t, pd.DataFrame([pooled], columns=READER_COLUMNS)], ignore_index=True)

    pairs = pair_table(answers, readers)
    fk, fk_n = fleiss_from_answers(answers, readers)
    checkpoints = checkpoint_table(answers, key, readers, alpha=alpha)
    regions = region_table(answers, key)
    comparison, comparison_test = compare_checkpoints(answers, key, readers, alpha=alpha)
    components = variance_components(answers, key, readers)
    progress = answers.groupby("reader_id").size()
    complete = all(progress.get(r, 0) >= len(study.order(r)) for r in study.reader_ids)
    real = answers[answers["truth"] == "real"]
    summary = {
        "study_id": study.study_id, "n_readers": len(readers), "n_answers": int(len(answers)),
        "n_cases": int(answers["case_id"].nunique()), "complete": bool(complete),
        "pooled": {k: pooled[k] for k in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "binom_p",
                                          "sensitivity", "specificity", "auc", "auc_ci_low", "auc_ci_high",
                                          "mean_seconds")},
        "mean_reader_accuracy": float(readers_t.iloc[:-1]["accuracy"].mean()),
        "real_called_real": float((real["call"] == "real").mean()) if len(real) else math.nan,
        "mean_cohen_kappa": float(pairs["kappa"].mean()) if len(pairs) and pairs["kappa"].notna().any() else math.nan,
        "fleiss_kappa": fk, "fleiss_kappa_cases": fk_n, "mrmc": mrmc,
        "checkpoints": checkpoints[["label", "fool_rate", "detect_p"]].to_dict(orient="records"),
        "comparison": {k: comparison_test[k] for k in ("f", "df1", "ddf", "p_value", "method") if k in comparison_test},
        "notes": ["fake = positive; lower accuracy/AUC = the GAN's images were harder to tell from real ones",
                  "pooled binom_p treats every read as independent: report it as a summary only"],
    }
    # The creation-time blinding check: if low-level statistics alone told real from fake,
    # the readers' results may rest on that cue rather than on anatomy.
    from ganaudit.reader_study.blinding import load_blinding

    blinding = load_blinding(study_dir)
    if blinding is not None:
        summary["blinding"] = {"warnings": list(blinding.get("warnings", [])),
                               "comparisons": blinding.get("comparisons", [])}
        summary["notes"] += [f"blinding check at creation: {w}" for w in blinding.get("warnings", [])]
    out_dir = layout.analysis_dir(study_dir)
    result = AnalysisResult(out_dir=out_dir, summary=summary, readers=readers_t, pairs=pairs,
                            checkpoints=checkpoints, regions=regions, mrmc=mrmc, comparison=comparison,
                            comparison_test=comparison_test, components=components)
    if write:
        _write(result, answers, key, readers)
    return result


def _write(result: AnalysisResult, answers: pd.DataFrame, key: pd.DataFrame, readers: list[str]) -> None:

    with atomic_path(result.out_dir) as tmp:
        tmp.mkdir()
        result.readers.to_csv(tmp / layout.ANALYSIS_READERS_CSV, index=False)
        result.pairs.to_csv(tmp / "pairs_kappa.csv", index=False)
        result.checkpoints.to_csv(tmp / layout.ANALYSIS_CHECKPOINTS_CSV, index=False)
        result.regions.to_csv(tmp / "regions.csv", index=False)
        pd.DataFrame([result.mrmc]).to_csv(tmp / "mrmc.csv", index=False)
        (tmp / layout.ANALYSIS_SUMMARY_JSON).write_text(json_text(result.summary), encoding="utf-8")
        (tmp / VARIANCE_FILE).write_text(json_text(result.components), encoding="utf-8")
        (tmp / COMPARISON_TEST_FILE).write_text(json_text(result.comparison_test), encoding="utf-8")
        if result.comparison is not None:
            result.comparison.to_csv(tmp / COMPARISON_FILE, index=False)
        _write_imrmc(tmp, answers, key, readers)
        plot_reader_accuracy(result.readers, tmp / layout.ANALYSIS_PLOT)



def _write_imrmc(folder: Path, answers: pd.DataFrame, key: pd.DataFrame, readers: list[str]) -> None:
    """iMRMC input: integer reader/case ids (mapping in imrmc_ids.csv), modality 1, fake = 1."""
    cases = sorted(answers["case_id"].unique())
    case_num = {c: i + 1 for i, c in enumerate(cases)}
    reader_num = {r: i + 1 for i, r in enumerate(readers)}
    truth = (key.set_index("case_id")["truth"].reindex(cases) == "fake").astype(int).to_numpy()
    scores = _score_matrix(answers, readers, "score6").reindex(columns=cases).to_numpy(dtype=float)
    rows = imrmc_rows(scores, truth, reader_ids=[reader_num[r] for r in readers],
                      case_ids=[case_num[c] for c in cases], modality="1")
    body = "\n".join(f"{r},{c},{m},{int(s) if float(s).is_integer() else s}" for r, c, m, s in rows) + "\n"
    (folder / "imrmc.csv").write_text("readerID,caseID,modalityID,score\n" + body, encoding="utf-8")
    header = (f"ganaudit reader study export: fake = 1 (signal present), score 1 = surely real ... 6 = surely fake\n"
              f"NR: {len(readers)}\nN0: {int((truth == 0).sum())}\nN1: {int((truth == 1).sum())}\nNM: 1\n\nBEGIN DATA:\n")
    (folder / "imrmc.imrmc").write_text(header + body, encoding="utf-8")
    ids = [{"kind": "reader", "id": r, "imrmc_id": n} for r, n in reader_num.items()]
    ids += [{"kind": "case", "id": c, "imrmc_id": n} for c, n in case_num.items()]
    pd.DataFrame(ids, columns=["kind", "id", "imrmc_id"]).to_csv(folder / "imrmc_ids.csv", index=False)


def plot_reader_accuracy(readers: pd.DataFrame, path: Path) -> None:
    """Per-reader accuracy with exact 95 % intervals, the pooled value and the 50 % chance line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(readers) + 2), 3.2), dpi=120)
    x = np.arange(len(readers))
    acc = readers["accuracy"].to_numpy(dtype=float)
    lo = acc - readers["accuracy_ci_low"].to_numpy(dtype=float)
    hi = readers["accuracy_ci_high"].to_numpy(dtype=float) - acc
    colors = ["#1f77b4"] * (len(readers) - 1) + ["#d62728"]
    for i in range(len(readers)):
        ax.errorbar(x[i], acc[i], yerr=[[lo[i]], [hi[i]]], fmt="o", color=colors[i], capsize=4)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance (50 %)")
    ax.set_xticks(x, readers["reader"].tolist(), rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (real vs fake)")
    ax.set_title("Reader accuracy with 95 % intervals")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
