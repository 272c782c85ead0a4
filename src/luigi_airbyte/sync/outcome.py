"""Outcome rules: is a ``succeeded`` job really good data?

Airbyte has reported ``succeeded`` for syncs that loaded nothing (airbytehq/airbyte#84961,
#85355) and for a truncate-refresh retry that replaced a full table with a residue
(#86347). These pure functions look at what the job committed, counted by Airbyte's own
rules (a full-refresh stream's final attempt, an incremental stream's sum over attempts),
against what recent successful jobs of the same connection moved.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from luigi_airbyte.airbyte.models import JobDetails, StreamStats

ZeroRowsMode = Literal["ignore", "warn", "fail"]
DropMode = Literal["warn", "fail"]


@dataclass(frozen=True)
class Totals:
    """What one job moved, counted by Airbyte's rules (``totals_from_details``).

    ``final_streams`` are the per-stream counts of the final attempt alone: emitted
    against committed is judged there (an earlier failed attempt emits records it never
    commits, and the next attempt reads them again).
    """

    records_emitted: int | None
    records_committed: int | None
    bytes_emitted: int | None
    bytes_committed: int | None
    streams: tuple[StreamStats, ...] = ()
    attempts: int = 0
    final_streams: tuple[StreamStats, ...] = ()


def is_full_refresh(sync_mode: str | None) -> bool | None:
    """True for ``full_refresh_*`` modes, False for ``incremental_*``, None when unknown."""
    if not sync_mode:
        return None
    mode = sync_mode.lower()
    if mode.startswith("full_refresh"):
        return True
    if mode.startswith("incremental"):
        return False
    return None


def _key(s: StreamStats) -> tuple[str | None, str]:
    return (s.namespace, s.name)


def stream_totals(
    details: JobDetails, modes: Mapping[str, str | None] | None = None
) -> tuple[StreamStats, ...]:
    """Per-stream counts by Airbyte's rules (``StatsAggregationHelper``).

    A full-refresh stream counts its final attempt only: a retry reads it again from the
    start. An incremental stream sums committed (and emitted) records over every
    attempt: a retry resumes from the last checkpoint. ``modes`` maps a stream name to
    its sync mode (the connection's ``syncMode``, e.g. ``full_refresh_overwrite``).

    A stream whose mode is unknown keeps Airbyte's own per-stream aggregate when the
    server sent one, else is summed (the job total is then capped by ``rowsSynced``).
    Without per-attempt stream stats the server's per-stream aggregate is used as is;
    without per-attempt committed bytes (a job listing's), its committed bytes are.
    """
    stats = details.stats
    attempts = [a for a in stats.attempts if a.streams]
    if not attempts:
        return stats.streams
    modes = modes or {}
    server = {_key(s): s for s in stats.streams} if stats.streams_from_server else {}
    final = {_key(s): s for s in attempts[-1].streams}
    order: dict[tuple[str | None, str], None] = {}
    for a in attempts:
        for s in a.streams:
            order.setdefault(_key(s), None)
    out: list[StreamStats] = []
    for key in order:
        namespace, name = key
        full = is_full_refresh(modes.get(name))
        if full is True:
            out.append(final.get(key, StreamStats(name=name, namespace=namespace)))
            continue
        if full is None and key in server:
            out.append(server[key])
            continue
        summed: StreamStats | None = None
        for a in attempts:
            for s in a.streams:
                if _key(s) == key:
                    summed = s if summed is None else summed + s
        assert summed is not None
        out.append(summed)
    if not stats.attempt_bytes_reported and server:
        # a job listing's attempts carry no committed bytes: Airbyte's per-stream
        # aggregate (counted by the same rules) has them
        out = [
            replace(s, bytes_committed=server[_key(s)].bytes_committed) if _key(s) in server else s
            for s in out
        ]
    return tuple(out)


def totals_from_details(
    details: JobDetails,
    modes: Mapping[str, str | None] | None = None,
    *,
    rows_synced: int | None = None,
    bytes_synced: int | None = None,
) -> Totals:
    """A job's totals by Airbyte's rules: the sum of ``stream_totals``.

    Never above Airbyte's own job-level committed counts when it gave them
    (``rows_synced``/``bytes_synced``: the public API's ``rowsSynced``/``bytesSynced``,
    else the config API's ``aggregatedStats``). Without per-stream stats the job-level
    counts (or, failing those, the final attempt's) are used: summing attempts would
    count a full-refresh stream once per attempt.
    """
    stats = details.stats
    attempts = stats.attempts
    rows_cap = rows_synced if rows_synced is not None else stats.rows_synced
    bytes_cap = bytes_synced if bytes_synced is not None else stats.bytes_synced
    streams = stream_totals(details, modes)
    final_streams = attempts[-1].streams if attempts else ()
    if streams:
        emitted = sum(s.records_emitted for s in streams)
        committed = sum(s.records_committed for s in streams)
        b_emitted = sum(s.bytes_emitted for s in streams)
        b_committed = sum(s.bytes_committed for s in streams)
    elif stats.rows_synced is not None or not attempts:
        emitted, committed = stats.records_emitted, stats.records_committed
        b_emitted, b_committed = stats.bytes_emitted, stats.bytes_committed
    else:
        last = attempts[-1]
        emitted, committed = last.records_emitted, last.records_committed
        b_emitted, b_committed = last.bytes_emitted, last.bytes_committed
    if rows_cap is not None:
        committed = min(committed, rows_cap)
    if bytes_cap is not None and b_committed > bytes_cap:
        b_committed = bytes_cap
    return Totals(
        records_emitted=emitted,
        records_committed=committed,
        bytes_emitted=b_emitted,
        bytes_committed=b_committed,
        streams=streams,
        attempts=len(attempts),
        final_streams=final_streams,
    )


def final_attempt_shortfall(totals: Totals) -> dict[str, tuple[int, int]]:
    """Streams whose final attempt committed fewer records than it emitted.

    Returns ``{stream: (expected, committed)}`` where expected is emitted less the
    records the destination rejected and the records a mapper filtered out. Only the
    final attempt is judged (see ``Totals``).
    """
    out: dict[str, tuple[int, int]] = {}
    for s in totals.final_streams:
        expected = s.records_emitted - s.records_rejected - s.records_filtered_out
        if s.records_committed < expected:
            out[s.name] = (expected, s.records_committed)
    return out


@dataclass(frozen=True)
class Finding:
    """One broken rule. ``fatal`` findings make the runner raise ``OutcomeRuleError``."""

    rule: Literal["zero_rows", "drop", "lost_records", "no_counts"]
    message: str
    fatal: bool = False


@dataclass(frozen=True)
class Verdict:
    """All findings for one job."""

    findings: tuple[Finding, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f.message for f in self.findings if not f.fatal)

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(f.message for f in self.findings if f.fatal)


def _moved_data(history_rows: Sequence[int]) -> bool:
    return any(r > 0 for r in history_rows)


def check_zero_rows(
    rows_committed: int, history_rows: Sequence[int], mode: ZeroRowsMode
) -> Finding | None:
    """Zero rows on a connection whose recent successful jobs moved data."""
    if mode == "ignore" or rows_committed != 0 or not _moved_data(history_rows):
        return None
    moved = sum(1 for r in history_rows if r > 0)
    return Finding(
        rule="zero_rows",
        message=(
            f"the job committed 0 rows, but {moved} of the last {len(history_rows)} "
            "successful jobs moved data; check the source and the job's logs "
            "(set zero_rows: ignore if empty syncs are normal for this connection)"
        ),
        fatal=mode == "fail",
    )


def check_drop(
    rows_committed: int,
    history_rows: Sequence[int],
    threshold: float | None,
    mode: DropMode,
) -> Finding | None:
    """Committed rows more than ``threshold`` (a fraction) below the recent median."""
    if threshold is None or not history_rows:
        return None
    median = statistics.median(history_rows)
    if median <= 0:
        return None
    floor = median * (1.0 - threshold)
    if rows_committed >= floor:
        return None
    drop = 1.0 - rows_committed / median
    return Finding(
        rule="drop",
        message=(
            f"the job committed {rows_committed} rows, {drop:.0%} below the median "
            f"{median:g} of the last {len(history_rows)} successful jobs "
            f"(threshold {threshold:.0%}); check for a partial load before trusting it"
        ),
        fatal=mode == "fail",
    )


def check_lost_records(
    records_emitted: int | None, records_committed: int | None
) -> Finding | None:
    """The source emitted more records than the destination committed (one attempt)."""
    if records_emitted is None or records_committed is None:
        return None
    if records_committed >= records_emitted:
        return None
    lost = records_emitted - records_committed
    return Finding(
        rule="lost_records",
        message=(
            f"{lost} of {records_emitted} emitted records were not committed "
            f"({records_committed} committed); some may have been rejected or dropped"
        ),
    )


def check_lost_in_final_attempt(totals: Totals) -> Finding | None:
    """Emitted against committed on the final attempt, per stream (see ``Totals``).

    Without per-stream stats of the final attempt, falls back to the job's totals.
    """
    if not totals.final_streams:
        return check_lost_records(totals.records_emitted, totals.records_committed)
    short = final_attempt_shortfall(totals)
    if not short:
        return None
    expected = sum(e for e, _ in short.values())
    committed = sum(c for _, c in short.values())
    names = ", ".join(f"{n} ({c} of {e})" for n, (e, c) in sorted(short.items()))
    return Finding(
        rule="lost_records",
        message=(
            f"{expected - committed} of {expected} records emitted by the final attempt were "
            f"not committed ({names} committed); some may have been dropped"
        ),
    )


def evaluate_outcome(
    totals: Totals,
    history_rows: Sequence[int],
    *,
    zero_rows: ZeroRowsMode = "warn",
    drop_threshold: float | None = 0.5,
    on_drop: DropMode = "warn",
) -> Verdict:
    """Apply every rule to a succeeded job; ``history_rows`` are recent committed counts."""
    rows = totals.records_committed
    if rows is None:
        return Verdict(
            (
                Finding(
                    rule="no_counts",
                    message="Airbyte reported no row counts for this job; outcome rules skipped",
                ),
            )
        )
    findings: list[Finding] = []
    zero = check_zero_rows(rows, history_rows, zero_rows)
    if zero is not None:
        findings.append(zero)
    # Zero rows is the extreme drop: report it once, and not at all when "ignore" says
    # empty syncs are normal here.
    if rows > 0:
        drop = check_drop(rows, history_rows, drop_threshold, on_drop)
        if drop is not None:
            findings.append(drop)
    lost = check_lost_in_final_attempt(totals)
    if lost is not None:
        findings.append(lost)
    return Verdict(tuple(findings))
