"""Deterministic, anonymous transaction ids for loans (docs/contracts.md section 3).

``transactionId = uuid5(namespace, str(loan_id))`` where
``namespace = uuid5(NAMESPACE_URL, "urn:loan-reporting:" + installation)`` and
``installation`` is the configured installation namespace (``LOAN_REPORTING_INSTALLATION``,
e.g. ``no.example.library-system.prod``).

* Same loan, same id, forever: the id depends only on the installation string and the
  loan's database id -- not on the run, the date, the code version or the order of rows.
  **Never change the installation string of a running installation**: every id would
  change and Bokbasen would see the same loans as new ones.
* Unique across installations: two library systems with the same loan id 42 have
  different namespaces, hence different ids.
* Reveals nothing about the patron: the input is the loan id only, and a SHA-1-based
  UUID cannot be turned back into the loan id without knowing the installation string.

``transaction_ids`` is the vectorised form used by the builder: it hashes with a pre-fed
SHA-1 object (``hashlib.sha1(namespace.bytes).copy()`` per id) and formats the UUID
strings with numpy, about 1 s per million ids; results are identical to ``uuid.uuid5``.
"""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import pyarrow as pa

NAMESPACE_PREFIX = "urn:loan-reporting:"

# (start, stop) of the 8-4-4-4-12 hex groups in the UUID text, and where each group starts
# among the 32 hex digits.
_GROUPS = ((0, 8, 0), (9, 13, 8), (14, 18, 12), (19, 23, 16), (24, 36, 20))


def installation_namespace(installation: str) -> uuid.UUID:
    """The UUID namespace of an installation string (must be non-blank)."""
    if not isinstance(installation, str) or not installation.strip():
        raise ValueError(
            "the installation namespace must be a non-empty string (LOAN_REPORTING_INSTALLATION)"
        )
    return uuid.uuid5(uuid.NAMESPACE_URL, NAMESPACE_PREFIX + installation.strip())


def transaction_id(loan_id: int, installation: str) -> str:
    """The transaction id of one loan (reference implementation)."""
    return str(uuid.uuid5(installation_namespace(installation), str(int(loan_id))))


def transaction_ids(loan_ids: pa.Array | np.ndarray | list[int], installation: str) -> pa.Array:
    """Transaction ids for many loans, as a pyarrow string array (nulls not allowed)."""
    namespace = installation_namespace(installation)
    if isinstance(loan_ids, pa.ChunkedArray):
        loan_ids = loan_ids.combine_chunks()
    if isinstance(loan_ids, pa.Array):
        if loan_ids.null_count:
            raise ValueError("loan ids must not be null")
        ids = loan_ids.to_numpy(zero_copy_only=False)
    else:
        ids = np.asarray(loan_ids, dtype=np.int64)
    n = len(ids)
    if n == 0:
        return pa.array([], pa.string())
    base = hashlib.sha1(namespace.bytes, usedforsecurity=False)

    def digest(name: bytes, copy=base.copy) -> bytes:
        h = copy()
        h.update(name)
        return h.digest()

    names = (b"%d" % loan_id for loan_id in ids.tolist())
    digests = b"".join(map(digest, names))
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(n, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexdigits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, src in _GROUPS:
        text[:, start:stop] = hexdigits[:, src : src + stop - start]
    offsets = np.arange(0, (n + 1) * 36, 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))
