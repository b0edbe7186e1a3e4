"""The one exception type that the CLI turns into a one-line error and a non-zero exit."""


class PebenchError(Exception):
    """A user-facing error: bad input, bad config, a missing or corrupt file.

    The message is shown to the user as one line, so it must say what is wrong and
    where (a key path or a file name) without a traceback.
    """
