"""The wire protocol end to end over a socket, against the fake engine (no SQL involved)."""

from __future__ import annotations

import asyncio
import ssl
import struct

import pytest

from tests.proxy import pgclient
from tests.proxy.conftest import FAKE_PASSWORDS, FakeServerFactory, ServerThread
from tests.proxy.pgclient import AuthFailed, RawClient, kinds


async def connect(server: ServerThread, user: str = "alice", **kwargs: object) -> RawClient:
    password = kwargs.pop("password", FAKE_PASSWORDS.get(user, ""))
    return await RawClient.connect(server.port, user, password, **kwargs)  # type: ignore[arg-type]


# --- startup ------------------------------------------------------------------------------


async def test_startup_reports_postgresql_15_parameters(fake: ServerThread) -> None:
    client = await connect(fake, params={"application_name": "tests", "TimeZone": "Europe/Berlin"})
    params = client.parameters
    assert params["server_version"] == "15.8"
    assert params["server_encoding"] == params["client_encoding"] == "UTF8"
    assert params["DateStyle"] == "ISO, MDY"
    assert params["integer_datetimes"] == "on"
    assert params["standard_conforming_strings"] == "on"
    assert params["IntervalStyle"] == "postgres"
    assert params["TimeZone"] == "Europe/Berlin"
    assert params["application_name"] == "tests"
    assert params["session_authorization"] == "alice"
    assert params["is_superuser"] == "off"
    assert params["default_transaction_read_only"] == "off"
    assert params["in_hot_standby"] == "off"
    assert client.pid > 0 and client.status == "I"
    session = fake.engine.sessions[-1]
    assert session.info.user == "alice" and session.info.application_name == "tests"
    assert session.info.client_address == "127.0.0.1"
    await client.close()


async def test_admin_is_superuser(fake: ServerThread) -> None:
    client = await connect(fake, "root")
    assert client.parameters["is_superuser"] == "on"
    await client.close()


async def test_md5_user_and_default_database(fake_servers: FakeServerFactory) -> None:
    server = fake_servers(auth="md5")
    with pytest.raises(AuthFailed) as info:
        await connect(server, "bob", database=None)  # database defaults to the user name
    assert info.value.fields["C"] == "3D000"
    assert info.value.fields["M"] == 'database "bob" does not exist'
    client = await connect(server, "bob")
    await client.close()


@pytest.mark.parametrize("user", ["alice", "ghost", "carol"])
async def test_bad_password_and_unknown_user_get_the_same_error(fake: ServerThread, user: str) -> None:
    with pytest.raises(AuthFailed) as info:
        await connect(fake, user, password="wrong")
    assert info.value.fields["C"] == "28P01"
    assert info.value.fields["S"] == "FATAL"
    assert info.value.fields["M"] == f'password authentication failed for user "{user}"'


async def test_missing_user(fake: ServerThread) -> None:
    with pytest.raises(AuthFailed) as info:
        await RawClient.connect(fake.port, "", "")
    assert info.value.fields["C"] == "28000"


async def test_client_encoding(fake: ServerThread) -> None:
    with pytest.raises(AuthFailed) as info:
        await connect(fake, params={"client_encoding": "LATIN1"})
    assert info.value.fields["C"] == "22023"
    client = await connect(fake, params={"client_encoding": "SQL_ASCII"})
    assert client.parameters["client_encoding"] == "UTF8"
    await client.close()
    client = await connect(fake, params={"client_encoding": "'utf-8'"})
    assert client.parameters["client_encoding"] == "UTF8"
    await client.close()


async def test_cleartext_password_refused_without_tls(fake_servers: FakeServerFactory) -> None:
    server = fake_servers(auth="password", tls=False)
    with pytest.raises(AuthFailed) as info:
        await connect(server)
    assert info.value.fields["C"] == "28000"


async def test_tls_with_cleartext_password(fake_servers: FakeServerFactory) -> None:
    server = fake_servers(auth="password", tls=True)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = await connect(server, tls=context)
    assert kinds(await client.simple("rows 3")) == "TDDDCZ"
    await client.close()


async def test_ssl_request_without_tls_answers_n_and_gssenc_answers_n(fake: ServerThread) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    writer.write(struct.pack("!ii", 8, 80877104))
    writer.write(struct.pack("!ii", 8, 80877103))
    writer.write(pgclient.startup_packet({"user": "alice", "database": "veil"}))
    await writer.drain()
    assert await reader.readexactly(2) == b"NN"
    client = RawClient(reader, writer)
    await client._authenticate("alice", FAKE_PASSWORDS["alice"])
    assert client.status == "I"
    await client.close()


async def test_unsupported_protocol_versions(fake: ServerThread) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    writer.write(pgclient.startup_packet({"user": "alice"}, version=2 << 16))
    await writer.drain()
    client = RawClient(reader, writer)
    message = await client.recv()
    assert message.kind == "E" and message.fields()["C"] == "0A000"
    assert await client.closed()


async def test_newer_minor_version_gets_negotiate_protocol_version(fake: ServerThread) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    params = {"user": "alice", "database": "veil", "_pq_.extension": "x"}
    writer.write(pgclient.startup_packet(params, version=(3 << 16) | 2))
    await writer.drain()
    client = RawClient(reader, writer)
    message = await client.recv()
    assert message.kind == "v"
    assert struct.unpack_from("!ii", message.payload) == (0, 1)
    assert message.payload[8:] == b"_pq_.extension\0"
    await client._authenticate("alice", FAKE_PASSWORDS["alice"])
    await client.close()


# --- simple query -------------------------------------------------------------------------


async def test_simple_query_multiple_statements(fake: ServerThread) -> None:
    client = await connect(fake)
    replies = await client.simple("rows 2; rows 1")
    assert kinds(replies) == "TDDCTDCZ"
    assert [c[0] for c in replies[0].columns()] == ["i", "label"]
    assert replies[1].row() == [b"0", b"row 0"]
    assert replies[3].text() == "SELECT 2"
    await client.close()


async def test_empty_query(fake: ServerThread) -> None:
    client = await connect(fake)
    assert kinds(await client.simple("")) == "IZ"
    assert kinds(await client.simple("  ;  ")) == "IZ"
    await client.close()


async def test_error_stops_the_rest_and_session_survives(fake: ServerThread) -> None:
    client = await connect(fake)
    replies = await client.simple("rows 1; boom; rows 5")
    assert kinds(replies) == "TDCEZ"
    error = replies[3].fields()
    assert error["C"] == "42601" and error["S"] == "ERROR" and error["P"] == "1"
    assert kinds(await client.simple("rows 1")) == "TDCZ"
    await client.close()


async def test_failed_transaction_until_rollback(fake: ServerThread) -> None:
    client = await connect(fake)
    await client.simple("begin")
    assert client.status == "T"
    await client.simple("boom")
    assert client.status == "E"
    replies = await client.simple("rows 1")
    assert replies[0].fields()["C"] == "25P02" and client.status == "E"
    await client.simple("rollback")
    assert client.status == "I"
    await client.close()


async def test_internal_error_is_xx000_and_session_survives(fake: ServerThread) -> None:
    client = await connect(fake)
    replies = await client.simple("explode")
    assert kinds(replies) == "EZ"
    fields = replies[0].fields()
    assert fields["C"] == "XX000" and "unexpected failure" not in fields["M"]
    assert kinds(await client.simple("rows 1")) == "TDCZ"
    await client.close()


async def test_error_after_some_rows(fake: ServerThread) -> None:
    client = await connect(fake)
    replies = await client.simple("fail late")
    assert kinds(replies) == "T" + "D" * 10 + "EZ"
    assert replies[-2].fields()["C"] == "22012"
    await client.close()


async def test_set_sends_parameter_status(fake: ServerThread) -> None:
    client = await connect(fake)
    replies = await client.simple("set application_name = 'x'")
    assert kinds(replies) == "CSZ"
    assert replies[1].payload == b"application_name\0x\0"
    await client.close()


async def test_large_result_streams(fake: ServerThread) -> None:
    client = await connect(fake)
    replies = await client.simple("rows 20000 batch 4096")
    assert len(replies) == 20003
    assert replies[-2].text() == "SELECT 20000"
    assert replies[-3].row() == [b"19999", b"row 19999"]
    await client.close()


# --- extended query -----------------------------------------------------------------------


async def test_extended_round_trip(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "echo $1", (0,)) + pgclient.describe("S", ""))
    client.send(pgclient.bind("", "", (b"hello",)) + pgclient.describe("P", "") + pgclient.execute())
    client.send(pgclient.SYNC)
    await client.flush()
    replies = await client.until_ready()
    assert kinds(replies) == "1tT2TDCZ"
    assert struct.unpack("!hI", replies[1].payload) == (1, 25)
    assert replies[5].row() == [b"hello"]
    assert replies[6].text() == "SELECT 1"
    await client.close()


async def test_statement_without_rows_describes_no_data(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "begin") + pgclient.describe("S", "") + pgclient.bind("", ""))
    client.send(pgclient.describe("P", "") + pgclient.execute() + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "1tn2nCZ"
    assert client.status == "T"
    await client.simple("rollback")
    await client.close()


async def test_named_statement_reuse_and_close(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("s1", "rows 1") + pgclient.SYNC)
    client.send(pgclient.parse("s1", "rows 2") + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "1Z"
    replies = await client.until_ready()
    assert replies[0].fields()["C"] == "42P05"
    client.send(pgclient.close("S", "s1") + pgclient.parse("s1", "rows 2") + pgclient.bind("", "s1"))
    client.send(pgclient.execute() + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "312DDCZ"
    await client.close()


async def test_error_discards_until_sync(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "boom") + pgclient.bind("", "") + pgclient.execute() + pgclient.SYNC)
    client.send(pgclient.bind("", "nope") + pgclient.execute() + pgclient.SYNC)
    await client.flush()
    first = await client.until_ready()
    assert kinds(first) == "EZ" and first[0].fields()["C"] == "42601"
    second = await client.until_ready()
    assert kinds(second) == "EZ" and second[0].fields()["C"] == "26000"
    await client.close()


async def test_execute_row_limit_suspends_and_resumes(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "rows 2500 batch 1000") + pgclient.bind("", ""))
    for _ in range(9):
        client.send(pgclient.execute("", 300))
    client.send(pgclient.SYNC)
    await client.flush()
    replies = await client.until_ready()
    rows = [int(m.row()[0]) for m in replies if m.kind == "D"]  # type: ignore[arg-type]
    assert rows == list(range(2500))
    assert kinds(replies).count("s") == 8
    assert replies[-2].text() == "SELECT 100"
    await client.close()


async def test_row_limit_exactly_at_end_suspends_then_completes(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "rows 4 batch 2") + pgclient.bind("", ""))
    client.send(pgclient.execute("", 4) + pgclient.execute("", 4) + pgclient.SYNC)
    await client.flush()
    replies = await client.until_ready()
    assert kinds(replies) == "12DDDDsCZ"
    assert replies[-2].text() == "SELECT 0"
    await client.close()


async def test_named_portal_survives_sync_inside_a_transaction(fake: ServerThread) -> None:
    """pgJDBC's setFetchSize: named portal, Execute with a limit, Sync, Execute again."""
    client = await connect(fake)
    await client.simple("begin")
    client.send(
        pgclient.parse("", "rows 5") + pgclient.bind("c1", "") + pgclient.execute("c1", 2) + pgclient.SYNC
    )
    await client.flush()
    assert kinds(await client.until_ready()) == "12DDsZ"
    client.send(pgclient.execute("c1", 2) + pgclient.SYNC)
    await client.flush()
    replies = await client.until_ready()
    assert kinds(replies) == "DDsZ"
    assert replies[0].row()[0] == b"2"
    client.send(pgclient.close("P", "c1") + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "3Z"
    await client.simple("commit")
    await client.close()


async def test_portals_end_with_the_implicit_transaction(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(
        pgclient.parse("", "rows 5") + pgclient.bind("c1", "") + pgclient.execute("c1", 2) + pgclient.SYNC
    )
    client.send(pgclient.execute("c1", 2) + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "12DDsZ"
    replies = await client.until_ready()
    assert replies[0].fields()["C"] == "34000"
    await client.close()
    await asyncio.sleep(0.2)
    assert fake.engine.open_streams == 0


async def test_binary_parameters_and_param_format_count(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "echo $1 $2", (23, 25)))
    client.send(
        pgclient.bind("", "", (struct.pack("!i", 42), b"x"), (1, 0)) + pgclient.execute() + pgclient.SYNC
    )
    await client.flush()
    replies = await client.until_ready()
    assert kinds(replies) == "12DCZ"
    assert replies[2].row() == [b"42", b"x"]
    client.send(pgclient.bind("", "", (b"1",)) + pgclient.SYNC)
    await client.flush()
    replies = await client.until_ready()
    assert replies[0].fields()["C"] == "08P01" and "requires 2" in replies[0].fields()["M"]
    client.send(pgclient.bind("", "", (b"1", b"2"), (0, 0, 0)) + pgclient.SYNC)
    await client.flush()
    assert (await client.until_ready())[0].fields()["C"] == "08P01"
    await client.close()


async def test_result_format_count_must_match_columns(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "rows 1") + pgclient.bind("", "", (), (), (0, 0, 0)) + pgclient.SYNC)
    await client.flush()
    replies = await client.until_ready()
    assert kinds(replies) == "1EZ"
    assert replies[1].fields()["M"] == "bind message has 3 result formats but query has 2 columns"
    await client.close()


async def test_empty_statement_in_extended_mode(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "") + pgclient.bind("", "") + pgclient.describe("P", ""))
    client.send(pgclient.execute() + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "12nIZ"
    await client.close()


async def test_flush_sends_without_sync(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.parse("", "rows 1") + pgclient.FLUSH)
    await client.flush()
    assert (await client.recv(5)).kind == "1"
    client.send(pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "Z"
    await client.close()


async def test_pipeline_of_many_syncs(fake: ServerThread) -> None:
    client = await connect(fake)
    for i in range(50):
        client.send(pgclient.parse("", "echo $1") + pgclient.bind("", "", (str(i).encode(),)))
        client.send(pgclient.execute() + pgclient.SYNC)
    await client.flush()
    for i in range(50):
        replies = await client.until_ready()
        assert replies[2].row() == [str(i).encode()]
    await client.close()


async def test_sql_deallocate_drops_a_protocol_statement(fake: ServerThread) -> None:
    """psqlODBC Parses ``_PLAN0x...`` and later sends ``DEALLOCATE "_PLAN0x..."``."""
    client = await connect(fake)
    client.send(pgclient.parse("_PLAN0xAB", "rows 1") + pgclient.SYNC)
    await client.flush()
    await client.until_ready()
    assert kinds(await client.simple('DEALLOCATE "_PLAN0xAB"')) == "CZ"
    replies = await client.simple('DEALLOCATE "_PLAN0xAB"')
    assert replies[0].fields()["C"] == "26000"
    client.send(pgclient.parse("_PLAN0xAB", "rows 2") + pgclient.parse("s2", "rows 1") + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "11Z"
    assert kinds(await client.simple("DEALLOCATE ALL")) == "CZ"
    client.send(pgclient.bind("", "s2") + pgclient.SYNC)
    await client.flush()
    assert (await client.until_ready())[0].fields()["C"] == "26000"
    await client.close()


async def test_discard_all_and_close_all_close_portals(fake: ServerThread) -> None:
    client = await connect(fake)
    await client.simple("begin")
    client.send(pgclient.parse("s", "rows 5") + pgclient.bind("c1", "s") + pgclient.execute("c1", 1))
    client.send(pgclient.bind("c2", "s") + pgclient.execute("c2", 1) + pgclient.SYNC)
    await client.flush()
    assert kinds(await client.until_ready()) == "12Ds2DsZ"
    assert kinds(await client.simple("close c1")) == "CZ"
    assert (await client.simple("close c1"))[0].fields()["C"] == "34000"
    await client.simple("rollback")
    await client.simple("begin")
    client.send(pgclient.bind("c3", "s") + pgclient.execute("c3", 1) + pgclient.SYNC)
    await client.flush()
    await client.until_ready()
    assert kinds(await client.simple("close all")) == "CZ"
    client.send(pgclient.execute("c3", 1) + pgclient.SYNC)
    await client.flush()
    assert (await client.until_ready())[0].fields()["C"] == "34000"
    await client.simple("rollback")
    assert kinds(await client.simple("discard all")) == "CZ"
    client.send(pgclient.bind("", "s") + pgclient.SYNC)
    await client.flush()
    assert (await client.until_ready())[0].fields()["C"] == "26000"
    await client.close()


# --- failures that end one connection only ---------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"Q\x00\x00\x00\x02",  # length below 4
        b"?\x00\x00\x00\x04",  # unknown message type
        pgclient.frame(b"B", b"\x00\x00\x00\x05"),  # truncated Bind
        pgclient.frame(b"Q", b"SELECT 1"),  # missing NUL terminator
        b"\x00\x01\x02\x03\x04\x05",  # unknown type with a plausible length: no waiting for the body
        b"S\x00\x10\x00\x00",  # Sync claiming a megabyte
    ],
)
async def test_malformed_message_closes_only_that_connection(fake: ServerThread, garbage: bytes) -> None:
    victim = await connect(fake)
    bystander = await connect(fake)
    victim.send(garbage)
    await victim.flush()
    message = await victim.recv()
    assert message.kind == "E" and message.fields()["C"] == "08P01" and message.fields()["S"] == "FATAL"
    assert await victim.closed()
    assert kinds(await bystander.simple("rows 1")) == "TDCZ"
    await bystander.close()


async def test_oversized_message(fake_servers: FakeServerFactory) -> None:
    server = fake_servers(max_message_bytes=1000)
    client = await connect(server)
    client.send(pgclient.query("x" * 2000))
    await client.flush()
    message = await client.recv()
    assert message.fields()["C"] == "08P01" and "1000" in message.fields()["M"]
    assert await client.closed()


async def test_garbage_startup_packet(fake: ServerThread) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    writer.write(b"\xff\xff\xff\xff garbage")
    await writer.drain()
    client = RawClient(reader, writer)
    assert (await client.recv()).fields()["C"] == "08P01"
    assert await client.closed()


async def test_connection_loss_mid_stream_closes_the_result(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.query("rows 5000000 batch 10000"))
    await client.flush()
    await client.recv()
    client.writer.transport.abort()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if fake.engine.open_streams == 0:
            break
    assert fake.engine.open_streams == 0
    assert fake.engine.sessions[-1].closed


async def test_a_client_that_does_not_read_slows_only_itself(fake: ServerThread) -> None:
    slow = await connect(fake)
    bystander = await connect(fake)
    before = fake.engine.batches_pulled
    slow.send(pgclient.query("rows 10000000 batch 10000"))  # 1000 batches, about 200 MB of DataRows
    await slow.flush()
    await asyncio.sleep(1.0)
    for _ in range(20):
        assert kinds(await bystander.simple("rows 3")) == "TDDDCZ"
    pulled = fake.engine.batches_pulled - before
    assert pulled < 200, f"{pulled} batches pulled for a client that reads nothing"
    slow.writer.transport.abort()
    await bystander.close()


async def test_terminate_closes(fake: ServerThread) -> None:
    client = await connect(fake)
    client.send(pgclient.TERMINATE)
    await client.flush()
    assert await client.closed()


# --- cancel -------------------------------------------------------------------------------


async def test_cancel_request_stops_the_running_statement(fake: ServerThread) -> None:
    victim = await connect(fake)
    bystander = await connect(fake)
    victim.send(pgclient.query("sleep"))
    await victim.flush()
    await asyncio.sleep(0.2)
    await pgclient.cancel_request(fake.port, victim.pid, victim.secret ^ 1)  # wrong secret
    await asyncio.sleep(0.2)
    assert kinds(await bystander.simple("rows 1")) == "TDCZ"
    await pgclient.cancel_request(fake.port, victim.pid, victim.secret)
    replies = await victim.until_ready(timeout=5)
    assert replies[-2].fields()["C"] == "57014"
    assert kinds(await victim.simple("rows 1")) == "TDCZ"
    await victim.close()
    await bystander.close()


async def test_cancel_when_idle_does_nothing(fake: ServerThread) -> None:
    client = await connect(fake)
    before = fake.engine.cancels
    await pgclient.cancel_request(fake.port, client.pid, client.secret)
    await asyncio.sleep(0.1)
    assert fake.engine.cancels == before
    assert kinds(await client.simple("rows 1")) == "TDCZ"
    await client.close()


async def test_silent_client_is_dropped_after_the_startup_timeout(
    fake: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veil.proxy import connection

    monkeypatch.setattr(connection, "STARTUP_TIMEOUT", 0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    client = RawClient(reader, writer)
    assert await client.closed(timeout=5)
