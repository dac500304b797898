"""The protocol's rules, each written once, for both roles and both dialects.

Layered between ``rtcore.state`` (what a session holds) and the role machines
(``rtcore.client``, ``rtcore.server``): the server applies a rule to refuse a
request, the client to refuse sending it, and both get the same ``code`` and
``param`` (``refusal.Invalid``). One module per kind of rule:

* ``refusal`` - ``Invalid`` and its common shapes;
* ``ranges`` - the value ranges of numeric settings;
* ``defaults`` - the default session (``default_session``), voice, speed,
  formats, VAD, transcription model;
* ``catalog`` - transcription models and MCP connectors by name;
* ``turn_detection`` - beta and GA shapes of turn detection, its defaults and ranges;
* ``voice`` - the voice lock;
* ``model`` - the model lock (set once by the URL or the first update naming one);
* ``parts`` - the content parts by role and dialect;
* ``items`` - the rules of a client's item in each dialect (function-call fields, ids, images);
* ``conversation`` - rules that read the conversation (items named, truncation, deletion,
  references);
* ``event_id`` - the length of a client ``event_id``;
* ``audio`` - whole samples of the input format;
* ``requests`` - which requests a session takes (its kind, the transport, responses running);
* ``reading``, ``beta_read``, ``ga_read`` - a request read into the neutral
  vocabulary, with the dialect's rules (the validation half of an edge);
* ``session_update`` - the rules of session settings and response overrides, and the merge;
* ``wire_items`` - an item written as each dialect's item object.
"""
