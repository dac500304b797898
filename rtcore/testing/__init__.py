"""rtcore.testing: hypothesis strategies for testing Realtime clients and servers.

Install with the ``testing`` extra (``pip install 'rtcore[testing]'``): this
package needs hypothesis, which the engine itself never imports (nothing in
``rtcore`` imports ``rtcore.testing``). It is sans-IO like the rest of the core.

* Conversations (``rtcore.testing.conversations``): ``server_streams`` (what a
  conforming client must accept), ``client_streams`` (what a conforming server
  must accept), ``play`` and its ``Step`` and ``Conversation`` values.
* Invalid input (``rtcore.testing.invalid``): ``invalid_events``, each an
  ``InvalidEvent`` with the ``error`` a server owes it.
* Single events (``rtcore.testing.vocabulary``): ``events_of(cls)`` for any
  event or object class, ``any_event``, ``ga_server_events``,
  ``ga_client_events``, ``json_objects`` and ``mutations`` for invalid input.

The pytest plugin (the ``realtime_server`` fixture) is ``rtcore_trio.pytest_plugin``.
"""

try:
    import hypothesis  # noqa: F401
except ImportError:  # said once, here, rather than as a bare "No module named" deep inside
    raise ImportError("rtcore.testing needs hypothesis: pip install 'rtcore[testing]'") from None

from .conversations import (
    Conversation,
    Step,
    client_streams,
    kinds_of,
    play,
    server_streams,
    steps,
)
from .invalid import InvalidEvent, invalid_events, invalid_table
from .vocabulary import (
    JSON_VALUES,
    any_event,
    events_of,
    ga_client_events,
    ga_server_events,
    json_objects,
    mutations,
)

__all__ = [
    "JSON_VALUES",
    "Conversation",
    "InvalidEvent",
    "Step",
    "any_event",
    "client_streams",
    "events_of",
    "ga_client_events",
    "ga_server_events",
    "invalid_events",
    "invalid_table",
    "json_objects",
    "kinds_of",
    "mutations",
    "play",
    "server_streams",
    "steps",
]
