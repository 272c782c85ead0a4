"""The file provider refuses what ssh/netrc would refuse, and the credential file store."""

from __future__ import annotations

import json
import os
import stat
import threading
import traceback
from pathlib import Path

import pytest

from luigi_airbyte.errors import SecretError
from luigi_airbyte.secrets import (
    FileCredentialStore,
    FilePolicy,
    FileProvider,
    SecretRef,
    SecretValue,
    credential_store_for,
    read_secret_file,
    write_secret_file,
)

CANARY = "CANARY-3b9d-secret"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _secret(
    tmp_path: Path, content: bytes | str = CANARY + "\n", mode: int = 0o600, name: str = "s"
) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(mode)
    return path


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _refused(path: Path, match: str, policy: FilePolicy | None = None) -> SecretError:
    with pytest.raises(SecretError, match=match) as info:
        read_secret_file(path, policy=policy or FilePolicy())
    assert CANARY not in _all_text(info.value), "the content must never be echoed"
    assert "Fix:" in str(info.value)
    return info.value


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_files_are_read(tmp_path: Path, mode: int) -> None:
    assert read_secret_file(_secret(tmp_path, mode=mode)).reveal() == CANARY


def test_exactly_one_trailing_newline_is_stripped(tmp_path: Path) -> None:
    assert read_secret_file(_secret(tmp_path, "a\n\n")).reveal() == "a\n"
    assert read_secret_file(_secret(tmp_path, "a\r\n", name="crlf")).reveal() == "a"
    assert read_secret_file(_secret(tmp_path, " a ", name="spaces")).reveal() == " a "


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_group_or_other_bits_are_refused(tmp_path: Path, mode: int) -> None:
    err = _refused(_secret(tmp_path, mode=mode), "accessible by group or others")
    assert f"{mode:04o}" in str(err) and "chmod 600" in str(err)


def test_group_read_allowed_only_by_explicit_policy(tmp_path: Path) -> None:
    path = _secret(tmp_path, mode=0o640)
    assert read_secret_file(path, policy=FilePolicy(allow_group_read=True)).reveal() == CANARY
    _refused(
        _secret(tmp_path, mode=0o660, name="gw"),
        "group or others",
        FilePolicy(allow_group_read=True),
    )


@pytest.mark.skipif(not IS_ROOT, reason="chown to another user needs root")
def test_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    path = _secret(tmp_path)
    os.chown(path, 65534, -1)  # nobody
    _refused(path, "owned by uid 65534, not by this user")
    trusted = FilePolicy(trusted_owner_uids=frozenset({65534}))
    assert read_secret_file(path, policy=trusted).reveal() == CANARY


def test_symlink_target_is_checked(tmp_path: Path) -> None:
    good = _secret(tmp_path, name="good")
    link = tmp_path / "link"
    link.symlink_to(good)
    assert read_secret_file(link).reveal() == CANARY
    bad = _secret(tmp_path, mode=0o644, name="bad")
    bad_link = tmp_path / "bad_link"
    bad_link.symlink_to(bad)
    err = _refused(bad_link, "group or others")
    assert str(bad) in str(err), "the message names the resolved target"


@pytest.mark.skipif(not IS_ROOT, reason="chown to another user needs root")
def test_symlink_to_another_users_file_is_refused(tmp_path: Path) -> None:
    theirs = _secret(tmp_path, name="theirs")
    os.chown(theirs, 65534, -1)
    link = tmp_path / "mine"
    link.symlink_to(theirs)
    _refused(link, "owned by uid 65534")


def test_directory_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    _refused(d, "is a directory")


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_secret_file(fifo)
        except SecretError as exc:
            result.append(exc)

    t = threading.Thread(target=read)
    t.start()
    t.join(timeout=5)
    assert not t.is_alive(), "opening a FIFO must not hang"
    assert "is a FIFO" in str(result[0])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"\n", "holds only a newline"),
        (b"x" * (64 * 1024 + 1), "more than a secret should be"),
        (CANARY.encode() + b"\xff\xfe", r"not UTF-8 text \(bad byte at offset 18\)"),
    ],
    ids=["empty", "newline-only", "huge", "not-utf8"],
)
def test_bad_contents_are_refused(tmp_path: Path, content: bytes, match: str) -> None:
    _refused(_secret(tmp_path, content), match)


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "absent", "does not exist")


def test_file_provider_json_key(tmp_path: Path) -> None:
    path = _secret(tmp_path, json.dumps({"client_id": "app", "client_secret": CANARY}))
    provider = FileProvider()
    assert provider.fetch(SecretRef("file", str(path), "client_secret")).reveal() == CANARY
    with pytest.raises(
        SecretError, match=r"has no key 'nope' \(keys: client_id, client_secret\)"
    ) as info:
        provider.fetch(SecretRef("file", str(path), "nope"))
    assert CANARY not in _all_text(info.value)
    not_json = _secret(tmp_path, CANARY, name="plain")
    with pytest.raises(SecretError, match="is not a JSON object") as info:
        provider.fetch(SecretRef("file", str(not_json), "client_secret"))
    assert CANARY not in _all_text(info.value)


def test_atomic_write_is_0600_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "creds"
    write_secret_file(path, SecretValue("one"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    inode = path.stat().st_ino
    write_secret_file(path, SecretValue("two"))
    assert read_secret_file(path).reveal() == "two"
    assert path.stat().st_ino != inode, "replaced, not rewritten in place"
    assert [p.name for p in tmp_path.iterdir()] == ["creds"], "no temporary files left"


def test_file_credential_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "airbyte.json"
    write_secret_file(
        path, SecretValue(json.dumps({"client_id": "old", "client_secret": "s1", "note": "keep"}))
    )
    store = credential_store_for(
        SecretRef("file", str(path), "client_id"), SecretRef("file", str(path), "client_secret")
    )
    assert isinstance(store, FileCredentialStore) and store.location == f"file:{path}"
    client_id, secret = store.read()
    assert client_id == "old" and secret.reveal() == "s1"
    store.write("new", SecretValue(CANARY))
    assert store.read()[0] == "new" and store.read()[1].reveal() == CANARY
    assert json.loads(path.read_text())["note"] == "keep"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileProvider().fetch(SecretRef("file", str(path), "client_secret")).reveal() == CANARY


def test_credential_store_needs_one_secret_with_two_keys() -> None:
    with pytest.raises(ValueError, match="two keys of one secret"):
        credential_store_for(SecretRef("env", "ID"), SecretRef("env", "SECRET"))
    with pytest.raises(ValueError, match="two keys of one secret"):
        credential_store_for(SecretRef("file", "/a", "id"), SecretRef("file", "/b", "secret"))
    with pytest.raises(ValueError, match="cannot be rotated"):
        credential_store_for(SecretRef("vault", "s/p", "id"), SecretRef("vault", "s/p", "secret"))
