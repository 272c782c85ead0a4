"""Test app: never finishes on its own."""

import time

time.sleep(300)
