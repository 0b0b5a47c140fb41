"""``create-admin`` (the console's first user) and ``staff add``: console users with argon2-hashed passwords."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bots.cli import Tools
from bots.web.console.auth import MIN_PASSWORD, hash_password
from core.errors import ConflictError
from core.ports import Store
from core.ports.staff import StaffRole

PASSWORD_STDIN = typer.Option("--password-stdin", help="read the password from stdin (one line), e.g. from a pipe or "
                              "a secrets manager, instead of asking for it")


def _password(from_stdin: bool = False) -> str:
    """Asked twice, hidden, at a terminal; with ``--password-stdin`` read as one line from stdin: getpass reading a
    pipe warns that the password may be echoed (``GetPassWarning``), which it is not, and asks for it twice."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("no password on stdin: --password-stdin reads one line, and it was empty", file=sys.stderr)
            raise typer.Exit(2)
    elif not sys.stdin.isatty():
        print("stdin is not a terminal: pass --password-stdin to read the password from it", file=sys.stderr)
        raise typer.Exit(2)
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        print(f"a password has at least {MIN_PASSWORD} characters", file=sys.stderr)
        raise typer.Exit(2)
    return str(password)


def _create(tools: Tools, username: str, display_name: str, role: StaffRole, password: str) -> None:
    username = username.strip()
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        print("a username is letters, digits, '.', '_' or '-' (up to 64)", file=sys.stderr)
        raise typer.Exit(2)
    hashed = hash_password(password)

    async def create(store: Store) -> int:
        async with store.transaction() as tx:
            user = await tx.staff.add_user(username, display_name or username, role, hashed, tools.now())
            await tx.staff.audit(None, "create_staff", f"staff:{user.id}", tools.now(), {"role": role.value,
                                                                                        "by": "command line"})
            return user.id

    try:
        staff_id = tools.run(create)
    except ConflictError:
        print(f"the username {username!r} is taken", file=sys.stderr)
        raise typer.Exit(1) from None
    print(f"created {role.value} {username} (#{staff_id}); sign in at /console/login")


def register(app: typer.Typer, tools: Tools) -> None:
    @app.command("create-admin")
    def create_admin(username: Annotated[str, typer.Argument(help="the login")] = "admin",
                     name: Annotated[str, typer.Option(help="shown to colleagues")] = "",
                     password_stdin: Annotated[bool, PASSWORD_STDIN] = False) -> None:
        """Create a console administrator (asks for the password twice, or reads it with --password-stdin)."""
        _create(tools, username, name, StaffRole.ADMIN, _password(password_stdin))

    staff = typer.Typer(help="Console users: support, promo managers, admins.")
    app.add_typer(staff, name="staff")

    @staff.command("add")
    def add(username: str, role: Annotated[StaffRole, typer.Option(help="admin | manager | support")],
            name: Annotated[str, typer.Option(help="shown to colleagues")] = "",
            password_stdin: Annotated[bool, PASSWORD_STDIN] = False) -> None:
        """Create a console user with this role (asks for the password twice, or reads it with --password-stdin)."""
        _create(tools, username, name, role, _password(password_stdin))
