"""Every file a command writes (the model, its .data, reports), claimed and checked before any work.

Files are compared by identity (device and inode, links resolved), never by path string, so a bind
mount, a symlink or `./` cannot make an output the input or a file the input reads. An existing file is
replaced only with --force; an output that is a symlink is written as the link's target only with
--force (and the result says so), a dangling link or a loop is refused. Writes go to a temporary file
in the target's folder and are published by a hard link when --force is absent, so a file that
appeared meanwhile (another onnxport writing the same OUT) makes this one fail instead of replacing it
silently; with --force by an atomic rename.
"""
from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from onnxport.errors import OutputError

NAME_MAX = 255
TEMP_PREFIX = ".onnxport-"
MODEL = "the output model"     # what a model output is claimed as: its OUT.data is reserved with it


@dataclass(frozen=True)
class Output:
    requested: str              # as the user gave it
    path: Path                  # the file that is written
    what: str                   # "the output model", "the report", ...
    note: str = ""              # e.g. written through a symlink


def _check_length(path: Path, text: str, data: bool) -> None:
    if len(path.name.encode()) + (len(".data") if data else 0) > NAME_MAX:
        raise OutputError(f"{text}: the file name is longer than the file system takes ({NAME_MAX} bytes"
                          f"{', with .data' if data else ''})")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Outputs:
    """The outputs of one command. `reads`: files the command reads (the input and its data files)."""

    def __init__(self, *, force: bool, reads: list[Path] = ()):
        self.force = force
        self.protected = {i for i in (_identity(p) for p in reads) if i is not None}
        self.claimed: list[Output] = []

    def claim(self, requested: str | os.PathLike, what: str, *, data: bool = False) -> Output:
        """Check one output (and OUT.data beside it when `data`) now; raise OutputError with one line."""
        text = os.fspath(requested)
        if not text or "\0" in text:
            raise OutputError(f"{what} path {text!r} is not a usable file name")
        if text.endswith(os.sep) or (os.altsep and text.endswith(os.altsep)) or os.path.basename(text) in (".", ".."):
            raise OutputError(f"{text}: {what} must be a file path, not a folder")
        _check_length(Path(text), text, data)         # before any stat: a long name makes stat itself fail
        path, note = self._through_links(Path(text), what)
        _check_length(path, text, data)
        folder = path.parent
        if not folder.is_dir():
            raise OutputError(f"{text}: folder '{folder}' does not exist")
        try:                            # really create a file: root passes os.access on a read-only mount
            fd, probe = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise OutputError(f"{text}: folder '{folder}' is not writable ({e.strerror or e})") from None
        output = Output(text, path, what, note)
        self._check_file(output, path)
        beside = Output(text + ".data", path.with_name(path.name + ".data"), f"{what}'s data file")
        if data:
            self._check_file(beside, beside.path)
        self.claimed.append(output)
        if what == MODEL:               # OUT.data may be written (external data, or past 2 GB): no other output
            self.claimed.append(beside)  # may take its name
        return output

    def _through_links(self, path: Path, what: str) -> tuple[Path, str]:
        if not path.is_symlink():
            try:
                return path.parent.resolve() / path.name, ""
            except (OSError, RuntimeError) as e:
                raise OutputError(f"{path}: its folder cannot be resolved ({e})") from None
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            raise OutputError(f"{path}: {what} is a symlink to '{os.readlink(path)}', which does not exist; "
                              f"refused (write to the target itself)") from None
        except (OSError, RuntimeError):
            raise OutputError(f"{path}: {what} is a symlink loop") from None
        if not self.force:
            raise OutputError(f"{path}: {what} is a symlink to '{target}' (use --force to write its target)")
        return target, f"written through the symlink {path} -> {target}"

    def _check_file(self, output: Output, path: Path) -> None:
        if path.is_symlink() and not path.exists():     # OUT.data is not resolved like OUT: checked here
            raise OutputError(f"{output.requested}: {output.what} is a symlink that leads nowhere (dangling or "
                              f"a loop); refused (remove it or choose another path)")
        if path.is_dir():
            raise OutputError(f"{output.requested}: {output.what} is a folder")
        if path.exists() and not path.is_file():   # a device (/dev/null), FIFO or socket is never replaced
            raise OutputError(f"{output.requested}: not a regular file (a device, FIFO or socket); "
                              f"{output.what} goes to a file")
        identity = _identity(path)
        if identity is not None and identity in self.protected:
            raise OutputError(f"{output.requested}: would overwrite the input model or a file it reads; "
                              f"choose another path")
        for other in self.claimed:
            same = (identity is not None and identity == _identity(other.path)) or path == other.path
            if same:
                raise OutputError(f"{output.requested}: {output.what} and {other.what} would be the same file")
        if identity is not None and not self.force:
            raise OutputError(f"{output.requested}: already exists (use --force to overwrite)")


@contextmanager
def staging(output: Output):
    """A temporary folder beside the output, removed whatever happens (a signal included)."""
    try:
        with tempfile.TemporaryDirectory(dir=output.path.parent, prefix=TEMP_PREFIX) as tmp:
            yield Path(tmp)
    except OSError as e:
        raise OutputError(f"{output.requested}: cannot write {output.what}: {e.strerror or e}") from None


def publish(staged: Path, target: Path, *, force: bool, label: str) -> None:
    """Move a staged file to its place: a hard link (fails if the name appeared meanwhile) without force,
    an atomic rename with it."""
    try:
        if force:
            os.replace(staged, target)
            return
        try:
            os.link(staged, target)
        except OSError as e:
            if e.errno == errno.EEXIST:
                raise OutputError(f"{label}: appeared while this was working (another onnxport writing it?); "
                                  f"nothing replaced (use --force to overwrite)") from None
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)   # no hard links here: claim the name
            os.close(fd)
            os.replace(staged, target)
            return
        os.unlink(staged)
    except FileExistsError:
        raise OutputError(f"{label}: appeared while this was working (another onnxport writing it?); "
                          f"nothing replaced (use --force to overwrite)") from None
    except OSError as e:
        raise OutputError(f"{label}: cannot write: {e.strerror or e}") from None


class Publication:
    """The files of one command, staged beside their targets and published together by commit().

    Until commit nothing is visible: a failure, a full disk or a signal while a report renders leaves every
    target as it was. Commands publishing into one folder take turns (an exclusive flock on the folder for
    the renames), so concurrent --force writers of one OUT leave one run's model with that run's OUT.data,
    never a mixed pair. (A reader that does not take the lock can still open the two files between their
    renames, microseconds apart.) Without --force a file is linked into place, and what this commit linked
    is removed again when a later one fails."""

    def __init__(self, force: bool, stack: ExitStack):
        self.force = force
        self._stack = stack
        self._entries: list[tuple[Path, Path, str]] = []    # staged file, target, label

    def folder(self, output: Output) -> Path:
        """A temporary folder beside `output`, removed when the publication ends."""
        return self._stack.enter_context(staging(output))

    def add(self, staged: Path, target: Path, label: str) -> None:
        self._entries.append((staged, target, label))

    def text(self, text: str, output: Output) -> None:
        staged = self.folder(output) / "text"
        try:
            staged.write_text(text, encoding="utf-8", errors="backslashreplace")   # a lone surrogate from a JSON
        except OSError as e:
            raise OutputError(f"{output.requested}: cannot write {output.what}: {e.strerror or e}") from None
        self.add(staged, output.path, output.requested)

    def commit(self) -> None:
        entries, self._entries = self._entries, []
        with _folder_locks(sorted({str(target.parent) for _, target, _ in entries})):
            done: list[tuple[Path, int, str]] = []
            try:
                for staged, target, label in entries:
                    publish(staged, target, force=self.force, label=label)
                    done.append((target, os.stat(target).st_ino, label))
            except OutputError as e:
                if not self.force:
                    for target, inode, _ in done:           # linked by this commit, nobody else's
                        with suppress(OSError):
                            if os.stat(target).st_ino == inode:
                                os.unlink(target)
                    raise
                if done:
                    raise OutputError(f"{e}; written before it failed: "
                                      f"{', '.join(label for _, _, label in done)}") from None
                raise


@contextmanager
def publication(force: bool):
    """A Publication, committed when the block ends normally; staged files are removed however it ends."""
    with ExitStack() as stack:
        pub = Publication(force, stack)
        yield pub
        pub.commit()


@contextmanager
def _folder_locks(folders: list[str]):
    """Exclusive flocks on the folders, taken in one order (no deadlock between two committers); a file
    system without flock is left unlocked."""
    with ExitStack() as stack:
        for folder in folders:
            try:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue
            stack.callback(os.close, fd)
            with suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def write_text(text: str, output: Output, *, force: bool) -> Path:
    """Write a small text file (a report) to a claimed output."""
    with publication(force) as pub:
        pub.text(text, output)
    return output.path
