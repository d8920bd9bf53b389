"""The `cocreate` command: serve, jobs, migrate, demo, create-admin, verify-results, fraud-scan."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING

from cocreate.serving import WORKER_TIMEOUT
from cocreate.settings import ConfigurationError, Settings, listening_url

if TYPE_CHECKING:
    from sqlmodel import Session

    from cocreate.db import Database
    from cocreate.results.rounds import RoundInfo


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        sys.exit(f"cocreate: configuration error: {exc}")


def cmd_migrate(args: argparse.Namespace) -> int:
    from cocreate.db import make_engine
    from cocreate.migrate import upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print(f"Database is up to date: {engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cocreate.db import Database, make_engine
    from cocreate.demo import load_demo

    settings = _settings()
    if settings.production:
        sys.exit("cocreate: refusing to load demo accounts with known passwords in production")
    database = Database(make_engine(settings.database_url))
    if not _migrated(database):
        sys.exit("cocreate: the database has no tables yet; run `cocreate migrate` first")
    with database.session() as session:
        accounts = load_demo(session)
    print("Demo data is ready: brand 'Crispy Co', campaign 'Pick our next flavour'.")
    print("Demo logins (email / password):")
    for account in accounts:
        print(f"  {account.role:<10} {account.email:<32} {account.password}")
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from cocreate.accounts.service import create_admin
    from cocreate.db import Database, make_engine
    from cocreate.forms import ValidationFailed, normalise_email

    settings = _settings()
    try:
        email = normalise_email(args.email)
    except ValueError as exc:
        sys.exit(f"cocreate: {exc}")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    database = Database(make_engine(settings.database_url))
    if not _migrated(database):
        sys.exit("cocreate: the database has no tables yet; run `cocreate migrate` first")
    with database.session() as session:
        try:
            create_admin(
                session=session,
                email=email,
                password=password,
                display_name=args.name or email.split("@")[0],
            )
        except ValidationFailed as exc:
            sys.exit("cocreate: " + " ".join(exc.errors.values()))
    print(f"{email} is an administrator.")
    return 0


def _migrated(database: Database) -> bool:
    from sqlalchemy import inspect

    return inspect(database.engine).has_table("alembic_version")


def _chosen_rounds(session: Session, args: argparse.Namespace) -> list[RoundInfo] | None:
    """The rounds of campaign `args.campaign` (only number `args.round` when given); None,
    after saying why on stderr, when the campaign or the round does not exist."""
    from sqlmodel import select

    from cocreate.campaigns.models import Campaign
    from cocreate.results.rounds import campaign_rounds

    campaign = session.exec(select(Campaign).where(Campaign.slug == args.campaign)).first()
    if campaign is None or campaign.id is None:
        print(f"cocreate: no campaign {args.campaign!r}", file=sys.stderr)
        return None
    rounds = campaign_rounds(session=session, campaign_id=campaign.id)
    if args.round is not None:
        rounds = [info for info in rounds if info.number == args.round]
        if not rounds:
            print(f"cocreate: {args.campaign} has no round {args.round}", file=sys.stderr)
            return None
    return list(rounds)


def cmd_verify_results(args: argparse.Namespace) -> int:
    """Recount certified rounds and recompute their digests from the vote log."""
    import cocreate.models  # noqa: F401  (every table, for the ORM's foreign keys)
    from cocreate.db import Database, make_engine
    from cocreate.results.verify import verify_round

    settings = _settings()
    database = Database(make_engine(settings.database_url))
    with database.session() as session:
        rounds = _chosen_rounds(session, args)
        if rounds is None:
            return 1
        if args.round is None:
            rounds = [info for info in rounds if info.round.certified_at is not None]
            if not rounds:
                print(f"{args.campaign}: no certified round to verify.")
                return 1
        ok = True
        for info in rounds:
            found = verify_round(session=session, info=info)
            label = f"{args.campaign} round {info.number} ({info.name})"
            if not found.certified:
                print(f"{label}: not certified yet")
                ok = False
                continue
            tally = "matches" if found.tally_matches else "DOES NOT MATCH"
            digest = "matches" if found.digest_matches else "DOES NOT MATCH"
            print(f"{label}: tally {tally}; digest {digest}")
            print(f"  certified digest:  {found.digest}")
            print(f"  recomputed digest: {found.recomputed}")
            for difference in found.differences[:20]:
                print(f"  {difference}")
            if len(found.differences) > 20:
                print(f"  ... and {len(found.differences) - 20} more differences")
            ok = ok and found.ok
    return 0 if ok else 1


def cmd_fraud_scan(args: argparse.Namespace) -> int:
    """Scan the campaign's voting rounds for vote fraud and store what is found as cases."""
    import cocreate.models  # noqa: F401  (every table, for the ORM's foreign keys)
    from cocreate.clock import system_clock
    from cocreate.db import Database, make_engine
    from cocreate.fraud.cases import GATE_SCORE, kind_label, scan_round

    settings = _settings()
    database = Database(make_engine(settings.database_url))
    if not _migrated(database):
        sys.exit("cocreate: the database has no tables yet; run `cocreate migrate` first")
    with database.session() as session:
        rounds = _chosen_rounds(session, args)
        if rounds is None:
            return 1
        if not rounds:
            print(f"{args.campaign}: no voting round.")
            return 0
        now = system_clock.now()
        for info in rounds:
            label = f"{args.campaign} round {info.number} ({info.name})"
            if info.round.certified_at is not None:
                print(f"{label}: certified; its votes can no longer change (scanned anyway).")
            done = scan_round(session=session, round_=info.round, now=now)
            seconds = done.load_seconds + done.scan_seconds + done.store_seconds
            print(
                f"{label}: {done.votes} votes by {done.accounts} accounts; "
                f"{done.findings} findings: {done.opened} new cases, {done.updated} updated, "
                f"{done.already_decided} already decided; {seconds:.2f} s "
                f"(load {done.load_seconds:.2f}, scan {done.scan_seconds:.2f}, "
                f"store {done.store_seconds:.2f})"
            )
            if not done.by_kind:
                print("  no open case")
            for kind, scores in sorted(done.by_kind.items()):
                blocking = sum(1 for s in scores if s >= GATE_SCORE)
                top = ", ".join(f"{s:.2f}" for s in scores[:10])
                print(
                    f"  {kind_label(kind)}: {len(scores)} open, {blocking} at or above "
                    f"{GATE_SCORE:.2f} (block certification); scores {top}"
                )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from cocreate.serving import serve

    settings = _settings()  # fail early, with a clear message, on a bad configuration
    if not os.environ.get("COCREATE_BASE_URL"):
        # Emailed links name the address this server listens on, not a fixed default port.
        # The workers read their settings from the environment they inherit from here.
        os.environ["COCREATE_BASE_URL"] = listening_url(args.host, args.port)
    # Behind a proxy every request comes from the proxy's address: unless its
    # X-Forwarded-For is believed, the per-IP log-in limit would lock out everyone at once.
    trusted = ",".join(settings.trusted_proxies) or None
    serve(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=args.proxy_headers or trusted is not None,
        forwarded_allow_ips=trusted,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        worker_timeout=args.worker_timeout,
    )
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    """Run the job worker alone (`cocreate serve` runs one too unless COCREATE_JOBS_WORKER=0)."""
    import asyncio
    import signal

    import cocreate.models  # noqa: F401  (every table, for the ORM's foreign keys)
    from cocreate.clock import system_clock
    from cocreate.db import Database, make_engine
    from cocreate.jobs.execute import worker_name
    from cocreate.jobs.service import make_jobs
    from cocreate.storage import make_storage

    settings = _settings()
    engine = make_engine(settings.database_url, pool_size=settings.jobs_concurrency + 2)
    if not _migrated(Database(engine)):
        sys.exit("cocreate: the database has no tables yet; run `cocreate migrate` first")
    jobs = make_jobs(
        settings=settings, engine=engine, clock=system_clock, storage=make_storage(settings)
    )
    if args.once:
        jobs.run_pending()
        jobs.close()
        return 0

    async def work() -> None:
        task = asyncio.create_task(jobs.work())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        print(f"cocreate jobs: worker {worker_name()} started", flush=True)
        try:
            await task
        except asyncio.CancelledError:
            pass  # stopped by a signal: the jobs it held are left to the other workers

    asyncio.run(work())
    jobs.close()
    engine.dispose()
    return 0


def _positive_seconds(text: str) -> int:
    seconds = int(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be a whole number of seconds above 0")
    return seconds


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="cocreate",
        description="Crowdsourcing and co-creation voting platform. "
        "Configuration comes from COCREATE_* environment variables (see README).",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="serve the web application (gunicorn's arbiter with uvicorn workers)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1), supervised by gunicorn's arbiter, each worker "
        "with its own SO_REUSEPORT socket on Linux",
    )
    serve.add_argument(
        "--worker-timeout",
        type=_positive_seconds,
        default=WORKER_TIMEOUT,
        metavar="SECONDS",
        help="replace a worker whose event loop has not turned for this "
        f"long (default {WORKER_TIMEOUT})",
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-* from 127.0.0.1 (see COCREATE_TRUSTED_PROXIES for others)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    serve.add_argument("--no-access-log", action="store_true", help="do not log each request")
    serve.add_argument(
        "--app",
        default="cocreate.asgi:app",
        help="the ASGI application as module:attribute (default cocreate.asgi:app)",
    )
    serve.set_defaults(func=cmd_serve)

    jobs = commands.add_parser(
        "jobs",
        help="run the job worker alone (certification, fraud scans, emails); "
        "`serve` runs one too unless COCREATE_JOBS_WORKER=0",
    )
    jobs.add_argument("--once", action="store_true", help="run the jobs waiting now, then exit")
    jobs.set_defaults(func=cmd_jobs)

    migrate = commands.add_parser("migrate", help="apply database migrations (alembic upgrade)")
    migrate.set_defaults(func=cmd_migrate)

    demo = commands.add_parser("demo", help="load the demo brand, campaign and accounts")
    demo.set_defaults(func=cmd_demo)

    admin = commands.add_parser("create-admin", help="create or promote an administrator")
    admin.add_argument("email")
    admin.add_argument("--name", help="display name (default: the part before @)")
    admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    admin.set_defaults(func=cmd_create_admin)

    verify = commands.add_parser(
        "verify-results",
        help="recount certified rounds from the vote log and check their digests (exit 1 if not)",
    )
    verify.add_argument("campaign", metavar="CAMPAIGN", help="the campaign's address (slug)")
    verify.add_argument(
        "--round", type=int, metavar="N", help="only voting round N (1 = the first); default: all"
    )
    verify.set_defaults(func=cmd_verify_results)

    fraud = commands.add_parser(
        "fraud-scan",
        help="look for vote rings, sockpuppets and bursts; open or update fraud cases",
    )
    fraud.add_argument("campaign", metavar="CAMPAIGN", help="the campaign's address (slug)")
    fraud.add_argument(
        "--round", type=int, metavar="N", help="only voting round N (1 = the first); default: all"
    )
    fraud.set_defaults(func=cmd_fraud_scan)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
