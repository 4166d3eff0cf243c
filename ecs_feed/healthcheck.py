"""The feed container's health check (ECS runs it every 30 s): healthy while the feed wrote its
health file within the last 90 s and its connection reader is alive. Waiting for keys is healthy
(the deployment must come up before the keys are put in); a dead reader or a silent feed is not,
and ECS replaces the task."""

from __future__ import annotations

import json
import sys
import time

from quantterminal.environment import Environment

FRESH_SECONDS = 90.0


def healthy(path: str, now: float | None = None) -> tuple[bool, str]:
    """Whether the feed is healthy, and why."""
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
        status, at = str(report["status"]), float(report["at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"no readable health file {path}: {type(exc).__name__}"
    age = (time.time() if now is None else now) - at
    if age > FRESH_SECONDS:
        return False, f"health not reported for {age:.0f} s"
    if status == "DEAD":
        return False, "the connection reader died"
    return True, status


if __name__ == "__main__":
    ok, why = healthy(Environment.read().feed_health_file)
    sys.stdout.write(why + "\n")  # ECS keeps the check's output with the task's health
    sys.exit(0 if ok else 1)
