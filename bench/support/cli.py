"""Command-line options the benchmarks share (each script keeps its own scenario options)."""

from __future__ import annotations

import argparse
import os

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The module docstring is the help: it says what is measured and how to call it."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_mode(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=["embedded", "scaled"],
        default="embedded",
        help="embedded: SQLite, one process; scaled: PostgreSQL and Redis, several processes",
    )


def add_redis(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))


def add_keep_logs(parser: argparse.ArgumentParser, help: str = "keep the temp dir (server logs)") -> None:
    parser.add_argument("--keep-logs", action="store_true", help=help)
