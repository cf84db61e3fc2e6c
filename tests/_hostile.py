"""Tally of the hostile-input suites (issue 13): cases tried, clean errors, accepted and correct.

Each ``test_hostile_*`` module holds one :class:`Tally`; every case goes through
:meth:`Tally.rejects` (must raise an ``MTJExploreError`` whose message holds one of the expected
phrases) or :meth:`Tally.accepts` (must return, and the result must pass the module's check).
Anything else -- a raw Python error, a hang, a wrong result -- fails the test. At the end of the
module the counts are printed (``pytest -s``) and, when ``MTJX_HOSTILE_TALLY`` names a folder,
written there as ``<suite>.json``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from mtjexplore.errors import MTJExploreError


class Tally:
    """Counts of one suite's cases."""

    def __init__(self, suite):
        self.suite, self.counts = suite, Counter()

    def rejects(self, call, *phrases, error=MTJExploreError):
        """``call()`` must raise ``error`` naming one of ``phrases``; returns the message."""
        self.counts["tried"] += 1
        try:
            call()
        except error as exc:
            text = str(exc)
        else:
            raise AssertionError(f"{self.suite}: accepted, expected an error with one of {phrases}")
        assert not phrases or any(p in text for p in phrases), f"expected one of {phrases}; got {text}"
        self.counts["clean errors"] += 1
        return text

    def accepts(self, call, check=None):
        """``call()`` must return a result for which ``check(result)`` holds; returns it."""
        self.counts["tried"] += 1
        result = call()
        if check is not None:
            assert check(result), f"{self.suite}: accepted with a wrong result"
        self.counts["accepted and correct"] += 1
        return result

    def outcome(self, call, check, *phrases):
        """Either a clean error naming one of ``phrases`` or a correct result; returns which."""
        try:
            self.accepts(call, check)
            return "accepted"
        except MTJExploreError as exc:
            assert not phrases or any(p in str(exc) for p in phrases), f"unexpected message: {exc}"
            self.counts["clean errors"] += 1
            return "rejected"

    def report(self):
        """Print the counts (and write them to ``$MTJX_HOSTILE_TALLY/<suite>.json``)."""
        counts = {k: self.counts[k] for k in ("tried", "clean errors", "accepted and correct")}
        assert counts["tried"] == counts["clean errors"] + counts["accepted and correct"]
        print(f"\nhostile {self.suite}: {counts['tried']} cases tried, {counts['clean errors']} "
              f"clean errors, {counts['accepted and correct']} accepted and correct")
        folder = os.environ.get("MTJX_HOSTILE_TALLY")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / f"{self.suite}.json").write_text(json.dumps(counts))
        return counts


def hypothesis_settings(max_examples):
    """The suites' hypothesis settings: derandomized (same cases every run), no deadline."""
    from hypothesis import HealthCheck, settings

    return settings(max_examples=max_examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def report_fixture(tally):
    """A module-scoped autouse fixture that reports ``tally`` after the module's tests."""
    @pytest.fixture(scope="module", autouse=True)
    def _report():
        yield
        tally.report()

    return _report
