"""Settings precedence (one test per neighbouring pair), provenance, and the secret policy."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

import luigi_airbyte
from luigi_airbyte.errors import ConfigError
from luigi_airbyte.pipeline import (
    SETTINGS,
    BearerAuth,
    ClientCredentialsAuth,
    NoAuth,
    PipelineFile,
    load_pipeline_file,
    luigi_config_paths,
    resolve_settings,
)
from luigi_airbyte.pipeline._settings_spec import BY_ENV, NOT_SETTINGS
from luigi_airbyte.secrets import SecretRef

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

PIPELINE = """\
version: 1
airbyte:
  url: https://file.example/v1
  timeout: 2h
  auth:
    type: client_credentials
    client_id: file-app
    client_secret: env:FILE_SECRET
poll: {interval: 45s}
owners: {ops: {}}
pipelines:
  p: {owner: ops, steps: [{sync: a, connection: A}]}
"""


@pytest.fixture
def pipeline_file(tmp_path: Path) -> PipelineFile:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE)
    return load_pipeline_file(path)


def _cfg(tmp_path: Path, body: str, name: str = "luigi.cfg") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


# --- one test per neighbouring pair ------------------------------------------------------


def test_cli_beats_env() -> None:
    s = resolve_settings(
        cli={"airbyte.url": "https://cli.example/v1"},
        env={"LUIGI_AIRBYTE_AIRBYTE__URL": "https://env.example/v1"},
        luigi_cfg_paths=[],
    )
    assert s.airbyte_url == "https://cli.example/v1"
    assert s.source("airbyte.url") == "cli"


def test_env_beats_pipeline_file(pipeline_file: PipelineFile) -> None:
    s = resolve_settings(
        cli={},
        pipeline_file=pipeline_file,
        env={"LUIGI_AIRBYTE_AIRBYTE__TIMEOUT": "3h"},
        luigi_cfg_paths=[],
    )
    assert s.timeout == timedelta(hours=3)
    assert s.source("airbyte.timeout") == "env:LUIGI_AIRBYTE_AIRBYTE__TIMEOUT"


def test_pipeline_file_beats_luigi_cfg(pipeline_file: PipelineFile, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[airbyte]\ntimeout = 9h\npoll_interval = 5s\n")
    s = resolve_settings(cli={}, pipeline_file=pipeline_file, env={}, luigi_cfg_paths=[cfg])
    assert s.timeout == timedelta(hours=2)
    line = pipeline_file.line_of("airbyte.timeout")
    assert s.source("airbyte.timeout") == f"{pipeline_file.source}:{line}" and line == 4
    assert s.poll_interval == timedelta(seconds=45)


def test_luigi_cfg_beats_default(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[airbyte]\nmax_concurrent_syncs = 9\n")
    s = resolve_settings(cli={}, env={}, luigi_cfg_paths=[cfg])
    assert s.max_concurrent_syncs == 9
    assert s.source("airbyte.max_concurrent_syncs") == f"{cfg} [airbyte] max_concurrent_syncs"
    s = resolve_settings(cli={}, env={}, luigi_cfg_paths=[])
    assert s.max_concurrent_syncs == 4 and s.source("airbyte.max_concurrent_syncs") == "default"


# --- sources and provenance --------------------------------------------------------------


def test_defaults_and_derived_store_url() -> None:
    s = resolve_settings(env={}, luigi_cfg_paths=[])
    assert s.airbyte_url == "http://localhost:8000/api/public/v1"
    assert isinstance(s.auth, NoAuth) and s.source("airbyte.auth.type") == "default"
    assert s.store_url == "sqlite:///.luigi-airbyte/metadata.db"
    assert s.source("store.url").startswith("default")
    s = resolve_settings(cli={"state_dir": "/srv/la"}, env={}, luigi_cfg_paths=[])
    assert s.store_url == "sqlite:////srv/la/metadata.db"


def test_cli_none_means_not_given() -> None:
    s = resolve_settings(cli={"airbyte.url": None}, env={}, luigi_cfg_paths=[])
    assert s.source("airbyte.url") == "default"


def test_later_luigi_cfg_overrides_earlier(tmp_path: Path) -> None:
    low = _cfg(tmp_path, "[airbyte]\nurl = https://low.example/v1\n", "low.cfg")
    high = _cfg(tmp_path, "[core]\nx=1\n\n[airbyte]\nurl = https://high.example/v1\n", "high.cfg")
    s = resolve_settings(env={}, luigi_cfg_paths=[low, high, tmp_path / "absent.cfg"])
    assert s.airbyte_url == "https://high.example/v1"
    assert s.source("airbyte.url") == f"{high} [airbyte] url"


def test_luigi_toml(tmp_path: Path) -> None:
    toml = _cfg(
        tmp_path,
        '[airbyte]\nurl = "https://toml.example/v1"\nmax_concurrent_syncs = 2\n',
        "luigi.toml",
    )
    s = resolve_settings(env={}, luigi_cfg_paths=[toml])
    assert s.airbyte_url == "https://toml.example/v1" and s.max_concurrent_syncs == 2


def test_luigi_config_search_order(tmp_path: Path) -> None:
    cfg = luigi_config_paths({"LUIGI_CONFIG_PATH": "/x/extra.cfg"}, cwd=tmp_path)
    assert cfg == [
        Path("/etc/luigi/client.cfg"),
        Path("/etc/luigi/luigi.cfg"),
        tmp_path / "client.cfg",
        tmp_path / "luigi.cfg",
        Path("/x/extra.cfg"),
    ]
    toml = luigi_config_paths({"LUIGI_CONFIG_PARSER": "toml"}, cwd=tmp_path)
    assert toml == [Path("/etc/luigi/luigi.toml"), tmp_path / "luigi.toml"]


def test_luigi_cfg_env_interpolation_and_dashes(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[airbyte]\nurl = https://${HOST}/v1\nmax-concurrent-syncs = 3\n")
    s = resolve_settings(env={"HOST": "h.example"}, luigi_cfg_paths=[cfg])
    assert s.airbyte_url == "https://h.example/v1" and s.max_concurrent_syncs == 3
    with pytest.raises(ConfigError, match=r"\$\{HOST\} is not set"):
        resolve_settings(env={}, luigi_cfg_paths=[cfg])


def test_unknown_cfg_option_is_an_error_with_suggestion(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[airbyte]\nurll = https://x.example/v1\n")
    with pytest.raises(ConfigError) as info:
        resolve_settings(env={}, luigi_cfg_paths=[cfg])
    (p,) = info.value.problems
    assert p.field == "[airbyte] urll" and "did you mean 'url'" in p.message and p.line == 2


def test_unknown_env_var_is_a_warning() -> None:
    s = resolve_settings(env={"LUIGI_AIRBYTE_AIRBYTE__URLL": "x"}, luigi_cfg_paths=[])
    (w,) = s.warnings
    assert w.field == "LUIGI_AIRBYTE_AIRBYTE__URLL" and "LUIGI_AIRBYTE_AIRBYTE__URL" in w.message


def test_our_switches_in_the_environment_are_not_warned_about() -> None:
    """``LUIGI_AIRBYTE_WATCHER=off`` and the like are documented and read; `validate`
    called them "not a luigi-airbyte setting; ignored"."""
    env = {name: "off" for name in NOT_SETTINGS}
    assert resolve_settings(env=env, luigi_cfg_paths=[]).warnings == ()


def test_every_variable_of_ours_the_code_reads_is_a_setting_or_declared_not_one() -> None:
    src = Path(luigi_airbyte.__file__).parent
    found = {
        name
        for path in src.rglob("*.py")
        for name in re.findall(r"LUIGI_AIRBYTE_[A-Z0-9_]+", path.read_text(encoding="utf-8"))
        if not name.endswith("_")
    }
    unknown = found - set(BY_ENV) - NOT_SETTINGS
    assert not unknown, f"declare these in NOT_SETTINGS or as settings: {sorted(unknown)}"


def test_empty_env_var_is_unset() -> None:
    s = resolve_settings(env={"LUIGI_AIRBYTE_AIRBYTE__URL": ""}, luigi_cfg_paths=[])
    assert s.source("airbyte.url") == "default"


def test_bad_values_are_all_reported(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[airbyte]\npoll_strategy = eager\n")
    with pytest.raises(ConfigError) as info:
        resolve_settings(
            cli={"airbyte.timeout": "soon"},
            env={"LUIGI_AIRBYTE_AIRBYTE__MAX_CONCURRENT_SYNCS": "lots"},
            luigi_cfg_paths=[cfg],
        )
    fields = sorted(p.field for p in info.value.problems)
    assert fields == [
        "LUIGI_AIRBYTE_AIRBYTE__MAX_CONCURRENT_SYNCS",
        "[airbyte] poll_strategy",
        "airbyte.timeout",
    ]
    assert all(p.fix for p in info.value.problems)


# --- secrets -----------------------------------------------------------------------------


def test_literal_secret_in_luigi_cfg_is_an_error(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[airbyte]\nauth_type = bearer\nauth_token = hunter2-literal\n")
    with pytest.raises(ConfigError) as info:
        resolve_settings(env={}, luigi_cfg_paths=[cfg])
    (p,) = info.value.problems
    assert "literal secret" in p.message and p.line == 3 and "hunter2" not in str(info.value)


def test_luigi_cfg_env_placeholder_becomes_a_reference(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "[airbyte]\nauth_type = bearer\nauth_token = ${AIRBYTE_TOKEN}\n")
    s = resolve_settings(env={}, luigi_cfg_paths=[cfg])  # not resolved: no need for the var now
    assert isinstance(s.auth, BearerAuth) and s.auth.token == SecretRef("env", "AIRBYTE_TOKEN")


def test_literal_secret_in_env_becomes_a_reference_to_that_variable() -> None:
    var = "LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET"
    s = resolve_settings(
        env={"LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_ID": "app", var: "s3cr3t-in-env"},
        luigi_cfg_paths=[],
    )
    assert isinstance(s.auth, ClientCredentialsAuth)
    assert s.auth.client_secret == SecretRef("env", var)
    assert s.source("airbyte.auth.type").startswith("inferred from env:")
    assert all("s3cr3t" not in v for _, v, _ in s.rows(mask_secrets=False))


def test_env_reference_overrides_only_the_secret(pipeline_file: PipelineFile) -> None:
    s = resolve_settings(
        pipeline_file=pipeline_file,
        env={"LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET": "file:/run/secrets/airbyte"},
        luigi_cfg_paths=[],
    )
    assert isinstance(s.auth, ClientCredentialsAuth)
    assert s.auth.client_id == "file-app"
    assert s.auth.client_secret == SecretRef("file", "/run/secrets/airbyte")
    assert s.source("airbyte.auth.client_id").startswith(pipeline_file.source)


def test_higher_auth_type_replaces_lower_auth_block(pipeline_file: PipelineFile) -> None:
    s = resolve_settings(
        pipeline_file=pipeline_file,
        env={
            "LUIGI_AIRBYTE_AIRBYTE__AUTH__TYPE": "bearer",
            "LUIGI_AIRBYTE_AIRBYTE__AUTH__TOKEN": "env:T",
        },
        luigi_cfg_paths=[],
    )
    assert isinstance(s.auth, BearerAuth) and s.auth.token == SecretRef("env", "T")
    assert "airbyte.auth.client_id" not in s


def test_incomplete_or_mismatched_auth(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"auth type bearer \(env:LUIGI_AIRBYTE_\w+\) needs airbyte\.auth\.token",
    ):
        resolve_settings(env={"LUIGI_AIRBYTE_AIRBYTE__AUTH__TYPE": "bearer"}, luigi_cfg_paths=[])
    cfg = _cfg(tmp_path, "[airbyte]\nauth_type = bearer\nauth_token = env:T\nauth_client_id = x\n")
    with pytest.raises(ConfigError, match="does not apply to auth type bearer"):
        resolve_settings(env={}, luigi_cfg_paths=[cfg])


def test_cli_literal_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="literal secret on the command line") as info:
        resolve_settings(
            cli={"airbyte.auth.token": "abc", "airbyte.auth.type": "bearer"},
            env={},
            luigi_cfg_paths=[],
        )
    assert "abc" not in str(info.value).replace("aborted", "")


def test_rows_mask_secret_references() -> None:
    s = resolve_settings(
        env={
            "LUIGI_AIRBYTE_AIRBYTE__AUTH__TYPE": "bearer",
            "LUIGI_AIRBYTE_AIRBYTE__AUTH__TOKEN": "env:TOK",
        },
        luigi_cfg_paths=[],
    )
    masked = dict((k, v) for k, v, _ in s.rows())
    assert masked["airbyte.auth.token"] == "****"
    assert masked["airbyte.timeout"] == "6h" and masked["airbyte.allow_insecure_http"] == "false"
    unmasked = dict((k, v) for k, v, _ in s.rows(mask_secrets=False))
    assert unmasked["airbyte.auth.token"] == "env:TOK"


# --- transport safety --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://airbyte.internal:8000/api/public/v1", False),
        ("http://localhost:8000/api/public/v1", True),
        ("http://127.0.0.1:8000/api/public/v1", True),
        ("http://[::1]:8000/api/public/v1", True),
        ("https://airbyte.internal/api/public/v1", True),
    ],
)
def test_plain_http_with_a_credential_needs_opt_in(url: str, allowed: bool) -> None:
    env = {"LUIGI_AIRBYTE_AIRBYTE__URL": url, "LUIGI_AIRBYTE_AIRBYTE__AUTH__TOKEN": "env:T"}
    if allowed:
        resolve_settings(env=env, luigi_cfg_paths=[])
        return
    with pytest.raises(ConfigError, match="unencrypted"):
        resolve_settings(env=env, luigi_cfg_paths=[])
    resolve_settings(
        env={**env, "LUIGI_AIRBYTE_AIRBYTE__ALLOW_INSECURE_HTTP": "true"}, luigi_cfg_paths=[]
    )


# --- docs cannot drift -------------------------------------------------------------------


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for spec in SETTINGS:
        assert f"`{spec.key}`" in text, spec.key
        assert spec.env_var in text, spec.env_var
        assert re.search(rf"`{re.escape(spec.cfg_option)}`", text), spec.cfg_option
