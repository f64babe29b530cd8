"""The command line shows ganaudit's own warnings as one `ganaudit CMD: warning: …` line and
leaves everybody else's in Python's format."""

from __future__ import annotations

import io

from ganaudit.cli import _warning_printer
from ganaudit.gan_models.data import labels


def test_our_user_warnings_are_one_line_and_others_pass_through():
    passed_on = []
    show = _warning_printer("train2d", lambda *args: passed_on.append(args[:2]))
    stream = io.StringIO()
    show("1 of 31 files could not be read", UserWarning, labels.__file__, 10, stream)
    show("old API", DeprecationWarning, labels.__file__, 10, stream)
    show("their message", UserWarning, "/usr/lib/python3/dist-packages/other.py", 1, stream)
    assert stream.getvalue() == "ganaudit train2d: warning: 1 of 31 files could not be read\n"
    assert passed_on == [("old API", DeprecationWarning), ("their message", UserWarning)]
