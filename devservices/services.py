"""Real backing services on loopback for tests and developers, without Docker.

- Neo4j 5.26 LTS: an embedded Neo4j Community DBMS run by the small Java launcher in
  `devservices/neo4j/` (built with Maven from Maven Central jars), Bolt on 127.0.0.1, auth off
  (drivers may still send `neo4j`/`password`; the server accepts any credentials).
- redis-server: the Debian package, installed with apt-get when missing.
- chromium and chromium-driver (the browser tests): Debian's packages, likewise (`browser.py`).

    python -m devservices prepare        # build the launcher, install redis-server and chromium
    python -m devservices neo4j [--port 7687]
    python -m devservices redis [--port 6379]

`prepare` also initialises an empty Neo4j home once (`devservices/neo4j/target/home-template/`);
servers with a temporary home start from a copy of it, skipping the system-database setup.

Servers started from Python never outlive their parent: the Neo4j launcher exits when its
stdin (a pipe held by this process) reaches EOF, and both servers get SIGTERM from the kernel
if the process that started them dies (PR_SET_PDEATHSIG, when started from the main thread).

Environment knobs for Neo4j: RINGFENCE_NEO4J_PAGECACHE (default 256m),
RINGFENCE_NEO4J_HEAP (default 1g), RINGFENCE_NEO4J_TX_TIMEOUT (default 10m),
RINGFENCE_NEO4J_QUICK_START=1 (C1-only JIT: starts ~2x faster, runs ~2.5x slower),
RINGFENCE_NEO4J_JAVA_OPTS (extra JVM flags, shell-quoted).
"""

from __future__ import annotations

import argparse
import atexit
import collections
import ctypes
import fcntl
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn, Self

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER_DIR = REPO_ROOT / "devservices" / "neo4j"
LAUNCHER_CLASS = "ringfence.Neo4jLauncher"
NEO4J_USER = "neo4j"
NEO4J_PASSWORD = "password"
LOOPBACK = "127.0.0.1"

# Neo4j's own neo4j.conf defaults (server.jvm.additional) that matter for an embedded DBMS on
# Java 17. Without the --add-opens the page cache falls back from DirectByteBuffer reflection
# and the transaction-log native accessor logs "Incorrect file descriptor" on every rotation.
NEO4J_JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
)
# Stops the JVM at the C1 tier: roughly halves a cold start on a small machine, at the cost of
# slower steady-state queries. Fine for unit tests, wrong for benchmarks.
QUICK_START_FLAGS: tuple[str, ...] = ("-XX:TieredStopAtLevel=1",)

_TAIL_LINES = 200
_PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the usual small race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((LOOPBACK, port)) == 0


def _tail(lines: Sequence[str], n: int = 60) -> str:
    return "\n".join(list(lines)[-n:])


def _file_tail(path: Path, n: int = 40) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64_000))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-n:])


def _death_signal_preexec() -> Callable[[], None] | None:
    """preexec_fn asking the kernel to SIGTERM the child when the starting thread dies.

    Linux delivers PDEATHSIG when the *thread* that forked exits, so it is only used from the
    main thread (whose exit is the process's). Elsewhere (or off Linux) we return None.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return preexec


class _OutputPump:
    """Reads a child's merged stdout/stderr on a daemon thread, keeping the last lines."""

    def __init__(self, stream: IO[bytes], name: str, on_line: Callable[[str], None] | None = None) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._stream = stream
        self._on_line = on_line
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for raw in iter(self._stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.lines.append(line)
            if self._on_line is not None:
                self._on_line(line)
        self._stream.close()

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def tail(self, n: int = 60) -> str:
        return _tail(self.lines, n)


def _stop_process(proc: subprocess.Popen[bytes], graceful_timeout: float, *, close_stdin: bool = False) -> None:
    """Graceful stop (stdin EOF and/or SIGTERM), then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        if close_stdin and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        else:
            proc.terminate()
        try:
            proc.wait(graceful_timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
    if proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:
            pass


# ---------------------------------------------------------------- Neo4j launcher build


def java_binary() -> str:
    """`$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("Java 17+ not found: set JAVA_HOME or put `java` on PATH (apt-get install openjdk-17-jdk)")
    return found


def _launcher_sources(launcher_dir: Path) -> list[Path]:
    return [launcher_dir / "pom.xml", *sorted(p for p in (launcher_dir / "src").rglob("*") if p.is_file())]


def _launcher_up_to_date(launcher_dir: Path) -> bool:
    target = launcher_dir / "target"
    stamp = target / ".ringfence-build-stamp"
    main_class = target / "classes" / Path(*LAUNCHER_CLASS.split(".")).with_suffix(".class")
    lib = target / "lib"
    if not (stamp.is_file() and main_class.is_file() and lib.is_dir() and any(lib.glob("*.jar"))):
        return False
    newest_source = max(p.stat().st_mtime for p in _launcher_sources(launcher_dir))
    return stamp.stat().st_mtime >= newest_source


def build_neo4j_launcher(launcher_dir: Path = LAUNCHER_DIR, *, force: bool = False) -> Path:
    """Build the Neo4j launcher with Maven unless its classes and jars are newer than the sources.

    Returns the launcher directory (run with `-cp 'target/classes:target/lib/*'`). Concurrent
    callers (parallel test processes) serialise on a lock file; the first build downloads the
    Neo4j jars (~120 MB) into ~/.m2.
    """
    if not (launcher_dir / "pom.xml").is_file():
        raise RuntimeError(f"Neo4j launcher sources not found in {launcher_dir}")
    if not force and _launcher_up_to_date(launcher_dir):
        return launcher_dir
    target = launcher_dir / "target"
    target.mkdir(exist_ok=True)
    with (target / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and _launcher_up_to_date(launcher_dir):
            return launcher_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("Maven (`mvn`) not found on PATH: apt-get install maven")
        # Jars of a previous Neo4j version must not stay on the classpath next to the new ones.
        shutil.rmtree(target / "lib", ignore_errors=True)
        (target / ".ringfence-build-stamp").unlink(missing_ok=True)
        env = dict(os.environ)
        java_home = os.environ.get("JAVA_HOME")
        if not java_home:
            env["JAVA_HOME"] = str(Path(os.path.realpath(java_binary())).parent.parent)
        cmd = [mvn, "-q", "-B", "-Dstyle.color=never", "package"]
        started = time.monotonic()
        result = subprocess.run(
            cmd,
            cwd=launcher_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        output = result.stdout.decode("utf-8", "replace")
        if result.returncode != 0:
            raise RuntimeError(
                f"building the Neo4j launcher failed ({shlex.join(cmd)} in {launcher_dir}, "
                f"exit {result.returncode}); Maven output tail:\n{_tail(output.splitlines(), 80)}"
            )
        (target / ".ringfence-build-stamp").write_text(f"built in {time.monotonic() - started:.1f}s\n")
        if not _launcher_up_to_date(launcher_dir):
            raise RuntimeError(
                f"Maven succeeded but {target}/classes or {target}/lib is missing; output tail:\n"
                f"{_tail(output.splitlines(), 80)}"
            )
    return launcher_dir


def _home_template(launcher_dir: Path) -> Path:
    return launcher_dir / "target" / "home-template"


def _home_template_valid(launcher_dir: Path) -> bool:
    marker = _home_template(launcher_dir) / ".complete"
    stamp = launcher_dir / "target" / ".ringfence-build-stamp"
    return marker.is_file() and stamp.is_file() and marker.stat().st_mtime >= stamp.stat().st_mtime


def prepare_neo4j_home_template(launcher_dir: Path = LAUNCHER_DIR, timeout: float = 300) -> Path:
    """Initialise an empty DBMS home once, in `target/home-template/`.

    A first start spends about half its time creating the system database (security graph,
    indexes, constraints). Servers with a temporary home start from a copy of this template
    (~2 MB, a cleanly shut down store) when it exists and is newer than the launcher build.
    Run by `python -m devservices prepare`; without it servers simply start cold.
    """
    build_neo4j_launcher(launcher_dir)
    template = _home_template(launcher_dir)
    if _home_template_valid(launcher_dir):
        return template
    target = launcher_dir / "target"
    with (target / ".template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _home_template_valid(launcher_dir):
            return template
        staging = Path(tempfile.mkdtemp(prefix=".home-template-", dir=target))
        try:
            server = Neo4jServer(home=staging, launcher_dir=launcher_dir, quick_start=True, use_template=False)
            server.start(timeout)
            server.stop()
            if server.exit_code != 0:
                raise RuntimeError(f"Neo4j did not shut down cleanly (exit {server.exit_code}); no home template")
            for transient in ("logs", "conf"):
                shutil.rmtree(staging / transient, ignore_errors=True)
            (staging / ".complete").write_text("an empty, cleanly shut down Neo4j home\n")
            shutil.rmtree(template, ignore_errors=True)
            staging.rename(template)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return template


# ---------------------------------------------------------------- Neo4j


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class _ServerProcess:
    """What both local servers share: a child process, used as a context manager."""

    _proc: subprocess.Popen[bytes] | None

    def start(self, timeout: float = 30) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def wait(self) -> int:
        """Block until the server process exits; returns its exit code."""
        return 0 if self._proc is None else self._proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Neo4jServer(_ServerProcess):
    """A real Neo4j 5.26 Community server on 127.0.0.1 (embedded DBMS, Bolt, auth disabled).

    `home=None` uses a fresh temporary directory, removed by `stop()`; a given home is kept
    (and reused by the next start). `port=None` picks a free port.
    """

    def __init__(
        self,
        port: int | None = None,
        home: str | os.PathLike[str] | None = None,
        *,
        page_cache: str | None = None,
        heap: str | None = None,
        quick_start: bool | None = None,
        jvm_flags: Sequence[str] = (),
        use_template: bool = True,
        launcher_dir: Path = LAUNCHER_DIR,
    ) -> None:
        self.port: int = port if port is not None else free_port()
        self.home: Path | None = Path(home).resolve() if home is not None else None
        self._owns_home = home is None
        self.page_cache = page_cache or os.environ.get("RINGFENCE_NEO4J_PAGECACHE") or "256m"
        self.heap = heap or os.environ.get("RINGFENCE_NEO4J_HEAP") or "1g"
        self.quick_start = _env_flag("RINGFENCE_NEO4J_QUICK_START") if quick_start is None else quick_start
        self.jvm_flags = tuple(jvm_flags) + tuple(shlex.split(os.environ.get("RINGFENCE_NEO4J_JAVA_OPTS", "")))
        self.use_template = use_template
        self.launcher_dir = launcher_dir
        self.start_seconds: float | None = None
        self.exit_code: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: _OutputPump | None = None
        self._ready = threading.Event()

    # URLs ------------------------------------------------------------------
    @property
    def bolt_url(self) -> str:
        return f"bolt://{LOOPBACK}:{self.port}"

    @property
    def graph_url(self) -> str:
        """The RINGFENCE_GRAPH_URL for this server."""
        return f"neo4j://{NEO4J_USER}:{NEO4J_PASSWORD}@{LOOPBACK}:{self.port}"

    @property
    def auth(self) -> tuple[str, str]:
        return (NEO4J_USER, NEO4J_PASSWORD)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        classpath = os.pathsep.join(
            [str(self.launcher_dir / "target" / "classes"), str(self.launcher_dir / "target" / "lib" / "*")]
        )
        assert self.home is not None
        return [
            java_binary(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            *NEO4J_JVM_FLAGS,
            *(QUICK_START_FLAGS if self.quick_start else ()),
            *self.jvm_flags,
            "-cp",
            classpath,
            LAUNCHER_CLASS,
            str(self.home),
            str(self.port),
            self.page_cache,
        ]

    # lifecycle -------------------------------------------------------------
    def start(self, timeout: float = 180) -> Self:
        if self.is_running():
            return self
        build_neo4j_launcher(self.launcher_dir)
        if _port_in_use(self.port):
            raise RuntimeError(f"cannot start Neo4j: {LOOPBACK}:{self.port} is already in use")
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="ringfence-neo4j-"))
            self._owns_home = True
            if self.use_template and _home_template_valid(self.launcher_dir):
                try:
                    shutil.copytree(
                        _home_template(self.launcher_dir),
                        self.home,
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".complete"),
                    )
                except OSError:  # the template is being replaced right now: start cold instead
                    shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self._ready.clear()
        expected = f"READY {self.bolt_url}"

        def on_line(line: str) -> None:
            if line.strip() == expected:
                self._ready.set()

        started = time.monotonic()
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.home,
            stdin=subprocess.PIPE,  # the launcher exits when this pipe closes
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop it cleanly
            preexec_fn=_death_signal_preexec(),
        )
        assert self._proc.stdout is not None
        self._pump = _OutputPump(self._proc.stdout, f"neo4j-{self.port}-output", on_line)
        atexit.register(self.stop)
        deadline = started + timeout
        while not self._ready.wait(0.2):
            code = self._proc.poll()
            if code is not None:
                self._pump.join()
                self._fail(f"Neo4j exited with code {code} before becoming ready")
            if time.monotonic() > deadline:
                self._fail(f"Neo4j did not become ready on {self.bolt_url} within {timeout:.0f}s")
        self.start_seconds = time.monotonic() - started
        return self

    def _fail(self, message: str) -> NoReturn:
        output = self._pump.tail() if self._pump is not None else ""
        debug = _file_tail(self.home / "logs" / "debug.log") if self.home is not None else ""
        command = shlex.join(self.command()) if self.home is not None else ""
        self.stop()
        raise RuntimeError(
            f"{message}.\ncommand: {command}\n--- launcher output (tail) ---\n{output}\n"
            f"--- logs/debug.log (tail) ---\n{debug}"
        )

    def log_tail(self, n: int = 60) -> str:
        return self._pump.tail(n) if self._pump is not None else ""

    def stop(self, timeout: float = 60) -> None:
        """Shut the DBMS down cleanly (stdin EOF; SIGTERM/SIGKILL as fallbacks); idempotent."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_process(proc, timeout, close_stdin=True)
            self.exit_code = proc.returncode
            if self._pump is not None:
                self._pump.join()
        if self._owns_home and self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __repr__(self) -> str:
        return f"Neo4jServer(bolt_url={self.bolt_url!r}, home={str(self.home)!r}, running={self.is_running()})"


# ---------------------------------------------------------------- Redis


def _find_redis_server() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if os.access(p, os.X_OK)), None
    )


def apt_install(packages: Sequence[str]) -> None:
    """Install Debian `packages` with apt-get (update, then install -y); raises with apt's output
    tail when that fails or when this is not a root on a Debian-like system."""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise RuntimeError(f"{', '.join(packages)} missing; "
                           f"install them (`apt-get install -y {' '.join(packages)}` as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock_wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt may be running; wait, do not fail
    for cmd in (
        [apt, *lock_wait, "update"],
        [apt, *lock_wait, "install", "-y", "--no-install-recommends", *packages],
    ):
        result = subprocess.run(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )
        if result.returncode != 0:
            out = result.stdout.decode("utf-8", "replace").splitlines()
            raise RuntimeError(f"`{shlex.join(cmd)}` failed (exit {result.returncode}):\n{_tail(out, 40)}")


def ensure_redis_server() -> str:
    """Path of `redis-server`; installs Debian's package with apt-get when it is missing."""
    found = _find_redis_server()
    if found:
        return found
    apt_install(["redis-server"])
    found = _find_redis_server()
    if found is None:
        raise RuntimeError("apt-get installed redis-server but no redis-server binary was found")
    return found


def redis_ping(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    """True if a Redis server on host:port answers PING with +PONG (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                reply += chunk
            return reply.startswith(b"+PONG")
    except OSError:
        return False


class RedisServer(_ServerProcess):
    """redis-server on 127.0.0.1, in a temporary working directory unless given one.

    Without persistence by default. `persist=True` turns the append-only file on (fsync
    always), so a restart keeps queued messages, as a production broker must: fault tests
    that restart the broker use it.
    """

    def __init__(
        self, port: int | None = None, directory: str | os.PathLike[str] | None = None, *, persist: bool = False
    ) -> None:
        self.persist = persist
        self.port: int = port if port is not None else free_port()
        self.directory: Path | None = Path(directory).resolve() if directory is not None else None
        self._owns_directory = directory is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: _OutputPump | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ping(self, timeout: float = 1.0) -> bool:
        return redis_ping(self.port, timeout=timeout)

    def start(self, timeout: float = 30) -> Self:
        if self.is_running():
            return self
        binary = ensure_redis_server()
        if _port_in_use(self.port):
            raise RuntimeError(f"cannot start redis-server: {LOOPBACK}:{self.port} is already in use")
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="ringfence-redis-"))
            self._owns_directory = True
        self.directory.mkdir(parents=True, exist_ok=True)
        cmd = [
            binary,
            "--port", str(self.port),
            "--bind", LOOPBACK,
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            *(("--appendfsync", "always") if self.persist else ()),
            "--daemonize", "no",
            "--dir", str(self.directory),
            "--logfile", "",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_death_signal_preexec(),
        )
        assert self._proc.stdout is not None
        self._pump = _OutputPump(self._proc.stdout, f"redis-{self.port}-output")
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while not self.ping(timeout=0.5):
            code = self._proc.poll()
            if code is not None or time.monotonic() > deadline:
                self._pump.join()
                reason = f"exited with code {code}" if code is not None else f"gave no PONG within {timeout:.0f}s"
                tail = self._pump.tail()
                self.stop()
                raise RuntimeError(
                    f"redis-server on {LOOPBACK}:{self.port} {reason}.\ncommand: {shlex.join(cmd)}\n{tail}"
                )
            time.sleep(0.05)
        return self

    def _halt(self, *, hard: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if hard:
            if proc.poll() is None:
                proc.kill()
            proc.wait(15)
        else:
            _stop_process(proc, 15)
        if self._pump is not None:
            self._pump.join()

    def kill(self) -> None:
        """SIGKILL the server (a crash, for fault tests); `start()` brings it back on the same port."""
        self._halt(hard=True)

    def restart(self, timeout: float = 30, down_s: float = 0.0) -> Self:
        """Stop (SIGTERM), stay down `down_s` seconds (an outage of that length), start again on
        the same port; data survives only with `persist`."""
        self._halt(hard=False)
        time.sleep(down_s)
        return self.start(timeout)

    def stop(self) -> None:
        """Stop the server and remove its temporary directory; idempotent."""
        atexit.unregister(self.stop)
        self._halt(hard=False)
        if self._owns_directory and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def log_tail(self, n: int = 60) -> str:
        return self._pump.tail(n) if self._pump is not None else ""

    def __repr__(self) -> str:
        return f"RedisServer(url={self.url!r}, running={self.is_running()})"


# ---------------------------------------------------------------- command line


def _serve_forever(server: Neo4jServer | RedisServer, name: str) -> int:
    """Block until Ctrl-C/SIGTERM (clean stop, exit 0) or until the server dies (exit 1)."""

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        code = server.wait()
    except KeyboardInterrupt:
        print(f"\nstopping {name}...", file=sys.stderr, flush=True)
        server.stop()
        return 0
    print(f"{name} exited unexpectedly with code {code}:\n{server.log_tail()}", file=sys.stderr, flush=True)
    server.stop()
    return 1


def neo4j_admin_command(home: Path, heap: str = "1g", launcher_dir: Path = LAUNCHER_DIR) -> list[str]:
    """`neo4j-admin` of the Neo4j Community jars the launcher runs on, for the DBMS in `home`
    (which must not be running): append its arguments, e.g. `database import full neo4j ...`."""
    build_neo4j_launcher(launcher_dir)
    classpath = os.pathsep.join([str(launcher_dir / "target" / "lib" / "*")])
    return [java_binary(), f"-Xmx{heap}", *NEO4J_JVM_FLAGS, f"-Dneo4j.home={Path(home).resolve()}", "-cp", classpath,
            "org.neo4j.cli.AdminTool"]


def run_neo4j_admin(home: Path, arguments: Sequence[str], heap: str = "1g") -> subprocess.CompletedProcess[bytes]:
    """Runs `neo4j-admin ARGUMENTS` against the stopped DBMS in `home`; raises with the output's
    tail if it fails."""
    env = {**os.environ, "NEO4J_HOME": str(Path(home).resolve()), "NEO4J_CONF": str(Path(home).resolve() / "conf")}
    done = subprocess.run([*neo4j_admin_command(home, heap), *arguments], env=env, capture_output=True, check=False)
    if done.returncode != 0:
        out = (done.stdout + done.stderr).decode(errors="replace").splitlines()
        raise RuntimeError(f"neo4j-admin {' '.join(arguments[:3])} failed ({done.returncode}):\n{_tail(out)}")
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devservices", description="Run real Neo4j 5.26 / redis-server on 127.0.0.1."
    )
    sub = parser.add_subparsers(dest="service", required=True)
    neo = sub.add_parser("neo4j", help="start Neo4j 5.26 (embedded Community DBMS, Bolt, auth off)")
    neo.add_argument("--port", type=int, default=7687)
    neo.add_argument("--home", type=Path, default=Path("data") / "neo4j-dev", help="kept between runs")
    neo.add_argument("--page-cache", default=None, help="e.g. 256m (default: $RINGFENCE_NEO4J_PAGECACHE or 256m)")
    neo.add_argument("--heap", default=None, help="JVM heap, e.g. 1g (default: $RINGFENCE_NEO4J_HEAP or 1g)")
    neo.add_argument("--quick-start", action="store_true", help="C1-only JIT: faster start, slower queries")
    neo.add_argument("--timeout", type=float, default=300)
    red = sub.add_parser("redis", help="start redis-server (no persistence)")
    red.add_argument("--port", type=int, default=6379)
    sub.add_parser("prepare",
                   help="build the Neo4j launcher; install redis-server, chromium and chromium-driver if needed")
    admin = sub.add_parser("neo4j-admin", help="run neo4j-admin (Community jars) on a stopped home: -- ARGS")
    admin.add_argument("--home", type=Path, default=Path("data") / "neo4j-dev")
    admin.add_argument("--heap", default="1g")
    admin.add_argument("arguments", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    # Started in the background by a non-interactive shell, SIGINT arrives ignored; `kill -INT`
    # and Ctrl-C must still stop the server cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    if args.service == "prepare":
        started = time.monotonic()
        launcher = build_neo4j_launcher()
        print(f"Neo4j launcher ready in {launcher} ({time.monotonic() - started:.1f}s)", flush=True)
        started = time.monotonic()
        template = prepare_neo4j_home_template()
        print(f"Neo4j home template ready in {template} ({time.monotonic() - started:.1f}s)", flush=True)
        print(f"redis-server: {ensure_redis_server()}", flush=True)
        from devservices.browser import ensure_chromium

        print(f"chromium, chromedriver: {', '.join(ensure_chromium())}", flush=True)
        return 0
    if args.service == "neo4j-admin":
        arguments = args.arguments[1:] if args.arguments[:1] == ["--"] else args.arguments
        env = {**os.environ, "NEO4J_HOME": str(args.home.resolve()), "NEO4J_CONF": str(args.home.resolve() / "conf")}
        return subprocess.call([*neo4j_admin_command(args.home, args.heap), *arguments], env=env)
    if args.service == "neo4j":
        print(f"starting Neo4j 5.26 on {LOOPBACK}:{args.port}, home {args.home} ...", file=sys.stderr, flush=True)
        neo4j_server = Neo4jServer(
            args.port, args.home, page_cache=args.page_cache, heap=args.heap, quick_start=args.quick_start or None
        )
        try:
            neo4j_server.start(timeout=args.timeout)
        except KeyboardInterrupt:
            neo4j_server.stop()
            return 130
        print(f"Neo4j 5.26 ready: RINGFENCE_GRAPH_URL={neo4j_server.graph_url}", flush=True)
        print(f"(started in {neo4j_server.start_seconds:.1f}s; Ctrl-C stops it)", file=sys.stderr, flush=True)
        return _serve_forever(neo4j_server, "Neo4j")
    redis_server = RedisServer(args.port).start()
    print(f"redis-server ready: RINGFENCE_BROKER_URL={redis_server.url}", flush=True)
    print("(Ctrl-C stops it)", file=sys.stderr, flush=True)
    return _serve_forever(redis_server, "redis-server")


if __name__ == "__main__":
    sys.exit(main())
