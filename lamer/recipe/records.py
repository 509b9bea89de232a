"""The ``.done`` records of a recipe's jobs: what each finished job ran with, so that a rerun tells
a job that is done from one whose options changed since (make-style).

A record (``exp/<tag>/.done/<job>``, JSON, written atomically when the job succeeds) holds the
job's spec (argv, queue, nj, gpus and the SHA-256 of the config files it reads), the ids of the
records of the jobs it waited for, as they were when it ran, and its own id (new at every run).
A job is

- ``done`` when its record holds the spec it would run with now, the jobs it waits for have
  the records it ran after, and none of them runs in this run;
- ``stale`` when it has a record but one of those differs (the reasons say which), its stage is
  forced (``--force_stage``) or a job it waits for runs again: it runs again;
- ``to run`` without a record (never finished: a failed or killed job resumes).

An empty file is the marker of an earlier version, which recorded nothing: it counts as done
(its options cannot be compared) unless its stage is forced or a job it waits for runs again.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lamer.atomic import write_json_atomic
from lamer.checksum import file_sha256
from lamer.layout import Layout
from lamer.recipe.jobs import Job

DONE, STALE, TO_RUN = "done", "stale", "to run"
SPEC_KEYS = ("argv", "queue", "nj", "gpus")  # besides the configs' hashes
LEGACY_ID = ""  # the id of an earlier version's empty marker


def config_hashes(jobs: Iterable[Job]) -> dict[str, str | None]:
    """SHA-256 of every config file the jobs read (None for one that is not there)."""
    paths = dict.fromkeys(path for job in jobs for path in job.configs)
    return {path: file_sha256(path) if Path(path).is_file() else None for path in paths}


def job_spec(job: Job, hashes: Mapping[str, str | None]) -> dict:
    """What a job's record compares: its command (without the values of its ``runtime`` options), how
    it runs, and its configs' hashes."""
    argv = list(job.argv)
    for i, token in enumerate(job.argv[:-1]):
        if token in job.runtime:
            argv[i + 1] = None
    return {"argv": argv, "queue": job.queue, "nj": job.nj, "gpus": job.gpus,
            "configs": {path: hashes[path] for path in job.configs}}


@dataclass(frozen=True)
class Record:
    """A finished job's record; ``spec`` None for an earlier version's empty marker (or a record that
    cannot be read: ``unreadable`` says so)."""

    id: str
    spec: dict | None = None
    upstream: dict[str, str | None] = field(default_factory=dict)
    unreadable: bool = False


class Records:
    """The records of one experiment (``Layout.done_dir``), each read once, kept up to date as jobs
    finish in this run."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self._read: dict[str, Record | None] = {}

    def get(self, name: str) -> Record | None:
        if name not in self._read:
            self._read[name] = self._load(Path(self.layout.done(name)))
        return self._read[name]

    @staticmethod
    def _load(path: Path) -> Record | None:
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            return Record(LEGACY_ID)
        try:
            raw = json.loads(text)
            return Record(str(raw["id"]), dict(raw["spec"]), dict(raw["upstream"]))
        except (ValueError, KeyError, TypeError):
            return Record(LEGACY_ID, unreadable=True)

    def current_id(self, name: str) -> str | None:
        record = self.get(name)
        return None if record is None else record.id

    def write(self, job: Job, spec: dict) -> None:
        """Record ``job`` as finished with ``spec``, after the jobs it waited for as they are now."""
        record = Record(uuid.uuid4().hex, spec, {name: self.current_id(name) for name in job.after})
        write_json_atomic(self.layout.done(job.name), {
            "id": record.id, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "spec": record.spec,
            "upstream": record.upstream})
        self._read[job.name] = record

    def forget(self, name: str) -> None:
        """Remove a job's record (it runs again: until it succeeds, it is not done)."""
        Path(self.layout.done(name)).unlink(missing_ok=True)
        self._read[name] = None


def spec_changes(recorded: dict, spec: dict) -> list[str]:
    """Why a recorded spec is not ``spec``: the options that changed, then each config that did."""
    changed = [key for key in SPEC_KEYS if recorded.get(key) != spec[key]]
    reasons = [f"options changed ({', '.join(changed)})"] if changed else []
    old = recorded.get("configs") or {}
    for path, digest in spec["configs"].items():
        if digest is None:
            reasons.append(f"config {path} is missing")
        elif old.get(path) != digest and path in old:
            reasons.append(f"config {path} changed")
    return reasons


def own_reasons(job: Job, record: Record | None, spec: dict, force_stage: int | None) -> list[str]:
    """Why ``job`` runs again whatever the other jobs do: its stage is forced, its record cannot be
    read or holds another spec (empty: it need not)."""
    reasons = [f"forced (--force_stage {force_stage})"] if job.stage == force_stage else []
    if record is not None and record.unreadable:
        reasons.append("its record cannot be read")
    elif record is not None and record.spec is not None:
        reasons += spec_changes(record.spec, spec)
    return reasons


@dataclass(frozen=True)
class State:
    """A job's status before a run (DONE, STALE or TO_RUN) and why: its own reasons, the jobs it
    waits for that run in this run (``runs``) and those that ran again since it ran (``since``)."""

    status: str
    own: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    since: tuple[str, ...] = ()

    def why(self, verbs: Mapping[str, str] | None = None) -> str:
        """The reasons, one line; ``verbs``: what each upstream job of ``runs`` did (default: runs)."""
        verbs = verbs or {}
        return "; ".join([*self.own, *(f"upstream {name} {verbs.get(name, 'runs')}" for name in self.runs),
                          *(f"upstream {name} reran since" for name in self.since)])


def plan_states(jobs: Sequence[Job], records: Records, specs: Mapping[str, dict],
                force_stage: int | None) -> dict[str, State]:
    """The state of every job of a run (``jobs``, in their order): a job with a record is stale when
    it has reasons of its own, when a job it waits for runs in this run, or when one has another
    record than the one it ran after."""
    states: dict[str, State] = {}
    for job in jobs:
        record = records.get(job.name)
        if record is None:
            states[job.name] = State(TO_RUN)
            continue
        own = own_reasons(job, record, specs[job.name], force_stage)
        runs = tuple(name for name in job.after if name in states and states[name].status != DONE)
        since = () if record.spec is None else tuple(
            name for name in job.after if name not in runs and record.upstream.get(name) != records.current_id(name))
        states[job.name] = State(STALE if own or runs or since else DONE, tuple(own), runs, since)
    return states
