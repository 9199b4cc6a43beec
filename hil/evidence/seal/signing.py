"""The operator's Ed25519 key that signs seals. The private key is a PEM file only its owner may read (like an
SSH key); the public key is carried as 64 hex digits in the ledger, the report and the `.pub` file."""

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ENV = "HIL_SIGNING_KEY"


class SigningKeyError(Exception):
    pass


def generate(path: Path) -> tuple[Path, str]:
    """Write a new private key at path (mode 0600, never over an existing file) and its public key at
    path + '.pub'; the public key in hex."""
    key = Ed25519PrivateKey.generate()
    public = public_hex(key.public_key())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningKeyError(f"{path}: exists; a key is never overwritten") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path = path.with_name(path.name + ".pub")
    public_path.write_text(public + "\n", encoding="ascii")
    return public_path, public


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(f"{path}: readable by others (mode {stat.S_IMODE(mode):04o}); chmod 600 it")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise SigningKeyError(f"{path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 key")
    return key


def key_from_env() -> Ed25519PrivateKey | None:
    """The key named by HIL_SIGNING_KEY, or None when it is not set (seals are then unsigned)."""
    path = os.environ.get(KEY_ENV)
    return load_private(Path(path).expanduser()) if path else None


def load_public(path: Path) -> str:
    """A public key file written by `generate`: its 64 hex digits, checked."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"{path}: {exc}") from None
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except ValueError:
        raise SigningKeyError(f"{path}: not an Ed25519 public key in hex") from None
    return text


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return key.sign(message).hex()


def valid(public: str, signature: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify(bytes.fromhex(signature), message)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
