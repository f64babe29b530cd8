"""The reader-study web app (Panel): sign-in, the reader's page, the admin page.

The only part of ``reader_study`` that imports Panel. Start it with
``ganaudit study serve STUDY`` or ``ganaudit.reader_study.app.serve.serve(study_dir, port=...)``.
"""
