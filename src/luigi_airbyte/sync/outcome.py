"""Outcome rules: is a ``succeeded`` job really good data?

Airbyte has reported ``succeeded`` for syncs that loaded nothing (airbytehq/airbyte#84961,
#85355) and for a truncate-refresh retry that replaced a full table with a residue
(#86347). These pure functions look at what the job committed, summed over every
attempt, against what recent successful jobs of the same connection moved.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from luigi_airbyte.airbyte.models import JobDetails, StreamStats

ZeroRowsMode = Literal["ignore", "warn", "fail"]
DropMode = Literal["warn", "fail"]


@dataclass(frozen=True)
class Totals:
    """What one job moved, summed over all its attempts."""

    records_emitted: int | None
    records_committed: int | None
    bytes_emitted: int | None
    bytes_committed: int | None
    streams: tuple[StreamStats, ...] = ()
    attempts: int = 0


def totals_from_details(details: JobDetails) -> Totals:
    """Sum counts over every attempt, so a retried sync is not under-reported.

    The client's ``JobStats`` already holds totals; the per-attempt sum is taken too and
    the larger wins, so a total that only reflects the last attempt (a bug seen in peer
    integrations) cannot hide rows committed by an earlier, failed attempt.
    """
    stats = details.stats
    attempts = stats.attempts

    def total(job_level: int, per_attempt: Sequence[int]) -> int:
        return max(job_level, sum(per_attempt))

    streams = stats.streams or _sum_streams(s for a in attempts for s in a.streams)
    return Totals(
        records_emitted=total(stats.records_emitted, [a.records_emitted for a in attempts]),
        records_committed=total(stats.records_committed, [a.records_committed for a in attempts]),
        bytes_emitted=total(stats.bytes_emitted, [a.bytes_emitted for a in attempts]),
        bytes_committed=total(stats.bytes_committed, [a.bytes_committed for a in attempts]),
        streams=streams,
        attempts=len(attempts),
    )


def _sum_streams(per_attempt: Iterable[StreamStats]) -> tuple[StreamStats, ...]:
    merged: dict[tuple[str | None, str], StreamStats] = {}
    for s in per_attempt:
        key = (s.namespace, s.name)
        prev = merged.get(key)
        if prev is None:
            merged[key] = s
        else:
            merged[key] = StreamStats(
                name=s.name,
                namespace=s.namespace,
                records_emitted=prev.records_emitted + s.records_emitted,
                records_committed=prev.records_committed + s.records_committed,
                bytes_emitted=prev.bytes_emitted + s.bytes_emitted,
                bytes_committed=prev.bytes_committed + s.bytes_committed,
                records_rejected=prev.records_rejected + s.records_rejected,
            )
    return tuple(merged.values())


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
    """The source emitted more records than the destination committed."""
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
    lost = check_lost_records(totals.records_emitted, rows)
    if lost is not None:
        findings.append(lost)
    return Verdict(tuple(findings))
