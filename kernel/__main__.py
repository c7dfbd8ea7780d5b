"""`python -m kernel serve --state DIR [--socket PATH] [--listen HOST:PORT] [--target all]`: run a
kernel daemon; `python -m kernel serve --list-targets`: the services it is made of."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .logs import FORMATS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernel", description="Run a dataos kernel daemon.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the REST API until SIGTERM")
    serve.add_argument("--state", type=Path, help="the kernel's state directory (required)")
    serve.add_argument("--target", default="all", metavar="TARGET",
                       help="the service to run: all (every one, in this process) [default: all]")
    serve.add_argument("--list-targets", action="store_true", help="print the targets and what each owns, and exit")
    serve.add_argument("--socket", type=Path, help="a Unix socket to listen on")
    serve.add_argument("--listen", help="HOST:PORT to listen on over TCP as well")
    serve.add_argument("--pidfile", type=Path)
    serve.add_argument("--tls-cert", help="serve HTTPS on --listen with this certificate (PEM)")
    serve.add_argument("--tls-key", help="the certificate's private key (PEM)")
    serve.add_argument("--insecure", action="store_true", help="allow plain HTTP on a non-loopback --listen")
    serve.add_argument("--cloud", choices=("local", "kubernetes"),
                       help="where workloads run (remembered in the state dir) [default: local]")
    serve.add_argument("--kubeconfig", help="with --cloud kubernetes: the kubeconfig [default: ~/.kube/config]")
    serve.add_argument("--kube-context", help="with --cloud kubernetes: the kubeconfig context")
    serve.add_argument("--namespace-prefix", default="", help="with --cloud kubernetes: prefix of namespaces")
    serve.add_argument("--log-format", choices=FORMATS, default=os.environ.get("DATAOS_LOG_FORMAT", "text"),
                       help="text for people, json (one object a line) for a log pipeline [default: $DATAOS_LOG_FORMAT "
                            "or text]")
    serve.add_argument("--database", help="postgresql://…: the services' state in PostgreSQL (else "
                       "$DATAOS_DATABASE; remembered in the state dir); local: SQLite files there [default]")
    args = parser.parse_args(argv)
    from .targets import TARGETS, listing
    if args.list_targets:
        print(listing())
        return 0
    if args.log_format not in FORMATS:
        parser.error(f"--log-format (or $DATAOS_LOG_FORMAT) {args.log_format!r}: text or json")
    if args.target not in TARGETS:
        parser.error(f"--target {args.target}: not a target (--list-targets lists them: {', '.join(TARGETS)})")
    if args.target != "all":
        parser.error(f"--target {args.target}: one service alone (microservices mode) is not built yet; "
                     "--target all runs every service in this process")
    if args.state is None:
        parser.error("the following arguments are required: --state")
    if not args.socket and not args.listen:
        parser.error("give --socket, --listen or both")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("give both --tls-cert and --tls-key")
    if args.listen and not args.tls_cert and not args.insecure and not _loopback(args.listen):
        parser.error(f"--listen {args.listen} would send API tokens in clear text: give --tls-cert and "
                     "--tls-key, or --insecure")
    cloud = None
    if args.cloud == "kubernetes":
        cloud = {"driver": "kubernetes", "kubeconfig": args.kubeconfig, "context": args.kube_context,
                 "namespacePrefix": args.namespace_prefix}
    elif args.cloud == "local":
        cloud = {"driver": "local"}
    from .daemon import serve as run
    return run(args.state, args.socket, args.pidfile, args.listen, args.tls_cert, args.tls_key, cloud, args.database,
               args.log_format)


def _loopback(listen: str) -> bool:
    import ipaddress
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
