"""Which ``Host`` and ``Origin`` headers the app server answers (pure functions, no Voilà).

A page on another site can make a browser send requests to ``127.0.0.1`` (DNS rebinding: the
attacker's name resolves to the loopback address). Such requests carry the attacker's name in
``Host``, and its websockets carry it in ``Origin``; answering only allowed names stops them.

Allowed by default: the loopback names ``localhost``, ``127.0.0.1`` and ``::1`` (any loopback
address, written as an address). A teacher adds the names students type (``--allow-host``).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_HOST_PORT = re.compile(r"^(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>\d+))?$")


def host_name(host_header):
    """The name in a ``Host`` header, lower case, without port or IPv6 brackets.

    Examples
    --------
    >>> host_name("Example.org:8866"), host_name("[::1]:80"), host_name("127.0.0.1")
    ('example.org', '::1', '127.0.0.1')
    """
    match = _HOST_PORT.match((host_header or "").strip())
    name = match.group("host") if match else ""
    return name[1:-1].lower() if name.startswith("[") and name.endswith("]") else name.lower()


def normalize_hosts(names):
    """Allowed host names, lower case, loopback names first; ``*`` allows every host.

    Raises
    ------
    ValueError
        If a name is empty or carries a scheme, port or path.
    """
    allowed = list(LOOPBACK_NAMES)
    for name in names or ():
        clean = str(name).strip().lower()
        if clean.startswith("[") and clean.endswith("]"):
            clean = clean[1:-1]
        if not clean or "/" in clean or (":" in clean and not _is_ip(clean)):
            raise ValueError(f"--allow-host takes a host name or address without scheme, port or "
                             f"path (e.g. class.example.org or 192.168.1.20); got {name!r}")
        if clean not in allowed:
            allowed.append(clean)
    return allowed


def host_allowed(host_header, allowed):
    """Whether a request with this ``Host`` header may be answered.

    Examples
    --------
    >>> host_allowed("127.0.0.2:8866", ["localhost"]), host_allowed("evil.example", ["localhost"])
    (True, False)
    """
    if "*" in allowed:
        return True
    name = host_name(host_header)
    if not name:
        return False
    if _is_ip(name) and ipaddress.ip_address(name).is_loopback:
        return True
    return name in allowed


def origin_allowed(origin_header, allowed):
    """Whether a request with this ``Origin`` header may open a websocket.

    No ``Origin`` (a script, not a browser page) is allowed: the Host check still applies.

    Examples
    --------
    >>> origin_allowed("http://localhost:8866", ["localhost"]), origin_allowed("https://evil.example", ["localhost"])
    (True, False)
    """
    if origin_header is None:
        return True
    parts = urlsplit(origin_header.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "*" in allowed
    return host_allowed(parts.netloc, allowed)


def is_loopback(ip):
    """Whether binding to ``ip`` keeps the server on this machine (``localhost`` counts)."""
    if str(ip).strip().lower() == "localhost":
        return True
    return _is_ip(ip) and ipaddress.ip_address(str(ip)).is_loopback


def _is_ip(text):
    try:
        ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return True
