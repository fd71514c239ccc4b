"""Authentication exchanges, driven by scramp's client over an in-memory conversation."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from scramp import ScramClient

from tests.proxy import pgclient
from veil.errors import VeilError
from veil.proxy.auth import (
    AuthConversation,
    AuthRequest,
    authenticate,
    make_md5_hash,
    make_scram_verifier,
    parse_scram_verifier,
)


class Client:
    """Answers the server's authentication messages like libpq would."""

    def __init__(self, user: str, password: str, scram_user: str | None = None) -> None:
        self.user = user
        self.scram_user = scram_user
        self.password = password
        self.sent: list[bytes] = []
        self.pending: list[bytes] = []
        self.scram: ScramClient | None = None

    async def send(self, message: bytes) -> None:
        self.sent.append(message)
        kind, payload = message[:1], message[5:]
        assert kind == b"R"
        (code,) = struct.unpack_from("!i", payload)
        if code == 3:
            self.pending.append(self.password.encode() + b"\0")
        elif code == 5:
            inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
            self.pending.append(
                b"md5" + hashlib.md5(inner.encode() + payload[4:]).hexdigest().encode() + b"\0"
            )
        elif code == 10:
            self.scram = ScramClient(["SCRAM-SHA-256"], self.user, self.password)
            first = self.scram.get_client_first().encode()
            if self.scram_user is not None:
                # libpq sends an empty SCRAM user name; the proof covers these exact bytes.
                first = first.replace(
                    b"n=" + self.user.encode() + b",", b"n=" + self.scram_user.encode() + b","
                )
                self.scram.client_first_bare = self.scram.client_first_bare.replace(
                    "n=" + self.user + ",", "n=" + self.scram_user + ","
                )
            self.pending.append(b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        elif code == 11:
            assert self.scram is not None
            self.scram.set_server_first(payload[4:].decode())
            self.pending.append(self.scram.get_client_final().encode())
        elif code == 12:
            assert self.scram is not None
            self.scram.set_server_final(payload[4:].decode())

    async def receive(self) -> bytes:
        return self.pending.pop(0)

    def server_first(self) -> str:
        return next(m[9:].decode() for m in self.sent if struct.unpack_from("!i", m, 5)[0] == 11)


async def run(
    method: str, user: str, password: str, stored: str | None, *, exists: bool = True, tls: bool = False
) -> Client:
    client = Client(user, password)
    request = AuthRequest(method, user, stored, exists, tls)
    await authenticate(AuthConversation(client.send, client.receive), request)
    return client


def test_scram_verifier_format() -> None:
    verifier = make_scram_verifier("s3cret")
    method, rest = verifier.split("$", 1)
    assert method == "SCRAM-SHA-256"
    iterations_salt, _keys = rest.split("$")
    assert iterations_salt.startswith("4096:")
    assert len(base64.b64decode(iterations_salt.split(":")[1])) == 16
    parsed = parse_scram_verifier(verifier)
    assert parsed is not None and parsed.iterations == 4096 and len(parsed.stored_key) == 32
    assert parse_scram_verifier("md5abc") is None
    assert parse_scram_verifier("SCRAM-SHA-256$x:y$z") is None


def test_md5_hash_matches_postgresql() -> None:
    # SELECT 'md5' || md5('secret' || 'alice') in PostgreSQL
    assert make_md5_hash("alice", "secret") == "md5" + hashlib.md5(b"secretalice").hexdigest()


async def test_scram_success() -> None:
    client = await run("scram-sha-256", "alice", "pw", make_scram_verifier("pw"))
    assert client.sent[-1][:1] == b"R" and struct.unpack_from("!i", client.sent[-1], 5)[0] == 12


@pytest.mark.parametrize("scram_user", ["", "someone-else"])
async def test_scram_ignores_the_scram_user_name_like_postgresql(scram_user: str) -> None:
    client = Client("alice", "pw", scram_user=scram_user)
    request = AuthRequest("scram-sha-256", "alice", make_scram_verifier("pw"), True, False)
    await authenticate(AuthConversation(client.send, client.receive), request)


async def test_scram_wrong_password_and_unknown_user_look_the_same() -> None:
    with pytest.raises(VeilError) as wrong:
        await run("scram-sha-256", "alice", "nope", make_scram_verifier("pw"))
    with pytest.raises(VeilError) as unknown:
        await run("scram-sha-256", "alice", "nope", None, exists=False)
    assert wrong.value.sqlstate == unknown.value.sqlstate == "28P01"
    assert wrong.value.message == unknown.value.message == 'password authentication failed for user "alice"'
    assert wrong.value.severity == "FATAL"


async def test_unknown_user_gets_a_stable_mock_salt() -> None:
    salts = []
    for _ in range(2):
        client = Client("ghost", "x")
        with pytest.raises(VeilError):
            await authenticate(
                AuthConversation(client.send, client.receive),
                AuthRequest("scram-sha-256", "ghost", None, False, False),
            )
        salts.append(dict(part.split("=", 1) for part in client.server_first().split(","))["s"])
    assert salts[0] == salts[1]
    assert len(base64.b64decode(salts[0])) == 16


async def test_md5() -> None:
    await run("md5", "bob", "pw", make_md5_hash("bob", "pw"))
    with pytest.raises(VeilError) as info:
        await run("md5", "bob", "bad", make_md5_hash("bob", "pw"))
    assert info.value.sqlstate == "28P01"
    with pytest.raises(VeilError):
        await run("md5", "nobody", "pw", None, exists=False)


async def test_md5_method_uses_scram_for_a_scram_verifier() -> None:
    client = await run("md5", "alice", "pw", make_scram_verifier("pw"))
    assert struct.unpack_from("!i", client.sent[0], 5)[0] == 10


async def test_scram_method_rejects_md5_hash() -> None:
    with pytest.raises(VeilError) as info:
        await run("scram-sha-256", "bob", "pw", make_md5_hash("bob", "pw"))
    assert info.value.sqlstate == "28P01"


async def test_cleartext_needs_tls() -> None:
    with pytest.raises(VeilError) as info:
        await run("password", "alice", "pw", make_scram_verifier("pw"), tls=False)
    assert info.value.sqlstate == "28000"
    assert "SSL" in info.value.message
    await run("password", "alice", "pw", make_scram_verifier("pw"), tls=True)
    await run("password", "bob", "pw", make_md5_hash("bob", "pw"), tls=True)
    with pytest.raises(VeilError) as wrong:
        await run("password", "alice", "bad", make_scram_verifier("pw"), tls=True)
    assert wrong.value.sqlstate == "28P01"


async def test_trust() -> None:
    client = await run("trust", "alice", "", None)
    assert client.sent == []
    with pytest.raises(VeilError) as info:
        await run("trust", "ghost", "", None, exists=False)
    assert info.value.sqlstate == "28000"


async def test_user_without_password_fails_like_a_wrong_one() -> None:
    with pytest.raises(VeilError) as info:
        await run("scram-sha-256", "carol", "", None)
    assert info.value.message == 'password authentication failed for user "carol"'


def test_pgclient_frame_helper() -> None:
    assert pgclient.frame(b"S", b"") == b"S\0\0\0\x04"
