"""The one error type that the command line turns into a clear message and a non-zero exit."""


class InputError(ValueError):
    """Bad input from the user: the message names the problem and how to fix it."""
