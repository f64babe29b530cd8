"""Study analysis against independent oracles (sklearn, statsmodels, counting by hand)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, roc_auc_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from ganaudit.gan_models.data import write_png16
from ganaudit.gan_models.errors import InputError
from ganaudit.reader_study.analysis import analyze_study, cohen_kappa, fleiss_kappa
from ganaudit.reader_study.create import create_study
from ganaudit.reader_study.errors import MissingKey, StudyError
from ganaudit.reader_study.mrmc import or_analysis
from ganaudit.reader_study.store import AnswerStore
from ganaudit.reader_study.study import Study

READERS = ["ann", "ben", "cat", "dan"]
LABELS = ["epoch-0005", "epoch-0010"]


def _binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial p for p0 = 0.5 by summing the pmf (symmetric case)."""
    pmf = [math.comb(n, i) / 2**n for i in range(n + 1)]
    return min(1.0, sum(p for p in pmf if p <= pmf[k] * (1 + 1e-7)))


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    """4 readers × 20 cases (10 real, 5 + 5 fake) + 2 practice, answered with known calls."""
    base = tmp_path_factory.mktemp("analysis")
    rng = np.random.default_rng(11)
    write_png16(rng.uniform(-1, 1, (14, 16, 16)).astype(np.float32), base / "real")
    for label in LABELS:
        write_png16(rng.uniform(-1, 1, (8, 16, 16)).astype(np.float32), base / label)
    path = create_study(base / "real", [(str(base / lab), lab) for lab in LABELS], READERS, 20, base / "study",
                        practice=2, seed=1).path
    key = pd.read_csv(path / "key" / "key.csv").set_index("case_id")
    study = Study.open(path)
    store = AnswerStore(study.default_db_url())
    # Readers get better with their index; epoch-0010 is harder to spot than epoch-0005.
    for j, reader in enumerate(READERS):
        for case in study.practice(reader):
            store.mark_shown(reader, case, at=0.0)
            store.add_answer(reader, case, "fake", 3, at=1.0)
        for i, case in enumerate(study.order(reader)):
            truth, label = key.at[case, "truth"], key.at[case, "label"]
            p_right = 0.55 + 0.1 * j - (0.15 if label == "epoch-0010" else 0.0)
            right = rng.random() < p_right
            call = truth if right else ("real" if truth == "fake" else "fake")
            conf = int(rng.integers(1, 4))
            marks = [{"x": 0.25, "y": 0.5, "kind": "artifact"}] if call == "fake" and conf == 3 else []
            store.mark_shown(reader, case, at=100.0 * i)
            store.add_answer(reader, case, call, conf, marks=marks, note="blurry" if i == 0 else "",
                             at=100.0 * i + 2.0 + j)
    store.close()
    result = analyze_study(path, n_boot=300)
    answers = AnswerStore(study.default_db_url()).answers_frame()
    answers = answers[~answers["practice"]].merge(key[["truth", "label"]], left_on="case_id", right_index=True)
    return path, result, answers


def test_files_written(answered):
    path, _, _ = answered
    names = sorted(p.name for p in (path / "analysis").iterdir())
    assert names == ["checkpoints.csv", "comparison.csv", "comparison.json", "imrmc.csv", "imrmc.imrmc",
                     "imrmc_ids.csv", "mrmc.csv", "pairs_kappa.csv", "reader_accuracy.png", "readers.csv",
                     "regions.csv", "summary.json", "variance_components.json"]
    summary = json.loads((path / "analysis" / "summary.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert summary["n_readers"] == 4 and summary["n_answers"] == 80 and summary["complete"] is True
    # the creation-time blinding check travels into the analysis
    blinding = json.loads((path / "key" / "blinding.json").read_text())
    assert summary["blinding"]["warnings"] == blinding["warnings"]
    assert len(summary["blinding"]["comparisons"]) == len(blinding["comparisons"]) >= 1
    assert (path / "analysis" / "reader_accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_per_reader_metrics_match_sklearn_and_counts(answered):
    _, result, answers = answered
    table = result.readers.set_index("reader")
    for reader in READERS:
        a = answers[answers["reader_id"] == reader]
        y = (a["truth"] == "fake").astype(int).to_numpy()
        pred = (a["call"] == "fake").astype(int).to_numpy()
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        row = table.loc[reader]
        assert row["n_read"] == 20
        assert row["accuracy"] == pytest.approx((tp + tn) / 20)
        assert row["sensitivity"] == pytest.approx(tp / (tp + fn))
        assert row["specificity"] == pytest.approx(tn / (tn + fp))
        assert row["binom_p"] == pytest.approx(_binom_two_sided(int(tp + tn), 20), rel=1e-9)
        lo, hi = proportion_confint(int(tp + tn), 20, alpha=0.05, method="beta")
        assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == pytest.approx((lo, hi), abs=1e-9)
        assert row["auc"] == pytest.approx(roc_auc_score(y, a["score6"].to_numpy()), abs=1e-12)
        assert row["auc_ci_low"] <= row["auc"] <= row["auc_ci_high"]
        assert row["mean_seconds"] == pytest.approx(2.0 + READERS.index(reader))


def test_pooled_row_uses_mrmc_auc(answered):
    _, result, answers = answered
    pooled = result.readers.set_index("reader").loc["pooled"]
    scores = answers.pivot(index="reader_id", columns="case_id", values="score6").reindex(READERS)
    truth = answers.drop_duplicates("case_id").set_index("case_id")["truth"].reindex(scores.columns) == "fake"
    ref = or_analysis(scores.to_numpy(), truth.to_numpy().astype(int))
    assert pooled["auc"] == pytest.approx(ref.auc) and pooled["auc_ci_low"] == pytest.approx(ref.ci_low)
    assert pooled["accuracy"] == pytest.approx(float((answers["call"] == answers["truth"]).mean()))
    assert pooled["accuracy_ci_low"] < pooled["accuracy"] < pooled["accuracy_ci_high"]
    assert result.mrmc["n_readers"] == 4 and result.mrmc["n_cases"] == 20


def test_kappas_match_sklearn_and_statsmodels(answered):
    _, result, answers = answered
    calls = answers.pivot(index="reader_id", columns="case_id", values="call").reindex(READERS)
    pairs = result.pairs.set_index(["reader_a", "reader_b"])
    assert len(pairs) == 6
    for (a, b), row in pairs.iterrows():
        assert row["kappa"] == pytest.approx(cohen_kappa_score(calls.loc[a], calls.loc[b]), abs=1e-12)
        assert row["agreement"] == pytest.approx(float((calls.loc[a] == calls.loc[b]).mean()))
    n_fake = (calls == "fake").sum(axis=0).to_numpy()
    table = np.stack([4 - n_fake, n_fake], axis=1)
    assert result.summary["fleiss_kappa"] == pytest.approx(sm_fleiss_kappa(table, method="fleiss"), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_kappa_functions_on_random_tables(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, 30), rng.integers(0, 2, 30)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    counts = rng.multinomial(5, [0.3, 0.7], size=25)
    assert fleiss_kappa(counts) == pytest.approx(sm_fleiss_kappa(counts, method="fleiss"), abs=1e-12)


def test_checkpoint_table_contract_and_counts(answered):
    path, result, answers = answered
    with open(path / "analysis" / "checkpoints.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:7] == ["label", "n_read", "called_real", "fool_rate", "fool_rate_ci_low", "fool_rate_ci_high",
                          "detect_p"]
    table = pd.read_csv(path / "analysis" / "checkpoints.csv").set_index("label")
    assert sorted(table.index) == LABELS
    for label in LABELS:
        a = answers[answers["label"] == label]
        n, called_real = len(a), int((a["call"] == "real").sum())
        row = table.loc[label]
        assert (row["n_read"], row["called_real"]) == (n, called_real) == (20, called_real)
        assert row["fool_rate"] == pytest.approx(called_real / n)
        detect = sum(math.comb(n, i) for i in range(n - called_real, n + 1)) / 2**n
        assert row["detect_p"] == pytest.approx(detect, rel=1e-9)
        lo, hi = proportion_confint(called_real, n, method="beta")
        assert (row["fool_rate_ci_low"], row["fool_rate_ci_high"]) == pytest.approx((lo, hi), abs=1e-9)


def test_regions_summarise_marks_and_notes(answered):
    path, result, answers = answered
    regions = result.regions.set_index("case_id")
    for case, a in answers.groupby("case_id"):
        marked = int(((a["call"] == "fake") & (a["confidence"] == 3)).sum())
        assert regions.at[case, "n_marks"] == marked == regions.at[case, "n_artifact"]
        assert regions.at[case, "n_finding"] == 0
        assert regions.at[case, "n_read"] == 4
        if marked:
            assert regions.at[case, "mean_x"] == pytest.approx(0.25)
    assert regions["notes"].sum() == 4  # each reader's first case
    assert set(pd.read_csv(path / "analysis" / "regions.csv").columns) >= {"case_id", "n_marks", "mean_x"}


def test_imrmc_export_round_trip(answered):
    path, result, _ = answered
    lines = (path / "analysis" / "imrmc.imrmc").read_text().splitlines()
    assert "NR: 4" in lines and "N0: 10" in lines and "N1: 10" in lines and "NM: 1" in lines
    data = [tuple(x.strip() for x in line.split(",")) for line in lines[lines.index("BEGIN DATA:") + 1:]]
    truth = {int(c): int(s) for r, c, m, s in data if r == "-1"}
    assert len(truth) == 20 and all(m == "0" for r, c, m, s in data if r == "-1")
    rows = [(int(r), int(c), m, int(s)) for r, c, m, s in data if r != "-1"]
    assert len(rows) == 80 and {m for _, _, m, _ in rows} == {"1"}
    ids = pd.read_csv(path / "analysis" / "imrmc_ids.csv")
    readers = dict(zip(ids.loc[ids["kind"] == "reader", "imrmc_id"], ids.loc[ids["kind"] == "reader", "id"]))
    table = result.readers.set_index("reader")
    for num, name in readers.items():
        mine = [(truth[c], s) for r, c, _, s in rows if r == num]
        y, s = zip(*mine)
        assert roc_auc_score(y, s) == pytest.approx(table.at[name, "auc"], abs=1e-12)
    csv_lines = (path / "analysis" / "imrmc.csv").read_text().splitlines()
    assert csv_lines[0] == "readerID,caseID,modalityID,score" and len(csv_lines) == 101


def test_practice_answers_are_not_counted(answered):
    _, result, _ = answered
    assert result.summary["n_answers"] == 80
    assert result.readers.set_index("reader").loc["pooled", "n_read"] == 80


def test_missing_key_is_a_clear_error(tmp_path):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path)
    (path / "key" / "key.csv").unlink()
    with pytest.raises(MissingKey, match="no key/key.csv.*restore the key/ folder"):
        analyze_study(path)
    assert not (path / "analysis").exists()


def test_no_answers_is_a_clear_error(tmp_path):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path)
    with pytest.raises(StudyError, match="no counted answers yet"):
        analyze_study(path)
    assert not (path / "analysis").exists()


def test_partial_study_uses_cases_read_by_every_reader(tmp_path):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path, readers="a,b", n_cases=6, practice=0)
    study = Study.open(path)
    store = AnswerStore(study.default_db_url())
    for case in study.order("a"):
        store.add_answer("a", case, "fake", 2)
    for case in study.order("b")[:5]:
        store.add_answer("b", case, "real", 1)
    store.close()
    result = analyze_study(path, n_boot=50)
    assert result.summary["complete"] is False
    key = pd.read_csv(path / "key" / "key.csv").set_index("case_id")
    common = key.loc[study.order("b")[:5], "truth"]
    if min((common == "fake").sum(), (common == "real").sum()) >= 2:
        assert result.mrmc["n_cases"] == 5
    else:
        assert math.isnan(result.mrmc["auc"]) and "not enough cases" in result.mrmc["method"]
    assert result.summary["fleiss_kappa_cases"] == 5
    assert result.readers.set_index("reader").loc["b", "n_read"] == 5


def test_single_reader_study(tmp_path):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path, readers="solo", n_cases=6, practice=0)
    study = Study.open(path)
    key = pd.read_csv(path / "key" / "key.csv").set_index("case_id")
    store = AnswerStore(study.default_db_url())
    for i, case in enumerate(study.order("solo")):
        store.add_answer("solo", case, key.at[case, "truth"] if i % 3 else "fake", 1 + i % 3)
    store.close()
    result = analyze_study(path, n_boot=50)
    assert "one reader" in result.mrmc["method"]
    assert result.mrmc["auc"] == pytest.approx(result.readers.set_index("reader").at["solo", "auc"])
    assert result.pairs.empty and math.isnan(result.summary["fleiss_kappa"])
    summary = json.loads((path / "analysis" / "summary.json").read_text())
    assert summary["fleiss_kappa"] is None and summary["mean_cohen_kappa"] is None


@pytest.mark.parametrize("content", [b"", b'case_id,truth,label\n"abc,real\n', b"\xff\xfe\x00garbage\x80\x81"],
                         ids=["empty", "unclosed-quote", "binary"])
def test_damaged_key_is_a_clear_error(tmp_path, content):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path)
    (path / "key" / "key.csv").write_bytes(content)
    with pytest.raises(MissingKey, match="key.csv is damaged .*restore the key/ folder"):
        analyze_study(path)
    assert not (path / "analysis").exists()


def test_bad_bootstrap_seed_is_refused(tmp_path):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path)
    for bad in (-1, 1.5, True):
        with pytest.raises(InputError, match="--seed must be a whole number >= 0"):
            analyze_study(path, seed=bad)


def test_missing_sqlite_database_is_refused_and_not_created(tmp_path):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path)
    typo = tmp_path / "typo.db"
    with pytest.raises(StudyError, match="no answers database file at .*typo.db.*four slashes"):
        analyze_study(path, db=f"sqlite:///{typo}")
    (path / "answers.db").unlink()
    with pytest.raises(StudyError, match="no answers database file at .*answers.db"):
        analyze_study(path)
    assert not typo.exists() and not (path / "answers.db").exists()
    assert not list(tmp_path.glob("typo.db*")) and not (path / "analysis").exists()


def test_analysis_reads_the_store_without_changing_it(tmp_path):
    import sqlalchemy as sa

    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path, readers="a,b", n_cases=6, practice=0)
    other = tmp_path / "other.db"
    sa.create_engine(f"sqlite:///{other}").connect().close()  # an empty SQLite file, not an answers store
    with pytest.raises(StudyError, match="not a reader-study answers store .*answers, .*missing"):
        analyze_study(path, db=f"sqlite:///{other}")
    assert sa.inspect(sa.create_engine(f"sqlite:///{other}")).get_table_names() == []

    # A store that belongs to another study is refused before anything is registered in it.
    foreign = make_study(tmp_path / "foreign", readers="zed", n_cases=6, practice=0)
    url = f"sqlite:///{foreign / 'answers.db'}"
    with sa.create_engine(url).connect() as conn:
        before = conn.execute(sa.text("select count(*) from assignments")).scalar_one()
    with pytest.raises(StudyError, match="belongs to study .*not "):
        analyze_study(path, db=url)
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("select count(*) from assignments")).scalar_one() == before


# --- comparing checkpoints -----------------------------------------------------------------------
def _split_tensor(answers: pd.DataFrame, labels: list[str], readers: list[str]):
    """(labels, readers, cases) 6-point scores: reals in every label, each label's fakes in its own."""
    wide = answers.pivot(index="reader_id", columns="case_id", values="score6").reindex(readers)
    info = answers.drop_duplicates("case_id").set_index("case_id").reindex(wide.columns)
    scores = np.stack([np.where(((info["truth"] == "real") | (info["label"] == lab)).to_numpy()[None],
                                wide.to_numpy(dtype=float), np.nan) for lab in labels])
    return scores, (info["truth"] == "fake").to_numpy().astype(int)


def test_comparison_table_is_or_compare_of_the_split_design(answered):
    from ganaudit.reader_study.mrmc import or_compare

    path, result, answers = answered
    scores, truth = _split_tensor(answers, LABELS, READERS)
    ref = or_compare(scores, truth, conditions=LABELS)
    table = pd.read_csv(path / "analysis" / "comparison.csv")
    assert list(table.columns) == ["condition_a", "condition_b", "auc_a", "auc_b", "difference", "se", "df", "t",
                                   "p_value", "ci_low", "ci_high"]
    row = table.iloc[0]
    assert (row["condition_a"], row["condition_b"]) == tuple(LABELS)
    assert row["difference"] == pytest.approx(ref.difference) and row["p_value"] == pytest.approx(ref.p_value)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ref.ci_low, ref.ci_high))
    test = json.loads((path / "analysis" / "comparison.json").read_text())
    assert test["f"] == pytest.approx(ref.f) and test["ddf"] == pytest.approx(ref.ddf) and test["df1"] == 1
    assert [c["label"] for c in test["checkpoints"]] == LABELS
    assert [c["n_real"] for c in test["checkpoints"]] == [10, 10] and [c["n_fake"] for c in test["checkpoints"]] == [5, 5]
    # Per checkpoint, the mean AUC is the readers' AUC of that label's fakes against all reals.
    table_ckpt = result.checkpoints.set_index("label")
    for c in test["checkpoints"]:
        assert c["auc"] == pytest.approx(table_ckpt.at[c["label"], "auc"])
        assert 0 <= c["auc_ci_low"] <= c["auc"] <= c["auc_ci_high"] <= 1
    assert result.summary["comparison"]["p_value"] == pytest.approx(ref.p_value)
    assert "checkpoints compared" in result.text()


def test_variance_components_file_feeds_the_planner(answered):
    from ganaudit.reader_study.power import components_from_scores, load_pilot

    path, _, answers = answered
    pilot = load_pilot(path)
    scores, truth = _split_tensor(answers, LABELS, READERS)
    ref = components_from_scores(scores, truth)
    assert pilot.var_tr == pytest.approx(ref.var_tr) and pilot.real == pytest.approx(ref.real)
    assert (pilot.n_real, pilot.n_fake, pilot.n_readers, pilot.n_conditions) == (10, 5, 4, 2)
    acc = load_pilot(path, fom="accuracy")
    assert acc.fom == "accuracy" and acc.var_r >= 0


def test_one_label_study_has_no_comparison_table(tmp_path):
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path, readers="a,b", n_cases=8, practice=0)
    study = Study.open(path)
    key = pd.read_csv(path / "key" / "key.csv").set_index("case_id")
    store = AnswerStore(study.default_db_url())
    for j, reader in enumerate(["a", "b"]):
        for i, case in enumerate(study.order(reader)):
            store.add_answer(reader, case, key.at[case, "truth"] if (i + j) % 3 else "fake", 1 + i % 3)
    store.close()
    result = analyze_study(path, n_boot=20)
    assert result.comparison is None and "nothing to compare" in result.comparison_test["method"]
    assert not (path / "analysis" / "comparison.csv").exists()
    from ganaudit.reader_study.analysis import losing_checkpoints

    assert losing_checkpoints(path) == []


def test_two_checkpoint_study_end_to_end(study, tmp_path, capsys):
    """The conftest study (5 readers, 4 real + 2 + 2 fakes each), answered by a scripted reader
    through ReaderSession (what the app calls), analysed from the command line."""
    from ganaudit.cli import main
    from ganaudit.reader_study.analysis import losing_checkpoints
    from ganaudit.reader_study.mrmc import or_compare
    from ganaudit.reader_study.session import ReaderSession
    from tests.reader_study.conftest import LABELS as FIXTURE_LABELS, READERS as FIXTURE_READERS

    path = tmp_path / "study"
    import shutil

    shutil.copytree(study.path, path)  # the fixture is shared with other tests of this module
    key = pd.read_csv(path / "key" / "key.csv").set_index("case_id")
    opened = Study.open(path)
    store = AnswerStore(opened.default_db_url())
    rng = np.random.default_rng(21)
    # epoch-0003's fakes are easy to spot (called fake, sure); epoch-0007's look like reals.
    for reader in FIXTURE_READERS:
        session = ReaderSession(opened, store, reader)
        while (case := session.current_case()) is not None:
            if session.is_practice(case):
                session.submit(case, "real", 1)
                continue
            if key.at[case, "label"] == FIXTURE_LABELS[0]:
                session.submit(case, "fake", int(rng.integers(2, 4)))
            else:
                session.submit(case, "real", int(rng.integers(1, 3)))
    store.close()
    assert main(["study", "analyze", str(path), "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "checkpoints compared" in out and f"{FIXTURE_LABELS[0]} - {FIXTURE_LABELS[1]}" in out

    table = pd.read_csv(path / "analysis" / "comparison.csv")
    answers = AnswerStore(opened.default_db_url()).answers_frame()
    answers = answers[~answers["practice"]].merge(key[["truth", "label"]], left_on="case_id", right_index=True)
    scores, truth = _split_tensor(answers, list(FIXTURE_LABELS), FIXTURE_READERS)
    ref = or_compare(scores, truth)
    assert table.at[0, "difference"] == pytest.approx(ref.difference) and ref.difference > 0.3
    assert table.at[0, "p_value"] == pytest.approx(ref.p_value) and ref.p_value < 0.05
    losses = losing_checkpoints(path)
    assert [(x["loser"], x["winner"]) for x in losses] == [tuple(FIXTURE_LABELS)]
    assert losses[0]["difference"] == pytest.approx(ref.difference)
    assert losses[0]["ci_low"] == pytest.approx(ref.ci_low) and ref.ci_low > 0
