"""Translation between the beta and GA dialects, for relays: pure, no I/O.

``Translator(client=..., server=...)`` translates one connection's events:
``client_event`` takes what the client sends (in its dialect) and gives what
the server's dialect writes for it, ``server_event`` the reverse. Each returns
a ``Translation``: the events to pass on and the ``Loss`` values of what had
no form in the other dialect (docs/protocol/relay.md#lossy-steps). A client
request that cannot be carried raises ``Untranslatable``, an ``Invalid`` with
the ``code`` and ``param`` of the ``error`` to answer it with.

The mapping is written down on docs/protocol/relay.md; the objects inside
events are reshaped by ``rtcore.translate.objects``, the events and the state
some rules need by ``rtcore.translate.translator``.
"""

from .losses import LOSS_KINDS, Loss, LossKind
from .objects import Untranslatable
from .translator import BETA_DEFAULT_TEMPERATURE, Translation, Translator

__all__ = [
    "BETA_DEFAULT_TEMPERATURE",
    "LOSS_KINDS",
    "Loss",
    "LossKind",
    "Translation",
    "Translator",
    "Untranslatable",
]
