"""Reports that pick the stopping epoch: aggregation, the rule, HTML/JSON/CSV output, plots.

``build_report(run_dir, *, study_dir=None, ...)`` writes ``RUN/report/``; the rule lives in
``reports.stopping`` (lower is better for every ranking metric).
"""


def build_report(*args, **kwargs):
    """See :func:`reports.build.build_report` (imported lazily: matplotlib is slow to load)."""
    from reports.build import build_report as _build

    return _build(*args, **kwargs)


__all__ = ["build_report"]
