"""Private files: folders only their owner may enter (0700) and files only their owner may
read (0600), for data that may hold production payloads (traffic recordings, profiles)."""

from __future__ import annotations

import contextlib
import os
import uuid

FILE_MODE = 0o600
"""Permissions of a file created here: read and write for its owner only."""
FOLDER_MODE = 0o700
"""Permissions of a folder created here: its owner only."""


def make_private_folders(folder: str) -> None:
    """Create ``folder`` and its missing parents, each with :data:`FOLDER_MODE`; folders that
    exist keep their mode. An empty ``folder`` (the current one) is a no-op."""
    if not folder or os.path.isdir(folder):
        return
    make_private_folders(os.path.dirname(folder))
    with contextlib.suppress(FileExistsError):  # made by another thread or process meanwhile
        os.mkdir(folder, FOLDER_MODE)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a new ``.tmp`` file with
    :data:`FILE_MODE` beside it, then a rename over ``path``. On failure the ``.tmp`` file is
    removed and the OSError raised; ``path``'s folder must exist."""
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
