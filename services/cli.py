"""`complaintflow`: the command line of the product.

up         embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set) + topics + a worker + a demo
worker     one Faust worker (creates missing topics first)
topics     create or check every topic with the registry's settings
publish    send events from a JSON-lines file, one event a line
simulate   generate a realistic, seeded stream of complaints and send (or write) it
tail       print the records of a topic
redrive    publish chosen rejected messages again, once their cause is gone
adopt-policy  judge open complaints by another SLA policy version (an explicit, logged decision)
replay     rebuild the projections as of any moment from the event log (or an export file)
verify     compare the live read models with a replay of the log; exit 1 on any drift
export     write the accepted events, in log order, to a JSON-lines file
import     publish an export file into an empty cluster
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError

from events.errors import ComplaintflowError
from services.settings import Settings, invalid_settings

CHINA = ZoneInfo("Asia/Shanghai")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in invalid_settings(error):
            print(f"complaintflow: {problem}", file=sys.stderr)
        return 2
    try:
        return int(arguments.command(settings, arguments) or 0)
    except ComplaintflowError as error:
        print(f"complaintflow: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _topics(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.admin import ensure_topics

    for status in asyncio.run(ensure_topics(settings)):
        print(f"{'created' if status.created else 'ok     '}  {status.name}  partitions={status.partitions}")
    return 0


def _worker(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.worker import run_worker

    return run_worker(settings)


def _publish(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.publish import publish_file

    report = asyncio.run(publish_file(settings, Path(arguments.file), send_invalid=arguments.send_invalid))
    for line, reason in report.failures:
        print(f"line {line}: {reason}", file=sys.stderr)
    print(f"sent {report.sent}, failed {len(report.failures)} (of {report.lines} lines)")
    return 0 if not report.failures else 1


def _simulate(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.clients import send_events
    from services.simulate import simulate

    start = arguments.start or datetime.now(CHINA).replace(microsecond=0) - timedelta(days=arguments.days_ago)
    events = simulate(arguments.seed, arguments.complaints, start)
    if arguments.output:
        with open(arguments.output, "wb") as output:
            count = sum(output.write(orjson.dumps(event) + b"\n") > 0 for event in events)
        print(f"wrote {count} events of {arguments.complaints} complaints to {arguments.output}")
        return 0
    count = asyncio.run(send_events(settings, events, rate=arguments.rate))
    print(f"sent {count} events of {arguments.complaints} complaints to {settings.topic('complaints.events')}")
    return 0


def _tail(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.clients import read_topic

    async def show() -> None:
        async for record in read_topic(settings, settings.topic(arguments.topic), follow=arguments.follow):
            key = record.key.decode(errors="replace") if record.key else "-"
            value = record.value.decode(errors="replace") if record.value else "null"
            print(f"{record.partition}@{record.offset} {key} {value}", flush=True)

    asyncio.run(show())
    return 0


def _adopt_policy(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.adopt import adopt_policy

    chosen = arguments.complaint or None
    if chosen is None and not arguments.all_open:
        print("complaintflow: name complaints with --complaint, or say --all-open", file=sys.stderr)
        return 2
    adoption = asyncio.run(adopt_policy(settings, arguments.version, arguments.reason, complaint_ids=chosen))
    print(f"sent {adoption.sent} policy_adopted events (policy {adoption.policy_version})")
    return 0


def _redrive(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.redrive import NotProcessedInTime, Selection, redrive, select

    selection = Selection(
        reasons=frozenset(arguments.reason),
        complaints=frozenset(arguments.complaint),
        partition=arguments.partition,
        from_offset=arguments.from_offset,
        to_offset=arguments.to_offset,
    )
    chosen = asyncio.run(select(settings, selection))
    if arguments.dry_run or not chosen:
        for rejection in chosen:
            print(f"would redrive {rejection.get('key')} ({rejection['reason_code']}): {rejection['reason']}")
        print(f"{len(chosen)} rejected message(s) match")
        return 0
    try:
        outcomes = asyncio.run(redrive(settings, chosen, wait_seconds=arguments.wait))
    except NotProcessedInTime as late:
        print(f"complaintflow: {late}", file=sys.stderr)
        return 2
    for outcome in outcomes:
        print(outcome.describe())
    again = sum(outcome.rejected_again is not None for outcome in outcomes)
    print(f"redrove {len(outcomes)}: accepted {len(outcomes) - again}, rejected again {again}")
    return 0 if again == 0 else 1


def _replay(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.replay import ReplayRequest, run_replay

    request = ReplayRequest(
        as_of=arguments.as_of,
        complaint=arguments.complaint,
        department=arguments.department,
        from_file=None if arguments.from_file is None else Path(arguments.from_file),
        format=arguments.format,
        rejected=arguments.rejected,
        jobs=arguments.jobs,
    )
    try:
        return asyncio.run(run_replay(settings, request, sys.stdout, sys.stderr))
    except BrokenPipeError:  # `complaintflow replay | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the final flush does not fail again
        return 0


def _verify(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.verify import print_report, verify

    return print_report(asyncio.run(verify(settings, sys.stderr, jobs=arguments.jobs)), sys.stdout)


def _export(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.export import export_log

    report = asyncio.run(export_log(settings, Path(arguments.file), until=arguments.until, stderr=sys.stderr))
    print(
        f"exported {report.written} accepted events of {report.complaints} complaints "
        f"({report.read} records read) to {arguments.file}"
    )
    return 0


def _import(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.export import import_log

    report = asyncio.run(import_log(settings, Path(arguments.file), force=arguments.force, stderr=sys.stderr))
    print(f"imported {report.sent} events of {report.complaints} complaints into {report.topic}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1")
    return value


def _aware_timestamp(text: str) -> datetime:
    """ISO 8601 with an offset: a moment without one would mean a different instant in each time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 timestamp (e.g. 2026-11-24T12:00:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset: write it as e.g. {moment.isoformat()}+08:00")
    return moment


def _up(settings: Settings, arguments: argparse.Namespace) -> int:
    from services.up import run_up

    return run_up(settings, complaints=arguments.complaints, rate=arguments.rate, seed=arguments.seed)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="complaintflow", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run everything locally and feed a demo (what `make run` runs)")
    up.add_argument("--complaints", type=int, default=60, help="demo complaints to simulate (default 60)")
    up.add_argument("--rate", type=float, default=20.0, help="demo events per second (default 20)")
    up.add_argument("--seed", type=int, default=7)
    up.set_defaults(command=_up)

    commands.add_parser("worker", help="run one Faust worker").set_defaults(command=_worker)
    commands.add_parser("topics", help="create or check the topics").set_defaults(command=_topics)

    publish = commands.add_parser("publish", help="send events from a JSON-lines file")
    publish.add_argument("file", help="one JSON event per line")
    publish.add_argument(
        "--send-invalid", action="store_true", help="send lines that fail validation too (to exercise rejection)"
    )
    publish.set_defaults(command=_publish)

    simulate = commands.add_parser("simulate", help="generate a realistic seeded stream of complaints")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--complaints", type=int, default=100, help="number of complaints (default 100)")
    simulate.add_argument("--rate", type=float, default=0.0, help="events per second; 0 = as fast as possible")
    simulate.add_argument("--start", type=datetime.fromisoformat, help="business time of the first event (ISO 8601)")
    simulate.add_argument("--days-ago", type=float, default=2.0, help="without --start: start this long ago")
    simulate.add_argument("--output", help="write JSON lines to this file instead of sending")
    simulate.set_defaults(command=_simulate)

    tail = commands.add_parser("tail", help="print a topic's records (key and JSON value)")
    tail.add_argument("topic", help="e.g. complaints.state, complaints.workload, complaints.rejected")
    tail.add_argument("--follow", action="store_true", help="keep printing new records")
    tail.set_defaults(command=_tail)

    adopt = commands.add_parser("adopt-policy", help="judge open complaints by another SLA policy version")
    adopt.add_argument("version", help="a policy version the workers have loaded")
    adopt.add_argument("--reason", required=True, help="why, for the audit (goes into each event)")
    adopt.add_argument("--complaint", action="append", help="a complaint to move (repeatable)")
    adopt.add_argument("--all-open", action="store_true", help="every open complaint judged by another version")
    adopt.set_defaults(command=_adopt_policy)

    redrive = commands.add_parser("redrive", help="publish chosen rejected messages again and report the outcome")
    redrive.add_argument("--reason", action="append", default=[], help="a reason_code to select (repeatable)")
    redrive.add_argument("--complaint", action="append", default=[], help="a complaint id to select (repeatable)")
    redrive.add_argument("--partition", type=int, help="source partition of complaints.events")
    redrive.add_argument("--from-offset", type=int, help="first source offset (inclusive)")
    redrive.add_argument("--to-offset", type=int, help="last source offset (inclusive)")
    redrive.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the worker (default 60)")
    redrive.add_argument("--dry-run", action="store_true", help="list what would be redriven, send nothing")
    redrive.set_defaults(command=_redrive)

    replay = commands.add_parser("replay", help="the projections as of any moment, rebuilt from the event log")
    replay.add_argument("--as-of", type=_aware_timestamp, help="ISO 8601 with offset (default: now)")
    replay.add_argument("--complaint", help="print this complaint's timeline: each event, its changes, clocks, alerts")
    replay.add_argument("--department", help="only complaints this department handles or owns, and its workload")
    replay.add_argument("--from-file", help="replay an export file instead of complaints.events")
    replay.add_argument("--format", choices=("table", "json", "csv"), default="table")
    replay.add_argument("--rejected", action="store_true", help="list the rejected messages with their reasons")
    replay.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="processes folding the log, each a shard of the complaints (default: one per core, at most 8, "
        "fewer on a small log; 1: in this process); same output whatever N. --complaint and --rejected use one",
    )
    replay.set_defaults(command=_replay)

    verify = commands.add_parser("verify", help="compare the live read models with a replay; exit 1 on drift")
    verify.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="processes folding the log, as replay's --jobs (default: one per core, at most 8, fewer on a small log)",
    )
    verify.set_defaults(command=_verify)

    export = commands.add_parser("export", help="write the accepted events, in log order, to a JSON-lines file")
    export.add_argument("file", help="where to write (replaced at the end, never left half-written)")
    export.add_argument("--until", type=_aware_timestamp, help="only events that occurred by then (ISO 8601)")
    export.set_defaults(command=_export)

    import_ = commands.add_parser("import", help="publish an export file into an empty cluster")
    import_.add_argument("file", help="a file written by `complaintflow export`")
    import_.add_argument("--force", action="store_true", help="append even if complaints.events has records")
    import_.set_defaults(command=_import)
    return parser


if __name__ == "__main__":
    sys.exit(main())
