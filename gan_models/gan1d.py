"""The 1D teaching GAN: learn a pattern's (x, y) points, one checkpoint per epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganaudit.gan_models import runs
from ganaudit.gan_models.atomic import atomic_path
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.patterns import Pattern, resolve_pattern
from ganaudit.gan_models.sampling import predict
from ganaudit.schema import layout


def _write_points(generator, latents, run_dir, epoch):
    points = predict(generator, latents)
    with atomic_path(layout.sample_points(run_dir, epoch)) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, points)


def _pattern_spec(pattern, pattern_obj: Pattern) -> str:
    """What run.json stores so that resume and scoring find the pattern again: the name or
    ``module:function`` given, or the importable ``module:function`` of a callable."""
    if isinstance(pattern, str):
        return pattern
    module, name = getattr(pattern, "__module__", None), getattr(pattern, "__qualname__", "")
    if callable(pattern) and not isinstance(pattern, Pattern) and module not in (None, "__main__") \
            and name.isidentifier():
        return f"{module}:{name}"
    return pattern_obj.name


def train_1d(pattern, out, *, epochs: int | None = None, seed: int = 0, resume: bool = False,
             quiet: bool = False, **overrides) -> dict:
    """Train a 1D GAN on ``pattern`` into the run folder ``out``; return a summary."""
    if epochs is not None and int(epochs) <= 0:
        raise InputError(f"--epochs must be a positive number of epochs, got {epochs}")
    unknown = set(overrides) - set(runs.DEFAULTS_1D)
    if unknown:
        raise InputError(f"unknown 1D training settings {sorted(unknown)}; known: {sorted(runs.DEFAULTS_1D)}")
    settings = {**runs.DEFAULTS_1D, **overrides}
    if epochs is not None:
        settings["epochs"] = int(epochs)
    runs.check_batch_size(settings)
    pattern_obj: Pattern = resolve_pattern(pattern)
    out = runs.prepare_run_dir(out, resume=resume)
    if resume:
        run = runs.resumed_settings(out, {"epochs": epochs} if epochs else {}, kind="1d")
        pattern_obj = resolve_pattern(run["pattern"]["spec"])
    else:
        run = runs.base_run_json("1d", settings, seed, int(settings["n_train"]))
        run["pattern"] = {**pattern_obj.to_json(), "spec": _pattern_spec(pattern, pattern_obj)}
        runs.write_run_json(out, run)
    data = pattern_obj.sample(int(run["n_train"]), np.random.default_rng([int(run["seed"]), 1]))
    summary = runs.train(out, run, data, resume=resume, write_samples=_write_points, quiet=quiet)
    summary["run_dir"] = str(out)
    return summary
