"""ganaudit command line. The work is done by gan_models, evaluation, reader_study, reports."""

__version__ = "0.1.0"
