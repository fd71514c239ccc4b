"""Coverage-guided fuzzing (atheris, libFuzzer) of the wire message parser: the frontend message
parsers of :mod:`veil.proxy.messages` and the framing of :mod:`veil.proxy.framing`.

Every input either parses or is refused with a protocol error (a :class:`~veil.errors.VeilError`
of class 08, or 22021 for bytes that are not UTF-8; :class:`ConnectionClosed` when the framing
runs out of bytes). Any other exception is a bug: atheris stops with a crash report and a
non-zero exit status. Inputs that parse are checked for consistency (a Bind's values fit in its
payload, a startup packet's options come out as settings).

Run by ``tests/stress/test_message_fuzz.py``; by hand::

    python -m tests.stress.fuzz_messages COUNT_FILE -runs=1000000 [CORPUS_DIR] [libFuzzer flags]

(``--plant-bug`` makes every Bind with two or more values raise IndexError: the test proving
that a crash fails the run.)

``COUNT_FILE`` receives the number of inputs the target executed (written every 1,000 inputs
and when libFuzzer exits).
"""

from __future__ import annotations

import asyncio
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["veil.proxy.messages", "veil.proxy.framing"]):
    from veil.proxy import framing, messages

from veil.errors import VeilError

MAX_MESSAGE_BYTES = 1 << 20


def _startup(body: bytes) -> None:
    if len(body) < 4:  # read_startup hands over at least the 4-byte version code
        return
    startup = messages.parse_startup(body)
    assert all(isinstance(v, str) for v in startup.parameters.values())
    settings = messages.startup_options(startup.parameters.get("options", ""))
    assert all("=" not in name for name in settings)


def _bind(body: bytes) -> None:
    bind = messages.parse_bind(body)
    assert sum(len(v) for v in bind.values if v is not None) <= len(body)
    assert set(bind.param_formats + bind.result_formats) <= {0, 1}


def _parse(body: bytes) -> None:
    parsed = messages.parse_parse(body)
    assert all(0 <= oid < 1 << 32 for oid in parsed.param_oids)


def _framing(body: bytes) -> None:
    """The bytes as a client's stream: messages cut out one by one until the stream ends."""

    async def drain() -> int:
        stream = asyncio.StreamReader()
        stream.feed_data(body)
        stream.feed_eof()
        reader = framing.MessageReader(stream, MAX_MESSAGE_BYTES)
        reader.limits = {kind: MAX_MESSAGE_BYTES for kind in b"QPBDEHSCXcdfp"}
        count = 0
        try:
            while True:
                kind, payload = await reader.read()
                assert len(payload) <= MAX_MESSAGE_BYTES and chr(kind) in "QPBDEHSCXcdfp"
                count += 1
        except framing.ConnectionClosed:
            return count
        finally:
            reader.close()

    _LOOP.run_until_complete(drain())


TARGETS: tuple[Callable[[bytes], object], ...] = (
    _startup,
    messages.parse_cancel,
    messages.parse_query,
    _parse,
    _bind,
    messages.parse_target,
    messages.parse_execute,
    messages.parse_password,
    messages.parse_sasl_initial,
    _framing,
)

_LOOP = asyncio.new_event_loop()


def is_protocol_error(exc: BaseException) -> bool:
    return isinstance(exc, VeilError) and (exc.sqlstate.startswith("08") or exc.sqlstate == "22021")


class Target:
    """The fuzz target: the first byte picks a parser, the rest is its input."""

    def __init__(self, count_file: Path, planted: bool = False) -> None:
        self.count_file = count_file
        self.executed = 0
        self.planted = planted  # a bug planted for the test that proves crashes are caught

    def __call__(self, data: bytes) -> None:
        self.executed += 1
        if self.executed % 1000 == 0:
            self.save()
        if not data:
            return
        try:
            target = TARGETS[data[0] % len(TARGETS)]
            if self.planted and target is _bind and len(messages.parse_bind(data[1:]).values) > 1:
                raise IndexError("planted bug")
            target(data[1:])
        except Exception as exc:
            if not is_protocol_error(exc):
                raise

    def save(self) -> None:
        self.count_file.write_text(str(self.executed))


def seeds() -> list[bytes]:
    """Valid messages of each kind, so the fuzzer starts from inside every parser."""

    def pick(target: Callable[[bytes], object]) -> bytes:
        return bytes([TARGETS.index(target)])

    startup = struct.pack("!i", 196608) + b"user\0alice\0options\0-c search_path=a\\ b --x=1\0\0"
    bind = b"p1\0s1\0" + struct.pack("!hh", 1, 1) + struct.pack("!h", 2) + struct.pack("!i", 3) + b"abc" \
        + struct.pack("!i", -1) + struct.pack("!hh", 1, 0)
    query = messages._message(b"Q", b"SELECT 1\0")  # the server's own framing
    return [
        pick(_startup) + startup,
        pick(messages.parse_cancel) + struct.pack("!iii", 80877102, 42, 7),
        pick(messages.parse_query) + b"SELECT 1\0",
        pick(_parse) + b"s1\0SELECT $1\0" + struct.pack("!hI", 1, 23),
        pick(_bind) + bind,
        pick(messages.parse_target) + b"Ss1\0",
        pick(messages.parse_execute) + b"p1\0" + struct.pack("!i", 0),
        pick(messages.parse_password) + b"secret\0",
        pick(messages.parse_sasl_initial) + b"SCRAM-SHA-256\0" + struct.pack("!i", 3) + b"n,,",
        pick(_framing) + query + messages._message(b"S", b"") + query[:3],
    ]


def main(argv: list[str]) -> None:
    count_file = Path(argv[1])
    planted = "--plant-bug" in argv
    flags = [a for a in argv[2:] if a.startswith("-") and a != "--plant-bug"]
    corpus = [a for a in argv[2:] if not a.startswith("-")]
    for directory in corpus:
        for index, seed in enumerate(seeds()):
            (Path(directory) / f"seed-{index}").write_bytes(seed)
    target = Target(count_file, planted)
    atheris.Setup([argv[0], *flags, *corpus], target)
    try:
        atheris.Fuzz()
    finally:
        target.save()


if __name__ == "__main__":
    main(sys.argv)
