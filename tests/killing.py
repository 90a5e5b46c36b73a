"""Killing a hashhop run at a chosen moment (the crash-safety and resume tests share it)."""

import signal
import subprocess
import time


def lines(path) -> int:
    """Complete lines in a file (0 if it is not there yet)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_after(cmd, records, seconds: float, more_records: int | None = None) -> bool:
    """Start `cmd` and SIGKILL it after `seconds`, or as soon as `more_records` more lines are in the
    file `records` (if given). True if it was killed, False if it finished first."""
    wanted = None if more_records is None else lines(records) + more_records
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline and (wanted is None or lines(records) < wanted):
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return killed
