"""ganaudit: the command line, and the import name of its packages.

The work is done by ``ganaudit.gan_models``, ``ganaudit.evaluation``, ``ganaudit.reader_study``
and ``ganaudit.reports`` (the repository's top-level folders; see ``ganaudit._packages``).
"""

from pathlib import Path

from ganaudit import _packages, _quiet

# Quiet TensorFlow's C++/absl start-up chatter unless the user asked for it (a value the user
# set for TF_CPP_MIN_LOG_LEVEL is kept); must run before anything loads TensorFlow.
_quiet.install()
# In a source checkout the four packages sit beside this folder, not inside it.
_packages.install_checkout_finder(__name__, Path(__file__).resolve().parent)

__version__ = "0.1.0"
