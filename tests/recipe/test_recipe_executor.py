"""The job runner behind ssl.sh: records, failures, links, jobs side by side (--max_jobs) in the
order of their `after`, signals passed on to every running launcher, and reruns: a changed option
or config, --force_stage, empty markers of earlier versions, inputs nobody makes. Queued jobs run
through the real local launcher (`python -m lamer.bin.launch --backend local`)."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamer.bin.plan import main as plan_main
from lamer.data.lock import OutputLocked
from lamer.recipe.executor import run_jobs, share
from lamer.recipe.graph import derive_after
from lamer.recipe.jobs import Job
from lamer.recipe.plan import PlanError

LOCAL = f"{sys.executable} -m lamer.bin.launch --backend local --max-jobs 2"
COMMANDS = {"train": LOCAL, "cuda": LOCAL, "decode": LOCAL}


def python_job(name: str, stage: int, code: str, nj: int = 1, after: tuple[str, ...] = ()) -> Job:
    argv = (sys.executable, "-c", code, *(("JOB",) if nj > 1 else ()))
    log = f"exp/logs/{name}.JOB.log" if nj > 1 else f"exp/logs/{name}.log"
    return Job(name, stage, "train", 0, nj, log, argv, after)


# a job that records when it ran (monotonic clock, shared by the processes of this machine)
TIMED = ("import sys, time; start = time.monotonic(); time.sleep({seconds}); "
         "open('times.{name}', 'w').write(f'{{start}} {{time.monotonic()}}')")


def timed_job(name: str, seconds: float, stage: int = 1, after: tuple[str, ...] = ()) -> Job:
    return python_job(name, stage, TIMED.format(seconds=seconds, name=name), after=after)


def times(name: str) -> tuple[float, float]:
    start, end = Path(f"times.{name}").read_text().split()
    return float(start), float(end)


def test_jobs_run_once_and_a_failure_stops_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write = "import sys, pathlib; pathlib.Path(f'out.{sys.argv[1]}').write_text('x')"
    jobs = [python_job("array", 1, write, nj=2),
            Job("table", 1, None, 0, 1, None, ("write", "exp/t/jobs.tsv", "a\tb\n")),
            python_job("fails", 2, "raise SystemExit(3)"),
            python_job("after", 2, "open('after', 'w')")]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 3
    assert Path("out.1").is_file() and Path("out.2").is_file()
    assert Path("exp/t/jobs.tsv").read_text() == "a\tb\n"
    assert sorted(p.name for p in Path("exp/.done").iterdir()) == ["array", "table"]
    assert not Path("after").exists()
    out = capsys.readouterr().out
    assert "fails: failed (exit 3) after" in out and "Stopped: fails failed (exit 3), see exp/logs/fails.log" in out
    Path("out.1").unlink()
    jobs[2] = python_job("fails", 2, "pass")
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 0
    out = capsys.readouterr().out
    assert "array: done already" in out and "table: done already" in out
    assert not Path("out.1").exists() and Path("after").exists()


def test_independent_jobs_run_side_by_side_and_wait_for_their_after(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jobs = [timed_job("a", 4), timed_job("b", 4), timed_job("e", 0.5),
            timed_job("c", 0.5, stage=2, after=("a", "b")),
            timed_job("d", 0.5, stage=2, after=("a",))]
    began = time.monotonic()
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), max_jobs=2) == 0
    took = time.monotonic() - began
    (a0, a1), (b0, b1), (c0, _), (d0, _), (e0, _) = (times(name) for name in "abcde")
    assert a0 < b1 and b0 < a1, "a and b did not overlap"
    assert e0 >= min(a1, b1), "three jobs ran at once"
    assert c0 >= max(a1, b1) and d0 >= a1
    # one after another, the sleeps alone take 9.5 s (and each launcher about a second more)
    assert took < 9, f"{took:.1f} s: no faster than one job after another"
    out = capsys.readouterr().out
    for name in "abcde":
        assert f"] {name}: started" in out and f"] {name}: done in " in out
    assert sorted(p.name for p in Path("exp/.done").iterdir()) == ["a", "b", "c", "d", "e"]


def test_a_stage_title_comes_when_its_first_job_starts(tmp_path, monkeypatch, capsys):
    """With --max_jobs 2 the stage-4 job starts while stage 1 runs, and stage 2's job after stage 1's:
    each title is logged right before its stage's first job starts (an empty stage's before the next
    stage's, or at the end), and every job line names its stage."""
    monkeypatch.chdir(tmp_path)
    jobs = [timed_job("a", 2), timed_job("b", 0.1, stage=2, after=("a",)), timed_job("c", 0.1, stage=4)]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 6), max_jobs=2) == 0
    lines = [line.split(None, 2)[2] for line in capsys.readouterr().out.splitlines()]  # without date and (ssl.sh)
    titles = [line for line in lines if line.startswith("Stage ")]
    assert titles == ["Stage 1: data preparation", "Stage 3: base model (nothing to do)", "Stage 4: replay samples",
                      "Stage 2: probe data and token list", "Stage 5: continual SSL training (nothing to do)"]
    for stage, job in ((1, "a"), (4, "c"), (2, "b")):
        title = next(t for t in titles if t.startswith(f"Stage {stage}:"))
        assert lines[lines.index(title) + 1] == f"[stage {stage}] {job}: started"
    stages = {"a": 1, "b": 2, "c": 4}
    job_lines = [line for line in lines if not line.startswith(("Stage ", "Finished "))]
    assert len(job_lines) == 6 and all(line.startswith(f"[stage {stages[line.split()[2][:-1]]}] ")
                                       for line in job_lines), job_lines


def test_one_job_at_a_time_keeps_the_listed_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    jobs = [timed_job("a", 0.2), timed_job("b", 0.2), timed_job("c", 0.2, stage=2)]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 0
    (_, a1), (b0, b1), (c0, _) = (times(name) for name in "abc")
    assert a1 <= b0 and b1 <= c0


def test_after_a_failure_nothing_starts_and_running_jobs_finish(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jobs = [timed_job("slow", 2), python_job("fails", 1, "raise SystemExit(3)"), timed_job("later", 0.1),
            timed_job("next", 0.1, stage=2, after=("slow",))]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), max_jobs=2) == 3
    assert Path("times.slow").is_file() and not Path("times.later").exists() and not Path("times.next").exists()
    assert sorted(p.name for p in Path("exp/.done").iterdir()) == ["slow"]
    out = capsys.readouterr().out
    assert "waiting for the running jobs to finish: slow" in out
    assert "Stopped: fails failed (exit 3), see exp/logs/fails.log" in out
    # the re-run skips what is done and runs the rest
    Path("times.slow").unlink()
    jobs[1] = python_job("fails", 1, "pass")
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), max_jobs=2) == 0
    assert "slow: done already" in capsys.readouterr().out
    assert not Path("times.slow").exists() and Path("times.later").is_file() and Path("times.next").is_file()


def test_jobs_listed_before_what_they_need_are_refused(tmp_path):
    jobs = [timed_job("b", 0, after=("a",)), timed_job("a", 0)]
    with pytest.raises(ValueError, match=r"job b needs \['a'\], which are not listed before it"):
        run_jobs(jobs, str(tmp_path / "exp"), COMMANDS, range(1, 2), max_jobs=2)


def test_share_links_to_the_resolved_source(tmp_path):
    src = tmp_path / "a" / "probe"
    with pytest.raises(FileNotFoundError, match="not there yet"):
        share(str(src), str(tmp_path / "b" / "probe"))
    src.mkdir(parents=True)
    share(str(src), str(tmp_path / "b" / "probe"))
    share(str(src), str(tmp_path / "b" / "probe"))  # again: replaces the link
    assert os.readlink(tmp_path / "b" / "probe") == str(src.resolve())
    (tmp_path / "c").mkdir()
    with pytest.raises(FileExistsError, match="not a link"):
        share(str(src), str(tmp_path / "c"))


def test_sigterm_reaches_every_running_job(tmp_path):
    """Killing the runner (ssl.sh execs it) stops every running launcher and its job: no orphan keeps
    running, and the job waiting for them does not start."""
    sleep = "import os, sys, time; open(f'pid.{sys.argv[1]}', 'w').write(str(os.getpid())); time.sleep(300)"
    script = (
        "import sys\n"
        "from lamer.recipe.executor import run_jobs\n"
        "from lamer.recipe.jobs import Job\n"
        f"jobs = [Job(n, 1, 'train', 0, 1, f'exp/logs/{{n}}.log', ({sys.executable!r}, '-c', {sleep!r}, n)) "
        "for n in ('one', 'two')]\n"
        f"jobs.append(Job('then', 1, 'train', 0, 1, 'exp/logs/then.log', ({sys.executable!r}, '-c', "
        "'open(\"then\", \"w\")'), ('one', 'two')))\n"
        f"sys.exit(run_jobs(jobs, 'exp', {{'train': {LOCAL!r}}}, range(1, 2), max_jobs=2))\n")
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = [tmp_path / "pid.one", tmp_path / "pid.two"]
    deadline = time.time() + 60
    while not all(p.is_file() and p.read_text() for p in pids) and time.time() < deadline:
        time.sleep(0.2)
    job_pids = [int(p.read_text()) for p in pids]
    os.kill(runner.pid, signal.SIGTERM)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode != 0, out
    assert not (tmp_path / "exp" / ".done").exists() or not any((tmp_path / "exp" / ".done").iterdir())
    assert not (tmp_path / "then").exists()
    deadline = time.time() + 10
    alive = set(job_pids)
    while alive and time.time() < deadline:
        for pid in list(alive):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive.discard(pid)
        time.sleep(0.2)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"jobs {sorted(alive)} outlived the runner"


def test_one_run_per_experiment_directory_naming_the_holder(tmp_path, monkeypatch, capsys):
    """While one run (ssl.sh execs the runner) works on exp/plan, a second and a third on it stop before
    any job, naming the first one's PID and host; once it has ended, the next run proceeds."""
    monkeypatch.chdir(tmp_path)
    wait = "import pathlib, time; pathlib.Path('started').touch(); time.sleep(300)"
    script = ("import sys\n"
              "from lamer.recipe.executor import run_jobs\n"
              "from lamer.recipe.jobs import Job\n"
              f"job = Job('slow', 8, 'train', 0, 1, 'exp/plan/logs/slow.log', ({sys.executable!r}, '-c', {wait!r}))\n"
              f"sys.exit(run_jobs([job], 'exp/plan', {{'train': {LOCAL!r}}}, range(8, 9)))\n")
    first = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not Path("started").is_file() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert Path("started").is_file(), "the first run never started its job"
        holder = f"exp/plan: being written by PID {first.pid} on {socket.gethostname()} (lock exp/.plan.lock)"
        with pytest.raises(OutputLocked, match=re.escape(holder)):
            run_jobs([python_job("second", 8, "open('second', 'w')")], "exp/plan", COMMANDS, range(8, 9))
        plan = Path(__file__).resolve().parents[2] / "egs2" / "mini_lamer" / "ssl1" / "conf" / "plan.yaml"
        commands = [arg for queue in ("train", "cuda", "decode") for arg in (f"--{queue}_cmd", LOCAL)]
        assert plan_main(["run", "--plan", str(plan), "--root", "x", "--stage", "8", *commands]) == 1
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"plan: error: {holder}"), err
        assert not Path("second").exists() and not Path("exp/plan/logs/expert_usage.log").exists()
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(60)
    assert run_jobs([python_job("second", 8, "open('second', 'w')")], "exp/plan", COMMANDS, range(8, 9)) == 0
    assert Path("second").is_file()


# Reruns: each job's .done record holds the spec it ran with. The jobs below are bookkeeping run in
# place (`write PATH TEXT`): the runner's logic, without launching a process per job.

def write_job(name: str, stage: int, text: str, reads: tuple[str, ...] = (), configs: tuple[str, ...] = ()) -> Job:
    """A job writing ``out/<name>`` (its output) that reads ``reads`` and ``configs``."""
    return Job(name, stage, None, 0, 1, None, ("write", f"out/{name}", text), (), (*configs, *reads),
               (f"out/{name}",), configs)


def chain(texts: dict[str, str] | None = None, configs: tuple[str, ...] = ()) -> list[Job]:
    """a -> b -> d (each reads the previous one's output), c on its own, e (stage 2) reads d."""
    texts = {name: name for name in "abcde"} | (texts or {})
    return derive_after([write_job("a", 1, texts["a"], configs=configs),
                         write_job("b", 1, texts["b"], ("out/a",)),
                         write_job("c", 1, texts["c"]),
                         write_job("d", 1, texts["d"], ("out/b",)),
                         write_job("e", 2, texts["e"], ("out/d",))])


def ran(out: str) -> set[str]:
    """The jobs that started in a run's log."""
    return {line.split()[4].rstrip(":") for line in out.splitlines() if line.endswith(": started")}


def test_derived_dependencies_order_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jobs = chain()
    assert [job.after for job in jobs] == [(), ("a",), (), ("b",), ("d",)]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 0
    assert ran(capsys.readouterr().out) == set("abcde")
    record = json.loads(Path("exp/.done/b").read_text(encoding="utf-8"))
    assert record["spec"] == {"argv": ["write", "out/b", "b"], "queue": None, "nj": 1, "gpus": 0, "configs": {}}
    assert record["upstream"] == {"a": json.loads(Path("exp/.done/a").read_text(encoding="utf-8"))["id"]}


def test_a_changed_option_reruns_its_job_and_the_jobs_after_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_jobs(chain(), "exp", COMMANDS, range(1, 3)) == 0
    capsys.readouterr()
    assert run_jobs(chain({"b": "B"}), "exp", COMMANDS, range(1, 3)) == 0
    out = capsys.readouterr().out
    assert ran(out) == {"b", "d", "e"}
    assert "] b: runs again: options changed (argv)" in out
    assert "] d: runs again: upstream b reran" in out and "] e: runs again: upstream d reran" in out
    assert "] a: done already" in out and "] c: done already" in out
    assert Path("out/b").read_text() == "B"
    assert run_jobs(chain({"b": "B"}), "exp", COMMANDS, range(1, 3)) == 0
    assert ran(capsys.readouterr().out) == set()


def test_a_changed_config_reruns_its_job(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("conf.yaml").write_text("lr: 1\n")
    assert run_jobs(chain(configs=("conf.yaml",)), "exp", COMMANDS, range(1, 3)) == 0
    Path("conf.yaml").write_text("lr: 2\n")
    capsys.readouterr()
    assert run_jobs(chain(configs=("conf.yaml",)), "exp", COMMANDS, range(1, 3)) == 0
    out = capsys.readouterr().out
    assert "] a: runs again: config conf.yaml changed" in out and ran(out) == {"a", "b", "d", "e"}


def test_a_stale_job_starts_afresh(tmp_path, monkeypatch, capsys):
    """Its earlier outputs are removed first (a trainer would resume a finished training); a job that
    never finished keeps them (it resumes)."""
    monkeypatch.chdir(tmp_path)
    keep = "import os, sys; os.makedirs('out/t', exist_ok=True); open('out/t/' + sys.argv[1], 'w')"
    trainer = Job("t", 1, "train", 0, 1, "exp/logs/t.log", (sys.executable, "-c", keep, "one"), (), (), ("out/t",))
    Path("out/t").mkdir(parents=True)
    Path("out/t/checkpoint").write_text("x")  # a killed run's
    assert run_jobs([trainer], "exp", COMMANDS, range(1, 2)) == 0
    assert sorted(p.name for p in Path("out/t").iterdir()) == ["checkpoint", "one"]
    capsys.readouterr()
    changed = dataclasses.replace(trainer, argv=(*trainer.argv[:3], "two"))
    assert run_jobs([changed], "exp", COMMANDS, range(1, 2)) == 0
    assert "] t: removed its earlier outputs: out/t" in capsys.readouterr().out
    assert sorted(p.name for p in Path("out/t").iterdir()) == ["two"]


def test_force_stage_reruns_the_stage_and_what_follows_from_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jobs = chain()
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 0
    capsys.readouterr()
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), force_stage=2) == 0
    out = capsys.readouterr().out
    assert ran(out) == {"e"} and "] e: runs again: forced (--force_stage 2)" in out
    jobs = [dataclasses.replace(job, stage=2) if job.name == "d" else job for job in jobs]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), force_stage=2) == 0
    assert ran(capsys.readouterr().out) == {"d", "e"}
    with pytest.raises(PlanError, match=r"--force_stage 3: not a stage of this run \(1-2\)"):
        run_jobs(jobs, "exp", COMMANDS, range(1, 3), force_stage=3)


def test_empty_markers_of_earlier_versions_count_as_done(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("exp/.done").mkdir(parents=True)
    for name in "abd":
        Path(f"exp/.done/{name}").touch()
    assert run_jobs(chain(), "exp", COMMANDS, range(1, 3)) == 0
    out = capsys.readouterr().out
    assert ran(out) == {"c", "e"} and "] a: done already" in out
    assert out.count("the empty .done marker of an earlier version") == 1
    # they record no options: a changed one is not seen, a forced stage reruns them
    assert run_jobs(chain({"a": "A"}), "exp", COMMANDS, range(1, 3)) == 0
    assert ran(capsys.readouterr().out) == set()
    assert run_jobs(chain({"a": "A"}), "exp", COMMANDS, range(1, 3), force_stage=1) == 0
    assert ran(capsys.readouterr().out) == set("abcde")


def test_a_job_rerun_since_makes_the_jobs_after_it_stale(tmp_path, monkeypatch, capsys):
    """A run of stage 1 alone reruns d; the next run of stage 2 finds e ran after d's earlier run."""
    monkeypatch.chdir(tmp_path)
    assert run_jobs(chain(), "exp", COMMANDS, range(1, 3)) == 0
    assert run_jobs(chain({"d": "D"}), "exp", COMMANDS, range(1, 2)) == 0
    capsys.readouterr()
    assert run_jobs(chain({"d": "D"}), "exp", COMMANDS, range(2, 3)) == 0
    out = capsys.readouterr().out
    assert ran(out) == {"e"} and "] e: runs again: upstream d reran since" in out


def test_an_input_nobody_makes_stops_the_run_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    jobs = derive_after([write_job("a", 1, "a", ("out/typo",)), write_job("b", 1, "b")])
    with pytest.raises(PlanError, match=r"^job a reads out/typo, which is not there and which no job makes"):
        run_jobs(jobs, "exp", COMMANDS, range(1, 2))
    assert not Path("exp").exists() and not Path("out").exists()
    Path("out").mkdir()
    Path("out/typo").write_text("made by hand")
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 2)) == 0


def test_an_input_of_an_earlier_stage_must_be_done(tmp_path, monkeypatch):
    """An input that is not there may come from a job outside the run only if that job is done."""
    monkeypatch.chdir(tmp_path)
    jobs = chain()
    with pytest.raises(PlanError, match=r"^job e reads out/d, which is not there: job d \(stage 1\) makes it and "
                                        r"is not done; run stage 1 first"):
        run_jobs(jobs, "exp", COMMANDS, range(2, 3))
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 2)) == 0
    Path("out/d").unlink()  # done, its output gone: the run goes on (as before records existed)
    assert run_jobs(jobs, "exp", COMMANDS, range(2, 3)) == 0


def test_a_changed_replay_share_in_the_plan_reruns_the_ssl_steps_and_the_steps_after_them(tmp_path, monkeypatch,
                                                                                          capsys):
    """The two-stage near plan, every job recorded as done; then the plan's replay.share changes.
    `plan jobs --status true` (ssl.sh --list true) says why: the SSL steps' specs changed, so the SSL training
    and every step after it run again, the steps before them stay done. The specs rewritten, the
    SSL training of s1 finds its spec changed since it ran, and its spec holds the new share."""
    from lamer.recipe.executor import job_states
    from lamer.recipe.jobs import RecipeOptions, recipe_graph
    from lamer.recipe.plan import load_plan
    from lamer.ssl.train_spec import read_train_spec

    demo = Path(__file__).resolve().parents[2] / "egs2" / "mini_lamer" / "ssl1"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    for name in ("conf/ssl", "conf/lamer", "conf/probe", "base_model_near"):
        (tmp_path / name).symlink_to(demo / name)
    text = (demo / "conf" / "plan_near.yaml").read_text(encoding="utf-8")  # two stages
    assert "share: 0.2}" in text
    plan = tmp_path / "conf" / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    jobs = recipe_graph(load_plan(plan), RecipeOptions(root="corpus"))
    records, specs, _ = job_states(jobs, "exp/plan")
    for job in jobs:  # as a finished run leaves them
        records.write(job, specs[job.name])
    plan.write_text(text.replace("share: 0.2}", "share: 0.5}"), encoding="utf-8")
    assert plan_main(["jobs", "--plan", str(plan), "--root", "corpus", "--status", "true"]) == 0
    status = {job["name"]: (job["status"], job["why"]) for job in map(json.loads, capsys.readouterr().out.splitlines())}
    assert status["ssl_s1_spec"] == status["ssl_s2_spec"] == ("stale", "options changed (argv)")
    assert status["ssl_s1"] == ("stale", "upstream ssl_s1_spec runs")
    assert status["ssl_s2"][0] == "stale" and "upstream ssl_s2_spec runs" in status["ssl_s2"][1]
    after = {"probe_s1", "probe_s2", "targets_s2_split", "decode", "score_fixed_s2", "results_retrained",
             "report_fixed", "expert_usage"}
    assert all(status[name][0] == "stale" for name in after)
    before = {name for name in status if name.startswith(("data", "probe_t", "probe_d", "tokens", "base_model",
                                                          "replay_", "targets_s1", "method_config", "probe_base"))}
    assert len(before) == 24 and all(status[name] == ("done", "") for name in before)
    # the decoding table names the same models: the only step after stage 4 that stays done
    assert {name for name, (state, _) in status.items() if state == "done"} == before | {"decode_jobs"}
    changed = recipe_graph(load_plan(plan), RecipeOptions(root="corpus"))
    assert run_jobs([job for job in changed if job.name.endswith("_spec")], "exp/plan", COMMANDS, range(5, 6)) == 0
    assert read_train_spec("exp/plan/config/ssl_s1.json").replay.share == 0.5
    assert job_states(changed, "exp/plan")[2]["ssl_s1"].why() == "upstream ssl_s1_spec reran since"
