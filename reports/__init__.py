"""Reports that pick the stopping epoch: aggregation, the rule, HTML/JSON/CSV output, plots.

``build_report(run_dir, *, study_dir=None, ...)`` writes ``RUN/report/``; the rule lives in
``ganaudit.reports.stopping`` (lower is better for every ranking metric).
"""


def build_report(*args, **kwargs):
    """See :func:`ganaudit.reports.build.build_report` (imported lazily: matplotlib is slow to load)."""
    from ganaudit.reports.build import build_report as _build

    return _build(*args, **kwargs)


__all__ = ["build_report"]
