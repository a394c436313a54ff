"""In-process profile of the pages of bench/pages_bench.py (issue 19): per-request cost through the WSGI app,
without HTTP or gunicorn, on a catalogue the bench has loaded (``--workdir`` of a pages_bench run).

    python3 bench/pages_profile.py --workdir bench/out/pages-demo            # mean µs per request, per page
    python3 bench/pages_profile.py --workdir bench/out/pages-demo --cprofile "API listing" --top 40
    python3 bench/pages_profile.py --workdir bench/out/pages-demo --root ../other-checkout   # that code's app

Times are CPU time of this process (``time.process_time``), so other work on a shared machine moves them
less than wall-clock time. The bare Flask app (bench/bare_wsgi.py) is timed the same way, so the ratios
compare like with like. ``--root`` times another checkout's app on the same catalogue (before / after).
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(client, path, headers, repeat):
    client.get(path, headers=headers)
    started = time.process_time()
    for _ in range(repeat):
        response = client.get(path, headers=headers)
    elapsed = (time.process_time() - started) / repeat
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "pages-demo")
    parser.add_argument("--database-url")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--cprofile", help="profile this page (its name in the table)")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--root", type=Path, help="the checkout whose app is timed (default: this one)")
    args = parser.parse_args(argv)
    if args.root:
        for name in [m for m in sys.modules if m.split(".")[0] in ("bench", "marketplace")]:
            del sys.modules[name]
        sys.path.insert(0, str(args.root.resolve()))
    instance = args.workdir.resolve() / "instance"
    database_url = args.database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
    os.environ.update(INSTANCE_PATH=str(instance), DATABASE_URL=database_url, DEMO_DATA="0", SECRET_KEY="bench",
                      LOG_ACCESS="0")
    from bench.bare_wsgi import app as bare
    from bench.pages_bench import pages
    from bench.search_wsgi import app

    urls, cookie = pages(app)
    floor = timed(bare.test_client(), "/", {}, args.repeat)
    print(f"{'page':28} {'CPU µs/req':>11} {'ratio':>6}")
    print(f"{'bare Flask jsonify':28} {floor * 1e6:11.0f} {1:6.2f}")
    for name, _kind, path, signed_in in [("/healthz", "json", "/healthz", False), *urls]:
        headers = {}
        if signed_in:
            client = app.test_client()
            name_, _eq, value = cookie.partition("=")
            client.set_cookie(name_, value)
        else:
            client = app.test_client()
        seconds = timed(client, path, headers, args.repeat)
        print(f"{name:28} {seconds * 1e6:11.0f} {floor / seconds:6.2f}")
        if args.cprofile == name:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.repeat):
                client.get(path, headers=headers)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            profile_text = out.getvalue()
    if args.cprofile:
        print(profile_text)


if __name__ == "__main__":
    main()
