"""The ASGI applications tests/test_asgi.py runs under hypercorn: one process, two endpoints.

``/v1/realtime`` (and Azure's paths) serves both dialects, ``/gaonly/v1/realtime``
GA only, ``/betaonly/v1/realtime`` beta only and ``/one/v1/realtime`` one
connection at a time, each accepting the key
``sk-local``; anything else goes to the first, which answers ``/healthz`` and
refuses other paths.
"""

from __future__ import annotations

from typing import Any

from rtcore_trio.asgi import create_app

both = create_app(api_keys=["sk-local"])
ga_only = create_app(api_keys=["sk-local"], dialects=("ga",), path="/gaonly/v1/realtime")
beta_only = create_app(api_keys=["sk-local"], dialects=("beta",), path="/betaonly/v1/realtime")
one = create_app(api_keys=["sk-local"], max_connections=1, path="/one/v1/realtime")


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "lifespan" and scope["path"].startswith("/gaonly/"):
        await ga_only(scope, receive, send)
    elif scope["type"] != "lifespan" and scope["path"].startswith("/betaonly/"):
        await beta_only(scope, receive, send)
    elif scope["type"] != "lifespan" and scope["path"].startswith("/one/"):
        await one(scope, receive, send)
    else:
        await both(scope, receive, send)
