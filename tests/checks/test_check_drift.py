"""Drift: every kind of difference, with its message and fix."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from luigi_airbyte.airbyte.models import (
    Connection,
    ConnectionStatus,
    DiscoveredStream,
    StreamConfig,
    StreamProperties,
)
from luigi_airbyte.checks import (
    CheckResult,
    ExpectedConnection,
    ExpectedStream,
    FailedChecksError,
    diff_connection,
    raise_for,
)

USERS = StreamConfig(
    name="users",
    sync_mode="incremental_deduped_history",
    cursor_field=("updated_at",),
    primary_key=(("id",),),
)
ORDERS = StreamConfig(name="orders", sync_mode="full_refresh_overwrite")
USERS_PROPS = StreamProperties(
    stream_name="users",
    sync_modes=("full_refresh_overwrite", "incremental_append", "incremental_deduped_history"),
    property_fields=(("id",), ("email",), ("updated_at",), ("address", "city")),
)
ORDERS_PROPS = StreamProperties(
    stream_name="orders",
    sync_modes=("full_refresh_overwrite",),
    property_fields=(("id",), ("amount",)),
)
USERS_EXPECTED = ExpectedStream(
    sync_mode="incremental_deduped_history", cursor="updated_at", primary_key=[["id"]]
)


def conn(*streams: StreamConfig, **kw: object) -> Connection:
    fields: dict[str, object] = {
        "connection_id": "c-1",
        "name": "CRM",
        "source_id": "s",
        "destination_id": "d",
        "workspace_id": "w",
        "status": ConnectionStatus.ACTIVE,
        "streams": streams,
        "schedule_type": "manual",
    }
    fields.update(kw)
    return Connection(**fields)  # type: ignore[arg-type]


def kinds(results: Sequence[CheckResult]) -> list[str]:
    return [d["kind"] for r in results for d in r.details["differences"]]


def by_name(results: Sequence[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def test_matching_connection_passes_every_check() -> None:
    results = diff_connection(
        conn(USERS, ORDERS),
        {"users": USERS_EXPECTED},
        stream_properties=[USERS_PROPS, ORDERS_PROPS],
    ).to_results()
    assert [r.name for r in results] == ["drift:CRM", "drift:CRM:users"]
    assert all(r.passed for r in results), [r.message for r in results]
    raise_for(results)


def test_expectation_shorthands_are_equivalent() -> None:
    for exp in (
        ExpectedStream(cursor=["updated_at"], primary_key="id"),
        ExpectedStream(cursor="updated_at", primary_key=["id"]),
        ExpectedStream(cursor=("updated_at",), primary_key=(("id",),)),
    ):
        assert all(r.passed for r in diff_connection(conn(USERS), {"users": exp}).to_results())


def test_sync_mode_mismatch_names_both_modes_and_both_fixes() -> None:
    exp = {"users": ExpectedStream(sync_mode="incremental_append")}
    result = by_name(diff_connection(conn(USERS), exp).to_results())["drift:CRM:users"]
    assert not result.passed and result.severity == "error"
    assert kinds([result]) == ["sync_mode"]
    assert "incremental_deduped_history (Incremental | Append + Deduped)" in result.message
    assert "Airbyte UI" in result.message and "expect.streams.users.sync_mode" in result.message


def test_cursor_mismatch() -> None:
    exp = {"users": ExpectedStream(cursor="modified_at")}
    result = by_name(diff_connection(conn(USERS), exp).to_results())["drift:CRM:users"]
    assert kinds([result]) == ["cursor"]
    assert "uses cursor updated_at" in result.message and "expects modified_at" in result.message


def test_source_defined_cursor_and_key_count_when_the_connection_leaves_them_empty() -> None:
    cfg = StreamConfig(name="events", sync_mode="incremental_deduped_history")
    props = StreamProperties(
        stream_name="events",
        sync_modes=("incremental_deduped_history",),
        source_defined_cursor=True,
        default_cursor_field=("ts",),
        source_defined_primary_key=(("event_id",),),
        property_fields=(("event_id",), ("ts",)),
    )
    exp = {"events": ExpectedStream(cursor="ts", primary_key="event_id")}
    assert all(
        r.passed for r in diff_connection(conn(cfg), exp, stream_properties=[props]).to_results()
    )


def test_primary_key_mismatch() -> None:
    exp = {"users": ExpectedStream(primary_key=[["id"], ["tenant"]])}
    result = by_name(diff_connection(conn(USERS), exp).to_results())["drift:CRM:users"]
    assert kinds([result]) == ["primary_key"]
    assert "[id]" in result.message and "[id, tenant]" in result.message


def test_missing_stream() -> None:
    result = by_name(diff_connection(conn(ORDERS), {"users": USERS_EXPECTED}).to_results())[
        "drift:CRM:users"
    ]
    assert kinds([result]) == ["missing_stream"]
    assert "not selected" in result.message and "enable it" in result.message


def test_missing_stream_the_source_does_not_offer() -> None:
    results = diff_connection(
        conn(ORDERS), {"user": ExpectedStream()}, stream_properties=[USERS_PROPS, ORDERS_PROPS]
    ).to_results()
    result = by_name(results)["drift:CRM:user"]
    assert kinds([result]) == ["not_offered"]
    assert "it offers: orders, users" in result.message


def test_stream_expected_not_selected() -> None:
    result = by_name(
        diff_connection(
            conn(USERS, ORDERS), {"orders": ExpectedStream(selected=False)}
        ).to_results()
    )
    assert kinds([result["drift:CRM:orders"]]) == ["selected"]
    assert all(
        r.passed
        for r in diff_connection(
            conn(USERS), {"orders": ExpectedStream(selected=False)}
        ).to_results()
    )


def test_unexpected_streams_only_fail_when_strict() -> None:
    relaxed = diff_connection(conn(USERS, ORDERS), {"users": USERS_EXPECTED})
    assert relaxed.extra_streams == ("orders",) and not relaxed.differences
    strict = diff_connection(
        conn(USERS, ORDERS), {"users": USERS_EXPECTED}, strict=True
    ).to_results()
    result = by_name(strict)["drift:CRM:orders"]
    assert kinds([result]) == ["unexpected_stream"]
    assert "add 'orders' to expect.streams" in result.message


def test_sync_mode_not_supported_by_source_and_destination() -> None:
    props = StreamProperties(
        stream_name="users",
        sync_modes=("full_refresh_overwrite",),
        property_fields=USERS_PROPS.property_fields,
    )
    result = by_name(
        diff_connection(
            conn(USERS), {"users": ExpectedStream()}, stream_properties=[props]
        ).to_results()
    )["drift:CRM:users"]
    assert kinds([result]) == ["unsupported_sync_mode"]
    assert "supported: full_refresh_overwrite" in result.message


def test_cursor_not_in_property_fields() -> None:
    cfg = StreamConfig(name="users", sync_mode="incremental_append", cursor_field=("changed",))
    result = by_name(
        diff_connection(
            conn(cfg), {"users": ExpectedStream()}, stream_properties=[USERS_PROPS]
        ).to_results()
    )["drift:CRM:users"]
    assert kinds([result]) == ["cursor_not_in_schema"]


def test_incremental_without_cursor() -> None:
    cfg = StreamConfig(name="users", sync_mode="incremental_append")
    results = diff_connection(
        conn(cfg), {"users": ExpectedStream()}, stream_properties=[USERS_PROPS]
    ).to_results()
    assert kinds(results) == ["missing_cursor"]


def test_nested_cursor_in_property_fields_is_fine() -> None:
    cfg = StreamConfig(
        name="users", sync_mode="incremental_append", cursor_field=("address", "city")
    )
    results = diff_connection(
        conn(cfg),
        {"users": ExpectedStream(cursor=["address", "city"])},
        stream_properties=[USERS_PROPS],
    ).to_results()
    assert all(r.passed for r in results), [r.message for r in results]


def test_dedup_without_primary_key_and_unknown_pk_field() -> None:
    no_pk = StreamConfig(
        name="users", sync_mode="incremental_deduped_history", cursor_field=("updated_at",)
    )
    assert kinds(
        diff_connection(
            conn(no_pk), {"users": ExpectedStream()}, stream_properties=[USERS_PROPS]
        ).to_results()
    ) == ["dedup_without_pk"]
    bad_pk = StreamConfig(
        name="users",
        sync_mode="incremental_deduped_history",
        cursor_field=("updated_at",),
        primary_key=(("uuid",),),
    )
    assert kinds(
        diff_connection(
            conn(bad_pk), {"users": ExpectedStream()}, stream_properties=[USERS_PROPS]
        ).to_results()
    ) == ["pk_not_in_schema"]


def test_selected_stream_the_source_no_longer_offers() -> None:
    results = diff_connection(
        conn(USERS), {"users": ExpectedStream()}, stream_properties=[]
    ).to_results()
    assert kinds(results) == ["not_offered"]
    assert "no longer offers" in results[1].message


def test_columns_missing_from_discovered_schema_are_errors() -> None:
    disc = [DiscoveredStream("users", columns=("id", "updated_at"))]
    exp = {"users": ExpectedStream(columns=["id", "email", "updated_at"])}
    result = by_name(diff_connection(conn(USERS), exp, discovered=disc).to_results())[
        "drift:CRM:users"
    ]
    assert kinds([result]) == ["missing_columns"] and result.severity == "error"
    assert "no longer has column(s) email" in result.message


def test_new_columns_are_a_warning_schema_change() -> None:
    disc = [DiscoveredStream("users", columns=("id", "email", "updated_at", "phone"))]
    exp = {"users": ExpectedStream(columns=["id", "email", "updated_at"])}
    result = by_name(diff_connection(conn(USERS), exp, discovered=disc).to_results())[
        "drift:CRM:users"
    ]
    assert kinds([result]) == ["new_columns"]
    assert not result.passed and result.severity == "warning"
    assert "phone" in result.message
    raise_for([result])  # a warning does not stop the run


def test_columns_from_property_fields_when_not_discovered() -> None:
    exp = {"users": ExpectedStream(columns=["id", "email", "updated_at", "address", "age"])}
    results = diff_connection(conn(USERS), exp, stream_properties=[USERS_PROPS]).to_results()
    assert kinds(results) == ["missing_columns"]


def test_columns_not_selected_in_the_connection() -> None:
    cfg = StreamConfig(
        name="users", sync_mode="full_refresh_overwrite", selected_fields=(("id",), ("updated_at",))
    )
    results = diff_connection(
        conn(cfg), {"users": ExpectedStream(columns=["id", "email"])}
    ).to_results()
    assert kinds(results) == ["columns_not_selected"]


def test_stream_missing_from_discovered_schema_and_unsupported_source_mode() -> None:
    assert kinds(
        diff_connection(conn(USERS), {"users": ExpectedStream()}, discovered=[]).to_results()
    ) == ["not_discovered"]
    disc = [DiscoveredStream("users", supported_sync_modes=("full_refresh",))]
    assert kinds(
        diff_connection(conn(USERS), {"users": ExpectedStream()}, discovered=disc).to_results()
    ) == ["unsupported_sync_mode"]


def test_same_name_in_two_namespaces_needs_a_namespace() -> None:
    a = StreamConfig(name="users", namespace="eu", sync_mode="full_refresh_overwrite")
    b = StreamConfig(
        name="users", namespace="us", sync_mode="incremental_append", cursor_field=("updated_at",)
    )
    assert kinds(diff_connection(conn(a, b), {"users": ExpectedStream()}).to_results()) == [
        "ambiguous_stream"
    ]
    exp = {"users": ExpectedStream(namespace="us", sync_mode="incremental_append")}
    assert all(r.passed for r in diff_connection(conn(a, b), exp).to_results())


@pytest.mark.parametrize(
    ("expect", "connection_kw", "kind"),
    [
        (ExpectedConnection(), {"status": ConnectionStatus.INACTIVE}, "status"),
        (ExpectedConnection(schedule_type="manual"), {"schedule_type": "cron"}, "schedule_type"),
        (
            ExpectedConnection(cron_expression="0 0 12 * * ?"),
            {"cron_expression": "0 0 6 * * ? UTC"},
            "cron_expression",
        ),
        (
            ExpectedConnection(namespace_definition="destination"),
            {"namespace_definition": "source"},
            "namespace_definition",
        ),
        (
            ExpectedConnection(namespace_format="raw_${SOURCE_NAMESPACE}"),
            {"namespace_format": "raw"},
            "namespace_format",
        ),
        (ExpectedConnection(prefix="crm_"), {"prefix": None}, "prefix"),
        (
            ExpectedConnection(non_breaking_schema_updates_behavior="ignore"),
            {"non_breaking_schema_updates_behavior": "propagate_fully"},
            "non_breaking_schema_updates_behavior",
        ),
    ],
    ids=[
        "inactive",
        "schedule",
        "cron",
        "namespace",
        "namespace-format",
        "prefix",
        "schema-updates",
    ],
)
def test_connection_level_differences(
    expect: ExpectedConnection, connection_kw: dict[str, object], kind: str
) -> None:
    results = diff_connection(
        conn(USERS, **connection_kw), {}, expect_connection=expect
    ).to_results()
    assert [r.name for r in results] == ["drift:CRM"]
    assert kinds(results) == [kind]
    assert "Fix:" in results[0].message


def test_inactive_message_carries_the_reason_and_the_fix() -> None:
    c = conn(status=ConnectionStatus.INACTIVE, status_reason="too many failures")
    [result] = diff_connection(c, {}).to_results()
    assert "inactive (too many failures)" in result.message
    assert "PATCH /connections/c-1" in result.message


def test_cron_with_time_zone_and_custom_format_spelling_match() -> None:
    c = conn(cron_expression="0 0 12 * * ? UTC", namespace_definition="customformat")
    exp = ExpectedConnection(cron_expression="0  0 12 * * ?", namespace_definition="custom_format")
    assert all(r.passed for r in diff_connection(c, {}, expect_connection=exp).to_results())


def test_report_to_dict_is_json_and_complete() -> None:
    report = diff_connection(
        conn(USERS, status=ConnectionStatus.INACTIVE),
        {"users": ExpectedStream(sync_mode="incremental_append"), "gone": ExpectedStream()},
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["connection_id"] == "c-1" and data["has_errors"] is True
    assert [(d["stream"], d["kind"]) for d in data["differences"]] == [
        (None, "status"),
        ("users", "sync_mode"),
        ("gone", "missing_stream"),
    ]
    with pytest.raises(FailedChecksError) as info:
        raise_for(report.to_results())
    assert len(info.value.results) == 3


def test_airbyte_side_drift_names_the_apply_command_source_side_does_not() -> None:
    hint = "luigi-airbyte apply pipeline.yaml --connection CRM"
    mode_drift = StreamConfig(name="users", sync_mode="full_refresh_overwrite")
    dropped = StreamConfig(
        name="users",
        sync_mode="incremental_deduped_history",
        cursor_field=("gone",),
        primary_key=(("id",),),
    )

    in_airbyte = diff_connection(
        conn(mode_drift, status=ConnectionStatus.INACTIVE),
        {"users": ExpectedStream(sync_mode="incremental_deduped_history")},
        apply_hint=hint,
    )
    at_source = diff_connection(
        conn(dropped), {"users": ExpectedStream()}, [USERS_PROPS], apply_hint=hint
    )

    kinds = {d.kind: d.fix for d in in_airbyte.differences}
    assert set(kinds) == {"status", "sync_mode"}
    assert all(f"run `{hint}`" in fix for fix in kinds.values())
    assert [d.kind for d in at_source.differences] == ["cursor_not_in_schema"]
    assert hint not in at_source.differences[0].fix
    results = diff_connection(
        conn(mode_drift),
        {"users": ExpectedStream(sync_mode="incremental_deduped_history")},
        apply_hint=hint,
    ).to_results()
    assert hint in next(r for r in results if not r.passed).message
