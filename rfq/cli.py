"""The ``rfq`` command line: run the platform, and operate it (``rfq.admin``: HTTP, no JVM).

Every command is a thin shell over the library: it parses options, builds a config object and hands
over, so that what the CLI does is what the tests exercise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from rfq import __version__, admin, cluster_cli, jvm, logs
from rfq.credentials import SECRET_ENV, load_secret
from rfq.node_options import failover_options, idle_option, status_options
from rfq.topology import DEFAULT_PORT_BASE, Topology

if TYPE_CHECKING:  # imported where used: it loads JPype, which the operator commands never need
    from rfq.gateway.cluster_client import ClientConfig


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=admin.EXIT_CODES)
@click.version_option(__version__, prog_name="rfq")
@click.option(
    "--log-json/--log-text",
    default=None,
    help=f"Log lines as JSON objects [default: text, or JSON when {logs.JSON_ENV}=1].",
)
@click.option(
    "--log-level", default=None, help=f"Level of rfq's log lines [default: {logs.LEVEL_ENV} or INFO]."
)
def main(log_json: bool | None, log_level: str | None) -> None:
    """RFQ cluster: request-for-quote negotiation on a replicated Aeron Cluster state machine."""
    logs.configure(log_json, log_level)
    if log_json:  # the processes this one starts (rfq cluster's nodes) log alike
        os.environ[logs.JSON_ENV] = "1"


admin.register(main)


SERVICES = ("rfq", "echo")


def _service(name: str, digest_dir: Path | None) -> Any:
    if name == "echo":
        from rfq.cluster.echo import EchoService

        return EchoService()
    from rfq.cluster.service import RfqService

    return RfqService(digest_dir=digest_dir, tune_collector=True)  # the process's one service


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (Python, not the JVM, owns them).

    Installed before the node starts, so that a Ctrl-C during start-up still ends in a clean stop;
    but after the JVM starts, because the JVM installs handlers of its own for both when it starts.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(node: Any, stop: threading.Event) -> None:
    """Run until ``stop`` is set or the cluster terminates the node."""
    while not stop.wait(0.2):
        if node.terminated.is_set():
            click.echo("rfq: the cluster terminated this node")
            break


base_dir_option = click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the cluster log, archive and snapshots here (default: a temporary folder, deleted on exit).",
)
port_base_option = click.option(
    "--port-base",
    type=int,
    default=DEFAULT_PORT_BASE,
    show_default=True,
    help="First port of the cluster's range (each member uses 100 from there).",
)
service_option = click.option(
    "--service",
    type=click.Choice(SERVICES),
    default="rfq",
    show_default=True,
    help="What the node hosts: the RFQ service, or the echo service used to measure the host.",
)


@main.command()
@base_dir_option
@port_base_option
@service_option
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo instruments and RFQs.")
@click.option(
    "--web/--no-web", default=True, show_default=True, help="Start the web gateway beside the node."
)
@click.option(
    "--web-port", type=int, default=8080, show_default=True, help="The web gateway's port (0: any free)."
)
@click.option(
    "--fix/--no-fix", default=True, show_default=True, help="Start the FIX 4.4 gateway beside the node."
)
@click.option(
    "--fix-port", type=int, default=9878, show_default=True, help="The FIX gateway's port (0: any free)."
)
@idle_option
def run(
    base_dir: Path | None,
    port_base: int,
    service: str,
    demo: bool,
    web: bool,
    web_port: int,
    fix: bool,
    fix_port: int,
    idle_max_park_us: int,
) -> None:
    """Start the embedded single-node platform in this process; Ctrl-C stops it cleanly.

    Unless --no-demo, the web gateway's directory gets demo users (an operator, a trader, three
    dealers; tokens kept in <base-dir>/demo-tokens.json, FIX logins), and the platform gets six bonds
    and three RFQs (one traded, one live with quotes and a counter, one open), loaded through the web
    gateway as those users (rfq.demo). It then prints the URLs, each user's token as an export line,
    and a first curl command.
    """
    from rfq.cluster.node import EmbeddedNode, NodeConfig
    from rfq.cluster.status import serve_status
    from rfq.topology import STATUS_OFFSET

    topology = Topology(port_base=port_base)
    config = NodeConfig(topology=topology, base_dir=base_dir, idle_max_park_us=idle_max_park_us)
    jvm.start()
    with (
        stop_signals() as stop,
        EmbeddedNode(config, _service(service, base_dir)) as node,
        serve_status(node, port=topology.port(0, STATUS_OFFSET)) as status,
    ):
        click.echo(f"rfq: single-node cluster up ({service} service); ingress {node.ingress_endpoints}")
        click.echo(f"rfq: log and archive in {node.base_dir}")
        if status is not None:
            members = status.url.removeprefix("http://")
            click.echo(f"rfq: node status on {status.url}/status (rfq cluster status --members {members})")
        home: Path = base_dir or node.base_dir
        tokens = _demo_users(home) if service == "rfq" and demo else None
        gateway = _start_web(node, base_dir, web_port) if web and service == "rfq" else None
        fix_gateway = _start_fix(node, base_dir, fix_port) if fix and service == "rfq" else None
        try:
            fix_endpoint = None if fix_gateway is None else f"{fix_gateway.host}:{fix_gateway.port}"
            if tokens is not None:
                _load_demo(gateway, tokens, home, fix_endpoint)
            click.echo("rfq: running; Ctrl-C to stop")
            _serve(node, stop)
            click.echo("rfq: stopping")
        finally:
            if fix_gateway is not None:
                fix_gateway.stop()
            if gateway is not None:
                gateway.stop()
    click.echo("rfq: stopped")


def _say_demo(line: str) -> None:
    click.echo(f"rfq: demo: {line}")


def _demo_users(home: Path) -> dict[str, str]:
    """The demo users in the gateway directory under ``home``, with their tokens (rfq.demo)."""
    from rfq import demo as demo_data
    from rfq.gateway.web.app import WebSettings

    directory_path = WebSettings(data_dir=home / "gateway").directory_path
    return demo_data.seed_users(directory_path, home / demo_data.TOKENS_FILE, _say_demo)


def _load_demo(gateway: Any, tokens: dict[str, str], home: Path, fix_endpoint: str | None) -> None:
    """Load the demo instruments and RFQs through the web gateway, then print how to use them."""
    from rfq import demo as demo_data

    if gateway is None:
        _say_demo("skipped: the demo loads through the web gateway, which is not running")
        return
    demo_data.load(gateway.url, tokens, _say_demo)
    for line in demo_data.welcome(gateway.url, tokens, home / demo_data.TOKENS_FILE, fix_endpoint):
        click.echo(line)


def _start_web(node: Any, base_dir: Path | None, port: int) -> Any:
    """The web gateway beside an embedded node (IPC to it); None, said, when it cannot start."""
    from rfq.gateway.web.server import embedded_client_config, serve_web

    data_dir = (base_dir or node.base_dir) / "gateway"
    try:
        gateway = serve_web(
            embedded_client_config(node.aeron_directory_name, node.config.idle_max_park_us),
            data_dir,
            port=port,
        )
    except (OSError, RuntimeError, TimeoutError) as error:
        click.echo(f"rfq: web gateway not started: {error}")
        return None
    click.echo(f"rfq: web gateway on {gateway.url} (API docs {gateway.url}/docs); users in {data_dir}")
    click.echo("rfq: add a user: rfq user add NAME trader|dealer|operator (with an operator's RFQ_TOKEN)")
    return gateway


def _start_fix(node: Any, base_dir: Path | None, port: int) -> Any:
    """The FIX gateway beside an embedded node (IPC to it), sharing the web gateway's directory; None,
    said, when it cannot start."""
    from rfq.gateway.fix.server import serve_fix
    from rfq.gateway.transport import embedded_client_config

    data_dir = (base_dir or node.base_dir) / "gateway"
    try:
        fix = serve_fix(
            embedded_client_config(node.aeron_directory_name, node.config.idle_max_park_us),
            data_dir,
            port=port,
            metrics_port=0,  # any free port, printed: a fixed one could clash with another platform's
        )
    except (OSError, RuntimeError, TimeoutError) as error:
        click.echo(f"rfq: FIX gateway not started: {error}")
        return None
    click.echo(
        f"rfq: FIX 4.4 gateway on {fix.host}:{fix.port} (TargetCompID {fix.settings.comp_id}); "
        f"FIX logins: rfq gateway users fix-login --data-dir {data_dir} NAME SENDERCOMPID"
    )
    click.echo(f"rfq: FIX gateway metrics on {fix.metrics_url}/metrics")
    return fix


@main.command()
@click.option("--id", "member_id", type=int, required=True, help="This member's id: its index in --hosts.")
@click.option(
    "--hosts",
    default="localhost,localhost,localhost",
    show_default=True,
    help="Comma-separated host of every member, in member-id order.",
)
@port_base_option
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="This node's log, archive, snapshots and snapshot digests (kept across restarts).",
)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help=f"File holding the cluster secret (default: the {SECRET_ENV} environment variable).",
)
@click.option("--insecure", is_flag=True, help="Admit clients without the secret (never in production).")
@click.option("--fresh", is_flag=True, help="Delete this node's earlier log, archive and snapshots first.")
@click.option(
    "--aeron-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The media driver's folder (default: a new one under /dev/shm, deleted on exit).",
)
@service_option
@status_options
@failover_options
@idle_option
def node(
    member_id: int,
    hosts: str,
    port_base: int,
    base_dir: Path,
    secret_file: Path | None,
    insecure: bool,
    fresh: bool,
    aeron_dir: Path | None,
    service: str,
    status_host: str,
    status_port: int | None,
    timeouts: dict[str, Any],
    idle_max_park_us: int,
) -> None:
    """Run one member of a multi-node cluster (Aeron over UDP) until SIGINT or SIGTERM.

    It serves its status (/status), metrics (/metrics) and POST /snapshot on --status-port."""
    from rfq.cluster.node import EmbeddedNode, NodeConfig
    from rfq.cluster.status import serve_status
    from rfq.topology import STATUS_OFFSET

    secret = load_secret(secret_file)
    if secret is None and not insecure:
        raise click.UsageError(f"no cluster secret: set {SECRET_ENV}, pass --secret-file, or --insecure")
    topology = Topology(hosts=tuple(h.strip() for h in hosts.split(",")), port_base=port_base)
    config = NodeConfig(
        topology=topology,
        member_id=member_id,
        base_dir=base_dir,
        aeron_dir=aeron_dir,
        fresh_start=fresh,
        cluster_secret=secret,
        idle_max_park_us=idle_max_park_us,
        **timeouts,
    )
    if status_port is None:
        status_port = topology.port(member_id, STATUS_OFFSET)
    jvm.start()
    with (
        stop_signals() as stop,
        EmbeddedNode(config, _service(service, base_dir)) as running,
        serve_status(running, status_host, status_port or None) as status,
    ):
        click.echo(f"rfq: member {member_id} of {topology.size} up; ingress {running.ingress_endpoints}")
        if status is not None:
            click.echo(f"rfq: status on {status.url}/status, metrics on {status.url}/metrics")
        _serve(running, stop)
        click.echo(f"rfq: member {member_id} stopping")
    click.echo(f"rfq: member {member_id} stopped")


@main.group(invoke_without_command=True)
@click.option("--members", type=int, default=3, show_default=True, help="How many local nodes.")
@port_base_option
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/cluster"),
    show_default=True,
    help="Each node keeps its state in <base-dir>/node-<id>; the secret is <base-dir>/secret.",
)
@service_option
@click.pass_context
def cluster(ctx: click.Context, members: int, port_base: int, base_dir: Path, service: str) -> None:
    """Start a local multi-node cluster, one process per member, on loopback; Ctrl-C stops all.

    With a subcommand, look at a running cluster instead: `rfq cluster status`, `rfq cluster snapshot`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from rfq.cluster.local import LocalCluster

    topology = Topology(hosts=("localhost",) * members, port_base=port_base)
    local = LocalCluster(base_dir, topology, service=service)
    with stop_signals() as stop:
        local.start()
        try:
            pids = " ".join(str(local.pid(m)) for m in local.members)
            click.echo(f"rfq: {members} nodes (pids {pids}); ingress {topology.ingress_endpoints()}")
            click.echo(f"rfq: logs in {base_dir}/node-<id>.log; client secret in {local.secret_file}")
            click.echo("rfq: Ctrl-C stops the cluster")
            while not stop.wait(0.5):
                if not all(local.is_running(m) for m in local.members):
                    click.echo("rfq: a node exited (see its log); stopping the others")
                    break
        finally:
            local.stop()
    click.echo("rfq: cluster stopped")


cluster_cli.register(cluster)


# --- gateways ---------------------------------------------------------------------------------------
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/gateway"),
    show_default=True,
    help="The gateway's identity directory, epoch and idempotency keys (gateway.sqlite).",
)


DEFAULT_GATEWAY_ID = 2
"""Gateway ids are unique per cluster; 1 is reserved (the demo's own session once had it)."""


def cluster_session_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """How a gateway reaches its cluster: --cluster (or --port-base), --secret / --secret-file, and
    --aeron-dir to share a node's media driver."""
    options = [
        click.option(
            "--cluster",
            "endpoints",
            default=None,
            help="Ingress endpoints, 0=host:port,1=host:port (default: a local cluster at --port-base).",
        ),
        port_base_option,
        click.option(
            "--secret", default=None, help=f"The cluster secret (prefer --secret-file or {SECRET_ENV})."
        ),
        click.option(
            "--secret-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help=f"File holding the cluster secret (default: the {SECRET_ENV} environment variable).",
        ),
        click.option(
            "--aeron-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Share the media driver in this folder (a node's --aeron-dir on this host) instead of "
            "launching one; with a one-member --cluster, over IPC (docs/operations.md).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _describe_session(config: ClientConfig) -> str:
    if config.aeron_dir is None:
        return str(config.ingress_endpoints)
    over = "IPC" if config.ingress_endpoints is None else str(config.ingress_endpoints)
    return f"{over} through the media driver in {config.aeron_dir}"


def _gateway_client_config(
    endpoints: str | None,
    port_base: int,
    secret: str | None,
    secret_file: Path | None,
    aeron_dir: Path | None,
    idle_max_park_us: int,
) -> ClientConfig:
    """The cluster session of ``rfq gateway web|fix`` (:func:`cluster_session_options`)."""
    from rfq.gateway.transport import gateway_client_config

    return gateway_client_config(
        endpoints or Topology(port_base=port_base).ingress_endpoints(),
        credentials=secret.encode() if secret else load_secret(secret_file),
        aeron_dir=None if aeron_dir is None else str(aeron_dir),
        idle_max_park_us=idle_max_park_us,
    )


@main.group()
def gateway() -> None:
    """Run a gateway, and manage its identity directory."""


@gateway.command("web")
@cluster_session_options
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="The HTTP port.")
@data_dir_option
@click.option(
    "--gateway-id",
    type=click.IntRange(0, 65535),
    default=DEFAULT_GATEWAY_ID,
    show_default=True,
    help="Unique among the cluster's gateways, and kept with its data dir (1 is reserved).",
)
@click.option(
    "--outcome-timeout",
    type=click.FloatRange(0.1, 120),
    default=5.0,
    show_default=True,
    help="Seconds a request waits for the cluster's answer before 503 + Retry-After (the command "
    "stays pending; a retry with the same Idempotency-Key gets its outcome).",
)
@idle_option
def gateway_web(
    endpoints: str | None,
    port_base: int,
    secret: str | None,
    secret_file: Path | None,
    aeron_dir: Path | None,
    host: str,
    port: int,
    data_dir: Path,
    gateway_id: int,
    outcome_timeout: float,
    idle_max_park_us: int,
) -> None:
    """Serve the REST API, the event stream and OpenAPI, for the cluster at --cluster."""
    from rfq.gateway.web.server import serve_web

    config = _gateway_client_config(endpoints, port_base, secret, secret_file, aeron_dir, idle_max_park_us)
    jvm.start()
    with stop_signals() as stop:
        try:
            server = serve_web(
                config,
                data_dir,
                gateway_id=gateway_id,
                host=host,
                port=port,
                wait_ready=False,
                outcome_timeout_s=outcome_timeout,
                tune_collector=True,
            )
        except (OSError, RuntimeError, TimeoutError) as error:
            raise click.ClickException(f"the web gateway did not start: {error}") from error
        try:
            click.echo(f"rfq: web gateway {gateway_id} on {server.url} (docs {server.url}/docs)")
            click.echo(f"rfq: cluster {_describe_session(config)}; directory {data_dir}; Ctrl-C to stop")
            while not stop.wait(0.5):
                pass
            click.echo("rfq: web gateway stopping")
        finally:
            server.stop()
    click.echo("rfq: web gateway stopped")


@gateway.command("fix")
@cluster_session_options
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=int, default=9878, show_default=True, help="The FIX acceptor's port.")
@data_dir_option
@click.option(
    "--gateway-id",
    type=click.IntRange(0, 65535),
    default=3,
    show_default=True,
    help="Unique among the cluster's gateways, and kept with its data dir (1: demo loader, 2: web).",
)
@click.option(
    "--comp-id",
    default="RFQGW",
    show_default=True,
    help="The gateway's CompID: counterparties send TargetCompID(56) = this.",
)
@click.option(
    "--metrics-port",
    type=int,
    default=9879,
    show_default=True,
    help="Serve Prometheus metrics (GET /metrics) on --host at this port (0: any free; -1: none).",
)
@idle_option
def gateway_fix(
    endpoints: str | None,
    port_base: int,
    secret: str | None,
    secret_file: Path | None,
    aeron_dir: Path | None,
    host: str,
    port: int,
    data_dir: Path,
    gateway_id: int,
    comp_id: str,
    metrics_port: int,
    idle_max_park_us: int,
) -> None:
    """Accept FIX 4.4 sessions (QuickFIX/J; logins from the directory) for the cluster at --cluster.

    The session store (sequence numbers, sent messages) is kept in <data-dir>/fix/store: keep the data
    dir to keep the counterparties' sequence numbers across restarts."""
    from rfq.gateway.fix.server import serve_fix

    config = _gateway_client_config(endpoints, port_base, secret, secret_file, aeron_dir, idle_max_park_us)
    jvm.start()
    with stop_signals() as stop:
        try:
            server = serve_fix(
                config,
                data_dir,
                gateway_id=gateway_id,
                host=host,
                port=port,
                comp_id=comp_id,
                wait_ready=False,
                metrics_port=None if metrics_port < 0 else metrics_port,
                tune_collector=True,
            )
        except (OSError, RuntimeError, TimeoutError) as error:
            raise click.ClickException(f"the FIX gateway did not start: {error}") from error
        try:
            click.echo(f"rfq: FIX gateway {gateway_id} on {host}:{server.port} (CompID {comp_id})")
            if server.metrics_url is not None:
                click.echo(f"rfq: metrics on {server.metrics_url}/metrics")
            click.echo(f"rfq: cluster {_describe_session(config)}; directory {data_dir}; Ctrl-C to stop")
            while not stop.wait(0.5):
                pass
            click.echo("rfq: FIX gateway stopping")
        finally:
            server.stop()
    click.echo("rfq: FIX gateway stopped")


@gateway.group()
def users() -> None:
    """Users, roles and API tokens of a gateway's directory (issued and revoked here too)."""


@users.command("add")
@click.argument("name")
@click.argument("role", type=click.Choice(["trader", "dealer", "operator"]))
@click.option(
    "--id", "user_id", type=int, default=None, help="The user id the cluster sees (default: next free)."
)
@click.option("--default-dealer", is_flag=True, help="Ask this dealer when an RFQ names none.")
@data_dir_option
def users_add(name: str, role: str, user_id: int | None, default_dealer: bool, data_dir: Path) -> None:
    """Add a user and print its first API token (shown once)."""
    from rfq.gateway.identity import Directory, DirectoryError

    directory = Directory(data_dir / "gateway.sqlite")
    try:
        user = directory.add_user(name, role, user_id, default_dealer)
        token = directory.issue_token(user.user_id, "created with the user")
    except DirectoryError as error:
        raise click.ClickException(str(error)) from error
    finally:
        directory.close()
    click.echo(f"user {user.user_id} {user.name} ({user.role.value}); token (shown once):")
    click.echo(token)


@users.command("fix-login")
@click.argument("name")
@click.argument("sender_comp_id")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The logon's Password(554) (prompted when not given).",
)
@data_dir_option
def users_fix_login(name: str, sender_comp_id: str, password: str, data_dir: Path) -> None:
    """Let a user log on to the FIX gateway as SENDER_COMP_ID with a password (stored as scrypt)."""
    from rfq.gateway.identity import Directory, DirectoryError

    directory = Directory(data_dir / "gateway.sqlite")
    try:
        user = directory.user_by_name(name)
        if user is None:
            raise click.ClickException(f"no user {name!r}")
        directory.set_fix_login(sender_comp_id, user.user_id, password)
    except DirectoryError as error:
        raise click.ClickException(str(error)) from error
    finally:
        directory.close()
    click.echo(f"FIX login {sender_comp_id} → user {user.user_id} {user.name} ({user.role.value})")


@users.command("token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
@data_dir_option
def users_token(name: str, label: str, data_dir: Path) -> None:
    """Issue another API token for a user (shown once)."""
    from rfq.gateway.identity import Directory

    directory = Directory(data_dir / "gateway.sqlite")
    try:
        user = directory.user_by_name(name)
        if user is None:
            raise click.ClickException(f"no user {name!r}")
        click.echo(directory.issue_token(user.user_id, label))
    finally:
        directory.close()


@users.command("revoke")
@click.argument("name")
@data_dir_option
def users_revoke(name: str, data_dir: Path) -> None:
    """Revoke every API token of a user (only hashes are kept, so a leaked token cannot be named).

    A running gateway on this directory refuses them within 0.25 s; `users token` issues a new one."""
    from rfq.gateway.identity import Directory

    directory = Directory(data_dir / "gateway.sqlite")
    try:
        user = directory.user_by_name(name)
        if user is None:
            raise click.ClickException(f"no user {name!r}")
        revoked = directory.revoke_tokens(user.user_id)
    finally:
        directory.close()
    click.echo(f"revoked {revoked} API token{'' if revoked == 1 else 's'} of user {user.user_id} {user.name}")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path) -> None:
    """List the users of a directory."""
    from rfq.gateway.identity import Directory

    directory = Directory(data_dir / "gateway.sqlite")
    try:
        for user in directory.users():
            default = " (default dealer)" if user.default_dealer else ""
            click.echo(f"{user.user_id:>10}  {user.role.value:<8}  {user.name}{default}")
    finally:
        directory.close()
