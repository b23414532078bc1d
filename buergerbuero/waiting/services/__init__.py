"""The waiting room: joining, the queue order, calling, admitting, leaving.

Every rule of the queue lives in this package, one module per responsibility. All state is in
the database; each change runs in one transaction that also bumps the office's sequence number
(``QueueState.seq``, ``sequence``), which serialises changes per office across processes, and
publishes its events after commit.

Exactly-once calling (``calling``): the agent's presence row and the first ticket in line are
locked (``SELECT … FOR UPDATE`` on PostgreSQL: agents calling at the same moment wait for each
other for milliseconds, and whoever waited for a ticket that was called meanwhile gets the
next; never ``SKIP LOCKED``, which also skipped tickets that a heartbeat was writing); on
SQLite the write transaction is ``IMMEDIATE`` and so already exclusive. The status change
itself is a compare-and-set on ``status = waiting``.

What locks what: a join, a transfer, an announcement and every broadcast lock the office's
queue row (``sequence.lock_office``; a transfer both offices' rows, in id order); calling locks
the agent's presence row, then the ticket, then the office's row to count its seats.

The modules, each standing only on those before it:
``errors`` (QueueError) · ``groups`` (group names) · ``live_figures`` (the office's figures
and queue order) · ``sequence`` (lock, bump, publish) · ``seating`` (seats, free agents,
admitting — the consultation app then starts the consultation —, freeing the seat) ·
``joining`` · ``calling`` (staff actions) · ``staffing`` (presence) · ``snapshots`` (what a
page gets on connect) · ``periodic`` (jobs).
"""
