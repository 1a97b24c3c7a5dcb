"""Permissions of files written through temporary names.

``tempfile.mkstemp`` creates files with mode 0o600 and ``tempfile.mkdtemp``
directories with mode 0o700, whatever the umask. Outputs renamed into place from
them would stay readable by their owner only, so the writers reset the mode to the
one ``open()`` or ``os.mkdir()`` gives under the process umask.
"""

from __future__ import annotations

import os


def current_umask() -> int:
    """Return the process umask, read from /proc where the kernel lists it there."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Without /proc (macOS, Linux before 4.7) the umask can only be read by setting
    # it, which briefly affects files that other threads create at that moment.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def apply_default_mode(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the mode a new file or directory gets under the umask."""
    requested = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, requested & ~current_umask())
