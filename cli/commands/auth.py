"""Who you are to the gateway: login, whoami, and the administrators' service tokens (`spin token`)."""

from __future__ import annotations

import getpass
import sys

import typer

from spin_gateway.cli import config as cfg
from spin_gateway.cli.errors import reports_errors
from spin_gateway.cli.options import JsonOpt, merged
from spin_gateway.vocabulary.errors import AuthError, UsageError

token_app = typer.Typer(no_args_is_help=True, help="Administrators: service tokens for facility systems.")


@reports_errors
def login(ctx: typer.Context, username: str | None = typer.Argument(None, help="Your facility user name "
                                                                   "(default: your login name)"),
          user: str | None = typer.Option(None, "--user", "-u", help="The same as the argument"),
          password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
          token: str | None = typer.Option(None, "--token", help="Store this token instead of logging in with a "
                                           "password (checked with the gateway first); `-` reads it from stdin"),
          json_output: bool = JsonOpt):
    """Exchange your facility password once for a signed, expiring token (stored with mode 0600).

    `spin login alice`, or `spin login --token TOKEN` with a token an administrator minted
    (`spin gateway token --user alice` on the gateway's machine).
    """
    o = merged(ctx, json_output=json_output)
    if username and user and username != user:
        raise UsageError(f"two user names: {username} and --user {user}", hint="Give the name once.")
    from spin_gateway.cli.client import GatewayClient  # httpx only for commands that talk to the gateway

    url = cfg.gateway_url(o.gateway)
    if token is not None:
        token = sys.stdin.readline().strip() if token == "-" else token.strip()
        if not token:
            raise UsageError("an empty token is refused", hint="Pass the token `spin gateway token` printed.")
        who = GatewayClient(url, token).request("GET", "/v1/whoami")  # a token the gateway refuses is not stored
        path = cfg.write_config({"gateway": url, "token": token})
        if o.as_json:
            return o.render.json({"user": who["name"], "config": str(path)})
        return o.render.line(f"logged in as {who['name']} (token); token stored in {path}")
    user = username or user or getpass.getuser()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(f"Password for {user}: ")
    if not password:
        raise UsageError("an empty password is refused", hint="Type your facility password.")
    result = GatewayClient(url, None).request("POST", "/v1/login", json={"username": user, "password": password})
    path = cfg.write_config({"gateway": url, "token": result["token"]})
    if o.as_json:
        return o.render.json({k: v for k, v in result.items() if k != "token"} | {"config": str(path)})
    o.render.line(f"logged in as {result['user']}; token stored in {path}")


@reports_errors
def logout(ctx: typer.Context, json_output: bool = JsonOpt):
    """Revoke your token on the gateway (every replica refuses it from then on) and forget it here."""
    o = merged(ctx, json_output=json_output)
    stored = cfg.read_config().get("token")
    used = cfg.token(o.token)
    if not used:
        raise UsageError("you are not logged in (no token given or stored)", hint="`spin login` first.")
    try:
        result = o.client().request("POST", "/v1/logout")
        note = f"token {result['token_id']} revoked on the gateway"
    except AuthError as exc:  # expired, revoked, or not this gateway's: nothing left to revoke there
        result = {"token_id": None, "user": None}
        note = f"the gateway no longer accepts this token ({exc.message})"
    forgot = used == stored and cfg.forget_token()  # a SPIN_TOKEN or --token is not ours to forget
    if o.as_json:
        return o.render.json(result | {"forgotten": forgot})
    o.render.line(note + ("; forgotten here" if forgot else ""))
    if used != stored:
        sys.stderr.write("the token came from --token or SPIN_TOKEN: remove it from there too\n")


@reports_errors
def whoami(ctx: typer.Context, json_output: bool = JsonOpt):
    """Who the gateway thinks you are: uid, gid, groups, projects."""
    o = merged(ctx, json_output=json_output)
    result = o.client().request("GET", "/v1/whoami")
    if o.as_json:
        return o.render.json(result)
    o.render.line(f"{result['name']} uid={result['uid']} gid={result['gid']} projects={','.join(result['projects'])}"
                  + (" (admin)" if result["admin"] else ""))


@token_app.command("create")
@reports_errors
def token_create(ctx: typer.Context, name: str = typer.Argument(..., help="What the token is for, e.g. slurm-prologue"),
                 for_user: list[str] | None = typer.Option(None, "--for-user", help="A user it may act for (repeatable)"),
                 for_project: list[str] | None = typer.Option(None, "--for-project",
                                                                 help="A facility project whose members it may act for"),
                 operations: str = typer.Option("up,down,check,read", "--operations"),
                 power: list[str] | None = typer.Option(None, "--power", help="A named power beyond the user's own: "
                                                         "admin (default none: never an administrator's)"),
                 ttl_days: float = typer.Option(30, "--ttl-days"), json_output: bool = JsonOpt):
    """Create a scoped, expiring service token; it is printed once."""
    o = merged(ctx, json_output=json_output)
    result = o.client().request("POST", "/v1/tokens", json={
        "name": name, "users": list(for_user or []), "projects": list(for_project or []),
        "operations": [op.strip() for op in operations.split(",") if op.strip()], "powers": list(power or []),
        "ttl_seconds": int(ttl_days * 86400)})
    if o.as_json:
        return o.render.json(result)
    o.render.line(result["token"])
    sys.stderr.write(f"token {result['record']['id']} ({name}) expires at {result['record']['expires_at']}; "
                     "store it now, it is not shown again\n")


@token_app.command("list")
@reports_errors
def token_list(ctx: typer.Context, json_output: bool = JsonOpt):
    """Service tokens the gateway issued (ids only, never the tokens)."""
    o = merged(ctx, json_output=json_output)
    result = o.client().request("GET", "/v1/tokens")
    if o.as_json:
        return o.render.json(result)
    o.render.table(["ID", "NAME", "USERS", "PROJECTS", "OPERATIONS", "EXPIRES", "REVOKED"],
                   [[r["id"], r["name"], ",".join(r["scope"]["users"]), ",".join(r["scope"]["projects"]),
                     ",".join(r["scope"]["operations"]), r["expires_at"], r["revoked_at"] or ""] for r in result])


@token_app.command("revoke")
@reports_errors
def token_revoke(ctx: typer.Context, token_id: str | None = typer.Argument(None, help="A service token's id"),
                 user: str | None = typer.Option(None, "--user", help="Revoke every token of this user issued "
                                                 "up to now (their logins); they log in again"),
                 json_output: bool = JsonOpt):
    """Revoke a service token at once, or (--user) every token of a user."""
    o = merged(ctx, json_output=json_output)
    if (token_id is None) == (user is None):
        raise UsageError("name a service token id or --user NAME (one of them)", hint="`spin token list` shows ids.")
    if user is not None:
        from urllib.parse import quote

        revoked = o.client().request("DELETE", f"/v1/users/{quote(user, safe='')}/tokens")
        if o.as_json:
            return o.render.json(revoked)
        return o.render.line(f"revoked every token of {revoked['user']} issued up to {revoked['revoked_before']} "
                             "(Unix time)")
    result = o.client().request("DELETE", f"/v1/tokens/{token_id}")
    if o.as_json:
        return o.render.json(result)
    o.render.line(f"revoked {result['id']} ({result['name']})")
