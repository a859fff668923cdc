"""Run one Faust worker: make sure the topics exist, then hand over to Faust's worker."""

from __future__ import annotations

import asyncio

from services.admin import ensure_topics
from services.collector import spare_the_collector
from services.settings import Settings


def run_worker(settings: Settings) -> int:
    asyncio.run(ensure_topics(settings))
    asyncio.set_event_loop(asyncio.new_event_loop())
    import faust

    from services import agents, api, pages  # noqa: F401  (their agents and views register on the app)
    from services.app import app

    spare_the_collector()  # the imports live as long as the worker: out of the collector's walks
    faust.Worker(app, loglevel=settings.log_level).execute_from_commandline()
    return 0
