"""Which hosts are this machine: the only ones that may be reached without TLS."""

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``).

    >>> is_loopback("127.0.0.2"), is_loopback("[::1]"), is_loopback("example.com")
    (True, True, False)
    """
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
