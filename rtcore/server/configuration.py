"""The session's configuration and its update: ``Configuration`` answers ``session.update``
(and beta's ``transcription_session.update``).

An update is read by the connection's edge into the neutral vocabulary, merged by
``rtcore.rules.session_update.merge_config`` (the rules both roles apply), and only then,
when every check has passed, written: the new configuration, the dialect's extras, the input
buffer's turn detection, the echo (``session.updated``), and the listings of MCP servers the
update added. What the changed fields hold is charged to the session's budget
(``costs.config_cost``) with the listing items the update adds, and the tools obey the
server's bounds (``bounds.check_tools_size``) before anything is written: a refused update
(``session_memory_exceeded``, ``array_above_max_length``) changes nothing. The echo is
paid for from the session's echo budget (``echoes``: at the size of the configuration the
client set) before anything is written too: an update whose echo the budget cannot pay is
refused (``echo_rate_exceeded``). The model may be set by an update only while
the URL left it open (``rtcore.rules.model``).
"""

from __future__ import annotations

from ..ids import IdFactory
from ..rules.reading import Extras
from ..rules.requests import check_kind
from .bounds import check_tools_size
from .buffer import InputBuffer
from .config import ServerLimits
from .core import Record
from .costs import config_cost
from .echoes import Echoes
from .edge import Edge, SessionRequest
from .effects import Effect
from .mcp_listings import McpListings, new_mcp_servers
from .memory import Holdings
from .responses import ResponseWriter
from .settings import merge_config

__all__ = ["Configuration"]

ECHO_BYTES = 256
"""What a ``session.updated`` costs the echo budget beyond the configuration the client set."""


class Configuration:
    """Applies session updates to the session's ``record`` (the only writer of its ``config``).

    Reads whether audio was produced (``writer``: the voice is locked from then on), tells the
    input ``buffer`` its new turn detection, starts MCP listings (``listings``), and records
    what the configuration holds in ``holdings``.
    """

    __slots__ = (
        "_record",
        "_limits",
        "_holdings",
        "_edge",
        "_ids",
        "_writer",
        "_buffer",
        "_listings",
        "_extras",
        "_model_open",
        "_echoes",
    )

    def __init__(
        self,
        *,
        record: Record,
        edge: Edge,
        ids: IdFactory,
        writer: ResponseWriter,
        buffer: InputBuffer,
        listings: McpListings,
        extras: Extras,
        model_open: bool,
        limits: ServerLimits,
        holdings: Holdings,
        echoes: Echoes,
    ) -> None:
        self._record = record
        self._echoes = echoes
        self._limits = limits
        self._holdings = holdings
        self._edge = edge
        self._ids = ids
        self._writer = writer
        self._buffer = buffer
        self._listings = listings
        self._extras = extras
        self._model_open = model_open
        """Whether an update naming a model still sets it (``rtcore.rules.model``)."""

    def update(self, e: SessionRequest, event_id: str | None) -> list[Effect]:
        """``session.update`` (and beta's ``transcription_session.update``)."""
        record, edge = self._record, self._edge
        current = record.config
        check_kind(current.kind, e.type, edge.dialect)
        changes, paths, extras = edge.session_changes(edge.session_of(e, current), current)
        config = merge_config(
            current,
            changes,
            paths,
            audio_produced=self._writer.audio_produced,
            model_open=self._model_open,
        )
        if "tools" in changes:
            check_tools_size(config.tools, self._limits, paths.get("tools", "session.tools"))
        costs = {name: config_cost(getattr(config, name, None)) for name in changes}
        servers = new_mcp_servers(current, config)
        holdings = self._holdings
        change = holdings.config_change(costs)
        self._listings.check_room(servers, change)
        echo = ECHO_BYTES + sum(holdings.config.values()) + change
        self._echoes.check(echo, "its session.updated")
        holdings.charge_config(costs)
        self._echoes.spend(echo)
        record.config = config
        if "model" in changes:
            self._model_open = False
        self._extras.update(extras)
        self._buffer.configure()
        self._buffer.restart_idle()
        record.emit(edge.session_event(False, config, self._extras, self._ids("event")))
        return self._listings.start(servers)
