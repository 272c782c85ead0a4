"""Test app: fails before doing any work."""

raise RuntimeError("input partition missing: s3://bucket/orders/2026-05-01")
