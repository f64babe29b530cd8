"""ganaudit command line. The work is done by gan_models, evaluation, reader_study, reports."""

from ganaudit import _quiet

# Quiet TensorFlow's C++/absl start-up chatter unless the user asked for it (a value the user
# set for TF_CPP_MIN_LOG_LEVEL is kept); must run before anything loads TensorFlow.
_quiet.install()

__version__ = "0.1.0"
