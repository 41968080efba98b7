"""Writing a run directory whole: a reader never sees the files of two runs side by side.

A run writes into a hidden sibling of its output folder, ``.<name>.partial`` (its per-replication store as the
replications finish, then the final files and the report), and only then moves it into place: the old folder is
renamed aside to ``.<name>.old``, the new one renamed to ``<name>``, the old one removed. A reader sees the old
run or the new one, never a mix (for an instant, no folder at all).

A lock on ``.<name>.lock`` (held while the run lasts, released by the system if the process dies) lets one run at
a time write to a folder: a second one is refused at once, before it computes anything. What a killed run leaves
behind (its ``.partial`` folder, a ``.old`` folder, the lock file) is hidden, ignored by readers, and removed by
the next run into the same folder — or, with ``--resume``, its finished replications are used.

Checks made before any work: the output folder is a folder (or does not exist yet), it holds only what a run
directory holds (it is replaced whole: nothing else in it would survive), it does not hold the scenario file or
the current folder, and its parent folder is writable.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from reachsim.core.atomic import fsync_dir

__all__ = ["RUN_DIR_ENTRIES", "FolderError", "OutputFolder"]

#: What a run directory holds; any other entry in an output folder makes it not a run directory.
RUN_DIR_ENTRIES = frozenset(
    {"summary.json", "timeseries.csv", "scenario.yaml", "sources.json", "replications", "report.html", "charts"}
)
#: What else may be in an output folder and go with it: files file browsers leave, temporary files of atomic
#: writes cut short.
_CLUTTER = re.compile(r"^(?:\.DS_Store|Thumbs\.db|desktop\.ini|\..+\.tmp)$")


class FolderError(Exception):
    """The output folder cannot be used (a usage error: exit 2). One line, saying why and what to do."""


class OutputFolder:
    """A run directory being written: ``with OutputFolder(out) as folder:`` write into ``folder.staging``, then
    ``folder.commit()``. Leaving the block without committing keeps ``out`` as it was; the staging folder stays
    only if it holds finished replications (for ``--resume``)."""

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        entries: frozenset[str] = RUN_DIR_ENTRIES,
        protect: Iterable[str | os.PathLike[str]] = (),
        keep_if: str = "replications",
    ) -> None:
        path = Path(os.path.abspath(out))
        self.out = path.resolve() if path.is_symlink() else path  # a link keeps pointing at the new folder
        self.shown = Path(out)
        self.entries = entries
        self.protect = [Path(os.path.abspath(p)) for p in protect]
        self.keep_if = keep_if
        parent, name = self.out.parent, self.out.name
        self.staging = parent / f".{name}.partial"
        self.old = parent / f".{name}.old"
        self.lock_path = parent / f".{name}.lock"
        self._lock: _Lock | None = None
        self.committed = False

    # -- before any work ---------------------------------------------------------------------------------

    def check(self) -> None:
        """The checks of the module docstring; FolderError if one fails."""
        out, shown = self.out, self.shown
        if not out.name:
            raise FolderError(f"--out {shown}: a run directory cannot be the root of the file system")
        if out.exists() and not out.is_dir():
            raise FolderError(f"--out {shown}: exists and is not a directory")
        for path in self.protect:
            if _inside(path, out):
                raise FolderError(
                    f"--out {shown}: holds {path.name}, which a run would replace: choose another folder"
                )
        if _inside(Path.cwd(), out):
            raise FolderError(f"--out {shown}: holds the current folder; choose a folder inside it")
        if out.is_dir():
            names = (entry.name for entry in out.iterdir())
            foreign = sorted(name for name in names if name not in self.entries and not _CLUTTER.match(name))
            if foreign:
                listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
                raise FolderError(
                    f"--out {shown}: holds {listed}, which a run directory does not; a run replaces its folder "
                    "whole: choose an empty or new folder, or a run directory"
                )
        parent = out.parent
        if not parent.exists():
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FolderError(f"--out {shown}: cannot create {parent}: {exc.strerror or exc}") from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise FolderError(f"--out {shown}: cannot write in {parent} (permission denied)")

    def __enter__(self) -> OutputFolder:
        self.check()
        lock = _Lock(self.lock_path)
        try:
            lock.acquire()
        except BlockingIOError:
            raise FolderError(
                f"--out {self.shown}: another reachsim run is writing to it{lock.holder()}; wait for it to "
                "finish, or choose another folder"
            ) from None
        except OSError as exc:
            raise FolderError(f"--out {self.shown}: cannot lock it: {exc.strerror or exc}") from None
        self._lock = lock
        _remove(self.old)  # a killed run's leftover: the folder it was replacing had been renamed aside
        return self

    def fresh(self) -> Path:
        """An empty staging folder (a killed run's leftovers removed)."""
        _remove(self.staging)
        self.staging.mkdir()
        return self.staging

    def reuse(self) -> Path:
        """The staging folder as a killed run left it (for ``--resume``; its half-written files removed), or an
        empty one."""
        if not self.staging.is_dir():
            _remove(self.staging)
            self.staging.mkdir()
        _remove_temporary(self.staging)
        return self.staging

    # -- after the work ------------------------------------------------------------------------------------

    def commit(self) -> Path:
        """Move the staging folder into place (see the module docstring); returns the output folder."""
        fsync_dir(self.staging)
        _remove(self.old)
        if self.out.exists():
            os.rename(self.out, self.old)
        os.rename(self.staging, self.out)
        fsync_dir(self.out.parent)
        self.committed = True
        _remove(self.old)
        return self.out

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.committed and not (self.staging / self.keep_if).is_dir():
            _remove(self.staging)  # nothing worth resuming from
        elif not self.committed:
            _remove_temporary(self.staging)
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (both absolute)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_temporary(folder: Path) -> None:
    """Temporary files of atomic writes that were cut short (their data is in no final file)."""
    for path in folder.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            path.unlink()


class _Lock:
    """An exclusive, non-blocking lock on a file, released by the system when the process ends however it
    ends; the file is removed on release."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _lock(fd)
            except BaseException:
                os.close(fd)
                raise
            # The holder before us removes the file when it releases it: if the name no longer leads to the file
            # we locked, lock the new one instead (or two runs would hold "the" lock at once).
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return
            os.close(fd)

    def holder(self) -> str:
        """`` (process 1234)`` as the holder wrote it, if it can be read."""
        try:
            pid = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return ""
        return f" (process {pid})" if pid.isdigit() else ""

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # before unlocking: a run that locks the old file meanwhile sees it is gone
        os.close(self.fd)  # closing releases the lock
        self.fd = None


try:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError when held

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _lock(fd: int) -> None:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            raise BlockingIOError("locked") from None
