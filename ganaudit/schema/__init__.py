"""The file contracts between ganaudit's packages, written once and imported by writers and
readers alike (issue 13):

- :mod:`ganaudit.schema.layout`: the run and study folder layout (every path, the
  ``epoch-NNNN`` names);
- :mod:`ganaudit.schema.metrics`: the metric registry (name, label, direction, interval
  columns, kinds of run) and the column lists of ``history.csv`` and ``scores.csv``;
- :mod:`ganaudit.schema.values`: ``parse_bool``, the strict JSON writer (NaN → null) and the
  safe-output-folder rule.

These modules import nothing from ganaudit's packages at load time (every package imports
them, gan_models included).
"""
