"""Who a run acts as towards Airbyte, for the run record: never a secret.

Client credentials and OIDC: the client id (or, when the id itself is a reference, the
reference, since a value kept behind a reference is treated as secret). A bearer token:
the ``sub`` claim when the token is a JWT (read, not verified: it is a label, not a
trust decision), else nothing. Basic auth: the user name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from luigi_airbyte.airbyte._auth import jwt_claims
from luigi_airbyte.pipeline._models import BasicAuth, BearerAuth, ClientCredentialsAuth, OidcAuth
from luigi_airbyte.secrets import SecretRef

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

_MAX = 255


def jwt_subject(token: str) -> str | None:
    """The ``sub`` claim of a JWT (unverified), or ``None`` when ``token`` is not one."""
    claims = jwt_claims(token.strip())
    sub = claims.get("sub") if claims is not None else None
    return str(sub)[:_MAX] if isinstance(sub, (str, int)) and str(sub) else None


def _plain_or_reference(value: SecretRef | str) -> str:
    return f"ref {value}" if isinstance(value, SecretRef) else str(value)


def acting_identity(rt: Runtime) -> str | None:
    """The identity a run of ``rt`` acts as, or ``None`` when there is none to name."""
    auth = rt.settings.auth
    if isinstance(auth, (ClientCredentialsAuth, OidcAuth)):
        return f"client {_plain_or_reference(auth.client_id)}"[:_MAX]
    if isinstance(auth, BasicAuth):
        return f"user {_plain_or_reference(auth.username)}"[:_MAX]
    if isinstance(auth, BearerAuth):
        try:
            sub = jwt_subject(rt.secret(auth.token))
        except Exception:  # noqa: BLE001 - a label must never stop a run
            return None
        return None if sub is None else f"token sub {sub}"[:_MAX]
    return None
