"""`ray start`, with the node's own address pinned to 127.0.0.1 (run as a script).

Ray replaces a loopback `--node-ip-address` by the machine's outward-facing address, which a
test must not use; this wrapper makes the address lookup answer 127.0.0.1 before running the
real `ray` command line, so every port the node opens and every address it reports is loopback.
"""

from __future__ import annotations

import sys

from ray._private import services

LOOPBACK = "127.0.0.1"


def loopback_address(address: str | None = None) -> str:
    return LOOPBACK


services.get_node_ip_address = loopback_address
services.resolve_ip_for_localhost = lambda host: host

if __name__ == "__main__":
    from ray.scripts.scripts import main

    sys.argv[0] = "ray"
    sys.exit(main())
