"""The floor of the fan-out benches: a bare ``websockets`` server that broadcasts.

It runs as a process of its own (``python -m bench.support.broadcast PORT TEMPLATE``): it sends
a ``snapshot`` built from the template to every socket that connects, then for every sequence
number written to its standard input one message of the template with that ``seq`` to all
sockets (``websockets.broadcast``, serialised once, as the product's hub does).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.support.processes import raise_fd_limit, stop_process  # noqa: E402
from bench.support.servers import free_port  # noqa: E402


async def serve_broadcast(port: int, template: dict[str, Any]) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()
    snapshot = json.dumps({**template, "type": "snapshot"}, separators=(",", ":"))

    async def handler(websocket: ServerConnection) -> None:
        clients.add(websocket)
        try:
            await websocket.send(snapshot)
            await websocket.wait_closed()
        finally:
            clients.discard(websocket)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096):
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        while line := await reader.readline():
            # Serialised once, the same text for every socket, like the product's hub.
            text = json.dumps({**template, "seq": int(line)}, separators=(",", ":"))
            broadcast(clients, text)


class BroadcastServer:
    """The broadcast server seen from the bench: start, send a sequence number, stop."""

    def __init__(self, template: dict[str, Any], workdir: Path) -> None:
        self.port = free_port()
        log = workdir / "baseline.log"
        # In a file: a message for a long queue can exceed what one command-line argument may hold.
        template_path = workdir / "baseline-template.json"
        template_path.write_text(json.dumps(template), encoding="utf-8")
        with log.open("ab") as err:
            self.process = subprocess.Popen(  # noqa: S603  (this very module)
                [sys.executable, "-m", "bench.support.broadcast", str(self.port), str(template_path)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        assert self.process.stdout is not None  # noqa: S101
        if self.process.stdout.readline().strip() != b"ready":
            stop_process(self.process)
            raise RuntimeError(f"baseline server did not start; see {log}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def broadcast(self, seq: int) -> None:
        assert self.process.stdin is not None  # noqa: S101
        self.process.stdin.write(f"{seq}\n".encode())
        self.process.stdin.flush()

    def stop(self) -> None:
        stop_process(self.process)


def main(argv: list[str]) -> int:
    port, template = int(argv[0]), Path(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench stops us
    raise_fd_limit(0)
    asyncio.run(serve_broadcast(port, json.loads(template.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
