"""Blinded real-vs-fake reading sessions: study creation, the answers store, the statistics.

Only ``reader_study/app/`` imports Panel; the rest is plain Python that the app, the command
line and the tests share.

- ``ganaudit.reader_study.create.create_study``: folder of blinded images, per-reader orders, hashed
  credentials, the key stored apart.
- ``ganaudit.reader_study.study.Study``: the public part of a study (never reads the key).
- ``ganaudit.reader_study.blinding``: one native format for real and fake, and the low-level cue check
  (cross-validated AUC of file size, sharpness, noise, histogram statistics).
- ``ganaudit.reader_study.csvsafe.neutralise_csv_cell``: CSV cells a spreadsheet cannot run as formulas.
- ``ganaudit.reader_study.store.AnswerStore``: insert-only answers in SQLite or PostgreSQL.
- ``ganaudit.reader_study.session.ReaderSession``: one reader's walk through the cases.
- ``ganaudit.reader_study.analysis.analyze_study``: accuracy, ROC AUC, agreement, fool rates, MRMC.
"""
