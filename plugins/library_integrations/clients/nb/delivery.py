"""Where the NB statistics go: an SFTP folder (``SftpTarget``) or an object-storage folder (``ObjectStorageTarget``).

Both upload each file under a temporary name (``.<name>.part``) and then rename it, so the
receiver never sees half a file; files go in the order given (the NB delivery sends the CSV
first and the manifest last, so a manifest on the server means a complete delivery).

**SFTP** (``apache-airflow-providers-sftp``, connection ``nb_statistics_sftp``, conn_type
``sftp``): host, port, login, and a password or a key (``key_file``/``private_key`` in the
extra, as the SSH provider reads them). Extra, besides the provider's own (``host_key`` to pin
the server's key, ``conn_timeout``, ...):

``remote_dir``          folder to deliver to (created if missing; default: the
                        ``NB_STATISTICS_REMOTE_DIR`` setting, else the login directory)
``max_attempts``        connection/upload attempts per delivery, retries included (5)
``max_total_seconds``   time budget of those attempts (300)
``backoff_base``        first backoff in seconds, doubled each retry, with jitter (5)

Retries: the shared policy of :mod:`library_integrations.http.retry` (:class:`RetryPolicy`,
:class:`RetryBudget`: exponential backoff with jitter, bounded attempts and time) around
the whole connect-upload-rename, for transport faults only: refused, reset or dropped
connections, timeouts, SSH protocol errors. A refused login, a wrong host key or a
permission error is not retried (:class:`DeliveryRejected`). When the attempts or the budget
run out, :class:`TargetUnavailable` says so; it is *retryable*, so the task's Airflow retries
(``NB_STATISTICS_TASK_RETRIES``, minutes apart) cover longer outages. The provider's own
connect retries are turned off (``conn_retry_attempts=1``) so that one policy decides.

**Object storage**: ``ObjectStoragePath`` (``file://``, ``s3://``, ...) for libraries that send
the file on themselves; transient storage errors are left to the task's Airflow retries.

No message here holds a password, a key or the connection's extra.
"""

from __future__ import annotations

import errno
import logging
import posixpath
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from library_integrations.http.retry import RetryBudget, RetryPolicy

log = logging.getLogger(__name__)

SFTP_CONN_ID = "nb_statistics_sftp"
DEFAULT_RETRY = RetryPolicy(max_attempts=5, max_total_seconds=300.0, backoff_base=5.0, backoff_max=60.0)
_SOCKET_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
                  errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


@dataclass(frozen=True)
class OutgoingFile:
    """One file to deliver: its name at the target, how to open it for reading, its size and sha256."""

    name: str
    open: Callable[[], BinaryIO]
    size: int
    sha256: str


class DeliveryError(Exception):
    """A delivery failed; ``retryable`` says whether a later attempt (an Airflow retry) may succeed."""

    retryable = False


class DeliveryRejected(DeliveryError):
    """The target refused us (login, host key, permissions): fix the connection, retrying will not help."""


class TargetUnavailable(DeliveryError):
    """The target could not be reached or dropped us, on every attempt the retry policy allowed."""

    retryable = True


def _is_transient(exc: BaseException) -> bool:
    import paramiko

    if isinstance(exc, paramiko.AuthenticationException | paramiko.BadHostKeyException):
        return False
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return True
    if isinstance(exc, EOFError | ConnectionError | TimeoutError | socket.timeout | paramiko.SSHException):
        return True
    return isinstance(exc, OSError) and exc.errno in _SOCKET_ERRNOS


def _problem(exc: BaseException) -> str:
    import paramiko

    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError | ConnectionRefusedError):
        return "connection refused (server down or not listening)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, EOFError | ConnectionError):
        return f"connection dropped ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


class SftpTarget:
    """Deliver files to a folder on an SFTP server through the Airflow SFTP provider."""

    def __init__(
        self,
        conn_id: str = SFTP_CONN_ID,
        *,
        remote_dir: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from airflow.sdk import BaseHook

        self.conn_id = conn_id
        conn = BaseHook.get_connection(conn_id)
        extra: dict[str, Any] = conn.extra_dejson or {}
        self.host, self.port, self.login = conn.host, conn.port or 22, conn.login
        self.remote_dir = str(extra.get("remote_dir") or remote_dir or ".")
        self.retry = retry or RetryPolicy(
            max_attempts=int(extra.get("max_attempts", DEFAULT_RETRY.max_attempts)),
            max_total_seconds=float(extra.get("max_total_seconds", DEFAULT_RETRY.max_total_seconds)),
            backoff_base=float(extra.get("backoff_base", DEFAULT_RETRY.backoff_base)),
            backoff_max=DEFAULT_RETRY.backoff_max,
        )
        self.sleep = sleep
        self.description = f"sftp:{conn_id}:{self.remote_dir}"

    def _where(self) -> str:
        return f"{self.login}@{self.host}:{self.port} (connection {self.conn_id}), folder {self.remote_dir!r}"

    def upload(self, files: Sequence[OutgoingFile]) -> list[dict[str, Any]]:
        """Upload every file (temporary name, then rename), retrying transport faults; see the module doc."""
        budget = RetryBudget(self.retry, sleep=self.sleep, label=self.description)
        while True:
            budget.attempts += 1
            try:
                return self._upload_once(files)
            except Exception as exc:
                import paramiko

                if isinstance(exc, paramiko.AuthenticationException):
                    raise DeliveryRejected(
                        f"SFTP login refused at {self._where()}: {type(exc).__name__}. Check the login and the "
                        f"password or key of connection {self.conn_id}; nothing was delivered.") from None
                if isinstance(exc, paramiko.BadHostKeyException):
                    raise DeliveryRejected(
                        f"SFTP server at {self._where()} presented another host key than the connection's "
                        "host_key: not delivered (it may not be NB's server). Update host_key only if NB "
                        "confirms a new key.") from None
                if not _is_transient(exc):
                    raise DeliveryRejected(
                        f"SFTP delivery to {self._where()} failed: {type(exc).__name__}: {exc}") from None
                problem = _problem(exc)
                wait = self.retry.backoff(budget.attempts)
                if budget.attempts >= self.retry.max_attempts or not budget.can_wait(wait):
                    raise TargetUnavailable(
                        f"SFTP server at {self._where()} unavailable: {problem}; gave up after {budget.attempts} "
                        f"attempt(s) in {budget.elapsed():.1f} s (retry policy: {self.retry.max_attempts} attempts, "
                        f"{self.retry.max_total_seconds:g} s). Nothing was delivered; the task's retries try "
                        "again later.") from None
                log.warning("SFTP %s: %s (attempt %d/%d); backing off %.1f s", self.description, problem,
                            budget.attempts, self.retry.max_attempts, wait)
                budget.wait(wait)

    def _hook(self):
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        hook = SFTPHook(ssh_conn_id=self.conn_id, conn_retry_attempts=1)
        if hook.conn_timeout is None:
            hook.conn_timeout = 10
        return hook

    def _ensure_dir(self, sftp) -> None:
        if self.remote_dir in ("", "."):
            return
        path = "/" if self.remote_dir.startswith("/") else ""
        for part in self.remote_dir.split("/"):
            if part in ("", "."):
                continue
            path = posixpath.join(path, part) if path else part
            try:
                sftp.stat(path)
            except FileNotFoundError:
                sftp.mkdir(path)

    def _upload_once(self, files: Sequence[OutgoingFile]) -> list[dict[str, Any]]:
        out = []
        with self._hook().get_managed_conn() as sftp:
            self._ensure_dir(sftp)
            for f in files:
                final = posixpath.join(self.remote_dir, f.name)
                temporary = posixpath.join(self.remote_dir, f".{f.name}.part")
                with f.open() as src:
                    sftp.putfo(src, temporary, file_size=f.size, confirm=True)  # confirm: the size is checked
                try:
                    sftp.posix_rename(temporary, final)  # atomic, replaces an earlier attempt's file
                except OSError:  # a server without the posix-rename extension
                    try:
                        sftp.remove(final)
                    except FileNotFoundError:
                        pass
                    sftp.rename(temporary, final)
                log.info("SFTP %s: uploaded %s (%s bytes, sha256 %s)", self.description, final, f"{f.size:,}",
                         f.sha256[:12])
                out.append({"name": f.name, "path": final, "bytes": f.size, "sha256": f.sha256})
        return out


class ObjectStorageTarget:
    """Deliver files to a folder given as an ``ObjectStoragePath`` URL (``file://``, ``s3://``, ...)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.description = f"object_storage:{url}"

    def upload(self, files: Sequence[OutgoingFile]) -> list[dict[str, Any]]:
        from airflow.sdk import ObjectStoragePath

        base = ObjectStoragePath(self.url)
        base.mkdir(parents=True, exist_ok=True)
        out = []
        for f in files:
            temporary, final = base / f".{f.name}.part", base / f.name
            with f.open() as src, temporary.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if temporary.stat().st_size != f.size:
                raise DeliveryError(f"{temporary}: wrote {temporary.stat().st_size} bytes, expected {f.size}")
            temporary.rename(final)
            log.info("Object storage: wrote %s (%s bytes, sha256 %s)", final, f"{f.size:,}", f.sha256[:12])
            out.append({"name": f.name, "path": str(final), "bytes": f.size, "sha256": f.sha256})
        return out
