"""Passwords: argon2id hashing, generation and the minimum rules every new password meets."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from training.core.errors import UserError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which usernames exist.
DUMMY_HASH = _hasher.hash("huashu-dummy-password")

MIN_PASSWORD_LENGTH = 8
#: Of letters, digits and symbols, a password mixes at least this many kinds.
MIN_CHARACTER_CLASSES = 2
#: Passwords seen at the top of leaked-password lists (Chinese sites included), compared case-blind.
COMMON_PASSWORDS = frozenset("""
password password1 password123 passw0rd p@ssw0rd p@ssword 12345678 123456789 1234567890
11111111 88888888 66666666 00000000 12341234 87654321 a1234567 a12345678 a123456789 aa123456
abc12345 abc123456 abcd1234 1234abcd 123456abc qwer1234 1234qwer qwerty123 qwerty12 qwertyuiop
1qaz2wsx zaq12wsx 1q2w3e4r 1q2w3e4r5t asdf1234 zxcvbnm1 iloveyou iloveyou1 woaini1314 woaini520
5201314520 qq123456 admin123 admin1234 admin@123 admin888 root1234 test1234 welcome1 welcome123
changeme changeme1 letmein1 huashu123 huashu2026 kefu1234 kefu123456
""".split())


class AccountError(UserError):
    """A user-facing account problem (bad input, duplicate name, wrong password)."""


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def character_classes(password: str) -> int:
    """How many of letters (any script), digits and symbols the password uses."""
    letters = any(ch.isalpha() for ch in password)
    digits = any(ch.isdigit() for ch in password)
    symbols = any(not ch.isalnum() for ch in password)
    return letters + digits + symbols


def password_problems(password: str, *, username: str = "") -> list[str]:
    """Every rule ``password`` breaks, as Chinese messages (empty if it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。")
    if character_classes(password) < MIN_CHARACTER_CLASSES:
        problems.append("密码需包含字母、数字、符号中的至少两类。")
    if username.strip() and password.casefold() == username.strip().casefold():
        problems.append("密码不能与用户名相同。")
    if password.casefold() in COMMON_PASSWORDS:
        problems.append("该密码过于常见，容易被猜到，请换一个。")
    return problems


def check_password(password: str, *, username: str = "") -> None:
    """Raise AccountError naming the first rule ``password`` breaks."""
    problems = password_problems(password, username=username)
    if problems:
        raise AccountError(problems[0])


def generate_password() -> str:
    """A random 16-character password for new or reset accounts (always meets the rules)."""
    alphabet = string.ascii_letters + string.digits + "-_"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(16))
        if not password_problems(password):
            return password
