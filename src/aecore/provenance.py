"""Record of what produced a set of results: data, config, software and machine."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "PACKAGES",
    "collect_provenance",
    "git_commit",
    "machine_info",
    "package_versions",
]

#: Distributions whose versions are recorded by default.
PACKAGES = (
    "aecore",
    "numpy",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "pandas",
    "pillow",
    "pyyaml",
    "snakemake",
    "threadpoolctl",
    "cupy-cuda12x",
    "cupy-cuda13x",
)


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Return the installed version of each distribution, None when absent."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(directory: str | os.PathLike = ".") -> dict[str, object]:
    """Return the git commit of ``directory`` and whether tracked files changed.

    Returns
    -------
    dict
        ``commit`` (the full hash, or ``"unknown"`` when git or the repository is
        missing) and ``dirty`` (True when tracked files differ from the commit,
        None when unknown).
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def machine_info() -> dict[str, object]:
    """Describe this machine: CPU model, logical cores, memory, OS and Python."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory_bytes = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": None if memory_bytes is None else round(memory_bytes / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def collect_provenance(
    config: Mapping,
    dataset_meta: Mapping,
    *,
    repository: str | os.PathLike = ".",
    packages: Iterable[str] = PACKAGES,
) -> dict[str, object]:
    """Collect the provenance record of one run of the study.

    Parameters
    ----------
    config : mapping
        The resolved workflow config (after schema defaults were filled in).
    dataset_meta : mapping
        The cached dataset's metadata, including its checksum.
    repository : path-like, default "."
        Directory inside the git checkout whose commit is recorded.
    packages : iterable of str
        Distributions whose versions are recorded.

    Returns
    -------
    dict
        ``dataset``, ``config``, ``packages``, ``git`` (commit and dirty flag),
        ``date`` (UTC, ISO 8601) and ``machine``; every value is JSON-serialisable.

    Raises
    ------
    TypeError
        If ``config`` or ``dataset_meta`` is not a mapping.
    """
    for name, value in (("config", config), ("dataset_meta", dataset_meta)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a mapping, got {type(value).__name__}.")
    return {
        "dataset": _plain(dataset_meta),
        "config": _plain(config),
        "packages": package_versions(packages),
        "git": git_commit(repository),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "machine": machine_info(),
    }


def _plain(value: object) -> object:
    """Convert mappings, sequences and numpy scalars into JSON types."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)
