"""Django's ASGI handler, serving each request in one hop to a thread that lives on.

Our views and nearly all our middleware are synchronous. Django's own ASGI handler builds the
chain in async mode: where a sync-only middleware (WhiteNoise, the staff session middleware)
meets an async-capable one, it switches threads (sync → async → sync), and the view takes one
more hop. Measured in-process through the ASGI application (bench/rush.py's office): about
1.8 ms of thread switching per request, more than the whole ``/healthz`` view costs. It also
starts a new thread for every request (``ThreadSensitiveContext``), and that thread's new
database connection is closed again at the end: profiled in a morning rush (py-spy on the
embedded server, bench/rush.py), starting and joining threads took 17 % of the server's CPU
and opening SQLite connections (with their PRAGMAs) 14 %.

This handler builds the same chain in sync mode, as Django would in WSGI, and runs the
request's synchronous part — ``request_started``, building the request, the middleware chain
and the view — in one call on a fixed pool of ``REQUEST_THREADS`` threads, again as a WSGI
server would. Each thread keeps its database connection between requests where the database
settings allow it (the embedded SQLite does; PostgreSQL's connections come from the pool of
``DB_POOL_SIZE``), and ``close_old_connections`` at the request's start still replaces one
that became unusable. The response is closed (``request_finished``) in the request's thread
before Django's ASGI code sends it — its content is rendered already — so that the thread's
connection goes back to PostgreSQL's pool at once; a streamed response is sent first and
closed afterwards. A client that disconnects early no longer cancels the view: ours are
synchronous, and a thread cannot be cancelled anyway.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections
from django.http import FileResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._threads = ThreadPoolExecutor(settings.REQUEST_THREADS, thread_name_prefix="request")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:  # the client went away while sending the body
            return
        try:
            response = await self._in_thread(self._respond, scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client disconnected while the response was sent
            finally:
                if response.streaming:  # its content was read while it was sent
                    await self._in_thread(response.close)
        finally:
            body_file.close()

    def _respond(self, scope: Any, body_file: Any) -> HttpResponseBase:
        """The synchronous part of a request (as ``WSGIHandler.__call__``)."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:  # a malformed request: Django's 400 response
            return error_response or HttpResponseBadRequest()
        response: HttpResponseBase = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]  # as Django's ASGI handler
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        # request_finished in this thread: it gives this thread's database connection back (to
        # PostgreSQL's pool; a thread that kept it while idle made other requests wait for one).
        # A rendered response's content outlives close(); a streamed one is closed once sent.
        if response.streaming:
            close_old_connections()
        else:
            response.close()
        return response

    async def _in_thread(self, function: Any, *args: Any) -> Any:
        # The request's context variables go along, as with sync_to_async.
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)


def get_asgi_application() -> OneHopASGIHandler:
    """As ``django.core.asgi.get_asgi_application``, with the one-hop handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
