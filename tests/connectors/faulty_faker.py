"""A `command:` connector around the real source-faker that misbehaves in its first read.

    python faulty_faker.py FAKER_EXE MODE MARKER <connector args...>

spec / check / discover go straight to faker. The first ``read`` (MARKER absent) relays
faker's messages until the first STATE of ``users``, then relays three more ``users``
records (which no STATE covers) and then: ``crash`` exits 3, ``hang`` sleeps, ``garbage``
prints a line that is not a protocol message and sleeps. Later reads are plain faker.
Every read appends the state it was given to MARKER.reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

exe, mode, marker, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if args[0] == "read":  # MARKER.reads: the state each read was given, one JSON line per read
    state = None
    if "--state" in args:
        with open(args[args.index("--state") + 1]) as fh:
            state = json.load(fh)
    with open(marker + ".reads", "a") as fh:
        fh.write(json.dumps(state) + "\n")
if args[0] != "read" or os.path.exists(marker):
    os.execv(exe, [exe, *args])
open(marker, "w").close()
proc = subprocess.Popen([exe, *args], stdout=subprocess.PIPE, text=True)
assert proc.stdout is not None
states = extra = 0
for line in proc.stdout:
    msg = json.loads(line)
    if states >= 1:
        if msg["type"] == "RECORD" and msg["record"]["stream"] == "users":
            sys.stdout.write(line)
            extra += 1
        if extra < 3:
            continue
        sys.stdout.flush()
        proc.kill()
        if mode == "crash":
            print("faulty_faker: crashing on purpose", file=sys.stderr)
            sys.exit(3)
        if mode == "garbage":
            print("Traceback? no: this line is not JSON", flush=True)
        time.sleep(3600)
    sys.stdout.write(line)
    if msg["type"] == "STATE" and msg["state"]["stream"]["stream_descriptor"]["name"] == "users":
        states += 1
sys.exit(proc.wait())
