"""Reading-study power and sample size (ganaudit.reader_study.power, `ganaudit study plan`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganaudit.gan_models.errors import InputError
from ganaudit.reader_study.power import (components_from_scores, default_components, plan, power_comparison,
                                power_detection, simulate_split_study)
from tests.reader_study.test_mrmc import _vandyke_both

ROOT = Path(__file__).resolve().parents[2]


def test_vandyke_power_matches_rjafroc():
    # RJafroc (tests/testthat/test-SsSampleSizeRoc.R): SsPowerGivenJK(dataset02, FOM = "Wilcoxon",
    # method = "OR", effectSize = -0.043800322, J = 10, K = 165) has powerRRRC 0.80541995
    # (Hillis, Obuchowski & Berbaum 2011, variance components from the Van Dyke pilot).
    scores, truth = _vandyke_both()
    comp = components_from_scores(scores, truth)
    k = 165
    power = power_comparison(comp, readers=10, n_real=69 * k / 114, n_fake=45 * k / 114, difference=-0.043800322)
    assert power == pytest.approx(0.80541995, abs=1e-8)


def test_vandyke_components_add_up_to_the_published_ones():
    scores, truth = _vandyke_both()
    comp = components_from_scores(scores, truth)
    at_pilot = comp.at(69, 45)
    assert (at_pilot["var_error"], at_pilot["cov1"], at_pilot["cov2"], at_pilot["cov3"]) == pytest.approx(
        (0.00080229, 0.00034661, 0.00034407, 0.00023903), abs=5e-9)
    assert comp.var_tr == pytest.approx(0.00020040, abs=5e-9)
    # Reader variance within one treatment = Var(R) + Var(T*R) of the published OR output.
    assert comp.var_r == pytest.approx(0.00153500 + 0.00020040, abs=5e-8)
    doubled = comp.at(138, 90)
    assert doubled["var_error"] == pytest.approx(at_pilot["var_error"] / 2)


def test_default_variance_at_auc_one_half_is_the_exact_mann_whitney_null_variance():
    # Under H0 with continuous scores Var(U/mn) = (m + n + 1)/(12 m n).
    comp = default_components(value=0.5, n_real=30, n_fake=20)
    total = comp.real["var_error"] + comp.fake["var_error"]
    assert total == pytest.approx((30 + 20 + 1) / (12 * 30 * 20), rel=1e-12)
    rng = np.random.default_rng(0)
    truth = np.r_[np.zeros(30, int), np.ones(20, int)]
    from ganaudit.reader_study.mrmc import auc

    sims = [auc(rng.normal(size=50), truth) for _ in range(4000)]
    assert np.var(sims) == pytest.approx(total, rel=0.1)


def test_no_effect_gives_alpha_and_power_grows_with_readers_and_cases():
    comp = default_components(value=0.6, n_real=50, n_fake=25)
    kw = {"n_real": 50, "n_fake": 25}
    assert power_comparison(comp, readers=5, difference=0.0, **kw) == pytest.approx(0.05)
    assert power_detection(comp, readers=5, value=0.5, **kw) == pytest.approx(0.05)
    assert power_detection(comp, readers=5, value=0.6, alpha=0.01, **kw) < power_detection(comp, readers=5, value=0.6, **kw)
    powers = [power_comparison(comp, readers=r, difference=0.1, **kw) for r in (3, 5, 10)]
    assert powers == sorted(powers) and powers[0] < powers[-1]
    big = default_components(value=0.6, n_real=200, n_fake=100)
    assert power_comparison(big, readers=5, n_real=200, n_fake=100, difference=0.1) > powers[1]


def test_detection_power_is_the_noncentral_t_by_hand():
    comp = default_components(value=0.65, n_real=40, n_fake=40)
    v = comp.at(40, 40)
    r = 6
    den = comp.var_r + v["var_error"] + (r - 1) * v["cov2"]
    ms_r = comp.var_r + v["var_error"] - v["cov2"]
    ddf = den**2 / (ms_r**2 / (r - 1))
    delta = 0.15 / np.sqrt(den / r)
    crit = stats.t.ppf(0.975, ddf)
    expected = stats.nct.sf(crit, ddf, delta) + stats.nct.cdf(-crit, ddf, delta)
    assert power_detection(comp, readers=r, n_real=40, n_fake=40, value=0.65) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("effect, size, checkpoints", [("difference", 0.1, 2), ("difference", 0.12, 3),
                                                        ("detection", 0.62, 1), ("detection", 0.6, 2)])
def test_cases_for_target_power_are_the_fewest(effect, size, checkpoints):
    def comps(n_real, n_fake):
        return default_components(value=0.65, n_real=n_real, n_fake=n_fake)

    got = plan(comps, readers=5, checkpoints=checkpoints, effect=effect, size=size, target_power=0.8)
    step = 2 * checkpoints
    assert got.reached and got.cases % step == 0 and got.power >= 0.8
    below = plan(comps, readers=5, checkpoints=checkpoints, effect=effect, size=size, cases=got.cases - step)
    assert below.power < 0.8
    assert (got.n_real, got.n_fake) == (got.cases / 2, got.cases / (2 * checkpoints))


def test_unreachable_target_is_said():
    got = plan(lambda a, b: default_components(value=0.5005, n_real=a, n_fake=b), readers=2, checkpoints=1,
               effect="detection", size=0.5005, target_power=0.99, max_cases=2000)
    assert not got.reached and got.cases == 2000


@pytest.mark.parametrize("kwargs, match", [
    ({"readers": 1, "n_real": 10, "n_fake": 10, "difference": 0.1}, "readers must be a whole number >= 2"),
])
def test_power_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        power_comparison(default_components(), **kwargs)


def test_one_checkpoint_pilot_cannot_plan_a_comparison():
    rng = np.random.default_rng(3)
    scores, truth = simulate_split_study(rng, readers=4, n_real=20, n_fake=20, shifts=(0.5,))
    comp = components_from_scores(scores, truth)
    assert np.isnan(comp.var_tr) and comp.var_r >= 0
    with pytest.raises(InputError, match="one checkpoint, which cannot measure the reader x checkpoint variance"):
        power_comparison(comp, readers=5, n_real=20, n_fake=20, difference=0.1)


# --- the command line ----------------------------------------------------------------------------
def test_cli_plan_with_defaults(capsys):
    from ganaudit.cli import main

    assert main(["study", "plan", "--readers", "4,8", "--power", "0.8", "--difference", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "AUC difference 0.1 between checkpoints" in out and "Hanley-McNeil" in out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0] in ("4", "8")]
    assert [int(r[0]) for r in rows] == [4, 8]
    assert int(rows[0][1]) > int(rows[1][1])  # more readers, fewer cases
    assert all(float(r[-1]) >= 0.8 for r in rows)


def test_cli_plan_from_a_pilot_study(tmp_path, capsys):
    from ganaudit.cli import main
    from ganaudit.reader_study.analysis import analyze_study
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study
    from tests.reader_study.test_store import make_study

    path = make_study(tmp_path, readers="a,b,c", n_cases=12, practice=0)
    study = Study.open(path)
    key = pd.read_csv(path / "key" / "key.csv").set_index("case_id")
    store = AnswerStore(study.default_db_url())
    rng = np.random.default_rng(4)
    for reader in ("a", "b", "c"):
        for case in study.order(reader):
            right = rng.random() < 0.7
            call = key.at[case, "truth"] if right else ("real" if key.at[case, "truth"] == "fake" else "fake")
            store.add_answer(reader, case, call, int(rng.integers(1, 4)))
    store.close()
    assert main(["study", "plan", "--readers", "5", "--cases", "100", "--auc", "0.6", "--pilot", str(path)]) == 2
    assert "variance_components.json is missing; run 'ganaudit study analyze" in capsys.readouterr().err
    analyze_study(path, n_boot=20)
    capsys.readouterr()
    assert main(["study", "plan", "--readers", "5", "--cases", "100", "--accuracy", "0.6", "--pilot", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"pilot {path}: 3 readers" in out and "mean accuracy 0.6 vs 0.5" in out
    power = float(out.strip().splitlines()[-1].split()[-1])
    from ganaudit.reader_study.power import load_pilot

    expected = power_detection(load_pilot(path, fom="accuracy"), readers=5, n_real=50, n_fake=50, value=0.6)
    assert power == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("argv, match", [
    (["--readers", "x", "--cases", "10", "--auc", "0.6"], "--readers 'x' is not a number"),
    (["--readers", "1", "--cases", "10", "--auc", "0.6"], "readers must be a whole number >= 2"),
    (["--readers", "5", "--cases", "10"], "give the expected effect"),
    (["--readers", "5", "--cases", "10", "--auc", "0.5"], "differ from 0.5"),
    (["--readers", "5", "--cases", "10", "--auc", "0.6", "--accuracy", "0.6"], "not both"),
    (["--readers", "5", "--cases", "2", "--difference", "0.1"], "--cases must be at least 4"),
    (["--readers", "5", "--power", "1.5", "--difference", "0.1"], "--power must be between 0 and 1"),
    (["--readers", "5", "--cases", "40", "--difference", "0.1", "--checkpoints", "1"], "needs --checkpoints >= 2"),
])
def test_cli_plan_bad_input(argv, match, capsys):
    from ganaudit.cli import main

    assert main(["study", "plan", *argv]) == 2
    assert capsys.readouterr().err.count("error:") == 1
    with pytest.raises(InputError, match=match):
        _run_plan(argv)


def _run_plan(argv):
    import argparse

    from ganaudit.commands import study as study_cmd

    parser = argparse.ArgumentParser()
    study_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["study", "plan", *argv])
    return args.func(args)


# --- the simulation bench ------------------------------------------------------------------------
def test_validation_bench_quick():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "mrmc_validation.py"), "--quick",
                           "--null-studies", "100", "--power-studies", "100"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(result["null"]) == 6
    for row in result["null"]:
        assert row["rate"] <= 0.15  # P(>= 15 of 100 | 5 %) < 1e-4
    for row in result["power"]:
        assert row["ci_low"] - 0.12 <= row["planned"] <= row["ci_high"] + 0.12, row
