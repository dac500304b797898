"""rtcore_sim: the simulated models behind ``rtcore serve``, and the backend contract they meet.

Nothing here is a real model: the echo repeats the user (and calls the tools
it is asked for), a script plays a JSON scenario, the voice is a
deterministic synthetic waveform, MCP servers are played without a network.
They make a local Realtime server whose answers a test can predict.

``rtcore_trio``'s server runs any backend; these are the ones built in. The
layering is ``rtcore`` (the engine) <- ``rtcore_sim`` (models) <-
``rtcore_trio`` (sockets, the server, the client, the CLI), so the backend
contract (``Backend``, ``Transcriber``, ``ResponseRequest``,
``TranscriptionFailed``, ``McpListingFailed``, ``run_off_loop``) is defined
here and re-exported by ``rtcore_trio``.

The modules, sans-IO unless marked (a test keeps the sans-IO ones free of
trio and of any I/O):

* ``backend``: the contract.
* ``speech``: the synthetic voice and speech-like input audio.
* ``output``: one response's chunks under its token budget.
* ``arguments``: a tool call's arguments that fit the tool's JSON Schema.
* ``mcp``: the MCP servers the models play.
* ``scenario``: the script's JSON and its place in it.
* ``loop`` (trio): worker threads for CPU-heavy steps.
* ``echo``, ``script`` (trio): the two backends, whose only awaits are the
  waits (a transcript on its way, a delay, the checkpoint after each chunk).

Public names:

* ``EchoBackend``, ``EchoTranscriber``, ``MAX_ECHO_CHARS``: the echo.
* ``ScriptBackend``, ``Scenario``, ``Turn``, ``load_scenario``: the script.
* ``load_backend``: a backend and transcriber from ``rtcore serve --backend``.
* ``synthetic_speech``, ``speech_like``: audio for tests (the echo's voice,
  and sound a voice detector takes for speech).
* the backend contract, above, and ``BACKEND_THREADS``.
"""

from .backend import (
    Backend,
    McpListingFailed,
    ResponseRequest,
    Transcriber,
    TranscriptionFailed,
)
from .echo import MAX_ECHO_CHARS, EchoBackend, EchoTranscriber
from .loop import BACKEND_THREADS, run_off_loop
from .scenario import Scenario, Turn, load_scenario
from .script import ScriptBackend, load_backend
from .speech import speech_like, synthetic_speech

__all__ = [
    "BACKEND_THREADS",
    "MAX_ECHO_CHARS",
    "Backend",
    "EchoBackend",
    "EchoTranscriber",
    "McpListingFailed",
    "ResponseRequest",
    "Scenario",
    "ScriptBackend",
    "Transcriber",
    "TranscriptionFailed",
    "Turn",
    "load_backend",
    "load_scenario",
    "run_off_loop",
    "speech_like",
    "synthetic_speech",
]
