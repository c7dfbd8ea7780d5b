"""`dataos user …`: users, their tags and API keys."""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from userlib.output import Format, age, emit, render
from ..session import client
from .options import OUTPUT
from .groups import OneLineGroup

app = typer.Typer(help="Users (people and applications), their tags and API keys.", no_args_is_help=True)
apikey = typer.Typer(help="API keys: create (the token is shown once), list, delete.", no_args_is_help=True)
app.add_typer(apikey, name="apikey", cls=OneLineGroup)


def _user_rows(users: list[dict[str, Any]]):
    return (["name", "type", "tags", "apikeys", "age"],
            [[u["id"], u["type"], [t for t in u["tags"] if not t.startswith("users:id:")], len(u["apikeys"]),
              age(u["created"])] for u in users])


@app.command()
def create(name: str = typer.Argument(..., help="The user id (lowercase letters, digits, '-')."),
           type: str = typer.Option("person", "--type", help="person or application."),
           tags: list[str] = typer.Option([], "--tag", help="A tag such as roles:id:analyst (repeatable)."),
           description: str = typer.Option("", "--description", "-d"), output: Format = OUTPUT) -> None:
    """Create a user; users:id:NAME is implied."""
    user = client().user.create(name=name, type=type, tags=tags, description=description)
    if output in (Format.json, Format.yaml):
        render(user, output)
    else:
        emit(f"user/{name}" if output is Format.name else f"user/{name} created")


@app.command()
def get(name: Optional[str] = typer.Argument(None, help="A user; all users when left out."),
        output: Format = OUTPUT) -> None:
    """Show a user (tags, API keys), or list the users you may read."""
    users = [client().user.get(name=name)] if name else client().user.list()
    headers, rows = _user_rows(users)
    render(users[0] if name else users, output, headers, rows, (f"user/{u['id']}" for u in users))


@app.command("list")
def list_(output: Format = OUTPUT) -> None:
    """List the users you may read."""
    get(None, output)


@app.command()
def tag(name: str, tags: list[str] = typer.Argument(..., help="Tags to add (or remove with --remove)."),
        remove: bool = typer.Option(False, "--remove", help="Remove the tags instead."),
        output: Format = OUTPUT) -> None:
    """Add tags to a user, or remove them."""
    user = client().user.update(name=name, **({"remove_tags": tags} if remove else {"add_tags": tags}))
    headers, rows = _user_rows([user])
    render(user, output, headers, rows, [f"user/{name}"])


@app.command()
def delete(name: str, output: Format = OUTPUT) -> None:
    """Delete a user and revoke all their API keys."""
    user = client().user.delete(name=name)
    if output in (Format.json, Format.yaml):
        render(user, output)
    else:
        emit(f"user/{name}" + ("" if output is Format.name else " deleted"))


@apikey.command("create")
def apikey_create(user: str = typer.Argument(..., help="Whose key."),
                  name: Optional[str] = typer.Option(None, "--name", help="The key's name [default: generated]."),
                  expires: Optional[str] = typer.Option(None, "--expires", help="Lifetime such as 24h or 30d."),
                  output: Format = OUTPUT) -> None:
    """Create an API key. The token is printed this once and never again."""
    key = client().user.apikey.create(user=user, name=name, expires=expires)
    if output in (Format.json, Format.yaml):
        render(key, output)
        return
    print(key["token"])
    print(f"API key {key['name']!r} for user {user!r} created"
          + (f", expires {key['expires']}" if key["expires"] else ", never expires")
          + ". The token above is shown once: store it now.", file=sys.stderr)


def _key_rows(keys: list[dict[str, Any]]):
    return (["name", "user", "created", "expires", "expired"],
            [[k["name"], k["user"], k["created"], k["expires"] or "never", k["expired"]] for k in keys])


@apikey.command("list")
def apikey_list(user: str, output: Format = OUTPUT) -> None:
    """A user's API keys (never the tokens)."""
    keys = client().user.apikey.list(user=user)
    headers, rows = _key_rows(keys)
    render(keys, output, headers, rows, (f"apikey/{k['name']}" for k in keys))


@apikey.command("delete")
def apikey_delete(user: str, name: str, output: Format = OUTPUT) -> None:
    """Revoke an API key."""
    key = client().user.apikey.delete(user=user, name=name)
    if output in (Format.json, Format.yaml):
        render(key, output)
    else:
        emit(f"apikey/{name}" + ("" if output is Format.name else " deleted"))
