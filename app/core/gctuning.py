"""The garbage collector's settings for a process that serves: the API and the pipeline workers.

CPython collects its youngest generation after every 700 new container objects (lists, tuples,
dictionaries) and each collection looks at every young container and what it holds. A batch of points is
thousands of containers at a time (the rows bound for SQLite, the parts of a window read back for the
worker), alive for the milliseconds of a request: with the default, the collector runs hundreds of times
over them. And a full collection looks at everything the process holds, mostly the modules, the app, its
schemas and compiled statements, which are never garbage.

So, once the process has started: everything it holds then is collected once and frozen (`gc.freeze`: left
out of every later collection), and the youngest generation is collected after 20,000 new containers
instead of 700. One phone's 64,000 points end to end (`bench/end_to_end.py --columns`, SQLite, one core):
the collector's time while they were uploaded and processed fell from 0.17-0.18 s to 0.01 s, the
server's CPU from 0.85-1.0 s to 0.57-0.65 s (two runs each, the collector timed by `gc.callbacks`).
Garbage made of reference cycles waits a little longer for its collection; everything else is freed as
before, by reference counting. `COACHCO2_GC_TUNING=false` leaves CPython's defaults.
"""

from __future__ import annotations

import gc

#: new container objects between two collections of the youngest generation (CPython's default: 700),
#: and how many of those before a collection of the next generation, and the oldest (defaults: 10, 10)
THRESHOLDS = (20_000, 20, 20)

_tuned = False


def tune_for_serving() -> bool:
    """Once per process: collect, freeze what is held, raise the thresholds. True when done now."""
    global _tuned
    if _tuned:
        return False
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return True
