"""The rules of an item a client creates, in each dialect.

Applied to ``conversation.item.create.item`` and to the items of ``response.create.response.input``
(docs/protocol/flows.md#item-create-errors, docs/protocol/ga.md#items):

* a message holds the parts its role may hold (``rtcore.rules.parts``);
* a ``function_call`` names its ``call_id``, ``name`` and ``arguments``; a
  ``function_call_output`` has its ``output``;
* GA only: an ``input_image`` is a PNG or JPEG data URI, an ``output_text``
  part has its ``text``;
* an item id, when given, is not empty.

What an item refers to (the call of an output, the anchor of an insert) is
conversation state: see ``rtcore.rules.conversation``.
"""

from __future__ import annotations

from .. import events as ev
from ..events import beta, ga
from .parts import check_parts
from .refusal import Invalid, missing

__all__ = ["check_beta_item", "check_ga_item"]

_IMAGE_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,")


def _check_function_items(
    item: ev.FunctionCallItem | ev.FunctionCallOutputItem | object, param: str
) -> None:
    if isinstance(item, ev.FunctionCallItem):
        for name in ("call_id", "name", "arguments"):
            if isinstance(getattr(item, name), ev.UnsetType):
                raise missing(f"{param}.{name}")
    elif isinstance(item, ev.FunctionCallOutputItem) and isinstance(item.output, ev.UnsetType):
        raise missing(f"{param}.output")


def _check_id(item_id: str | ev.UnsetType, param: str) -> None:
    if isinstance(item_id, str) and not item_id:
        raise Invalid("invalid_value", "Item ids cannot be empty.", f"{param}.id")


def check_beta_item(item: beta.Item, param: str, input_format: ev.AudioFormat) -> None:
    """A beta client's item (raises ``Invalid``)."""
    if isinstance(item, beta.MessageItem):
        check_parts(item, param, input_format, "beta")
    else:
        _check_function_items(item, param)
    _check_id(item.id, param)


def check_ga_item(item: ga.Item, param: str, input_format: ev.AudioFormat) -> None:
    """A GA client's item (raises ``Invalid``)."""
    if isinstance(item, ga.MessageItem):
        check_parts(item, param, input_format, "ga")
        assert not isinstance(item.content, ev.UnsetType)
        for i, part in enumerate(item.content):
            if isinstance(part, ga.InputImageContent):
                where = f"{param}.content[{i}].image_url"
                if not isinstance(part.image_url, str):
                    raise missing(where)
                if not part.image_url.startswith(_IMAGE_PREFIXES):
                    raise Invalid(
                        "invalid_value",
                        "Invalid image_url: expected a PNG or JPEG data URI"
                        " (data:image/png;base64,... or data:image/jpeg;base64,...).",
                        where,
                    )
            elif isinstance(part, ga.OutputTextContent) and not isinstance(part.text, str):
                raise missing(f"{param}.content[{i}].text")
    else:
        _check_function_items(item, param)
    _check_id(item.id, param)
