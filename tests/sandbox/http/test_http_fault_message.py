"""HTTP faults that speak Airbyte's words (``message``) and take effect first (``after_apply``)."""

from __future__ import annotations

import json

from luigi_airbyte.sandbox.http_faults import HttpFaultInjector, fault_response


def test_a_409_with_a_message_is_a_state_conflict_naming_it() -> None:
    inj = HttpFaultInjector(
        [
            {
                "endpoint": "GET /jobs/{jobId}",
                "status": 409,
                "message": "Job is not currently running",
            }
        ]
    )
    decision = inj.decide("GET", "/jobs/{jobId}", "/jobs/9")
    assert decision is not None and not decision.after_apply
    body = json.loads(fault_response(decision).get_data())
    assert body["status"] == 409 and body["title"] == "state-conflict"
    assert body["type"].endswith("#409-state-conflict")
    assert body["data"] == {"message": "Job is not currently running"}


def test_after_apply_is_carried_to_the_decision() -> None:
    inj = HttpFaultInjector(
        [
            {
                "endpoint": "POST /jobs",
                "status": 500,
                "after_apply": True,
                "message": "Timed out waiting for a sync job to be created",
            }
        ]
    )
    decision = inj.decide("POST", "/jobs", "/jobs")
    assert decision is not None and decision.after_apply and decision.status == 500
    body = json.loads(fault_response(decision).get_data())
    assert body["data"]["message"] == "Timed out waiting for a sync job to be created"
    assert inj.decide("GET", "/jobs", "/jobs") is None
