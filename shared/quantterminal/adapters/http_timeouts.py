"""A timeout on every HTTP request a ``requests`` session sends (alpaca-py sets none, so one
stalled server would hang whatever waits on it)."""

from __future__ import annotations

from typing import Any

from requests.adapters import HTTPAdapter


class TimeoutAdapter(HTTPAdapter):
    """Mount on a session: requests without a timeout of their own get ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)
