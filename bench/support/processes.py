"""Processes seen from a bench: CPU and memory from /proc, descriptor limits, stopping, py-spy."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType


def raise_fd_limit(clients: int) -> int:
    """As many descriptors as allowed (root may lift the hard limit too); inherited by children."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(hard, clients * 2 + 4096)
    for limit in (wanted, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
            return limit
        except (ValueError, OSError):
            continue
    return soft


def rss_kib(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system time of the processes (all threads)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time spent by the whole machine (all cores, everyone), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of groups of processes, of this process, and of the whole machine, over a
    period: other work on the machine (``other``) makes the figures noisy and is reported."""

    def __init__(self, groups: dict[str, Sequence[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self.start = self._sample()

    def _sample(self) -> dict[str, float]:
        sample = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        sample.update(bench=cpu_seconds([os.getpid()]), machine=machine_busy_seconds(), wall=time.monotonic())
        return sample

    def stop(self) -> dict[str, float]:
        end = self._sample()
        usage = {key: end[key] - self.start[key] for key in end}
        ours = sum(usage[name] for name in self.groups) + usage["bench"]
        usage["other"] = max(0.0, usage["machine"] - ours)
        return usage


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class PySpy:
    """Optional sampling profile of the server processes while the rounds run."""

    def __init__(self, binary: str | None, out_dir: Path | None) -> None:
        self.binary = binary
        self.out_dir = out_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, label: str, pids: Sequence[int]) -> None:
        if not self.binary or self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for i, pid in enumerate(pids):
            out = self.out_dir / f"{label}-{i}.txt"
            self.procs.append(
                subprocess.Popen(  # noqa: S603  (the py-spy given on the command line)
                    [
                        *(self.binary, "record", "--pid", str(pid), "--rate", "250", "--format", "raw"),
                        *("--threads", "--nonblocking", "-o", str(out)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []


def with_children(pids: Sequence[int]) -> list[int]:
    """The processes and all their descendants (uvicorn's workers)."""
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in task.read_text().split())
    return found


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C does."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
