"""What the benchmarks in ``bench/`` share, so that each script holds only its own scenario.

* ``cli``: the command-line options every scaled-capable bench has (mode, Redis, logs).
* ``environment``: a temporary directory, a database of the bench's own (SQLite, or PostgreSQL
  created and dropped) and a Redis prefix deleted afterwards; Django set up on it.
* ``servers``: our ASGI server processes, through ``tests/support/server.py``'s ``AsgiServer``
  (the tests' helper: one way to start and stop ``manage.py serve``).
* ``processes``: CPU and memory of processes, file-descriptor limits, optional py-spy, SIGTERM.
* ``websocket``: the lean WebSocket load client (protocol objects in client processes).
* ``stats`` and ``report``: nearest-rank percentiles, milliseconds, ratios against the baseline
  of the same run, and the JSON object every bench prints as its last line.
"""
