"""The cost of ``import rtcore`` against the cost of importing its dependencies alone.

Each repeat starts two fresh interpreters, alternating which goes first: one
imports ``rtcore``, the other imports exactly the third-party modules that
``import rtcore`` loads (msgspec, pyrsistent, wsproto, numpy, pybase64 and
what they bring along, found by a probe run rather than listed by hand, so
that a dependency added or made lazy later is counted as it is). Each
interpreter times its own import statements with ``perf_counter``, so the
interpreter's start-up, the same for both, is left out of the ratio. Both
import from bytecode, as an installed package does: the caches are written to
a temporary ``PYTHONPYCACHEPREFIX`` by a first run of each (so the checkout
stays clean, and ``PYTHONDONTWRITEBYTECODE`` in the environment does not turn
the measurement into one of the compiler). The goal (issue 17): rtcore's
import costs at most 1.5 times that of its dependencies, i.e. rtcore's own
modules add at most half again.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .harness import Result

GOAL = 1.5

_ROOT = Path(__file__).resolve().parent.parent
"""The checkout whose ``rtcore`` the parent process imports; the children import the same."""

_PROBE = """
import importlib, json, sys, time
names = json.loads(sys.argv[1])
before = set(sys.modules)
start = time.perf_counter()
for name in names:
    importlib.import_module(name)
elapsed = time.perf_counter() - start
third_party = [
    m for m in sys.modules
    if m not in before
    and m.split(".")[0] not in sys.stdlib_module_names
    and m.split(".")[0] != "rtcore"
]
print(json.dumps({"seconds": elapsed, "third_party": third_party}))
"""


def _run(names: list[str], cache: str) -> dict[str, object]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(names)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=_ROOT,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def dependencies(cache: str) -> list[str]:
    """The third-party modules a fresh ``import rtcore`` loads, in the order it loads them."""
    found = _run(["rtcore"], cache)["third_party"]
    assert isinstance(found, list)
    return [str(m) for m in found]


def measure(repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="rtcore-pycache-") as cache:
        return _measure(repeats, cache)


def _measure(repeats: int, cache: str) -> dict[str, object]:
    deps = dependencies(cache)  # also writes the bytecode caches of both runs
    _run(deps, cache)
    ratios: list[float] = []
    subject: list[float] = []
    baseline: list[float] = []
    for i in range(repeats):
        order = (["rtcore"], deps) if i % 2 else (deps, ["rtcore"])
        times = {}
        for names in order:
            seconds = _run(names, cache)["seconds"]
            assert isinstance(seconds, float)
            times["rtcore" if names == ["rtcore"] else "deps"] = seconds
        subject.append(times["rtcore"])
        baseline.append(times["deps"])
        ratios.append(times["rtcore"] / times["deps"])
    return {
        "ratios": ratios,
        "subject_s": subject,
        "baseline_s": baseline,
        "packages": sorted({m.split(".")[0] for m in deps}),
        "modules": len(deps),
    }


def run(quick: bool = False) -> list[Result]:
    m = measure(7 if quick else 21)
    ratios = m["ratios"]
    assert isinstance(ratios, list)
    subject, baseline = m["subject_s"], m["baseline_s"]
    assert isinstance(subject, list) and isinstance(baseline, list)
    q = statistics.quantiles(ratios, n=4)
    ratio = statistics.median(ratios)
    packages = m["packages"]
    assert isinstance(packages, list)
    return [
        Result(
            suite="import",
            name=f"fresh interpreter ({', '.join(packages)})",
            subject="import rtcore",
            baseline="import its dependencies",
            ratio=ratio,
            spread=(q[0], q[-1]),
            subject_value=statistics.median(subject) * 1e6,
            baseline_value=statistics.median(baseline) * 1e6,
            goal=f"<= {GOAL} x its dependencies",
            ok=ratio <= GOAL,
            extra={k: v for k, v in m.items() if k != "ratios"},
        )
    ]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
