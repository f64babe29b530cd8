"""The admin page (``/admin``): progress per reader and CSV exports of the answers.

Only the admin cookie opens it (readers get HTTP 403). It shows what is in the answers store;
it does not read the key (the analysis does, with ``ganaudit study analyze``).
"""

from __future__ import annotations

import io

import pandas as pd
import panel as pn
import param

from ganaudit.reader_study.app.login import LOGOUT_FORM
from ganaudit.reader_study.csvsafe import frame_to_safe_csv

_REFRESH_MS = 5000


class AdminView(pn.viewable.Viewer):
    """Progress table (refreshed every few seconds) and download buttons.

    Parameters
    ----------
    study : ganaudit.reader_study.study.Study
    store : ganaudit.reader_study.store.AnswerStore
    """

    refreshed = param.Integer(default=0, doc="Bumped on every refresh of the tables.")

    def __init__(self, study, store, **params):
        super().__init__(**params)
        self._study = study
        self._store = store
        self._refresh_button = pn.widgets.Button(label="Refresh")
        self._refresh_button.on_click(lambda _event: self.refresh())
        study_id = study.settings.get("study_id", "study")
        self._answers_download = pn.widgets.FileDownload(
            callback=self._answers_csv, filename=f"answers-{study_id}.csv",
            label="Download answers (CSV)", color="primary")
        self._progress_download = pn.widgets.FileDownload(
            callback=self._progress_csv, filename=f"progress-{study_id}.csv",
            label="Download progress (CSV)")
        self._callback = pn.state.add_periodic_callback(self.refresh, period=_REFRESH_MS)

    def refresh(self) -> None:
        self.refreshed += 1

    def progress_frame(self) -> pd.DataFrame:
        """One row per reader: answered, total, percent done."""
        frame = self._store.progress(self._study).copy()
        if len(frame):
            total = frame["total"].where(frame["total"] > 0)
            frame["percent"] = (100.0 * frame["answered"] / total).round(1).fillna(0.0)
        return frame

    # Notes are free text: cells a spreadsheet would run as formulas are neutralised.
    def _answers_csv(self) -> io.StringIO:
        return io.StringIO(frame_to_safe_csv(self._store.answers_frame(), index=False))

    def _progress_csv(self) -> io.StringIO:
        return io.StringIO(frame_to_safe_csv(self.progress_frame(), index=False))

    @param.depends("refreshed")
    def _summary(self) -> pn.pane.Markdown:
        frame = self.progress_frame()
        answered = int(frame["answered"].sum()) if len(frame) else 0
        total = int(frame["total"].sum()) if len(frame) else 0
        done = int((frame["answered"] >= frame["total"]).sum()) if len(frame) else 0
        settings = self._study.settings
        return pn.pane.Markdown(
            f"**Study** `{settings.get('study_id', '')}` · {len(frame)} readers · "
            f"{done} finished · {answered} of {total} answers stored",
            css_classes=["ga-admin-summary"])

    @param.depends("refreshed")
    def _table(self) -> pn.pane.DataFrame:
        return pn.pane.DataFrame(self.progress_frame(), index=False, sizing_mode="stretch_width",
                                 css_classes=["ga-admin-progress"])

    def __panel__(self) -> pn.Column:
        return pn.Column(
            pn.pane.Markdown("## Reader study — admin"),
            self._summary,
            self._table,
            pn.Row(self._refresh_button, self._answers_download, self._progress_download),
            pn.pane.HTML(LOGOUT_FORM),
            sizing_mode="stretch_width",
        )
