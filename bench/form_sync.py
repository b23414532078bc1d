"""Benchmark of a form filled in together: three editors in one consultation over the real server.

The citizen (ticket token), the staff member (session) and the interpreter (claimed invite,
allowed to write) each hold the consultation's socket (``/ws/consultations/<id>/``) of the real
server (``manage.py serve``) and send field edits (``form.edit``) at a steady rate, mostly in
a field of their own and, with ``--collide`` probability, in one field all three write at once
(deliberate collisions). Every edit carries a unique value.

Measured:

* ``p95_field_sync_ms`` (and p50, max): from sending an edit to its arrival at each *other*
  editor (all clients live in this process: one clock);
* ``lost_edits``: edits sent minus edits the server applied (each applied edit bumps exactly one
  field's version, so the sum of the versions in the database counts them), plus edits whose
  echo never came back to their sender;
* ``converged``: after the last echo, every client's state (per field the value of the highest
  version it received, as the page keeps it) equals the database's;
* ``pdf_fields_match``: the citizen confirms and signs (the services, in this process) and the
  signed PDF, read back with pypdf, holds every field's final value;
* the floor in the same run (``baseline_*``): the same editors at the same pace against a bare
  ``websockets`` relay that numbers and broadcasts each edit without Django or a database
  (a third of the edits), so that a loaded machine shows in both figures.

Modes: ``embedded`` (SQLite, one server process) and ``scaled`` (PostgreSQL database created for
the run, Redis under a prefix of the run, two server processes with the editors split between
them). Targets: converged, 0 lost edits, p95 ≤ 150 ms.

    cd /work/main && .venv/bin/python bench/form_sync.py [--edits 3000] [--rate 15] [--collide 0.1]
        [--mode embedded|scaled]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # a script: the project importable, not this folder
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import io
import json
import os
import random
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.support import cli
from bench.support.environment import BenchEnvironment, beside, postgres_url
from bench.support.processes import stop_process
from bench.support.report import run_and_report, say, with_all
from bench.support.scene import open_office
from bench.support.servers import free_port, start_servers, stop_servers
from bench.support.stats import ms_percentile, percentile, ratio

EDITORS = ("citizen", "agent", "interpreter")
OWN_FIELDS = 3  # per editor
SHARED_FIELD = "together"
TARGET_P95_MS = 150.0
ORIGIN = "http://localhost"  # a host the servers allow (AllowedHostsOriginValidator)


@dataclass
class Editor:
    role: str
    url: str
    cookie: str = ""
    sent: dict[int, float] = field(default_factory=dict)  # seq -> when sent
    echoed: set[int] = field(default_factory=set)
    refused: int = 0
    state: dict[str, tuple[int, Any]] = field(default_factory=dict)  # field -> (version, value)
    arrivals: list[float] = field(default_factory=list)  # seconds from another's send to here
    received: int = 0  # edits heard (every editor hears every edit, its own too)


@dataclass
class Scene:
    consultation_id: int
    form_id: int
    fields: list[str]
    editors: list[Editor]


def prepare(ports: Sequence[int]) -> Scene:
    """An open office with one staff member, an admitted citizen, a claimed interpreter invite
    and a form of text fields opened in their consultation."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from buergerbuero.consult import filling, services
    from buergerbuero.consult.models import Consultation, ParticipantRole, SharedForm
    from buergerbuero.forms.fields import FormField
    from buergerbuero.forms.models import FormTemplate, Source
    from buergerbuero.staff import sessions as staff_sessions
    from buergerbuero.staff.models import Role, StaffMember
    from buergerbuero.waiting.models import Ticket, TicketStatus

    office = open_office("buergerbuero", "Bürgerbüro", seats=1)
    user = User.objects.create_user(username="bench-agent")
    member = StaffMember.objects.create(
        user=user, organization=office.organization, role=Role.AGENT, display_name="Frau Bench"
    )
    member.offices.set([office])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    staff_sessions.start(session)
    session.create()

    now = timezone.now()
    ticket = Ticket.objects.create(
        office=office,
        token="bench-" + os.urandom(16).hex(),
        status=TicketStatus.ADMITTED,
        arrived_at=now,
        queue_key=int(now.timestamp() * 1_000_000) * 1000,
        last_seen_at=now,
        admitted_at=now,
    )
    consultation = Consultation.objects.create(ticket=ticket, office=office, agent=member, started_at=now)
    names = [f"{role}_{i}" for role in EDITORS for i in range(OWN_FIELDS)] + [SHARED_FIELD]
    template = FormTemplate.objects.create(
        office=office,
        title="Bench form",
        source=Source.DEFINED,
        fields=[FormField(name, name.replace("_", " ").title(), "text").as_dict() for name in names],
    )
    agent = services.Participant(consultation, ParticipantRole.AGENT)
    shared: SharedForm = filling.open_form(agent, template.pk)
    filling.let_interpreter_write(agent, shared.pk, True)
    secret = services.invite_interpreter(consultation, member)
    _claimed, interpreter_session = services.claim_invite(secret)

    path = f"/ws/consultations/{consultation.pk}/"
    cookies = {
        "citizen": "",
        "agent": f"sessionid={session.session_key}",
        "interpreter": f"{services.interpreter_cookie(consultation.pk)}={interpreter_session}",
    }
    editors = []
    for index, role in enumerate(EDITORS):
        port = ports[index % len(ports)]
        query = f"?ticket={ticket.token}" if role == "citizen" else ""
        editors.append(Editor(role, f"ws://127.0.0.1:{port}{path}{query}", cookies[role]))
    return Scene(consultation.pk, shared.pk, names, editors)


# --- the floor: the same protocol relayed by a bare websockets server, without Django -------
async def serve_relay(port: int, fields: list[str]) -> None:
    """Per field a version counter; every ``form.edit`` goes to every socket as ``form.value``
    (serialised once), in the order received: what the product does minus Django, Channels and
    the database."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()
    versions = dict.fromkeys(fields, 0)
    history = json.dumps({"type": "history", "form": {"values": {}}})

    async def handler(websocket: ServerConnection) -> None:
        clients.add(websocket)
        try:
            await websocket.send(history)
            async for raw in websocket:
                edit = json.loads(raw)
                field = edit["field"]
                versions[field] += 1
                value = {
                    "type": "form.value", "form": edit["form"], "field": field, "value": edit["value"],
                    "version": versions[field], "by": edit["client"], "confirmed": False,
                    "status": "filling", "client": edit["client"], "seq": edit["seq"],
                }  # fmt: skip
                broadcast(clients, json.dumps(value, separators=(",", ":")))
        finally:
            clients.discard(websocket)

    async with serve(handler, "127.0.0.1", port, compression=None):
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.Future()


def start_relay(fields: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603  (this very script)
        [sys.executable, __file__, "--relay", str(port), *fields],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None  # noqa: S101
    if process.stdout.readline().strip() != b"ready":
        stop_process(process)
        raise RuntimeError("the relay (floor) did not start")
    return process, port


async def run_editors(scene: Scene, edits: int, rate: float, collide: float, seed: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    rng = random.Random(seed)  # noqa: S311 — which field to edit, reproducibly
    sockets = []
    for editor in scene.editors:
        headers = {"Cookie": editor.cookie} if editor.cookie else {}
        socket = await connect(
            editor.url,
            origin=Origin(ORIGIN),
            additional_headers=headers,
            compression=None,
            max_size=2**22,
        )
        while True:  # the history with the form's state comes first
            message = json.loads(await socket.recv())
            if message.get("type") == "history":
                for name, value in (message.get("form") or {}).get("values", {}).items():
                    editor.state[name] = (value["version"], value["value"])
                break
        sockets.append(socket)
    sent_at: dict[tuple[str, int], float] = {}
    per_editor = edits // len(scene.editors)
    collisions = 0

    async def listen(editor: Editor, socket: Any) -> None:
        async for raw in socket:
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") == "form.value":
                editor.received += 1
                known = editor.state.get(message["field"], (-1, None))
                if message["version"] > known[0]:
                    editor.state[message["field"]] = (message["version"], message["value"])
                if message["client"] == editor.role:
                    editor.echoed.add(message["seq"])
                elif (message["client"], message["seq"]) in sent_at:
                    editor.arrivals.append(now - sent_at[(message["client"], message["seq"])])
            elif message.get("type") == "form.refused":
                editor.refused += 1
                say(f"refused for {editor.role}: {message.get('code')} {message.get('message')}")

    async def write(editor: Editor, socket: Any) -> None:
        nonlocal collisions
        own = [name for name in scene.fields if name.startswith(editor.role)]
        interval = 1.0 / rate
        start = time.perf_counter()
        for seq in range(1, per_editor + 1):
            # A steady rate: the n-th edit at start + n/rate (no drift from the sends' own time).
            delay = start + seq * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            shared = rng.random() < collide
            collisions += shared
            name = SHARED_FIELD if shared else rng.choice(own)
            base = editor.state.get(name, (0, ""))[0]
            value = f"{editor.role}-{seq}"
            now = time.perf_counter()
            editor.sent[seq] = now
            sent_at[(editor.role, seq)] = now
            await socket.send(
                json.dumps(
                    {"type": "form.edit", "form": scene.form_id, "field": name, "value": value,
                     "base": base, "client": editor.role, "seq": seq}
                )
            )  # fmt: skip

    listeners = [asyncio.create_task(listen(e, s)) for e, s in zip(scene.editors, sockets, strict=True)]
    started = time.perf_counter()
    await asyncio.gather(*(write(e, s) for e, s in zip(scene.editors, sockets, strict=True)))
    sending = time.perf_counter() - started
    # Until every editor has heard every applied edit (or 30 s): then their states are final.
    total = sum(len(e.sent) - e.refused for e in scene.editors)
    deadline = time.perf_counter() + 30
    while any(len(e.echoed) + e.refused < len(e.sent) or e.received < total for e in scene.editors):
        if time.perf_counter() > deadline:
            say("not every edit reached every editor within 30 s")
            break
        await asyncio.sleep(0.02)
    for task in listeners:
        task.cancel()
    for socket in sockets:
        await socket.close()
    return {"sending_seconds": sending, "collisions": collisions, "sent": per_editor * len(scene.editors)}


def measure(args: argparse.Namespace, environment: BenchEnvironment) -> dict[str, Any]:
    from pypdf import PdfReader

    from buergerbuero.consult import filling, services
    from buergerbuero.consult.models import ParticipantRole, SharedForm, SharedFormValue

    environment.migrate()
    servers = start_servers(2 if args.mode == "scaled" else 1, environment.env, environment.tmp)
    try:
        scene = prepare([server.port for server in servers])
        say(
            f"form sync: {len(scene.editors)} editors, {args.edits} edits at {args.rate}/s each, collisions "
            f"{args.collide:.0%}, {len(servers)} server process(es) on {environment.label}"
        )
        run = asyncio.run(run_editors(scene, args.edits, args.rate, args.collide, args.seed))
    finally:
        stop_servers(servers)
    # The floor in the same run, on the same machine's load: the same editors and pace.
    relay, port = start_relay(scene.fields)
    try:
        floor_scene = Scene(
            scene.consultation_id,
            scene.form_id,
            scene.fields,
            [Editor(role, f"ws://127.0.0.1:{port}/") for role in EDITORS],
        )
        floor_edits = max(len(EDITORS), args.edits // 3)
        asyncio.run(run_editors(floor_scene, floor_edits, args.rate, args.collide, args.seed))
    finally:
        stop_process(relay)
    floor = [seconds for editor in floor_scene.editors for seconds in editor.arrivals]
    rows = {row.field: row for row in SharedFormValue.objects.filter(form_id=scene.form_id)}
    applied = sum(row.version for row in rows.values())
    unechoed = sum(len(set(e.sent) - e.echoed) for e in scene.editors)
    lost = (run["sent"] - applied) + unechoed
    server = {name: (row.version, row.value) for name, row in rows.items()}
    converged = all(editor.state == server for editor in scene.editors)
    arrivals = [seconds for editor in scene.editors for seconds in editor.arrivals]

    consultation = (
        SharedForm.objects.select_related("consultation__ticket").get(pk=scene.form_id).consultation
    )
    citizen = services.Participant(consultation, ParticipantRole.CITIZEN)
    filling.confirm(citizen, scene.form_id)
    signed = filling.sign(citizen, scene.form_id, name="Bench Bürgerin")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(signed.pdf.read())).pages)
    missing = [name for name, row in rows.items() if row.value and str(row.value) not in text]

    p95 = ms_percentile(arrivals, 0.95)
    result: dict[str, Any] = {
        "bench": "form_sync",
        "mode": args.mode,
        "database": environment.label,
        "editors": len(scene.editors),
        "edits": run["sent"],
        "edits_applied": applied,
        "collisions": run["collisions"],
        "refused": sum(e.refused for e in scene.editors),
        "rate_per_editor": args.rate,
        "sending_seconds": round(run["sending_seconds"], 1),
        "converged": converged,
        "lost_edits": lost,
        "deliveries": len(arrivals),
        "p50_field_sync_ms": ms_percentile(arrivals, 0.5),
        "p95_field_sync_ms": p95,
        "max_field_sync_ms": ms_percentile(arrivals, 1.0),
        "baseline_edits": len(floor),
        "baseline_p50_field_sync_ms": ms_percentile(floor, 0.5),
        "baseline_p95_field_sync_ms": ms_percentile(floor, 0.95),
        "p95_vs_baseline": ratio(percentile(arrivals, 0.95), percentile(floor, 0.95)),
        "pdf_fields_match": not missing,
    }
    say(
        f"{applied}/{run['sent']} edits applied, {run['collisions']} in the shared field; converged: "
        f"{converged}; sync p50 {result['p50_field_sync_ms']} ms, p95 {p95} ms "
        f"(bare relay: p95 {result['baseline_p95_field_sync_ms']} ms); "
        f"PDF misses {len(missing)} values"
    )
    result["targets_met"] = with_all(
        {
            "converged": converged,
            "no_lost_edits": lost == 0,
            "p95_le_150ms": p95 is not None and p95 <= TARGET_P95_MS,
            "pdf_fields_match": not missing,
        }
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--relay"]:  # the floor's server process (start_relay)
        asyncio.run(serve_relay(int(arguments[1]), arguments[2:]))
        return 0
    parser = cli.parser(__doc__)
    cli.add_mode(parser)
    cli.add_redis(parser)
    cli.add_keep_logs(parser)
    parser.add_argument("--edits", type=int, default=3000, help="edits in all, split over the editors (3000)")
    parser.add_argument("--rate", type=float, default=15.0, help="edits per second per editor (15)")
    parser.add_argument("--collide", type=float, default=0.1, help="share of edits in the common field (0.1)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(arguments)
    if args.edits < len(EDITORS) or args.rate <= 0 or not 0 <= args.collide <= 1:
        parser.error("--edits at least 3, --rate above 0, --collide between 0 and 1")
    scaled = args.mode == "scaled"
    database_url = os.environ.get("DATABASE_URL") or postgres_url("test")
    environment = BenchEnvironment(
        "form-sync",
        database_url=beside(database_url, f"bench_{os.getpid()}") if scaled else None,
        redis_url=args.redis_url if scaled else None,
        keep=args.keep_logs,
    )
    environment.setup(JOBS_IN_WEB_PROCESS="false")
    return run_and_report(lambda: measure(args, environment), environment.cleanup)


if __name__ == "__main__":
    sys.exit(main())
