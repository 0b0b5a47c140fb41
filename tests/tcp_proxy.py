"""A TCP forwarder a test starts in front of one of the machine's services (PostgreSQL, Redis) and then cuts.

The platform under test is pointed at the proxy, never at the service: cutting the proxy makes the
service unreachable for the platform alone, while the machine's PostgreSQL and Redis (which other
work on this machine uses) go on undisturbed. Two ways to be away:

* ``refuse``: every open connection is reset and new ones are refused, as when the service's host is
  up but the service is not (or a firewall rejects);
* ``blackhole``: nothing gets through in either direction and new connections are accepted but never
  answered, as in a network partition; on ``restore`` what was held back flows on, as TCP would
  retransmit it, unless the peers gave up meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

Mode = Literal["refuse", "blackhole"]
CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.accepted = 0  # connections taken, cut or not
        self.cut_at: float | None = None  # time.monotonic() of the last cut
        self.restored_at: float | None = None
        self._server: asyncio.Server | None = None
        self._mode: Mode | None = None  # None: forwarding
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._mode is not None

    async def start(self) -> int:
        await self._listen()
        return self.port

    async def _listen(self) -> None:
        # the same port after a ``refuse`` cut: the platform's URL names it
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def cut(self, mode: Mode = "refuse") -> None:
        """From now on the service is away for everyone connected through the proxy."""
        if self._mode is not None:
            raise RuntimeError("the proxy is already cut")
        self._mode, self.cut_at = mode, time.monotonic()
        self._flowing.clear()
        if mode == "refuse":
            assert self._server is not None
            self._server.close()  # connecting now gets "connection refused"
            self._server = None
            for writer in list(self._open):
                writer.transport.abort()  # a reset, not a goodbye: the peer learns it at its next read or write

    async def restore(self) -> None:
        if self._mode == "refuse":
            await self._listen()
        self._mode, self.restored_at = None, time.monotonic()
        self._flowing.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._closing = True
        for writer in list(self._open):
            writer.transport.abort()
        self._flowing.set()  # what a blackhole held now ends (not cancelled: asyncio's streams log a cancelled handler)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self._open.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()  # a blackhole holds a new connection unanswered
            if self._closing:
                return
            try:
                up_reader, upstream = await asyncio.open_connection(*self.target)
            except OSError:
                writer.transport.abort()
                return
            self._open.add(upstream)
            await asyncio.gather(self._pump(reader, upstream), self._pump(up_reader, writer))
        finally:
            self._tasks.discard(task)
            for end in (writer, upstream):
                if end is not None:
                    self._open.discard(end)
                    end.transport.abort()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(CHUNK):
                await self._flowing.wait()  # a blackhole holds what was sent until it is restored
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()  # either side gone: so is the other (the pair ends together)
