"""How the HTTP app is served: its uvicorn factory, and development mode's rules.

Both entrypoints need these (``ledger serve`` starts the app, ``api`` enforces the rules per
request), and neither may import the other, so they live here.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Mapping

from ledger.errors import InvalidInputError

HTTP_APP = "api.main:create_app"
"""The app factory uvicorn imports (``uvicorn --factory api.main:create_app``); settings come from ``LEDGER_*``."""
HTTP_PROTOCOL = "api.intake:ProblemH11Protocol"
"""uvicorn's h11 protocol whose answer to an unparseable request (a bad ``Content-Length``) is a problem."""
DEV_MODE_VARIABLE = "LEDGER_DEV_MODE"
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"", "0", "false", "no", "off"})


def dev_mode_from_env(env: Mapping[str, str]) -> bool:
    """Whether ``LEDGER_DEV_MODE`` switches development mode on; an unclear value is an InvalidInputError."""
    value = env.get(DEV_MODE_VARIABLE, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise InvalidInputError(f"{DEV_MODE_VARIABLE} must be 1 or 0")


def check_dev_host(host: str | None) -> None:
    """InvalidInputError unless development mode is to be served on a loopback address.

    ``None`` (the binding is not known here, e.g. ``uvicorn --factory``) is accepted: then the
    per-request check of ``api.auth.dev_caller`` is the guard.
    """
    if host is not None and not is_loopback(host):
        raise InvalidInputError(
            f"development mode (no tokens) is only served on 127.0.0.1, not on {host!r}; "
            "use bearer tokens to serve other interfaces"
        )


def is_loopback(host: str) -> bool:
    """True for loopback IP addresses (``127.0.0.1``, ``::1``); names such as ``localhost`` are not trusted."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    """Raises ``InvalidInputError`` (one line, with a hint) when nothing could listen on ``host:port``:
    the port is taken (another ``ledger serve``?), or the address is not this machine's."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise InvalidInputError(f"cannot serve on {host}: no such address (try --host 127.0.0.1)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise InvalidInputError(f"port {port} on {host} is in use (another `ledger serve`?): stop it, "
                                        f"or choose another with --port {port + 1}") from None
            raise InvalidInputError(f"cannot listen on {host}:{port}: {error.strerror}") from None
