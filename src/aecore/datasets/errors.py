"""Exceptions raised by the dataset readers, the download and the cache."""


class DatasetError(ValueError):
    """Invalid or unreadable dataset input.

    The message names the file or argument and the problem. The command line
    interface prints it without a traceback and exits with status 2.
    """


class DownloadError(DatasetError):
    """A download that failed, timed out or did not match its expected size or hash.

    The command line interface prints it without a traceback and exits with status 1.
    """
