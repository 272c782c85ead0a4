"""An annotated example world file (``luigi-airbyte sandbox world-example`` prints it).

Kept as text, with comments, so it doubles as the reference for the world format; a test
loads it with ``load_world`` so it cannot fall out of step with the models.
"""

from __future__ import annotations

EXAMPLE_WORLD_YAML = """\
# A sandbox world: the Airbyte instance `luigi-airbyte sandbox serve --world FILE` pretends
# to be. Every section is optional except what the others refer to. Ids are derived from
# names (stable across restarts) unless you give a UUID as `id:`.

workspaces:
  - name: Default Workspace            # the first workspace is the default one

sources:
  - name: Postgres CRM
    type: generator                    # generator (synthetic rows) or file (rows from a file)
    namespace: public                  # the source's schema
    configuration:                     # shown by the API as a real connector would; not used
      host: crm.internal
      database: crm
    streams:
      - name: users
        size: 200                      # rows on the first sync
        growth_per_sync: 20            # new rows on each later sync
        updates_per_sync: 5            # existing rows changed on each later sync
        seed: 1                        # same seed, same rows
        columns:                       # omit for the built-in columns of well-known names
          - {name: id, type: integer}
          - email                      # a bare name is a string column
          - {name: score, type: number}
          - {name: updated_at, type: timestamp}
        primary_key: id
        cursor_field: updated_at
      - name: orders
        size: 500
        growth_per_sync: 50
    # check_error: "connection refused"   # make the source's connection check fail
  # A real Airbyte connector instead (its virtualenv is built once, then cached; see
  # docs/sandbox.md). Its streams come from its `discover`:
  # - name: Faker
  #   type: airbyte
  #   connector: source-faker
  #   pip: airbyte-source-faker==7.2.1   # or executable: /path, or command: [argv]
  #   config: {count: 1000, seed: 1, always_updated: false}   # secrets: env:NAME, file:/path

destinations:
  - name: Warehouse
    type: duckdb                       # duckdb, sqlite (path:) or postgres (url:)
    path: warehouse.duckdb             # relative to this file

connections:
  - name: Postgres CRM → Warehouse
    source: Postgres CRM
    destination: Warehouse
    status: active                     # active, inactive, deprecated, locked
    prefix: crm_                       # destination tables are crm_users, crm_orders
    schedule: {type: manual}           # manual, cron (cron_expression:), basic (basic_timing:)
    streams:                           # omit to sync every source stream
      - name: users
        sync_mode: incremental_deduped_history
        cursor_field: [updated_at]
        primary_key: [[id]]
      - name: orders
        sync_mode: full_refresh_overwrite
    job_duration_seconds: 2            # how long a job of this connection takes

applications:                          # client credentials the sandbox accepts
  - name: Local application
    client_id: sandbox-client
    client_secret: sandbox-secret      # a fixed credential of a local fake, not a real secret

settings:
  token_ttl_seconds: 900               # lifetime of access tokens
  job_duration_seconds: 1.5            # default duration of a job
  max_attempts: 3                      # attempts per job before it fails
  attempt_backoff_seconds: 0           # wait between attempts
  max_concurrent_jobs: 16              # more jobs than this wait as "queued"
  queued_dedupe: false                 # true: a POST while a job is queued returns that job
  unknown_job_status: 404              # 409: "Job is not currently running" for unknown ids
  airbyte_version: 1.7.0

faults:                                # inject failures to test how your pipeline copes
  jobs:
    "Postgres CRM → Warehouse":        # a connection name, or "*" for every connection
      fail_attempts: 0                 # this many attempts fail before one succeeds
      zero_records: false              # succeed without moving a row
      never_finish: false              # the job runs until cancelled
      create_timeouts: 0               # N POSTs create the job but answer a 500 timeout
      replace_queued_after: null       # seconds queued before a scheduled job replaces it
  schema: {}                           # per source: add_streams, remove_streams, add_columns...
  http: []                             # HTTP-level faults; for example:
  # http:
  #   - endpoint: "POST /jobs"         # "*" or "<METHOD> /path"
  #     status: 503                    # 500, 502, 503 or 429
  #     nth: [1]                       # fail only the first such request
  #   - endpoint: "*"
  #     status: 429
  #     rate: 0.1                      # or fail a share of requests at random (seed:)
  #     retry_after: 2                 # leave it out: throttling with no Retry-After
"""

__all__ = ["EXAMPLE_WORLD_YAML"]
