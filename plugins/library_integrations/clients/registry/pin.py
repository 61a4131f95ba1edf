"""PIN codes as the registry wants them: AES-128-ECB with PKCS#5 padding, hex-encoded, vendor's key.

The key is the system vendor's, issued by the registry's operator (connection extra
``pin_key``: 32 hex digits, or 16 characters used as they are, as Koha's ``nlkey``). PINs
reach the pipeline already encrypted by the library system (the queue's
``encrypted_pin``); the only PIN the pipeline makes is a random default PIN for a patron
who has none, and that one is encrypted where it is drawn (:meth:`PinCipher.new_default_pin`),
so no clear PIN ever leaves this module, and none is logged.

>>> cipher = PinCipher.from_setting("00112233445566778899aabbccddeeff")
>>> hexed = cipher.encrypt("1234")
>>> len(hexed), cipher.decrypt(hexed)
(32, '1234')
>>> cipher.is_valid(hexed), cipher.is_valid("not hex")
(True, False)
>>> PinCipher.from_setting("short")
Traceback (most recent call last):
...
ValueError: the PIN key must be 16 bytes: 32 hex digits or 16 characters (got 5 characters)
"""

from __future__ import annotations

import re
import secrets

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DEFAULT_PIN_DIGITS = 4
_HEX32 = re.compile(r"^[0-9A-Fa-f]{32}$")


class PinCipher:
    """Encrypts and decrypts PIN codes with the vendor's AES-128 key. ``repr`` hides the key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError(f"the PIN key must be 16 bytes (AES-128), not {len(key)}")
        self._key = key

    @classmethod
    def from_setting(cls, value: str) -> PinCipher:
        value = (value or "").strip()
        if _HEX32.match(value):
            return cls(bytes.fromhex(value))
        raw = value.encode("utf-8")
        if len(raw) != 16:
            raise ValueError(
                f"the PIN key must be 16 bytes: 32 hex digits or 16 characters (got {len(value)} characters)"
            )
        return cls(raw)

    def __repr__(self) -> str:
        return "PinCipher(key=***)"

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.ECB())  # noqa: S305 - the registry's protocol

    def encrypt(self, pin: str) -> str:
        """``pin`` encrypted and hex-encoded (upper case, as Koha's base-16 encoder writes it)."""
        padder = padding.PKCS7(128).padder()  # PKCS#5 is PKCS#7 on 8-byte blocks; AES needs 16
        data = padder.update(pin.encode("utf-8")) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return (encryptor.update(data) + encryptor.finalize()).hex().upper()

    def decrypt(self, hexed: str) -> str:
        """The clear PIN of ``hexed`` (``ValueError`` if it is not one). For checks and the fake only."""
        try:
            data = bytes.fromhex(hexed.strip())
            decryptor = self._cipher().decryptor()
            padded = decryptor.update(data) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not a PIN encrypted with this key") from None

    def is_valid(self, hexed: str | None) -> bool:
        """True when ``hexed`` decrypts with this key to 4 to 8 digits (the clear PIN is discarded)."""
        if not hexed:
            return False
        try:
            clear = self.decrypt(hexed)
        except ValueError:
            return False
        return clear.isdigit() and 4 <= len(clear) <= 8

    def new_default_pin(self, digits: int = DEFAULT_PIN_DIGITS) -> str:
        """A random default PIN, encrypted at once; the patron must change it (``pin_must_change``)."""
        return self.encrypt("".join(secrets.choice("0123456789") for _ in range(digits)))
