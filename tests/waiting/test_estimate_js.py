"""The waiting-room page words the wait with a JavaScript copy of the Python rule
(``static/waiting/estimate.js`` ↔ ``waiting/estimate.py``): node runs the copy on the same cases."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

from django.utils import translation

from buergerbuero.waiting.estimate import Handling, Wait, office_inputs, shown_range, wait_at, wait_text

ESTIMATE_JS = Path(__file__).resolve().parents[2] / "buergerbuero" / "static" / "waiting" / "estimate.js"
# Django's JavaScript catalog in English: the msgids themselves, English plural rule.
RUNNER = """
globalThis.gettext = (s) => s;
globalThis.ngettext = (one, many, n) => (n === 1 ? one : many);
globalThis.interpolate = (fmt, obj, named) => named
  ? fmt.replace(/%\\(\\w+\\)s/g, (m) => String(obj[m.slice(2, -2)]))
  : fmt.replace(/%s/g, () => String(obj.shift()));
const { waitAt, shownRange, waitText } = await import(process.argv[1]);
const cases = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (d) => { text += d; });
  process.stdin.on("end", () => resolve(text));
}));
const out = cases.map(({ position, estimate }) => {
  const wait = waitAt(position, estimate);
  return { wait, shown: wait && shownRange(wait[0], wait[2]), text: waitText(wait) };
});
process.stdout.write(JSON.stringify(out));
"""


def random_cases(count: int) -> list[dict[str, object]]:
    rng = random.Random(13)  # noqa: S311 — test data
    cases: list[dict[str, object]] = []
    for _ in range(count):
        services = [(s, rng.choice([5, 10, 20, 45, 90])) for s in range(rng.randint(1, 3))]
        inputs = office_inputs(
            queue=[rng.choice(services) for _ in range(rng.randint(0, 30))],
            busy=[(rng.uniform(0, 3600), *rng.choice(services)) for _ in range(rng.randint(0, 3))],
            idle=rng.randint(0, 2),
            paused=[rng.uniform(0, 1800) for _ in range(rng.randint(0, 1))],
            history=[
                (rng.choice(services)[0], rng.lognormvariate(6.5, 0.7)) for _ in range(rng.randint(0, 60))
            ],
            seats=rng.randint(1, 4),
        )
        for position in {1, 2, rng.randint(1, 40), 60}:
            cases.append({"position": position, "estimate": inputs.as_json(), "inputs": inputs})
    return cases


def test_the_javascript_copy_gives_the_same_waits_and_words() -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed to run the page's JavaScript"
    cases = random_cases(150)
    payload = json.dumps([{"position": c["position"], "estimate": c["estimate"]} for c in cases])
    result = subprocess.run(
        [node, "--input-type=module", "-e", RUNNER, ESTIMATE_JS.as_uri()],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    from_js = json.loads(result.stdout)
    assert len(from_js) == len(cases)
    unknown = 0
    with translation.override("en"):
        for case, js in zip(cases, from_js, strict=True):
            inputs = case["inputs"]
            assert not isinstance(inputs, (str, int))
            python = wait_at(int(str(case["position"])), inputs)  # type: ignore[arg-type]
            if python is None:
                unknown += 1
                assert js == {"wait": None, "shown": None, "text": wait_text(None)}
                continue
            # The page gets whole seconds: the same wait, up to that rounding.
            assert all(
                abs(a - b) <= 1
                for a, b in zip(js["wait"], (python.low, python.median, python.high), strict=True)
            )
            sent = Wait(*(float(x) for x in js["wait"]))
            assert js["shown"] == list(shown_range(sent.low, sent.high))
            assert js["text"] == wait_text(sent)
    assert unknown < len(cases) // 2  # most cases have a staffed seat


def test_shown_range_boundaries_agree() -> None:
    """The rounding steps (1, 5, 10 minutes) and their half-way points, on both sides."""
    node = shutil.which("node")
    assert node is not None
    seconds = [0, 29, 30, 31, 89, 90, 569, 570, 571, 599, 600, 749, 750, 3299, 3300, 3599, 3600, 3900, 7500]
    waits = [[low, low, high] for low in seconds for high in seconds if high >= low]
    estimate = {"waits": waits, "step_s": 60}
    positions = range(1, len(waits) + 1)
    payload = json.dumps([{"position": p, "estimate": estimate} for p in positions])
    result = subprocess.run(
        [node, "--input-type=module", "-e", RUNNER, ESTIMATE_JS.as_uri()],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    with translation.override("en"):
        for wait, js in zip(waits, json.loads(result.stdout), strict=True):
            assert js["shown"] == list(shown_range(wait[0], wait[2]))
            assert js["text"] == wait_text(Wait(*map(float, wait)))
    assert Handling(1.0, 0.0).mean == 1.0
