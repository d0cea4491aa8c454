"""Write-then-rename helpers: a crash never leaves a partial file that looks complete.

A temporary is named ``.<name>.tmp-<host>-<pid>-<random>`` beside its target. A process killed
while writing (SIGKILL, the OOM killer) cannot remove its own; ``sweep_stale_temporaries``
removes those of this host whose process is gone (another host's or container's are left alone,
as their processes cannot be seen from here).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


def host_tag() -> str:
    """This host's name as temporaries carry it (no dashes)."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "localhost"


def _temp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def sweep_stale_temporaries(folder: Path, name: str, pattern: str = "") -> list[Path]:
    """Remove temporaries of target ``name`` left in ``folder`` by processes no longer running.

    ``pattern`` (a glob such as ``"*/"``) reaches into subfolders, e.g. every version folder of
    a versioned dataset; a version folder that held only the stale temporary is removed too.
    Temporaries of running processes (another run saving now) are left alone. Returns what
    was removed.
    """
    owner = re.compile(rf"^\.{re.escape(name)}\.tmp-(?:(?P<host>[^-]+)-)?(?P<pid>\d+)-[0-9a-f]+$")
    host = host_tag()
    removed: list[Path] = []
    for tmp in folder.glob(f"{pattern}.{glob_escape(name)}.tmp-*"):
        match = owner.match(tmp.name)
        if match is None or match["host"] not in (None, host) or _process_alive(int(match["pid"])):
            continue
        _remove(tmp)
        removed.append(tmp)
        logger.info("removed %s, left by an interrupted save", tmp)
        if tmp.parent != folder:
            try:
                tmp.parent.rmdir()  # only if it is now empty
            except OSError:
                pass
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters bracketed, so it matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    Works for files and directories alike. On error (any exception, KeyboardInterrupt included)
    the temporary is removed and ``path`` is untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(final)
    try:
        yield tmp
        if final.is_dir() and tmp.is_dir():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)
