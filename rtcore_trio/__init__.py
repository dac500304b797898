"""rtcore_trio: the trio adapter for rtcore, and the ``rtcore`` command line.

It moves bytes between trio streams and rtcore's sans-IO connections; every
protocol rule lives in ``rtcore``.
"""

__all__: list[str] = []
