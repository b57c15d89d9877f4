"""``dockyardd``: the daemon serving the Docker Engine API.

Flags follow dockerd's where they apply; ``/etc/dockyard/daemon.json`` (or
``--config-file``) holds the same settings, and naming one in both is an error.
``--validate`` checks the configuration and exits, as ``dockerd --validate``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from dockyard import __version__

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR, "fatal": logging.CRITICAL}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyardd",
                                description="A self-sufficient runtime for containers "
                                            "(the Docker Engine API, by dockyard)")
    p.add_argument("-H", "--host", dest="hosts", action="append", default=None,
                   metavar="HOST", help="Daemon socket(s) to connect to "
                   "(default unix:///run/dockyard/dockyard.sock; tcp://HOST:PORT too)")
    p.add_argument("--data-root", dest="data_root", default=None,
                   help="Root directory of persistent state (default /var/lib/dockyard, "
                        "or $DOCKYARD_ROOT)")
    p.add_argument("--exec-root", dest="exec_root", default=None,
                   help="Root directory for execution state files (default /run/dockyard)")
    p.add_argument("--config-file", default=None,
                   help="Daemon configuration file (default /etc/dockyard/daemon.json)")
    p.add_argument("-l", "--log-level", dest="log_level", default=None,
                   choices=list(_LEVELS), help="Set the logging level (default info)")
    p.add_argument("-D", "--debug", dest="debug", action="store_const", const=True,
                   default=None, help="Enable debug mode")
    p.add_argument("-p", "--pidfile", dest="pidfile", default=None,
                   help="Path to use for daemon PID file (default EXEC_ROOT/dockyardd.pid)")
    p.add_argument("-G", "--group", dest="group", default=None,
                   help="Group for the unix socket (default docker, when that group exists)")
    p.add_argument("--tls", dest="tls", action="store_const", const=True, default=None,
                   help="Use TLS on tcp:// listeners; implied by --tlsverify")
    p.add_argument("--tlsverify", dest="tlsverify", action="store_const", const=True,
                   default=None, help="Use TLS and verify the remote (client certificates)")
    p.add_argument("--tlscacert", dest="tlscacert", default=None,
                   help="Trust certs signed only by this CA")
    p.add_argument("--tlscert", dest="tlscert", default=None, help="Path to TLS certificate")
    p.add_argument("--tlskey", dest="tlskey", default=None, help="Path to TLS key")
    p.add_argument("--label", dest="labels", action="append", default=None,
                   help="Set key=value labels to the daemon")
    p.add_argument("--insecure-registry", dest="insecure_registries", action="append",
                   default=None, help="Enable insecure registry communication")
    p.add_argument("--registry-mirror", dest="registry_mirrors", action="append",
                   default=None, help="Preferred Docker registry mirror")
    p.add_argument("--validate", action="store_true",
                   help="Validate daemon configuration and exit")
    p.add_argument("-v", "--version", action="store_true",
                   help="Print version information and quit")
    return p


def main(argv: list[str] | None = None) -> int:
    from dockyard.daemon.config import DEFAULT_CONFIG_FILE, merge
    from dockyard.errors import DockyardError

    args = parser().parse_args(argv)
    if args.version:
        print(f"dockyardd version {__version__}")
        return 0
    flags = {k: v for k, v in vars(args).items()
             if v is not None and k not in ("config_file", "validate", "version")}
    try:
        config = merge(flags, args.config_file or DEFAULT_CONFIG_FILE)
    except DockyardError as e:
        print(f"dockyardd: {e.message}", file=sys.stderr)
        return 1
    if args.validate:
        print("configuration OK")
        return 0
    logging.basicConfig(level=_LEVELS[config.log_level], stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from dockyard.daemon.server import run

    try:
        run(config)
    except DockyardError as e:
        logging.getLogger("dockyardd").error("%s", e.message)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
