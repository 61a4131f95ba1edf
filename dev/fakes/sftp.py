"""A real SFTP server on 127.0.0.1 for tests and the demo: asyncssh's SFTP server, in process.

Password authentication for one user, a root directory the client sees as ``/`` (chroot), a
fresh Ed25519 host key per server (``host_key_line`` pins it in an Airflow connection), and
counters of what clients did (logins, refused logins, files opened for writing, renames).
``stop()`` closes the listener and drops open sessions, so a test can simulate "server down";
``start()`` again listens on the same port.

In process (tests)::

    with FakeSftpServer(root).start() as server:
        os.environ["AIRFLOW_CONN_NB_STATISTICS_SFTP"] = json.dumps(server.connection(remote_dir="/innlevering"))
        ...; server.files("/innlevering"); server.stats()

From a shell (for ``make ui``; the connection in ``dev/airflow_env.py`` points here)::

    python -m dev.fakes.sftp --port 2222 --root var/fake-nb-sftp
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import threading
from collections import Counter
from pathlib import Path

import asyncssh

log = logging.getLogger(__name__)

DEMO_LOGIN = "nb-demo"
# A password for the local fake server only; production credentials come from a secrets backend.
DEMO_PASSWORD = "demo-sftp-password-not-for-production"  # noqa: S105
DEFAULT_PORT = 2222


class FakeSftpServer:
    """asyncssh SFTP server on its own event loop thread; see the module doc."""

    def __init__(self, root: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0,
                 login: str = DEMO_LOGIN, password: str = DEMO_PASSWORD) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.host, self.port = host, port
        self.login, self.password = login, password
        self._key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key_line = " ".join(self._key.export_public_key().decode().split()[:2])
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor = None
        self._connections: set = set()

    # ------------------------------------------------------------------ asyncssh callbacks
    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _server_factory(self):
        fake = self

        class _Server(asyncssh.SSHServer):
            def connection_made(self, conn) -> None:
                self._conn = conn
                fake._connections.add(conn)
                fake._count("connections")

            def connection_lost(self, exc) -> None:
                fake._connections.discard(self._conn)

            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                ok = hmac.compare_digest(username, fake.login) and hmac.compare_digest(password, fake.password)
                fake._count("logins" if ok else "refused_logins")
                return ok

        return _Server()

    def _sftp_factory(self, chan):
        fake = self

        class _Sftp(asyncssh.SFTPServer):
            def open(self, path, pflags, attrs):
                if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT):
                    fake._count("opened_for_write")
                return super().open(path, pflags, attrs)

            def rename(self, oldpath, newpath):
                fake._count("renames")
                return super().rename(oldpath, newpath)

            def posix_rename(self, oldpath, newpath):
                fake._count("renames")
                return super().posix_rename(oldpath, newpath)

        return _Sftp(chan, chroot=str(self.root).encode())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeSftpServer:
        logging.getLogger("asyncssh").setLevel(logging.WARNING)  # one line per packet otherwise
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="fake-sftp", daemon=True)
            self._thread.start()
        async def _listen():
            return await asyncssh.listen(
                self.host, self.port, server_host_keys=[self._key], server_factory=self._server_factory,
                sftp_factory=self._sftp_factory, allow_scp=False, reuse_address=True)

        self._acceptor = asyncio.run_coroutine_threadsafe(_listen(), self._loop).result(10)
        self.port = self._acceptor.get_port()
        log.info("Fake SFTP server on %s:%s, root %s", self.host, self.port, self.root)
        return self

    def stop(self) -> None:
        """Stop listening and drop every open session (the port stays reserved for :meth:`start`)."""
        if self._acceptor is None:
            return

        async def _close():
            self._acceptor.close()
            await self._acceptor.wait_closed()
            for conn in list(self._connections):
                conn.abort()

        asyncio.run_coroutine_threadsafe(_close(), self._loop).result(10)
        self._acceptor = None

    def shutdown(self) -> None:
        self.stop()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            self._loop = None

    @property
    def running(self) -> bool:
        return self._acceptor is not None

    def __enter__(self) -> FakeSftpServer:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # ------------------------------------------------------------------ for tests
    def connection(self, *, remote_dir: str = "/", password: str | None = None, **extra) -> dict:
        """An Airflow connection (``AIRFLOW_CONN_*`` JSON) aimed here, with the host key pinned."""
        return {
            "conn_type": "sftp", "host": self.host, "port": self.port, "login": self.login,
            "password": self.password if password is None else password,
            "extra": {"remote_dir": remote_dir, "host_key": self.host_key_line, "look_for_keys": "false",
                      **extra},
        }

    def path(self, remote: str) -> Path:
        return self.root / remote.lstrip("/")

    def files(self, remote_dir: str = "/") -> dict[str, bytes]:
        """Every file in ``remote_dir`` (as a client sees it), by name, with its bytes."""
        folder = self.path(remote_dir)
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()} if folder.is_dir() else {}

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--root", default="var/fake-nb-sftp")
    parser.add_argument("--login", default=DEMO_LOGIN)
    parser.add_argument("--password", default=DEMO_PASSWORD)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = FakeSftpServer(args.root, host=args.host, port=args.port, login=args.login,
                            password=args.password).start()
    print(f"SFTP={server.host}:{server.port} ROOT={server.root} HOST_KEY={server.host_key_line}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
