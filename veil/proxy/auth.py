"""Client authentication: SCRAM-SHA-256 (with -PLUS over TLS), md5, cleartext password, trust.

Passwords are stored as PostgreSQL stores them (``pg_authid.rolpassword``): a SCRAM-SHA-256
verifier ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` or ``md5<hex>``. The
server never sees nor keeps a plain password except during a cleartext ``password`` exchange,
which is refused unless the connection is encrypted.

An unknown user, a user without a password and a wrong password all end with the same
``28P01`` error after the same exchange: under SCRAM the unknown user gets a mock verifier whose
salt is derived from the user name and a per-process secret, so repeated probes see a stable
salt and the timing of a real exchange.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from scramp import ScramException, ScramMechanism
from scramp.core import ScramServer
from scramp.utils import saslprep

from veil import errcodes
from veil.errors import VeilError
from veil.proxy import messages

log = logging.getLogger("veil.proxy")

SCRAM_ITERATIONS = 4096
_MOCK_SECRET = secrets.token_bytes(32)


@dataclass(frozen=True)
class ScramVerifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes


def parse_scram_verifier(verifier: str) -> ScramVerifier | None:
    """Parse PostgreSQL's SCRAM-SHA-256 verifier format; ``None`` if it is not one."""
    try:
        method, iterations_salt, keys = verifier.split("$")
        iterations, salt = iterations_salt.split(":")
        stored_key, server_key = keys.split(":")
        if method != "SCRAM-SHA-256":
            return None
        return ScramVerifier(
            int(iterations),
            base64.b64decode(salt, validate=True),
            base64.b64decode(stored_key, validate=True),
            base64.b64decode(server_key, validate=True),
        )
    except ValueError:
        return None


def make_scram_verifier(password: str, iterations: int = SCRAM_ITERATIONS) -> str:
    """A SCRAM-SHA-256 verifier in PostgreSQL's format (what ``veil passwd`` prints)."""
    salt, stored_key, server_key, count = ScramMechanism().make_auth_info(
        password, iteration_count=iterations, salt=secrets.token_bytes(16)
    )
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${count}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


def make_md5_hash(user: str, password: str) -> str:
    """``md5`` + hex(md5(password + user)), as PostgreSQL stores md5 passwords."""
    return "md5" + hashlib.md5((password + user).encode()).hexdigest()


def _mock_verifier(user: str) -> ScramVerifier:
    digest = hmac.new(_MOCK_SECRET, user.encode(), hashlib.sha256).digest()
    return ScramVerifier(SCRAM_ITERATIONS, digest[:16], secrets.token_bytes(32), digest[16:])


def _check_cleartext(user: str, stored: str | None, password: str) -> bool:
    if stored is None:
        return False
    if stored.startswith("md5"):
        return hmac.compare_digest(make_md5_hash(user, password), stored)
    verifier = parse_scram_verifier(stored)
    if verifier is None:
        return False
    salted = hashlib.pbkdf2_hmac("sha256", _normalize(password).encode(), verifier.salt, verifier.iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), verifier.stored_key)


def _normalize(password: str) -> str:
    """SASLprep, falling back to the raw password when it does not apply (as PostgreSQL does)."""
    try:
        return saslprep(password)
    except ScramException:
        return password


class AuthConversation:
    """The I/O an authentication exchange needs: send a message, receive a PasswordMessage."""

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        receive: Callable[[], Awaitable[bytes]],
    ) -> None:
        self.send = send
        self.receive = receive


@dataclass(frozen=True)
class AuthRequest:
    method: str  # scram-sha-256 | md5 | password | trust
    user: str
    stored_password: str | None  # the verifier/hash from the config, None if no password
    user_exists: bool
    tls: bool
    #: PEM text of the server certificate, enabling SCRAM-SHA-256-PLUS (tls-server-end-point).
    certificate_pem: str | None = None


def failed(user: str) -> VeilError:
    return errcodes.InvalidPassword(f'password authentication failed for user "{user}"', severity="FATAL")


def throttled(user: str, wait: float) -> VeilError:
    """A login refused during back-off: the password was not looked at."""
    return errcodes.InvalidPassword(
        f'password authentication failed for user "{user}"',
        detail=f"Too many failed logins for this user or client address; retry in {wait:.1f}s.",
        severity="FATAL",
    )


async def authenticate(conversation: AuthConversation, request: AuthRequest) -> None:
    """Run the exchange for ``request.method``; raise a FATAL :class:`VeilError` on failure."""
    method = request.method
    stored = request.stored_password if request.user_exists else None
    if method == "trust":
        if not request.user_exists:
            raise errcodes.InvalidAuthorizationSpecification(f'role "{request.user}" does not exist', severity="FATAL")
        return
    if method == "password":
        await _cleartext(conversation, request, stored)
    elif method == "md5" and (stored is None or stored.startswith("md5")):
        # Like PostgreSQL, md5 auth upgrades to SCRAM when the stored password is a verifier.
        await _md5(conversation, request, stored)
    elif method in ("md5", "scram-sha-256"):
        await _scram(conversation, request, stored)
    else:
        raise errcodes.InvalidAuthorizationSpecification(f"unsupported authentication method {method!r}", severity="FATAL")


async def _cleartext(conversation: AuthConversation, request: AuthRequest, stored: str | None) -> None:
    if not request.tls:
        raise errcodes.InvalidAuthorizationSpecification(
            "cleartext password authentication requires an SSL connection",
            hint="Connect with sslmode=require, or set server.auth to scram-sha-256.",
            severity="FATAL",
        )
    await conversation.send(messages.AUTHENTICATION_CLEARTEXT)
    password = messages.parse_password(await conversation.receive())
    if not _check_cleartext(request.user, stored, password):
        raise failed(request.user)


async def _md5(conversation: AuthConversation, request: AuthRequest, stored: str | None) -> None:
    salt = secrets.token_bytes(4)
    await conversation.send(messages.authentication_md5(salt))
    response = messages.parse_password(await conversation.receive())
    if stored is None:
        raise failed(request.user)
    expected = "md5" + hashlib.md5(stored[3:].encode() + salt).hexdigest()
    if not hmac.compare_digest(expected.encode(), response.encode()):
        raise failed(request.user)


async def _scram(conversation: AuthConversation, request: AuthRequest, stored: str | None) -> None:
    verifier = parse_scram_verifier(stored) if stored else None
    if stored and stored.startswith("md5"):
        log.warning(
            "user %r has an md5 password but server.auth is scram-sha-256, so they cannot log "
            "in (as in PostgreSQL): set server.auth to md5 or store a verifier from `veil passwd`",
            request.user,
        )
    if verifier is None or verifier.iterations < SCRAM_ITERATIONS or len(verifier.salt) < 12:
        # scramp refuses these parameters; the exchange runs on a mock and fails.
        real = False
        verifier = _mock_verifier(request.user)
    else:
        real = True

    mechanisms = ["SCRAM-SHA-256"]
    channel_binding = None
    if request.tls and request.certificate_pem:
        mechanisms.insert(0, "SCRAM-SHA-256-PLUS")
        channel_binding = ("tls-server-end-point", request.certificate_pem)
    await conversation.send(messages.authentication_sasl(mechanisms))
    mechanism, client_first = messages.parse_sasl_initial(await conversation.receive())
    if mechanism not in mechanisms:
        raise errcodes.ProtocolViolation("client selected an invalid SASL authentication mechanism", severity="FATAL")

    def auth_fn(_scram_user: str) -> tuple[bytes, bytes, bytes, int]:
        # PostgreSQL ignores the SCRAM user name; the startup packet's user is authoritative.
        return verifier.salt, verifier.stored_key, verifier.server_key, verifier.iterations

    try:
        server = ScramMechanism(mechanism).make_server(auth_fn, channel_binding=channel_binding)
        _set_client_first(server, client_first.decode())
        await conversation.send(messages.authentication_sasl_continue(server.get_server_first().encode()))
        server.set_client_final((await conversation.receive()).decode())
        final = server.get_server_final()
    except (ScramException, UnicodeDecodeError):
        raise failed(request.user) from None
    if not real:
        raise failed(request.user)
    await conversation.send(messages.authentication_sasl_final(final.encode()))


def _set_client_first(server: ScramServer, client_first: str) -> None:
    """Feed the client-first-message to scramp, accepting libpq's empty user name.

    libpq sends ``n=`` (PostgreSQL takes the user from the startup packet), which scramp
    rejects; it gets a placeholder to parse, and the signed AuthMessage keeps the client's
    original bytes so the proof still verifies.
    """
    try:
        header_end = client_first.index(",", client_first.index(",") + 1) + 1
    except ValueError:
        raise ScramException("malformed client-first-message") from None
    bare = client_first[header_end:]
    if bare.startswith("n=,"):
        server.set_client_first(client_first[:header_end] + "n=postgres" + bare[2:])
        server.client_first_bare = bare
    else:
        server.set_client_first(client_first)
