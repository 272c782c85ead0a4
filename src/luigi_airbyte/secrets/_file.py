"""Read and write secret files the way ssh and netrc do: refuse what others could read.

The checks run with ``os.fstat`` on the *opened* descriptor, so the file that is
checked is the file that is read (no time-of-check/time-of-use gap). Symlinks are
resolved first (Kubernetes secret volumes are symlinks) and the final target is opened
with ``O_NOFOLLOW``, so a target swapped for a link after resolution fails closed.
Errors name the path and the fix, never the content.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from luigi_airbyte.errors import SecretError
from luigi_airbyte.secrets._value import SecretValue

MAX_SECRET_BYTES = 64 * 1024


@dataclass(frozen=True)
class FilePolicy:
    """Who may own a secret file and which permission bits are tolerated.

    The default is strict (owner = this process's user, no group/other bits). Some
    platforms mount secrets group-readable (Kubernetes ``fsGroup``); allowing that is
    an explicit, visible choice.
    """

    allow_group_read: bool = False
    trusted_owner_uids: frozenset[int] = field(default_factory=frozenset)


STRICT = FilePolicy()


def _fail(path: str, message: str, fix: str) -> SecretError:
    return SecretError(f"secret file {path}: {message}. Fix: {fix}")


def _expand(path: str | os.PathLike[str]) -> str:
    return os.path.expanduser(os.fspath(path))


def _open_checked(path: str | os.PathLike[str], policy: FilePolicy) -> tuple[int, str]:
    shown = _expand(path)
    real = os.path.realpath(shown)
    where = shown if real == shown else f"{shown} (-> {real})"
    flags = os.O_RDONLY | os.O_NONBLOCK  # O_NONBLOCK: opening a FIFO must not hang
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags)
    except FileNotFoundError:
        raise _fail(where, "does not exist", "create it (mode 0600) or fix the reference") from None
    except PermissionError:
        raise _fail(
            where, "cannot be read by this user", "chown it to the user running luigi-airbyte"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _fail(
                where, "was replaced by a symlink while opening", "retry; check who writes it"
            ) from None
        raise _fail(where, f"cannot be opened ({exc.strerror})", "check the path") from None
    try:
        _check_stat(os.fstat(fd), where, policy)
    except BaseException:
        os.close(fd)
        raise
    return fd, where


def _check_stat(st: os.stat_result, where: str, policy: FilePolicy) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a directory" if stat.S_ISDIR(st.st_mode)
            else "a FIFO" if stat.S_ISFIFO(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file"
        )  # fmt: skip
        raise _fail(
            where, f"is {kind}, not a regular file", "point the reference at the file itself"
        )
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None:
        me = geteuid()
        if st.st_uid != me and st.st_uid not in policy.trusted_owner_uids:
            raise _fail(
                where,
                f"is owned by uid {st.st_uid}, not by this user (uid {me})",
                f"chown {me} the file, or run luigi-airbyte as its owner",
            )
    mode = stat.S_IMODE(st.st_mode)
    allowed_group = stat.S_IRGRP if policy.allow_group_read else 0
    if mode & (stat.S_IRWXO | (stat.S_IRWXG & ~allowed_group)):
        raise _fail(
            where,
            f"is accessible by group or others (mode {mode:04o}); refusing to use it",
            "chmod 600 the file (or mount the secret with mode 0400 for this user)",
        )
    if st.st_size == 0:
        raise _fail(where, "is empty", "write the secret into it")
    if st.st_size > MAX_SECRET_BYTES:
        raise _fail(
            where,
            f"is {st.st_size} bytes, more than a secret should be ({MAX_SECRET_BYTES})",
            "point the reference at the secret file, not at another file",
        )


def read_secret_file(path: str | os.PathLike[str], *, policy: FilePolicy = STRICT) -> SecretValue:
    """Read a secret file after the ownership/permission checks; strip one trailing newline."""
    fd, where = _open_checked(path, policy)
    try:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 8192)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_SECRET_BYTES:
                raise _fail(where, "grew past the size limit while reading", "check who writes it")
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(
            where,
            f"is not UTF-8 text (bad byte at offset {exc.start})",
            "store the secret as UTF-8",
        ) from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise _fail(where, "holds only a newline", "write the secret into it")
    return SecretValue(text)


def write_secret_file(path: str | os.PathLike[str], value: SecretValue) -> None:
    """Replace ``path`` atomically with ``value`` (mode 0600, fsynced file and directory).

    Readers see either the old or the new content, never a torn write: the new content
    goes to a temporary file in the same directory, then ``os.replace`` swaps it in.
    """
    target = Path(os.path.realpath(_expand(path)))
    directory = target.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        data = value.reveal().encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
