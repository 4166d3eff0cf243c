"""The operator's login on a laptop, speaking the subset of Amazon Cognito's user-pool API the
dashboard uses in AWS -- so the page signs in the same way against both.

In AWS the dashboard posts to ``https://cognito-idp.<region>.amazonaws.com/`` (JSON 1.1, the
operation in ``X-Amz-Target``; docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference):
``InitiateAuth`` with ``USER_PASSWORD_AUTH`` (or ``REFRESH_TOKEN_AUTH``) answers tokens, or the
``NEW_PASSWORD_REQUIRED`` challenge for a user created with a temporary password, which
``RespondToAuthChallenge`` completes; a wrong password is a 400 ``NotAuthorizedException``. The
ID token then goes in the ``Authorization`` header, which API Gateway's Cognito authorizer checks.

Here the same operations are answered at ``/auth/`` for one user, ``operator``, whose password is
the local API key (``require_new_password``: the first sign-in must set a new one, as a Cognito
user's does). Tokens are opaque strings, signed with the key and valid for ``TOKEN_SECONDS``.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

OPERATOR = "operator"
TOKEN_SECONDS = 3600
REFRESH_SECONDS = 30 * 86400
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CLIENT_ID = "local"


class LoginRefused(Exception):  # noqa: N818 - Cognito's own name for it follows
    """A sign-in Cognito would refuse: ``kind`` is its exception name (the 400's ``__type``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class SignedTokens:
    """Opaque, expiring tokens signed with one key: ``<kind>.<expires>.<hmac>``. The kind is
    signed too, so a token of one kind (an event-stream token, a refresh token) opens nothing else."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def issue(self, kind: str, expires: float) -> str:
        stamp = int(expires)
        return f"{kind}.{stamp}.{self._signature(kind, stamp)}"

    def valid(self, token: str, kind: str, now: float) -> bool:
        given_kind, _, rest = token.partition(".")
        stamp, _, signature = rest.partition(".")
        if given_kind != kind or not stamp.isdigit() or int(stamp) < now:
            return False
        return same_text(signature, self._signature(kind, int(stamp)))

    def _signature(self, kind: str, stamp: int) -> str:
        return hmac.new(self._key, f"{kind}:{stamp}".encode(), "sha256").hexdigest()


def same_text(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any bytes a client sends (a header holding 0xff
    arrives as a lone surrogate, which is simply not the secret: 401, not a 500)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


class LocalLogin:
    """One operator, a password, tokens signed with ``key``."""

    def __init__(self, key: str, require_new_password: bool = False) -> None:
        self._tokens = SignedTokens(key)
        self._password = key
        self._must_change = require_new_password
        self._sessions: dict[str, float] = {}  # open NEW_PASSWORD_REQUIRED challenges -> expiry

    def answer(self, target: str, body: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """The answer to one Cognito operation (``LoginRefused`` for a 400)."""
        now = time.time() if now is None else now
        operation = target.removeprefix(TARGET_PREFIX)
        if body.get("ClientId") != CLIENT_ID:
            raise LoginRefused("ResourceNotFoundException", "User pool client does not exist.")
        if operation == "InitiateAuth":
            return self._initiate(body, now)
        if operation == "RespondToAuthChallenge":
            return self._respond(body, now)
        raise LoginRefused("InvalidParameterException", f"unsupported operation {operation!r}")

    def _initiate(self, body: dict[str, Any], now: float) -> dict[str, Any]:
        params = body.get("AuthParameters") or {}
        flow = body.get("AuthFlow")
        if flow == "REFRESH_TOKEN_AUTH":
            if not self._tokens.valid(str(params.get("REFRESH_TOKEN", "")), "refresh", now):
                raise LoginRefused("NotAuthorizedException", "Invalid Refresh Token.")
            return {"AuthenticationResult": self._result(now, refresh=False)}
        if flow != "USER_PASSWORD_AUTH":
            raise LoginRefused("InvalidParameterException", f"unsupported AuthFlow {flow!r}")
        if params.get("USERNAME") != OPERATOR or not same_text(str(params.get("PASSWORD", "")), self._password):
            raise LoginRefused("NotAuthorizedException", "Incorrect username or password.")
        if self._must_change:
            session = secrets.token_urlsafe(24)
            self._sessions[session] = now + 180
            return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session, "ChallengeParameters": {}}
        return {"AuthenticationResult": self._result(now, refresh=True)}

    def _respond(self, body: dict[str, Any], now: float) -> dict[str, Any]:
        session = str(body.get("Session", ""))
        responses = body.get("ChallengeResponses") or {}
        if body.get("ChallengeName") != "NEW_PASSWORD_REQUIRED" or self._sessions.pop(session, 0) < now:
            raise LoginRefused("NotAuthorizedException", "Invalid session for the user.")
        new = str(responses.get("NEW_PASSWORD", ""))
        if len(new) < 12:
            raise LoginRefused(
                "InvalidPasswordException", "Password does not conform to policy: at least 12 characters."
            )
        self._password, self._must_change = new, False
        return {"AuthenticationResult": self._result(now, refresh=True)}

    def _result(self, now: float, refresh: bool) -> dict[str, Any]:
        result: dict[str, Any] = {
            "IdToken": self._tokens.issue("id", now + TOKEN_SECONDS),
            "AccessToken": self._tokens.issue("access", now + TOKEN_SECONDS),
            "ExpiresIn": TOKEN_SECONDS,
            "TokenType": "Bearer",
        }
        if refresh:
            result["RefreshToken"] = self._tokens.issue("refresh", now + REFRESH_SECONDS)
        return result

    def valid_id_token(self, token: str, now: float | None = None) -> bool:
        """Whether ``token`` is an unexpired ID token from this login."""
        return self._tokens.valid(token, "id", time.time() if now is None else now)
