"""Which values are secret, and how what polyarch shows is kept free of them.

A value is secret because of its key: a key polyarch.toml declares
(`project.secrets`, `project.required`), or a key whose name looks secret
holding a value that looks like one. Plans are masked as data (`Secrets.mask`)
before they are printed or turned into JSON; the text filters
(`mask_text`, `mask_json_text`) are a last resort for output polyarch does not
write itself, and only replace values that look secret, never `true` or
`admin`. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Iterable, Mapping

PLACEHOLDER = "***"

# A word of a variable name (split on `_`) that names a secret.
_SECRET_WORD = re.compile(r"PASSW|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|PRIVATE|KEY$|AUTH$|^PASS$|^PW$", re.IGNORECASE)
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOOLEANS = {"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"}
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
# One word of letters (`admin`, `vault`, `read-only`): an ordinary setting, not a secret.
_WORD = re.compile(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*")
MIN_LENGTH = 6
WORD_LENGTH = 16


def looks_secret_key(key: str) -> bool:
    """`DB_PASSWORD`, `STORAGE_ACCESS_KEY`, `X_OAUTH`: yes; `KEYCLOAK_URL`, `AUTHOR`, an image ref `auth-api:1`: no.

    Only variable names count: label names, image refs and values-file paths are not keys of secrets.
    """
    return bool(_VARIABLE.fullmatch(key)) and any(_SECRET_WORD.search(word) for word in key.split("_") if word)


def looks_secret_value(value: str) -> bool:
    """At least 6 characters, and not a boolean, a number or a plain word shorter than 16 letters."""
    text = value.strip()
    if len(text) < MIN_LENGTH or text.lower() in _BOOLEANS or _NUMBER.fullmatch(text):
        return False
    return not (_WORD.fullmatch(text) and len(text) < WORD_LENGTH)


def _json_forms(value: str) -> tuple[str, ...]:
    """How `value` appears inside a JSON string: escaped, with and without \\u escapes."""
    return tuple(dict.fromkeys((json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1])))


@dataclass(frozen=True)
class Secrets:
    """The secret keys a project declares and the `.env` pairs whose values are secret."""

    declared: frozenset[str] = frozenset()
    pairs: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str], declared: Iterable[str] = ()) -> "Secrets":
        keys = frozenset(declared)
        return cls(keys, frozenset((k, v) for k, v in env.items() if _hides(keys, k, v)))

    def merged(self, other: "Secrets") -> "Secrets":
        return Secrets(self.declared | other.declared, self.pairs | other.pairs)

    def hides(self, key: str, value: str) -> bool:
        """Is this key's value secret: a declared key, or a secret-looking key with a secret-looking value?"""
        return _hides(self.declared, key, value)

    @cached_property
    def _declared_values(self) -> frozenset[str]:
        """Declared secrets, found as a whole value under another key (`DB_PASS: ${POSTGRES_PASSWORD}`)."""
        return frozenset(v for k, v in self.pairs if k in self.declared and v.lower() not in _BOOLEANS and not _NUMBER.fullmatch(v))

    @cached_property
    def _loose(self) -> tuple[str, ...]:
        """Values safe to replace wherever they appear (they look secret), longest first."""
        return tuple(sorted({v for _, v in self.pairs if looks_secret_value(v)}, key=len, reverse=True))

    @cached_property
    def _after_key_text(self) -> tuple[re.Pattern[str], ...]:
        """`KEY=value`, `KEY: value`, `"KEY": "value"` for every secret pair, whatever the value's length."""
        return tuple(_after_key(k, (v, *_json_forms(v))) for k, v in self._by_length)

    @cached_property
    def _after_key_json(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_after_key(k, _json_forms(v)) for k, v in self._by_length)

    @property
    def _by_length(self) -> list[tuple[str, str]]:
        return sorted(self.pairs, key=lambda pair: len(pair[1]), reverse=True)

    def mask_text(self, text: str) -> str:
        """Free text with secret values replaced: after their key always, anywhere when they look secret."""
        for pattern in self._after_key_text:
            text = pattern.sub(rf"\1{PLACEHOLDER}", text)
        for value in self._loose:
            for form in (value, *_json_forms(value)):
                text = text.replace(form, PLACEHOLDER)
        return text

    def mask_json_text(self, text: str) -> str:
        """JSON text with secret values replaced inside its strings only, so it stays valid JSON."""
        for pattern in self._after_key_json:
            text = pattern.sub(rf"\1{PLACEHOLDER}", text)
        for value in self._loose:
            for form in _json_forms(value):
                # Start only where an escape sequence could not be cut in half.
                text = re.sub(rf"(?<!\\)((?:\\\\)*){re.escape(form)}", lambda m: m.group(1) + PLACEHOLDER, text)
        return text

    def mask(self, data):
        """The same data (dataclasses, tuples, dicts, strings, paths) with every secret value replaced.

        In key/value pairs (a dict of strings, a tuple of 2-tuples of strings)
        a value goes whole when its key is secret or it is a declared secret;
        every other string is masked as text.
        """
        if isinstance(data, str):
            return self.mask_text(data)
        if isinstance(data, Path):
            return Path(self.mask_text(str(data)))
        if is_dataclass(data) and not isinstance(data, type):
            return replace(data, **{f.name: self.mask(getattr(data, f.name)) for f in fields(data) if f.init})
        if isinstance(data, dict):
            return {self.mask(k): self._value_of(k, v) if isinstance(k, str) else self.mask(v) for k, v in data.items()}
        if isinstance(data, tuple) and data and all(_is_pair(item) for item in data):
            return tuple((self.mask_text(k), self._value_of(k, v)) for k, v in data)
        if isinstance(data, (tuple, list)):
            return type(data)(self.mask(item) for item in data)
        return data

    def _value_of(self, key: str, value):
        if isinstance(value, str) and (self.hides(key, value) or value in self._declared_values):
            return PLACEHOLDER
        return self.mask(value)


def _hides(declared: frozenset[str], key: str, value: str) -> bool:
    return bool(value) and (key in declared or (looks_secret_key(key) and looks_secret_value(value)))


def _after_key(key: str, forms: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(f) for f in sorted(set(forms), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({re.escape(key)}[\"']?\s*[=:]\s*[\"']?)(?:{alternatives})(?!\w)")


def _is_pair(item: object) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and all(isinstance(part, str) for part in item)
