"""The simulator's demo login in the environment, for fixtures of any scope."""

import pytest

# Every variable reporter reads a login or an API address from.
LOGIN_VARIABLES = (
    "CLC_USER",
    "CLC_PASSWORD",
    "CLC_V2_API_USERNAME",
    "CLC_V2_API_PASSWD",
    "CLC_BEARER_TOKEN",
    "REPORTER_API_URL",
    "REPORTER_LOGIN_URL",
    "REPORTER_SERVERS_API_URL",
)


def use_demo_login(patch: pytest.MonkeyPatch) -> None:
    """Set CLC_USER/CLC_PASSWORD to the simulator's demo login and unset every other one."""
    for name in LOGIN_VARIABLES:
        patch.delenv(name, raising=False)
    patch.setenv("CLC_USER", "demo")
    patch.setenv("CLC_PASSWORD", "demo")
