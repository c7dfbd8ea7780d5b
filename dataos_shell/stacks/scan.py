"""The `scan` stack's pod program: scan one depot into the catalog, as the job's owner.

    python -m dataos_shell.stacks.scan DEPOT
"""
from __future__ import annotations

import sys
from collections import Counter

from syscalls import connect
from syscalls.errors import ERRNO, SyscallError


def main(argv: list[str]) -> int:
    counts: Counter[str] = Counter()
    try:
        with connect() as client:
            for item in client.catalog.scan(depot=argv[0]):
                counts[item["state"]] += 1
                if item["state"] == "failed":
                    print(f"failed: {item['dataset']}: {item['error']}", flush=True)
    except SyscallError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return ERRNO[e.code][1]
    print(f"depot {argv[0]}: {counts['scanned']} scanned, {counts['unchanged']} unchanged, "
          f"{counts['failed']} failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
