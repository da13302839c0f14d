"""Admin CLI for posko officers: ``python -m services.assisted COMMAND`` (talks to Postgres).

    create-posko --name NAME --province 35 --regency 3578
    issue-officer-key --posko POSKO_ID --name NAME      # prints the key ONCE
    revoke-officer OFFICER_ID
    list-officers [--posko POSKO_ID]

The same operations are available over HTTP under /api/v1/assisted/admin/ with the admin token.
Bad input ends with one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence

import asyncpg

from gelombang import regions
from services.assisted import repository
from services.assisted.service import new_api_key
from services.assisted.settings import AssistedSettings


class InputError(Exception):
    """Bad input the admin can fix; one line, exit status 2."""


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an id: {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.assisted",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    posko = commands.add_parser("create-posko", help="register an assisted-registration post")
    posko.add_argument("--name", required=True)
    posko.add_argument("--province", required=True, help="2-digit province code, e.g. 35")
    posko.add_argument("--regency", required=True, help="4-digit regency code, e.g. 3578")
    issue = commands.add_parser("issue-officer-key", help="create an officer and print a key")
    issue.add_argument("--posko", required=True, type=_uuid)
    issue.add_argument("--name", required=True)
    revoke = commands.add_parser("revoke-officer", help="revoke an officer's key at once")
    revoke.add_argument("officer_id", type=_uuid)
    listing = commands.add_parser("list-officers", help="officers (and whether active)")
    listing.add_argument("--posko", type=_uuid, default=None)
    return parser


async def _run(args: argparse.Namespace, settings: AssistedSettings) -> int:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        if args.command == "create-posko":
            if not regions.is_province(args.province):
                raise InputError(f"unknown province code {args.province!r}")
            if not regions.regency_in_province(args.regency, args.province):
                raise InputError(f"regency {args.regency!r} is not in province {args.province}")
            row = await repository.create_posko(pool, args.name, args.province, args.regency)
            print(f"posko {row.id}  {row.name}  ({row.province_code}/{row.regency_code})")
        elif args.command == "issue-officer-key":
            if not await repository.posko_exists(pool, args.posko):
                raise InputError(f"no posko {args.posko}")
            token, key_hash = new_api_key()
            officer = await repository.issue_officer(pool, args.posko, args.name, key_hash)
            print(f"officer {officer.id}  {officer.name}  posko {officer.posko_id}")
            print(f"api key (shown once, store it now): {token}")
        elif args.command == "revoke-officer":
            revoked = await repository.revoke_officer(pool, args.officer_id)
            if revoked is None:
                raise InputError(f"no officer {args.officer_id}")
            print(f"officer {revoked.id} revoked at {revoked.revoked_at:%Y-%m-%d %H:%M:%S%z}")
        else:
            for o in await repository.list_officers(pool, args.posko):
                state = "active" if o.active else f"revoked {o.revoked_at:%Y-%m-%d}"
                print(f"{o.id}  posko {o.posko_id}  {state:<18} {o.name}")
    finally:
        await pool.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args, AssistedSettings()))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"error: database not reachable ({type(exc).__name__})", file=sys.stderr)
        return 1
