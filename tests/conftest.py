"""Fixtures shared by several test packages, registered once so that a session builds each once:
the probe's tiny upstream, tone corpus and trained probes (tests/probe, tests/runtime, tests/eval)
and the mini ablation on disk (tests/ablation, tests/eval)."""
pytest_plugins = ["tests.probe.fixtures", "tests.ablation.fixtures"]
