"""A throwaway PostgreSQL cluster for the tests, started from Debian's packages (``postgresql``).

``initdb`` and ``pg_ctl`` refuse to run as root, so under root the cluster runs as the ``postgres`` system user the
package creates (or ``nobody``) in a temporary folder that user owns. The server listens on a free port of the
loopback address (and on a socket inside that folder), trusts local connections, and is stopped and removed at
the end of the test session. Each test gets a database of its own (``new_database``).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def server_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` holding initdb and pg_ctl, else the ones on PATH, else None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    if server_binaries() is None:
        return "PostgreSQL server not installed (Debian package 'postgresql'; 'make test' installs it as root)"
    if os.geteuid() == 0 and _service_user() is None:
        return "running as root and no unprivileged user ('postgres' or 'nobody') to run the server"
    return None


def _service_user() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        self.bin = server_binaries()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server binaries")
        self.dir = Path(tempfile.mkdtemp(prefix="anonymizer-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self._user = _service_user() if os.geteuid() == 0 else None
        if self._user is not None:
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        self._names = itertools.count(1)
        self._admin = None

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kw = {}
        if self._user is not None:
            kw = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.dir, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}, **kw)

    def start(self) -> "Cluster":
        r = self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--locale=C")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()}")
        for _attempt in range(5):
            self.port = _free_port()
            opts = (f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c synchronous_commit=off "
                    "-c full_page_writes=off -c max_connections=300 -c timezone=UTC")
            r = self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.dir / "server.log", "-w", "-t", "60",
                          "-o", opts, "start")
            if r.returncode == 0:
                break
            time.sleep(0.2)  # the port was taken meanwhile: another one
        else:
            log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()} {log}")
        import psycopg

        self._admin = psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                                      autocommit=True)
        return self

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def new_database(self, prefix: str = "t") -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"{prefix}{next(self._names)}"
        self._admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def copy_database(self, url: str, prefix: str = "t") -> str:
        """A new database holding a copy of the one at ``url`` (what a restore from its backup gives); its URL."""
        source = url.rsplit("/", 1)[1]
        # CREATE DATABASE ... TEMPLATE needs the source to have no other session
        self._admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                            (source,))
        name = f"{prefix}{next(self._names)}"
        self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            if self._admin is not None:
                self._admin.close()
            if self.port:
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
