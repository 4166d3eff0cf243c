"""One ``Runtime`` per Lambda container: built from the environment at the first invocation and
reused (connections to Aurora, Redis and Alpaca survive between invocations)."""

from __future__ import annotations

from quantterminal.wiring.runtime import Runtime

_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The container's runtime (built on first use)."""
    global _runtime  # noqa: PLW0603 - the container-wide singleton is the point
    if _runtime is None:
        _runtime = Runtime.from_env()
    return _runtime


def use(given: Runtime | None) -> None:
    """Use ``given`` instead of building from the environment (tests, the local paper run)."""
    global _runtime  # noqa: PLW0603
    _runtime = given
