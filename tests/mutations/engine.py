"""The mutation engine shared by tests/mutations/run.py (the core algorithm and models) and
tests/emulation/mutations.py (the CUDA code on the emulated device); tests/mutations/README.md.

A mutation plants one bug: it replaces a text that occurs exactly once in one file of a copy of the
source tree. The engine keeps that copy in a work directory (the tracked and untracked files that
git does not ignore, synchronised by content so that a rebuild recompiles only what changed since
the last run), configures it once, builds the targets the chosen mutations need, runs every test
they are judged by once unmutated (the baseline), then for each mutation: edits the file, rebuilds
its targets, runs its tests with a timeout, and restores the file. Verdicts:

    caught        a test failed, crashed or timed out (the first failing test is named)
    SURVIVED      every test passed
    equivalent    every test passed and the mutation is marked equivalent, with the reason
    BUILD FAILED  the mutated copy does not compile (an error in the list: a mutation must build;
                  a list may count it as caught instead, as the emulation's does)
    BASELINE      a test it is judged by fails (or runs no test) without the mutation: not run

Python 3 standard library only. Never part of the product: nothing here is installed or built
into the library.
"""
import argparse
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Callable, List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --- what a mutation is judged by ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Check:
    """One test run: a GoogleTest binary with a filter, Python unittest names, or a ctest regex."""
    kind: str                     # "gtest", "python" or "ctest"
    target: str                   # binary (relative to the build) / script (relative to the source)
    select: str                   # gtest filter / space-separated unittest names / ctest regex

    @property
    def label(self) -> str:
        if self.kind == "gtest":
            return f"{os.path.basename(self.target)} --gtest_filter={self.select}"
        if self.kind == "python":
            return f"{os.path.basename(self.target)} {self.select}".strip()
        return f"ctest -R '{self.select}'"


def gtest(filter_: str, binary: str = "tests/rnnlyap_tests") -> Check:
    return Check("gtest", binary, filter_)


def python_tests(*names: str, script: str = "tests/python/test_bindings.py") -> Check:
    return Check("python", script, " ".join(names))


def ctest(regex: str) -> Check:
    return Check("ctest", "", regex)


@dataclasses.dataclass
class Mutation:
    name: str
    cls: str                      # the kind of bug
    path: str                     # file, relative to the source root
    text: str                     # occurs exactly once in the file
    repl: str
    checks: Optional[List[Check]] = None     # None: the list's default checks
    targets: Optional[List[str]] = None      # None: the list's default targets
    quick: bool = False           # in the --quick subset
    equivalent: Optional[str] = None          # why surviving is right (a known-equivalent bug)


@dataclasses.dataclass
class Config:
    description: str
    default_work: str
    cmake_args: List[str]
    default_targets: List[str]
    default_checks: List[Check] = dataclasses.field(default_factory=list)
    env: dict = dataclasses.field(default_factory=dict)
    python_targets: List[str] = dataclasses.field(default_factory=lambda: ["_rnnlyap"])
    build_failure_caught: bool = False   # a mutation that does not compile counts as caught
    annotate: Optional[Callable[[str], str]] = None   # extra words for a catch, from its log
    timeout: Optional[int] = None        # seconds per check; None: from the baseline's time
    rebuild_at_end: bool = False         # leave the work build unmutated afterwards
    has_quick: bool = False


# --- running things ----------------------------------------------------------------------------


def run_logged(cmd: Sequence[str], cwd: str, log: str, env=None, timeout=None, append=True):
    """Runs cmd with its output appended to log; returns (exit status, seconds). 124: timed out.
    The command runs in a process group of its own, killed whole on a timeout or an interrupt."""
    t0 = time.time()
    with open(log, "a" if append else "w") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        p = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            code = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = 124
            out.write(f"\n[mutations] timed out after {timeout} s\n")
        except BaseException:
            _kill_group(p)
            raise
        _kill_group(p)  # children left behind (a test's program it started)
    return code, time.time() - t0


def _kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def sync_tree(dst: str) -> int:
    """Makes dst a copy of the tracked and untracked, not ignored, files of the source tree. Files
    whose content is unchanged are left alone (their build outputs stay valid); changed ones are
    rewritten (a new modification time: they are rebuilt); files no longer in the tree removed.
    Returns the number of files written."""
    listing = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                             check=True, capture_output=True).stdout.decode()
    keep, written = set(), 0
    for rel in filter(None, listing.split("\0")):
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue  # deleted in the work tree, not yet in git
        keep.add(os.path.normpath(rel))
        out = os.path.join(dst, rel)
        with open(src, "rb") as f:
            data = f.read()
        if os.path.isfile(out) and not os.path.islink(out):
            with open(out, "rb") as f:
                if f.read() == data:
                    continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if os.path.lexists(out):
            os.remove(out)
        with open(out, "wb") as f:
            f.write(data)
        shutil.copymode(src, out)
        written += 1
    for d, _, names in os.walk(dst):
        for n in names:
            rel = os.path.normpath(os.path.relpath(os.path.join(d, n), dst))
            if rel not in keep:
                os.remove(os.path.join(d, n))
    return written


def _write(path: str, text: str):
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


# --- reading test output -----------------------------------------------------------------------

_GTEST_FAILED = re.compile(r"^\[  FAILED  \] (\S+?)(?:, where GetParam\(\) = .*)?(?: \(\d+ ms\))?$")
_GTEST_COUNT = re.compile(r"^\[==========\] (\d+) tests? from \d+ test suites? ran")
_PY_FAILED = re.compile(r"^(?:FAIL|ERROR): (\w+) \(([\w.]+)\)")
_PY_COUNT = re.compile(r"^Ran (\d+) tests?")
_CTEST_FAILED = re.compile(r"^\s*\d+ - (\S+) \(")


def failed_tests(check: Check, text: str) -> List[str]:
    names: List[str] = []
    for line in text.splitlines():
        if check.kind == "gtest":
            m = _GTEST_FAILED.match(line)
            if m and m.group(1) not in names:
                names.append(m.group(1))
        elif check.kind == "python":
            m = _PY_FAILED.match(line)
            if m:  # "test (module.Class)", or "test (module.Class.test)" from Python 3.11 on
                parts = m.group(2).split(".")
                if parts[-1] == m.group(1) and len(parts) > 1:
                    parts.pop()
                name = f"{parts[-1]}.{m.group(1)}"
                if name not in names:
                    names.append(name)
        else:
            m = _CTEST_FAILED.match(line)
            if m and m.group(1) not in names:
                names.append(m.group(1))
    return names


def tests_ran(check: Check, text: str) -> Optional[int]:
    pattern = {"gtest": _GTEST_COUNT, "python": _PY_COUNT}.get(check.kind)
    if pattern is None:
        return None
    counts = [int(m.group(1)) for m in map(pattern.match, text.splitlines()) if m]
    return sum(counts) if counts else 0


# --- the engine ------------------------------------------------------------------------------


class Engine:
    def __init__(self, cfg: Config, args):
        self.cfg, self.args = cfg, args
        self.work = os.path.abspath(args.work)
        self.src = os.path.join(self.work, "src")
        self.build = os.path.join(self.work, "build")
        self.jobs = str(args.jobs)
        self.python = True
        self.env = dict(os.environ, **cfg.env)

    def checks(self, m: Mutation) -> List[Check]:
        cs = m.checks if m.checks is not None else self.cfg.default_checks
        return [c for c in cs if self.python or c.kind != "python"]

    def targets(self, m: Mutation) -> List[str]:
        ts = list(m.targets if m.targets is not None else self.cfg.default_targets)
        if self.python and any(c.kind == "python" for c in self.checks(m)):
            ts += [t for t in self.cfg.python_targets if t not in ts]
        return ts

    def log(self, name: str) -> str:
        return os.path.join(self.work, name)

    def configure(self) -> bool:
        args = ["cmake", "-S", self.src, "-B", self.build] + self.cfg.cmake_args
        if not os.path.exists(os.path.join(self.build, "CMakeCache.txt")) and shutil.which("ninja"):
            args += ["-G", "Ninja"]
        code, _ = run_logged(args, self.work, self.log("configure.log"), append=False)
        if code != 0:
            return False
        text = _read(self.log("configure.log"))
        self.python = "rnnlyap: Python module ON" in text
        return True

    def build_targets(self, targets: Sequence[str], log: str) -> bool:
        code, _ = run_logged(["cmake", "--build", self.build, "-j", self.jobs, "--target", *targets],
                             self.work, log)
        return code == 0

    def command(self, c: Check):
        env = dict(self.env)
        if c.kind == "gtest":
            cmd = [os.path.join(self.build, c.target), f"--gtest_filter={c.select}"]
            if not self.args.all_tests:
                cmd.append("--gtest_fail_fast")
            return cmd, os.path.dirname(os.path.join(self.build, c.target)), env
        if c.kind == "python":
            env["PYTHONPATH"] = os.path.join(self.build, "python")
            cmd = [self.args.python, os.path.join(self.src, c.target)] + c.select.split()
            if not self.args.all_tests:
                cmd.append("--failfast")
            return cmd, self.build, env
        cmd = ["ctest", "--output-on-failure", "--no-tests=error", "-R", c.select]
        return cmd, self.build, env

    def run_check(self, c: Check, log: str, timeout):
        cmd, cwd, env = self.command(c)
        start = os.path.getsize(log) if os.path.exists(log) else 0
        code, secs = run_logged(cmd, cwd, log, env=env, timeout=timeout)
        with open(log, errors="replace") as f:
            f.seek(start)
            text = f.read()
        return code, secs, text

    def timeout_for(self, c: Check) -> int:
        if self.args.timeout:
            return self.args.timeout
        if self.cfg.timeout:
            return self.cfg.timeout
        # Three times the unmutated run, at least a minute: a mutation that makes a test loop or
        # crawl is caught by the timeout without holding the whole run for long.
        return int(max(60, 3 * self.baseline_secs.get(c, 60)))

    def baseline(self, chosen: List[Mutation]):
        """Runs each check once unmutated; returns {check: problem or None}."""
        self.baseline_secs = {}
        problems = {}
        distinct = []
        for m in chosen:
            for c in self.checks(m):
                if c not in distinct:
                    distinct.append(c)
        log = self.log("baseline.log")
        _write(log, "")
        self.unmatched_patterns(distinct)
        for i, c in enumerate(distinct):
            code, secs, text = self.run_check(c, log, self.args.timeout or self.cfg.timeout or 1800)
            self.baseline_secs[c] = secs
            ran = tests_ran(c, text)
            if code == 124:
                problems[c] = "timed out"
            elif c.kind == "python" and code == 77:
                problems[c] = "skipped (exit 77: " + (text.strip().splitlines() or ["?"])[-1] + ")"
            elif code != 0:
                names = failed_tests(c, text)
                problems[c] = ("fails: " + ", ".join(names)) if names else f"exits {code}"
            elif ran == 0:
                problems[c] = "runs no test (a renamed test, or a filter that matches nothing)"
            else:
                problems[c] = None
            state = problems[c] or f"passes ({ran if ran is not None else '?'} tests)"
            print(f"  baseline {i + 1}/{len(distinct)}: {state:40.40} {secs:6.0f} s  {c.label}",
                  flush=True)
        return problems

    def unmatched_patterns(self, checks: List[Check]):
        """Notes each positive pattern of a gtest filter that names no test (a renamed test)."""
        seen = set()
        for c in checks:
            if c.kind != "gtest":
                continue
            exe = os.path.join(self.build, c.target)
            for pattern in c.select.split("-")[0].split(":"):
                if not pattern or (exe, pattern) in seen:
                    continue
                seen.add((exe, pattern))
                out = subprocess.run([exe, "--gtest_list_tests", f"--gtest_filter={pattern}"],
                                     capture_output=True, text=True, env=self.env).stdout
                if not any(line.startswith("  ") for line in out.splitlines()):
                    print(f"  note: no test matches '{pattern}' ({os.path.basename(exe)})")

    def judge(self, m: Mutation, log: str):
        """Runs m's checks on the mutated build, up to the first that fails (all of them with
        --all-tests): (caught?, which tests caught it)."""
        found = []
        for c in self.checks(m):
            t = self.timeout_for(c)
            code, secs, text = self.run_check(c, log, t)
            if code == 0:
                continue
            if code == 124:
                found.append(f"timed out after {t} s: {c.label}")
            else:
                names = failed_tests(c, text)
                if names:
                    detail = ", ".join(compress(names))
                elif code < 0:
                    detail = f"killed by signal {-code}: {c.label}"
                else:
                    detail = f"exits {code}: {c.label}"
                found.append(detail + (self.cfg.annotate(text) if self.cfg.annotate else ""))
            if not self.args.all_tests:
                break
        return bool(found), "; ".join(found)


def compress(names: List[str]) -> List[str]:
    """Instances of one parameterised test (Prefix/Suite.Test/param) as one entry with a count."""
    groups = {}
    for n in names:
        head, sep, _ = n.rpartition("/")
        groups.setdefault(head if sep and "." in head else n, []).append(n)
    return [v[0] if len(v) == 1 else f"{k}/* ({len(v)})" for k, v in groups.items()]


def parse_args(cfg: Config, argv=None):
    ap = argparse.ArgumentParser(description=cfg.description)
    ap.add_argument("--work", default=cfg.default_work,
                    help=f"work directory: the copy and its build (default {cfg.default_work})")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="run the mutations whose names contain one of these texts")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="build jobs")
    ap.add_argument("--timeout", type=int, default=0,
                    help="seconds per test run (default: 3 x the unmutated run, at least 60)")
    ap.add_argument("--all-tests", action="store_true",
                    help="run every test named for a mutation, not only up to the first failure")
    ap.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                    else sys.executable, help="the Python of the Python tests (needs numpy)")
    if cfg.has_quick:
        ap.add_argument("--quick", action="store_true",
                        help="the quick subset only (also RNNLYAP_MUTATIONS_QUICK=1)")
    a = ap.parse_args(argv)
    if cfg.has_quick and os.environ.get("RNNLYAP_MUTATIONS_QUICK", "0") not in ("", "0"):
        a.quick = True
    return a


def main(cfg: Config, mutations: List[Mutation], argv=None) -> int:
    args = parse_args(cfg, argv)
    chosen = [m for m in mutations
              if (not args.only or any(o in m.name for o in args.only))
              and (not getattr(args, "quick", False) or m.quick)]
    if not chosen:
        print("no mutation chosen", file=sys.stderr)
        return 2
    names = [m.name for m in mutations]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        print(f"mutation names used twice: {dup}", file=sys.stderr)
        return 2
    eng = Engine(cfg, args)
    if args.list:
        if cfg.default_checks:
            print("judged by: " + "; ".join(c.label for c in cfg.default_checks))
        for m in chosen:
            mark = ("q " if m.quick else "  ") if cfg.has_quick else ""
            print(f"{mark}{m.cls:34} {m.name}")
            for c in (m.checks or []):
                print(f"{'':{len(mark) + 36}}{c.label}")
            if m.equivalent:
                print(f"{'':{len(mark) + 36}}equivalent: {m.equivalent}")
        return 0

    t_start = time.time()
    os.makedirs(eng.work, exist_ok=True)
    written = sync_tree(eng.src)
    print(f"copy: {eng.src} ({written} files written), build: {eng.build}", flush=True)
    bad = []
    for m in chosen:
        full = os.path.join(eng.src, m.path)
        count = _read(full).count(m.text) if os.path.isfile(full) else -1
        if count != 1:
            where = "does not exist" if count < 0 else f"contains its text {count} times, not once"
            bad.append(f"mutation '{m.name}': {m.path} {where}")
    if bad:
        print("\n".join(bad), file=sys.stderr)
        print("(the source changed: update the mutation's text)", file=sys.stderr)
        return 2
    if not eng.configure():
        print(f"configure failed: see {eng.log('configure.log')}", file=sys.stderr)
        return 2
    if not eng.python and any(c.kind == "python" for m in chosen for c in
                              (m.checks if m.checks is not None else cfg.default_checks)):
        print("note: the copy has no Python module (pybind11 or numpy missing): the Python tests "
              "are left out", flush=True)
    all_targets = []
    for m in chosen:
        all_targets += [t for t in eng.targets(m) if t not in all_targets]
    print(f"building {' '.join(all_targets)} ...", flush=True)
    t0 = time.time()
    _write(eng.log("build.log"), "")
    if not eng.build_targets(all_targets, eng.log("build.log")):
        errors = [line for line in _read(eng.log("build.log")).splitlines()
                  if "error" in line.lower() and not line.startswith(("/usr/bin/", "$ "))]
        print("the unmutated copy does not build (the source tree as it is now):\n  " +
              "\n  ".join(errors[:8]) + f"\nsee {eng.log('build.log')}", file=sys.stderr)
        return 2
    print(f"built in {time.time() - t0:.0f} s; the unmutated tests:", flush=True)
    problems = eng.baseline(chosen)
    broken = {c: p for c, p in problems.items() if p}
    if broken:
        print("\nTHE UNMUTATED TESTS DO NOT PASS (see baseline.log); the mutations judged by them "
              "are not run:", flush=True)
        for c, p in broken.items():
            print(f"  {c.label}\n      {p}")

    results = []  # (mutation, verdict, detail, seconds)
    for i, m in enumerate(chosen):
        log = eng.log(f"mutation-{i:02d}.log")
        _write(log, f"mutation: {m.name}\nfile: {m.path}\n")
        t0 = time.time()
        checks = eng.checks(m)
        if not checks:
            results.append((m, "BASELINE", "no test to judge it by", 0.0))
            continue
        failing = [c for c in checks if problems.get(c)]
        if failing:
            results.append((m, "BASELINE", "unmutated: " + "; ".join(
                f"{c.label}: {problems[c]}" for c in failing), 0.0))
            print(f"[{i + 1}/{len(chosen)}] {'BASELINE':12} {m.cls:30} {m.name}", flush=True)
            continue
        full = os.path.join(eng.src, m.path)
        original = _read(full)
        try:
            _write(full, original.replace(m.text, m.repl))
            if not eng.build_targets(eng.targets(m), log):
                if cfg.build_failure_caught:
                    verdict, detail = "caught", "does not compile"
                else:
                    verdict, detail = "BUILD FAILED", f"see {log}"
            else:
                caught, detail = eng.judge(m, log)
                if caught:
                    verdict = "caught"
                    if m.equivalent:
                        detail += " (marked equivalent: remove the mark)"
                else:
                    verdict = "equivalent" if m.equivalent else "SURVIVED"
                    detail = m.equivalent or ""
        finally:
            _write(full, original)
        secs = time.time() - t0
        results.append((m, verdict, detail, secs))
        print(f"[{i + 1}/{len(chosen)}] {verdict:12} {m.cls:30} {m.name}  ({secs:.0f} s)"
              + (f"\n{'':18}{detail}" if detail else ""), flush=True)
    if cfg.rebuild_at_end:
        eng.build_targets(all_targets, eng.log("build.log"))

    table = format_table(results)
    _write(eng.log("results.txt"), table)
    print("\n" + table)
    counts = {}
    for _, v, _, _ in results:
        counts[v] = counts.get(v, 0) + 1
    total = time.time() - t_start
    print(", ".join(f"{n} {v}" for v, n in sorted(counts.items())) +
          f" of {len(results)}; {total / 60:.1f} min in all (table in {eng.log('results.txt')})")
    errors = [r for r in results if r[1] in ("SURVIVED", "BUILD FAILED", "BASELINE")]
    return 1 if errors or broken else 0


def format_table(results) -> str:
    w = max([len(r[0].name) for r in results] + [8])
    lines = [f"{'verdict':12} {'seconds':>7}  {'mutation':{w}}  caught by / why"]
    for m, verdict, detail, secs in results:
        lines.append(f"{verdict:12} {secs:7.0f}  {m.name:{w}}  {detail}")
    return "\n".join(lines) + "\n"
