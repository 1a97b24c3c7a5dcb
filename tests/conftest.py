"""Shared fixtures: small real images, and a stand-in for CuPy without a GPU."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest

CIFAR_TAR = Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpg.tar.gz"


def load_cifar_images(per_class: int = 30, split: str = "test") -> np.ndarray:
    """Decode the first ``per_class`` JPEGs of each class straight from the tar."""
    from PIL import Image

    if not CIFAR_TAR.is_file():
        pytest.skip(f"CIFAR-10 JPEG archive not found at {CIFAR_TAR}")
    counts: dict[str, int] = {}
    images = []
    with tarfile.open(CIFAR_TAR) as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 4 or parts[1] != split:
                continue
            label = parts[2]
            if counts.get(label, 0) >= per_class:
                if len(counts) == 10 and min(counts.values()) >= per_class:
                    break
                continue
            counts[label] = counts.get(label, 0) + 1
            data = archive.extractfile(member).read()
            images.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return np.stack(images)


@pytest.fixture(scope="session")
def cifar_images() -> np.ndarray:
    """300 CIFAR-10 test images (30 per class), uint8 of shape (300, 32, 32, 3)."""
    return load_cifar_images()


# --- a CuPy stand-in ------------------------------------------------------------


class DeviceArray:
    """Stand-in for a GPU array: wraps a NumPy array and refuses implicit conversion.

    Like ``cupy.ndarray`` it works with its own namespace, copies to the host only
    through ``get()``, and raises ``TypeError`` when NumPy tries to convert it
    (``np.asarray``, NumPy functions and ufuncs) or when it meets a NumPy array.
    It is stricter than CuPy in one respect: ``float()`` and ``bool()`` fail too, so
    every device-to-host copy in the code under test is explicit.
    """

    __array_ufunc__ = None  # NumPy ufuncs and ndarray operators raise TypeError

    def __init__(self, data: np.ndarray):
        self._data = data

    def __array__(self, *args, **kwargs):
        raise TypeError("implicit conversion of a device array to NumPy; use .get()")

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented  # np.sum(device_array) raises TypeError

    def __float__(self):
        raise TypeError("float() of a device array; copy it to the host first")

    __int__ = __index__ = __bool__ = __float__

    def get(self) -> np.ndarray:
        return self._data.copy()

    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def size(self):
        return self._data.size

    @property
    def T(self):
        return DeviceArray(self._data.T)

    def __len__(self):
        return len(self._data)

    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key)])

    def __setitem__(self, key, value):
        self._data[_unwrap(key)] = _unwrap(value)

    def __repr__(self):
        return f"DeviceArray({self._data!r})"

    def __getattr__(self, name):
        # Protocols (__array_interface__, __dlpack__, ...) stay unavailable.
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)
        # Methods such as reshape, astype and sum, results kept on the "device".
        attribute = getattr(self._data, name)
        if not callable(attribute):
            return _wrap(attribute)
        return lambda *args, **kwargs: _wrap(
            attribute(*_unwrap(args), **_unwrap(kwargs))
        )


def _binary(name):
    def method(self, other):
        return _wrap(getattr(self._data, name)(_unwrap(other)))

    return method


def _inplace(name):
    def method(self, other):
        getattr(self._data, name)(_unwrap(other))
        return self

    return method


def _unary(name):
    def method(self):
        return _wrap(getattr(self._data, name)())

    return method


for _op in "add sub mul truediv pow matmul and or gt ge lt le eq ne".split():
    setattr(DeviceArray, f"__{_op}__", _binary(f"__{_op}__"))
    if _op not in ("gt", "ge", "lt", "le", "eq", "ne"):
        setattr(DeviceArray, f"__r{_op}__", _binary(f"__r{_op}__"))
        setattr(DeviceArray, f"__i{_op}__", _inplace(f"__i{_op}__"))
for _op in ("neg", "pos", "invert", "abs"):
    setattr(DeviceArray, f"__{_op}__", _unary(f"__{_op}__"))


def _unwrap(value):
    if isinstance(value, DeviceArray):
        return value._data
    if isinstance(value, np.ndarray):
        raise TypeError("a NumPy array met a device array; transfer it first")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return DeviceArray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def make_fake_cupy(device_count=1) -> types.ModuleType:
    """Build a module that mimics the parts of CuPy that ``aecore`` uses.

    ``device_count`` is returned by ``cuda.runtime.getDeviceCount()``; an
    exception instance is raised from it instead. The module records the shape of
    every host-to-device copy in ``transfers``.
    """
    module = types.ModuleType("cupy")
    module.transfers = []
    module.ndarray = DeviceArray

    def get_device_count():
        if isinstance(device_count, BaseException):
            raise device_count
        return device_count

    module.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=get_device_count)
    )

    def asarray(value, dtype=None):
        if isinstance(value, DeviceArray):
            return value if dtype is None else value.astype(dtype)
        host = np.array(value, dtype=dtype, copy=True)
        module.transfers.append(host.shape)
        return DeviceArray(host)

    module.asarray = asarray

    def namespace_function(name):
        function = getattr(np, name)
        if isinstance(function, type) or not callable(function):
            return function  # dtypes and constants

        def call(*args, **kwargs):
            out = kwargs.get("out")
            result = function(*_unwrap(args), **_unwrap(kwargs))
            if isinstance(out, DeviceArray) and result is out._data:
                return out
            return _wrap(result)

        return call

    module.__getattr__ = namespace_function
    return module


@pytest.fixture
def fake_cupy(monkeypatch):
    """Install a working CuPy stand-in (one fake GPU) as the ``cupy`` module."""
    module = make_fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", module)
    return module


@pytest.fixture
def umask_027():
    """Run a test under umask 027 (group may read, others get nothing)."""
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def file_modes(root: Path) -> dict[str, int]:
    """Permission bits of ``root`` and of everything under it, by relative path."""
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    return {
        str(path.relative_to(root.parent)): path.stat().st_mode & 0o777
        for path in paths
    }
