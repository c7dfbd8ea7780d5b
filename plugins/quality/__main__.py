"""The `quality` stack's pod program: check a dataset as the workflow's owner and record the run.

    python -m plugins.quality DATASET --rule RULE [--rule RULE …]

Exit 0 when every rule passes, 1 when one fails (the job fails: the workflow shows it), or the
errno's exit code when the check could not run.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    from syscalls import connect
    from syscalls.errors import ERRNO, SyscallError

    from .check import check, rows
    parser = argparse.ArgumentParser(prog="python -m plugins.quality")
    parser.add_argument("dataset")
    parser.add_argument("--rule", action="append", default=[], required=True)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    try:
        with connect() as client:
            found = check(client, args.dataset, args.rule, save=not args.no_record)
    except SyscallError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return ERRNO[e.code][1]
    for rule, status, failed, total in rows(found["results"]):
        print(f"{status}: {rule}: {failed} failed of {total} rows", flush=True)
    print(f"{found['dataset']}: {found['passed']} passed, {found['failed']} failed"
          f"{' (recorded in the catalog)' if found['recorded'] else ''}", flush=True)
    return 1 if found["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
