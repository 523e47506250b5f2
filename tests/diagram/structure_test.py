#!/usr/bin/env python3
"""Structure of `aasim run --svg/--html` for every scenario: the SVG is valid XML with one
lane per region and one mark per step; its arrows add up to the delivered (and discarded)
messages of `--json --messages`, its crosses to the dropped ones; the same run gives the
same bytes; `--json --messages` is `--json` plus the message lists.

Usage: structure_test.py AASIM SCENARIO_DIR
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def run(aasim, *args):
    p = subprocess.run([aasim, "run", *args], capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise AssertionError(f"aasim run {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p.stdout


def read(path):
    with open(path, "rb") as f:
        return f.read()


def classes(e):
    return set((e.get("class") or "").split())


def count(root, cls):
    return sum(int(e.get("data-count")) for e in root.iter() if {"msg", cls} <= classes(e))


def check_svg(root, scenario, where):
    regions = scenario["regions"]
    lanes = [e for e in root.iter(SVG + "g") if "lane" in classes(e)]
    assert [e.get("data-region") for e in lanes] == regions, f"{where}: lanes {len(lanes)}"
    steps = [e for e in root.iter(SVG + "g") if "step" in classes(e)]
    assert [e.get("id") for e in steps] == [f"step-{s['step']}" for s in scenario["steps"]], \
        f"{where}: step marks"
    msgs = scenario["messages"]
    fate = lambda *names: sum(1 for m in msgs if m["outcome"] in names)
    arrows, crosses, flying = count(root, "arrow"), count(root, "cross"), count(root, "inflight")
    assert arrows == fate("delivered", "discarded"), f"{where}: {arrows} arrows"
    assert crosses == fate("lost", "cut", "cut_in_flight"), f"{where}: {crosses} crosses"
    assert flying == fate("in_flight"), f"{where}: {flying} in flight"
    # Zooms (the stretch after a heal, drawn again at a finer scale): their own shapes
    # ("zmsg") add up to the messages sent in the stretch.
    for z in (e for e in root.iter(SVG + "g") if "zoom" in classes(e)):
        drawn = sum(int(e.get("data-count")) for e in z.iter() if "zmsg" in classes(e))
        want = int(z.get("data-messages"))
        assert 0 < drawn == want <= len(msgs), f"{where}: zoom draws {drawn} of {want}"
    return arrows, crosses


def main():
    aasim, scenario_dir = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(scenario_dir, "*.yaml")))
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            name = os.path.basename(f)
            plain = json.loads(run(aasim, "--json", f))
            if not plain["scenarios"] or "deployments" in plain["scenarios"][0]:
                # A latency file: --svg is its chart, --html its page.
                run(aasim, f, "--svg", f"{tmp}/a.svg", "--html", f"{tmp}/a.html")
                ET.parse(f"{tmp}/a.svg")
                assert b"<svg" in read(f"{tmp}/a.html"), name
                continue
            full = json.loads(run(aasim, "--json", "--messages", f))
            scenario = full["scenarios"][0]
            stripped = json.loads(json.dumps(full))
            del stripped["scenarios"][0]["messages"]
            assert stripped == plain, f"{name}: --messages changed the rest of --json"
            assert [m["id"] for m in scenario["messages"]] == \
                list(range(1, len(scenario["messages"]) + 1)), name

            run(aasim, f, "--svg", f"{tmp}/1.svg", "--html", f"{tmp}/1.html")
            run(aasim, f, "--svg", f"{tmp}/2.svg", "--html", f"{tmp}/2.html")
            assert read(f"{tmp}/1.svg") == read(f"{tmp}/2.svg"), f"{name}: svg differs"
            assert read(f"{tmp}/1.html") == read(f"{tmp}/2.html"), f"{name}: html differs"
            text_with = run(aasim, f, "--svg", f"{tmp}/3.svg")
            text_without = run(aasim, f)
            assert text_with == text_without, f"{name}: --svg changed the text output"

            svg = ET.parse(f"{tmp}/1.svg").getroot()
            arrows, crosses = check_svg(svg, scenario, name)
            zooms = sum(1 for e in svg.iter(SVG + "g") if "zoom" in classes(e))
            if name == "long-partition.yaml":  # an hour of traffic: both heals are zoomed
                assert zooms == 2, f"{name}: {zooms} zooms"
            html = read(f"{tmp}/1.html").decode()
            inline = html[html.index("<svg"):html.index("</svg>") + 6]
            check_svg(ET.fromstring(inline), scenario, name + " (html)")
            for s in scenario["steps"]:
                assert f'id="row-{s["step"]}"' in html, f"{name}: no row for step {s['step']}"
            assert "<script src" not in html and "http://" not in html.replace(
                "http://www.w3.org/2000/svg", ""), f"{name}: the page fetches something"
            print(f"ok {name}: {len(scenario['regions'])} lanes, {arrows} arrows, "
                  f"{crosses} crosses, {len(scenario['messages'])} messages, {zooms} zooms")
            checked += 1
        # One picture per run: several files are refused.
        p = subprocess.run([aasim, "run", files[0], files[1], "--svg", f"{tmp}/x.svg"],
                           capture_output=True, text=True)
        assert p.returncode == 2, p.returncode
    assert checked > 0
    print(f"{checked} passed, 0 failed")


if __name__ == "__main__":
    main()
