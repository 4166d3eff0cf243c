"""One ``Runtime`` per Lambda container: built from the environment at the first invocation and
reused (connections to Aurora, Redis and Alpaca survive between invocations) -- and the
container's environment, read once for the handlers that run on every batch (the CDK app sets it at
deploy; it does not change after). The scheduled jobs, run once a day, read it when they run."""

from __future__ import annotations

from quantterminal.environment import Environment
from quantterminal.wiring.runtime import Runtime

_runtime: Runtime | None = None
_environment: Environment | None = None


def environment() -> Environment:
    """The container's environment (read on first use)."""
    global _environment  # noqa: PLW0603 - read once per container, like the runtime
    if _environment is None:
        _environment = Environment.read()
    return _environment


def runtime() -> Runtime:
    """The container's runtime (built on first use)."""
    global _runtime  # noqa: PLW0603 - the container-wide singleton is the point
    if _runtime is None:
        _runtime = Runtime.from_env(environment())
    return _runtime


def use(given: Runtime | None) -> None:
    """Use ``given`` instead of building from the environment (tests, the local paper run); the
    environment is read again on next use."""
    global _runtime, _environment  # noqa: PLW0603
    _runtime = given
    _environment = None
