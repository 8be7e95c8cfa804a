"""The data folder and its files are private: folder 0700, files 0600 (personal data lives there).

SQLite creates a database's ``-wal`` and ``-shm`` files with the database file's own mode, so once
the database file (and the ones SQLite opened at connect) is 0600, later ones are too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """Creates ``path`` (and its parents) if missing and makes it 0700."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """Makes the file at ``path`` 0600 if it exists (after SQLite created it, say), with the
    ``-wal`` and ``-shm`` files SQLite may already have opened beside it."""
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            os.chmod(part, FILE_MODE)
    return path


def open_private(path: Path) -> IO[bytes]:
    """Opens ``path`` for writing, created 0600 whatever the umask (exports with personal data)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.chmod(path, FILE_MODE)
    return os.fdopen(fd, "wb")
