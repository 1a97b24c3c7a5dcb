"""Dataset sources (STL-10, course pickles, CIFAR-10, image folders) and their cache.

Every source is prepared once by :func:`prepare_dataset` into a directory of
memory-mappable ``.npy`` arrays with a ``meta.json``, which :func:`open_dataset`
reads back.
"""

from .cache import Dataset, open_dataset
from .download import download_file, verify_file
from .errors import DatasetError, DownloadError
from .pickles import RestrictedUnpickler, load_pickle
from .prepare import KINDS, prepare_dataset

__all__ = [
    "KINDS",
    "Dataset",
    "DatasetError",
    "DownloadError",
    "RestrictedUnpickler",
    "download_file",
    "load_pickle",
    "open_dataset",
    "prepare_dataset",
    "verify_file",
]
