"""How long a test waits on a subprocess, a worker or a file before it calls the wait a hang.

A timeout in a test catches a hang, never slowness: on 2 cores shared with other CPU-bound work a step that
takes 20 s alone can take minutes, and the test must still pass. So every test waits ``HANG_TIMEOUT_S``,
far beyond any run that is merely slow. ``TFAE_TEST_TIMEOUT_SCALE=2`` doubles it on a machine slower still.
"""

import os

BASE_HANG_TIMEOUT_S = 900


def _scale():
    text = os.environ.get("TFAE_TEST_TIMEOUT_SCALE", "").strip() or "1"
    try:
        scale = float(text)
    except ValueError:
        scale = float("nan")
    if not scale > 0:
        raise ValueError(
            f"TFAE_TEST_TIMEOUT_SCALE must be a positive number, such as 2 to double the tests' timeouts. "
            f"Received: TFAE_TEST_TIMEOUT_SCALE={text!r}"
        )
    return scale


HANG_TIMEOUT_S = BASE_HANG_TIMEOUT_S * _scale()
