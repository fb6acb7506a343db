"""Running and administering the gateway itself, on its own machine: the only commands that import gateway_api."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from spin_gateway.cli.errors import reports_errors
from spin_gateway.cli.options import JsonOpt, OpaUrlOpt
from spin_gateway.vocabulary.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Run and administer the gateway itself.")


@app.command("serve")
@reports_errors
def gateway_serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8470, "--port"),
                  backend: str = typer.Option("podman", "--backend", help="podman | kubernetes | manifests"),
                  manifests_dir: Path = typer.Option(Path("state/manifests"), "--manifests-dir"),
                  kubeconfig: str | None = typer.Option(None, "--kubeconfig"),
                  context: str | None = typer.Option(None, "--context"),
                  identity: str = typer.Option("users", "--identity", help="users | ldap"),
                  users: Path = typer.Option(Path("examples/users.yaml"), "--users"),
                  identity_config: Path | None = typer.Option(None, "--ldap-config", "--identity-config",
                                                                   help="LDAP settings (YAML) for --identity ldap"),
                  policy_dir: Path = typer.Option(Path("rego"), "--policy-dir"),
                  site_data: Path | None = typer.Option(None, "--site-data"),
                  policy_timeout: float = typer.Option(2.0, "--policy-timeout"),
                  opa_url: str | None = OpaUrlOpt,
                  audit_log: Path = typer.Option(Path("state/audit.log"), "--audit-log"),
                  audit_stdout: bool = typer.Option(False, "--audit-stdout", help="Also write audit records to stdout"),
                  audit_dir: Path | None = typer.Option(None, "--audit-dir", help="One chain per replica: write "
                                                             "DIR/audit-<replica>.jsonl instead of --audit-log"),
                  replica: str | None = typer.Option(None, "--replica", help="This replica's name (default: "
                                                     "$SPIN_REPLICA, $POD_NAME, the host name)"),
                  state_dir: Path = typer.Option(Path("state"), "--state-dir"),
                  signing_keys: Path | None = typer.Option(None, "--signing-keys", help="Token-signing key ring: a "
                                                           "file or a folder of <kid> files and `current`; re-read "
                                                           "when it changes (default: STATE/signing.key)"),
                  audit_keys: Path | None = typer.Option(None, "--audit-keys", help="Audit HMAC key ring, as "
                                                         "--signing-keys (default: STATE/audit.key)"),
                  token_store: str = typer.Option("auto", "--token-store", help="file | kubernetes | auto "
                                                  "(kubernetes with --backend kubernetes)"),
                  token_namespace: str | None = typer.Option(None, "--token-namespace", help="Namespace of the "
                                                             "token registry Secret (default: the pod's, else "
                                                             "spin-system)"),
                  token_secret: str = typer.Option("spin-tokens", "--token-secret", help="Name of that Secret"),
                  workers: int = typer.Option(1, "--workers"),
                  tls_cert: Path | None = typer.Option(None, "--tls-cert", help="Serve HTTPS with this PEM certificate "
                                                       "(chain); reloaded when the file changes (admission webhooks "
                                                       "need TLS)"),
                  tls_key: Path | None = typer.Option(None, "--tls-key", help="The certificate's PEM key"),
                  lock_wait: float = typer.Option(120, "--lock-wait", help="Seconds a request waits for another "
                                                  "`up`/`down` of the same project before it is refused"),
                  lock_namespace: str | None = typer.Option(None, "--lock-namespace", help="Kubernetes: namespace "
                                                            "of the project Leases (default: the gateway's own)"),
                  lock_lease_seconds: float = typer.Option(15, "--lock-lease-seconds", help="Kubernetes: a "
                                                           "Lease's duration; a dead replica's is taken over after it"),
                  trusted_proxy: list[str] = typer.Option(
                      [], "--trusted-proxy",
                      help="Address or network (CIDR) of a reverse proxy whose X-Forwarded-For is believed; "
                           "repeat for several. Without one, the audit's source is the connecting address.")):
    """Run the gateway (FastAPI on uvicorn)."""
    from spin_gateway.gateway_api.go_runtime import restart_with_defaults

    restart_with_defaults()  # GOGC/GOMEMLIMIT for the embedded OPA engine, unless the operator set them
    import uvicorn
    from pydantic import ValidationError

    from spin_gateway.gateway_api.settings import Settings

    try:  # Settings holds the choices of --backend and --identity
        settings = Settings.model_validate(dict(
            host=host, port=port, backend=backend, manifests_dir=manifests_dir, kubeconfig=kubeconfig,
            kube_context=context, identity=identity, users=users, identity_config=identity_config,
            policy_dir=policy_dir, site_data=site_data, policy_timeout=policy_timeout,
            opa_url=opa_url, audit_log=audit_log, audit_stdout=audit_stdout, state_dir=state_dir,
            trusted_proxies=trusted_proxy, tls_cert=tls_cert, tls_key=tls_key, lock_wait=lock_wait,
            lock_namespace=lock_namespace, lock_lease_seconds=lock_lease_seconds,
            audit_dir=audit_dir, replica=replica, signing_keys=signing_keys,
            audit_keys=audit_keys, token_store=token_store, token_namespace=token_namespace,
            token_secret=token_secret))
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise UsageError(f"--{str(problem['loc'][0]).replace('_', '-')}: {problem['msg']}") from None
    from spin_gateway.gateway_api.tls import uvicorn_ssl

    tls = uvicorn_ssl(tls_cert, tls_key)
    os.environ["SPIN_GATEWAY_SETTINGS"] = settings.model_dump_json()
    if workers > 1:
        uvicorn.run("spin_gateway.gateway_api.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                    proxy_headers=False, **tls)
    else:
        from spin_gateway.gateway_api.app import build_app

        # proxy_headers off: uvicorn would take X-Forwarded-For from any local client; the app decides whom to
        # believe (Settings.trusted_proxies, gateway_api/source.py).
        uvicorn.run(build_app(settings), host=host, port=port, log_level="warning", proxy_headers=False, **tls)


@app.command("webhook-config")
@reports_errors
def gateway_webhook_config(ctx: typer.Context,
                           url: str = typer.Option(..., "--url", help="The gateway's https:// address as the API "
                                                   "server reaches it, e.g. https://spin-gateway.spin-system.svc:8443"),
                           ca_bundle: Path = typer.Option(..., "--ca-bundle", help="PEM CA that signed --tls-cert"),
                           name: str = typer.Option("spin", "--name", help="Names the two configurations"),
                           timeout: int = typer.Option(5, "--timeout", help="Seconds the API server waits (1-30)"),
                           gateway_namespace: str = typer.Option("spin-system", "--gateway-namespace"),
                           exclude: list[str] = typer.Option([], "--exclude-namespace",
                                                             help="Another namespace left out (repeatable)"),
                           match_label: list[str] = typer.Option([], "--match-label", help="KEY=VALUE: only namespaces "
                                                                 "with this label (repeatable)"),
                           json_output: bool = JsonOpt):
    """Print the Mutating- and ValidatingWebhookConfiguration for the gateway's admission routes (kubectl apply -f -)."""
    from spin_gateway.cli.options import merged
    from spin_gateway.gateway_api.webhook_config import webhook_configurations

    labels = {}
    for item in match_label:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--match-label {item!r} is not KEY=VALUE")
        labels[key] = value
    try:
        bundle = ca_bundle.read_bytes()
    except OSError as exc:
        raise UsageError(f"--ca-bundle {ca_bundle}: {exc.strerror}") from None
    docs = webhook_configurations(url, bundle, name=name, timeout=timeout, gateway_namespace=gateway_namespace,
                                  exclude=tuple(exclude), match_labels=labels)
    merged(ctx, json_output=json_output).render.documents(docs)


@app.command("token")
@reports_errors
def gateway_token(user: str = typer.Option(..., "--user"), state_dir: Path = typer.Option(Path("state"), "--state-dir"),
                  signing_keys: Path | None = typer.Option(None, "--signing-keys", help="The gateway's key ring, "
                                                           "if it has one (default: STATE/signing.key)"),
                  ttl: int = typer.Option(12 * 3600, "--ttl", help="Seconds")):
    """Mint a user token with the gateway's signing key (on the gateway's machine; needs read access to the key)."""
    from spin_gateway.gateway_api.auth.tokens import TokenSigner, load_or_create_key
    from spin_gateway.vocabulary.keys import read_ring

    ring = read_ring(signing_keys, "signing key") if signing_keys else load_or_create_key(state_dir / "signing.key")
    token, _claims = TokenSigner(ring).issue(user, ttl=ttl)
    sys.stdout.write(token + "\n")


@app.command("hash-password")
@reports_errors
def gateway_hash_password():
    """Read a password on stdin and print its scrypt hash for the users file."""
    from spin_gateway.gateway_api.identity.users_file import hash_password

    sys.stdout.write(hash_password(sys.stdin.readline().rstrip("\n")) + "\n")
