"""The model lock: which ``session.update`` may name a session's model.

docs/protocol/flows.md#session-model: a session's model is fixed when the URL named it
(``?model=``). When the URL named none, or named a deployment (Azure's ``?deployment=``, whose
sessions run whatever model the deployment serves), the session starts with a default model that
the client may not have meant: the first ``session.update`` that names a model sets it (clients
such as the Agents SDKs name their model in every update). From then on a different model is
refused, as a model change always was. A transcription session has no conversation model, so the
lock concerns the realtime model only.

Both roles apply ``model_change``: the server with what its handshake said and the updates it
accepted, the client with what it was told at connection time and the updates it saw accepted.
"""

from __future__ import annotations

from .refusal import Invalid

__all__ = ["model_change"]


def model_change(current: str | None, requested: str | None, *, open_: bool, param: str) -> bool:
    """Whether an update naming ``requested`` sets the model; raise ``Invalid`` if it may not.

    ``open_`` says the session's model is still open (the URL named no model, or named a
    deployment, and no update has named one yet). An open model is set by any update that names
    one (even the same; then it is locked); a locked model refuses any other.
    """
    if open_:
        return True
    if requested != current:
        raise Invalid(
            "invalid_value",
            f"The model of a session cannot be changed (it is '{current}').",
            param,
        )
    return False
