"""A throwaway PostgreSQL server for development, tests and CI, from Debian's packages.

:func:`server_binaries` finds ``initdb``/``pg_ctl``/``postgres`` under ``/usr/lib/postgresql/*/bin``
(the newest version; ``LEDGER_POSTGRES_BIN`` names another folder); :func:`install` runs ``apt-get
install -y postgresql`` (as root or through ``sudo -n``) when there are none. :class:`Cluster` runs
one cluster in a fresh temporary folder: ``initdb`` (UTF-8, C locale, trust authentication for its
superuser ``ledger``), listening on a free port on 127.0.0.1 only, its unix socket in the folder,
``fsync`` off (test data: a crash loses nothing of value). PostgreSQL refuses to run as root, so as
root the server runs as the OS user ``ledgerpg`` (created with ``useradd`` when missing) through
``runuser``. :meth:`Cluster.stop` ends the server and removes the folder.

``python -m devtools.postgres install`` (what ``make test`` calls) installs the binaries when they are
missing; ``start`` starts a detached cluster and prints its DSN, ``stop`` ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from devtools.kafka_broker import free_port

DEBIAN_ROOT = Path("/usr/lib/postgresql")
PROGRAMS = ("initdb", "pg_ctl", "postgres")
SERVICE_USER = "ledgerpg"
"""The OS user the server runs as when this process is root."""
SUPERUSER = "ledger"
"""The cluster's database superuser (trust authentication, 127.0.0.1 and the folder's socket only)."""
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'", "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
    "max_connections": "100", "shared_buffers": "'128MB'", "log_min_messages": "warning",
}


class PostgresError(RuntimeError):
    """PostgreSQL could not be found, installed, started or stopped (the message says why, on one line)."""


def _version(bin_dir: Path) -> tuple[int, ...]:
    digits = bin_dir.parent.name.split(".")
    return tuple(int(d) for d in digits) if all(d.isdigit() for d in digits) else (0,)


def server_binaries(root: Path = DEBIAN_ROOT) -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version first), or None."""
    override = os.environ.get("LEDGER_POSTGRES_BIN")
    candidates = [Path(override)] if override else sorted(root.glob("*/bin"), key=_version, reverse=True)
    for bin_dir in candidates:
        if all(os.access(bin_dir / name, os.X_OK) for name in PROGRAMS):
            return bin_dir
    return None


def _privileged() -> list[str] | None:
    """The prefix that runs apt-get as root from this process (None: neither root nor sudo)."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    return None


def install() -> Path:
    """Debian's PostgreSQL server binaries, installed with ``apt-get install -y postgresql`` when
    missing (the package lists refreshed once if that fails). Raises ``PostgresError`` when impossible."""
    found = server_binaries()
    if found is not None:
        return found
    prefix = _privileged()
    if prefix is None or shutil.which("apt-get") is None:
        raise PostgresError("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin and cannot be "
                            "installed here (needs apt-get, run as root or with passwordless sudo)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [*prefix, "apt-get", "install", "-y", "-q", "postgresql"]
    for attempt in ([command], [[*prefix, "apt-get", "update", "-q"], command]):
        if all(subprocess.run(step, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False).returncode == 0 for step in attempt):
            break
    found = server_binaries()
    if found is None:
        raise PostgresError(f"`{' '.join(command)}` did not provide the PostgreSQL server binaries")
    return found


def service_user() -> str | None:
    """The OS user to run the server as: ``ledgerpg`` (created when missing) when root, else None (this user)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                               SERVICE_USER], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresError(f"cannot create the OS user {SERVICE_USER}: {done.stderr.strip()}") from None
    return SERVICE_USER


class Cluster:
    """One throwaway PostgreSQL cluster in a temporary folder; :meth:`start` returns its DSN.

    ``folder`` (default: a new one under the system's temporary folder) holds ``data/``, the socket
    and ``postgres.log``; :meth:`stop` removes it. ``dsn`` names the ``postgres`` database.
    """

    def __init__(self, folder: Path | None = None, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.port = 0
        self._user: str | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        prefix = ["runuser", "-u", self._user, "--"] if self._user else []
        return subprocess.run([*prefix, str(self.bin_dir / argv[0]), *argv[1:]], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout, check=False)

    def start(self, timeout: float = 60) -> str:
        """initdb, then the server on a free port; returns the DSN once it accepts connections."""
        self.bin_dir = self.bin_dir or server_binaries()
        if self.bin_dir is None:
            raise PostgresError("PostgreSQL server binaries not found: run `python -m devtools.postgres install`")
        self._user = service_user()
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        done = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                         "--locale=C", "--no-sync")
        if done.returncode != 0:
            raise PostgresError(f"initdb failed: {_last_line(done)}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in SERVER_SETTINGS.items())
            conf.write(f"unix_socket_directories = '{self.folder}'\n")
        for _ in range(3):  # another process may take the free port first
            self.port = free_port()
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-w",
                             "-t", str(int(timeout)), "-o", f"-p {self.port}", "start", timeout=timeout + 10)
            if done.returncode == 0:
                return self.dsn
        raise PostgresError(f"PostgreSQL did not start: {self._log_tail()}")

    def restart(self, timeout: float = 60) -> None:
        """Restarts the server on the same port and data (fast shutdown: every open connection is cut)."""
        assert self.folder is not None
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-m", "fast", "-w",
                         "-t", str(int(timeout)), "-o", f"-p {self.port}", "restart", timeout=timeout + 10)
        if done.returncode != 0:
            raise PostgresError(f"PostgreSQL did not restart: {self._log_tail()}")

    def _log_tail(self) -> str:
        assert self.folder is not None
        with contextlib.suppress(OSError):
            lines = (self.folder / "postgres.log").read_text(errors="replace").strip().splitlines()
            return lines[-1] if lines else "(empty log)"
        return "(no log)"

    def stop(self) -> None:
        """Ends the server (fast shutdown; killed if it lingers) and removes the folder. Harmless twice."""
        if self.folder is None or not self.folder.exists():
            return
        if (self.data / "postmaster.pid").exists() and self.bin_dir is not None:
            done = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=40)
            if done.returncode != 0:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    os.kill(int((self.data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
                    time.sleep(0.5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


STATE = Path(tempfile.gettempdir()) / f"ledger-postgres-{os.getuid()}.json"
"""Where ``start`` notes the detached cluster for ``stop``."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.postgres", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install", "start", "stop"])
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(f"PostgreSQL server binaries: {install()}")
        elif args.command == "start":
            if STATE.exists():
                raise PostgresError(f"a cluster is already running (see {STATE}); stop it first")
            cluster = Cluster(bin_dir=install())
            dsn = cluster.start()
            STATE.write_text(json.dumps({"folder": str(cluster.folder), "bin_dir": str(cluster.bin_dir)}))
            print(dsn)
        else:
            if not STATE.exists():
                raise PostgresError("no cluster started by `python -m devtools.postgres start`")
            noted = json.loads(STATE.read_text())
            cluster = Cluster(Path(noted["folder"]), Path(noted["bin_dir"]))
            cluster._user = service_user()
            cluster.stop()
            STATE.unlink()
            print(f"stopped and removed {noted['folder']}")
    except (PostgresError, OSError, subprocess.SubprocessError) as error:
        print(f"devtools.postgres {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
