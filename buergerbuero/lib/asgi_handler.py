"""Django's ASGI handler with the middleware chain and the view in one thread hop.

Our views and nearly all our middleware are synchronous. Django's own ASGI handler builds the
chain in async mode: where a sync-only middleware (WhiteNoise, the staff session middleware)
meets an async-capable one, it switches threads (sync → async → sync), and the view takes one
more hop. Measured in-process through the ASGI application (bench/rush.py's office): about
1.8 ms of thread switching per request, more than the whole ``/healthz`` view costs.

This handler builds the same chain in sync mode and runs it with one ``sync_to_async`` call,
as Django would in WSGI. Nothing else changes: the request still runs in a thread of its own
(``thread_sensitive`` within Django's per-request context, so its database connection is
closed by the same thread at ``request_finished``), every middleware runs in the same order
with the same code, responses (streamed ones too) are sent by Django's ASGI code, and the odd
async view would be called through ``async_to_sync`` on the server's event loop.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # BaseHandler.get_response: the URL configuration, the chain, the request's closing
        # and the log line of an error response, all in the request's thread.
        response: HttpResponseBase = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response


def get_asgi_application() -> OneHopASGIHandler:
    """As ``django.core.asgi.get_asgi_application``, with the one-hop handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
