"""Secrets of sessions and tokens, and password hashes: made, hashed and checked here only."""

from __future__ import annotations

import hashlib
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from geo_service.errors import InvalidParameter

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "gst_"  # so that a leaked token is recognisable (secret scanners, logs)

_hasher = PasswordHash((Argon2Hasher(),))  # Argon2id with pwdlib's defaults
# Checked when the name is unknown, so that an unknown name costs as much time as a known one.
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_password_rule(password: str) -> None:
    """Refuse a password that is too short, naming the rule."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameter(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters", parameter="password"
        )


def hash_password(password: str) -> str:
    """The Argon2id hash of a password that passes the rule."""
    check_password_rule(password)
    return _hasher.hash(password)


def password_matches(password: str, password_hash: str | None) -> bool:
    """Whether the password matches the hash; with no hash (unknown user) a decoy is checked."""
    if password_hash is None:
        _hasher.verify(password, _UNKNOWN_USER_HASH)
        return False
    return _hasher.verify(password, password_hash)


def new_password() -> str:
    """A random password for a new account (printed once, never stored in clear)."""
    return secrets.token_urlsafe(12)


def new_secret(prefix: str = "") -> str:
    """A new session or token secret: 256 random bits."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> bytes:
    """What the database stores of a session or token secret: its SHA-256 (the secret has 256
    random bits, so a fast hash is enough)."""
    return hashlib.sha256(secret.encode()).digest()
