"""Quiet start-up (issue 13): no TensorFlow or absl line reaches the console from a ganaudit
command, while ganaudit's own warnings still do, and a user's TF_CPP_MIN_LOG_LEVEL is kept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ganaudit._quiet import filter_native_log

REPO = Path(__file__).resolve().parents[2]

# Anything TensorFlow's native code or absl writes: the pre-initialisation banner, glog/absl
# lines (severity letter, MMDD, time), and the known start-up messages by name.
_NATIVE = re.compile(r"absl|InitializeLog|^[IWEF]\d{4} \d\d:\d\d|oneDNN|cuda|cudart|cpu_feature_guard"
                     r"|TF_ENABLE_ONEDNN_OPTS|tensorflow", re.IGNORECASE | re.MULTILINE)

# What TensorFlow 2.21 printed on every import before this change (timestamps shortened).
_STARTUP = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796142910.166861   13938 port.cc:153] oneDNN custom operations are on. You may "
    b"see slightly different numerical results due to floating-point round-off errors from "
    b"different computation orders. To turn them off, set the environment variable "
    b"`TF_ENABLE_ONEDNN_OPTS=0`.\n"
    b"I0000 00:00:1796142910.167192   13938 cudart_stub.cc:31] Could not find cuda drivers on "
    b"your machine, GPU will not be used.\n"
    b"W0000 00:00:1796142910.2   13938 some.cc:1] a native warning\n"
    b"E0000 00:00:1796142910.3   13938 some.cc:2] a native error\n"
    b"F0000 00:00:1796142910.4   13938 some.cc:3] a fatal error\n"
    b"/x/y.py:3: UserWarning: a Python warning\n"
)


def _run(args: list[str], env_extra: dict | None = None, drop: tuple = ("TF_CPP_MIN_LOG_LEVEL",),
         timeout: int = 300):
    # As a user runs it: no TF_CPP_MIN_LOG_LEVEL of the test suite's (tests/conftest.py sets one).
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_filter_drops_native_lines_below_the_level_and_keeps_the_rest():
    quiet = filter_native_log(_STARTUP, 3).decode()
    assert quiet == ("F0000 00:00:1796142910.4   13938 some.cc:3] a fatal error\n"
                     "/x/y.py:3: UserWarning: a Python warning\n")
    two = filter_native_log(_STARTUP, 2).decode()
    assert "a native error" in two and "a native warning" not in two and "oneDNN" not in two
    one = filter_native_log(_STARTUP, 1).decode()
    assert "a native warning" in one and "cuda" not in one and "InitializeLog" not in one
    assert filter_native_log(_STARTUP, 0) == _STARTUP


def test_data_phantom_writes_no_tensorflow_or_absl_line(tmp_path):
    done = _run(["-m", "ganaudit", "data", "phantom", "--n", "20", "--size", "64",
                 "--out", str(tmp_path / "ph")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert not _NATIVE.search(done.stderr), done.stderr
    assert len(list((tmp_path / "ph" / "images").glob("*.png"))) == 20


def test_loading_tensorflow_after_ganaudit_is_silent_and_our_warnings_still_print():
    # Every command that trains, samples or scores loads TensorFlow after ganaudit; this is the
    # same import without the minutes of training. Then one of our warnings, through the CLI's
    # printer, must still reach stderr.
    code = (
        "import sys, warnings\n"
        "import ganaudit\n"
        "from ganaudit.cli import _warning_printer\n"
        "import tensorflow as tf\n"
        "assert float(tf.reduce_sum(tf.constant([1.0, 2.0]))) == 3.0\n"
        "tf.get_logger().warning('5 out of the last 9 calls triggered tf.function retracing')\n"
        "from ganaudit.gan_models.data import labels\n"
        "warnings.showwarning = _warning_printer('train2d', warnings.showwarning)\n"
        "warnings.warn_explicit('training was unhealthy at epochs [2]', UserWarning, labels.__file__, 1)\n"
        "print('python stderr line', file=sys.stderr)\n"
    )
    done = _run(["-c", code])
    assert done.returncode == 0, done.stderr[-3000:]
    assert not _NATIVE.search(done.stderr), done.stderr
    assert done.stderr.splitlines() == ["ganaudit train2d: warning: training was unhealthy at epochs [2]",
                                        "python stderr line"], done.stderr


def test_a_level_the_user_set_is_kept():
    code = "import os, ganaudit; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    assert _run(["-c", code], {"TF_CPP_MIN_LOG_LEVEL": "1"}).stdout.strip() == "1"
    assert _run(["-c", code]).stdout.strip() == "3"


def test_level_0_leaves_tensorflow_start_up_alone():
    # A user debugging TensorFlow asks for everything; ganaudit does not filter anything then.
    code = "import sys, ganaudit; print(sorted(type(f).__name__ for f in sys.meta_path))"
    assert "_QuietTensorFlowImport" not in _run(["-c", code], {"TF_CPP_MIN_LOG_LEVEL": "0"}).stdout
    assert "_QuietTensorFlowImport" in _run(["-c", code]).stdout
