#!/usr/bin/env python3
"""The benchmark harness: what the gateway adds on top of the provider, and the same for its peers.

    python3 tools/bench/bench.py [--quick] [--peers litellm,portkey,tensorzero | --peers none]

Builds the release binaries, installs the peers (into target/bench/), then re-runs itself inside a
private network namespace (unshare --net; only loopback exists there) so every server, including
Portkey, which binds every interface, is reachable only from 127.0.0.1. There it starts the mock
upstream (tools/mock-upstream, zero latency: what is measured is pure overhead), the gateway on a
fresh libSQL file, and the peers, all pointed at the same mock, and measures, in one run:

- added latency = through-X minus direct-to-mock, P50/P95/P99, at fixed offered rates (open loop);
- maximum throughput (closed loop; wrk when installed, else gateway-bench), also with a key whose
  every limit is set (rpm, tpm, concurrency, budget: high enough never to refuse);
- key limits: limited vs unlimited key on each limit store (the libSQL file; Redis when
  redis-server is installed) and on two instances sharing one database, with the limit-store round
  trips and request-log batches per request read from the instances' /metrics;
- streaming: time to first chunk and to the last byte; the translated path (Anthropic /v1/messages
  in, OpenAI upstream);
- memory (RSS idle and peak), binary size, process start to first successful response, and the
  Worker's wasm size (gzip) when it has been built;
- the dashboard's statistics (`GET /api/admin/stats?window=30d`) over a million request-log rows
  (200 000 with --quick): time and peak-memory growth, from the logs and from the hourly rollups;
- the SSE decoder on one 16 MiB line in 16 KiB chunks (linear, not quadratic, in the line).

Prints a Markdown report and writes it, with the raw numbers, to target/bench/results.{md,json}.
Every request goes to 127.0.0.1; every load is bounded in time.
"""

import argparse
import gzip
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "target", "bench")
RELEASE = os.path.join(ROOT, "target", "release")
VENV = os.path.join(OUT, "venv")
NODE = os.path.join(OUT, "node")
PEER_PINS = {"litellm": "litellm[proxy]==1.108.7", "tensorzero": "tensorzero==2026.6.0",
             "portkey": "@portkey-ai/gateway@1.15.2"}
ADMIN_PASSWORD = "bench-admin-password"
CHAT = {"model": "bench", "messages": [{"role": "user", "content": "Say hello"}]}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup (network available)

def setup(peers):
    log("== building release binaries")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "gateway-server", "-p", "mock-upstream",
                    "-p", "gateway-bench"], cwd=ROOT, check=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    py = [p for p in peers if p in ("litellm", "tensorzero")]
    if py:
        if not os.path.exists(os.path.join(VENV, "bin", "python")):
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        stamp = os.path.join(VENV, "pins.txt")
        want = "\n".join(PEER_PINS[p] for p in sorted(py))
        if not (os.path.exists(stamp) and open(stamp).read() == want):
            log("== installing", ", ".join(PEER_PINS[p] for p in py))
            subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet",
                            "--disable-pip-version-check"] + [PEER_PINS[p] for p in py], check=True)
            open(stamp, "w").write(want)
    if "portkey" in peers and not os.path.exists(os.path.join(NODE, "node_modules", "@portkey-ai")):
        log("== installing", PEER_PINS["portkey"])
        os.makedirs(NODE, exist_ok=True)
        subprocess.run(["npm", "init", "-y"], cwd=NODE, capture_output=True, check=True)
        subprocess.run(["npm", "i", "--no-audit", "--no-fund", PEER_PINS["portkey"]], cwd=NODE,
                       check=True, capture_output=True)


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, name, cmd, env=None, cwd=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.started = time.perf_counter()
        self.p = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd, stdout=self.log,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    def rss_kb(self, field="VmRSS"):
        """RSS of the process and its children (peers may fork workers)."""
        total = 0
        for pid in [self.p.pid] + children(self.p.pid):
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total

    def output(self):
        self.log.flush()
        return open(self.log.name, errors="replace").read()

    def stop(self):
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def children(pid):
    out = []
    try:
        for c in open(f"/proc/{pid}/task/{pid}/children").read().split():
            out.append(int(c))
            out.extend(children(int(c)))
    except OSError:
        pass
    return out


def http(method, url, body=None, headers=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
        return 0, b""


def wait_ok(method, url, body=None, headers=None, limit=120.0, proc=None):
    """Polls until `url` answers 200; returns seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        status, _ = http(method, url, body, headers, timeout=2)
        if status == 200:
            return time.perf_counter() - start
        if proc is not None and proc.p.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.output()[-3000:]}")
        time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer 200 within {limit}s" + (f":\n{proc.output()[-3000:]}" if proc else ""))


# ---------------------------------------------------------------- targets

class Target:
    """Something to send load to: a URL, its headers and body per scenario."""

    def __init__(self, name, base, headers, model="bench", proc=None, chat_path="/v1/chat/completions"):
        self.name, self.base, self.headers, self.model, self.proc = name, base, headers, model, proc
        self.chat_path = chat_path

    def chat(self, stream=False, model=None):
        body = dict(CHAT, model=model or self.model)
        if stream:
            body["stream"] = True
        return self.base + self.chat_path, self.headers, body


def start_mock():
    port = free_port()
    proc = Proc("mock", [os.path.join(RELEASE, "mock-upstream")], {"PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    wait_ok("POST", base + "/v1/chat/completions", dict(CHAT, model="mock-text"),
            {"authorization": "Bearer k"}, proc=proc)
    return proc, base


# As the Dockerfile and template.yaml deploy it: freed memory goes back to the OS.
TUNABLES = "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072"


def start_relay(mock):
    port = free_port()
    proc = Proc("relay", [os.path.join(RELEASE, "bare-relay")], {"PORT": str(port), "RELAY_TO": mock})
    base = f"http://127.0.0.1:{port}"
    headers = {"authorization": "Bearer sk-mock"}
    wait_ok("POST", base + "/v1/chat/completions", dict(CHAT, model="mock-text"), headers, proc=proc)
    return Target("bare relay", base, headers, model="mock-text", proc=proc)


def gateway_env(db, port, tunables=True):
    env = {"DATABASE_URL": db, "PORT": str(port), "HOST": "127.0.0.1", "ADMIN_PASSWORD": ADMIN_PASSWORD,
           "RUST_LOG": "warn", "HEALTH_TICK_SECS": "3600"}
    if tunables:
        env["GLIBC_TUNABLES"] = TUNABLES
    return env


def start_redis():
    """A redis-server for the Redis limit store, or None when it is not installed."""
    if not shutil.which("redis-server"):
        return None
    port = free_port()
    proc = Proc("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no"])
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"redis://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("redis-server did not start")


def counters(base):
    """The /metrics counters the limits section reads: requests, limit-store round trips and
    request-log batches (each batch is one database write)."""
    _, text = http("GET", base + "/metrics")
    out = {"requests": 0.0, "limit_trips": 0.0, "log_batches": 0.0}
    for line in text.decode(errors="replace").splitlines():
        if line.startswith("llm_gateway_requests_total{"):
            out["requests"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("llm_gateway_limit_store_round_trips_total "):
            out["limit_trips"] = float(line.split()[1])
        elif line.startswith("llm_gateway_log_batches_total "):
            out["log_batches"] = float(line.split()[1])
    return out


def per_request(before, after):
    """Store round trips per request between two `counters` snapshots (summed over instances)."""
    n = sum(a["requests"] - b["requests"] for a, b in zip(after, before)) or 1
    return {k: round(sum(a[k] - b[k] for a, b in zip(after, before)) / n, 4)
            for k in ("limit_trips", "log_batches")}


def start_gateway(mock, db, extra_env=None, label="llm-gateway", setup=True):
    port = free_port()
    proc = Proc("gateway", [os.path.join(RELEASE, "llm-gateway")], dict(gateway_env(db, port), **(extra_env or {})))
    base = f"http://127.0.0.1:{port}"
    wait_ok("GET", base + "/healthz", proc=proc)
    if not setup:  # another instance on a database that start_gateway set up already
        return proc, base
    _, token = http("POST", base + "/api/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})
    auth = {"authorization": "Bearer " + json.loads(token)["token"]}
    _, p = http("POST", base + "/api/admin/providers",
                {"name": "mock", "protocol": "openai_chat", "base_url": mock + "/v1", "api_key": "sk-mock"}, auth)
    pid = json.loads(p)["id"]
    for name, upstream in [("bench", "mock-text"), ("bench-stream", "mock-text-chunks-20")]:
        http("POST", base + "/api/admin/models", {"name": name, "provider_id": pid, "upstream_model": upstream,
                                                  "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}, auth)
    _, k = http("POST", base + "/api/admin/keys", {"name": "bench"}, auth)
    key = json.loads(k)["key"]
    headers = {"authorization": "Bearer " + key}
    wait_ok("POST", base + "/v1/chat/completions", CHAT, headers, proc=proc)
    # A key with every limit set (high enough never to refuse): what admission and settlement cost.
    _, k = http("POST", base + "/api/admin/keys", {"name": "bench-limited", "rpm_limit": 10**9, "tpm_limit": 10**9,
                                                  "max_concurrent": 10000, "budget_usd": 10000}, auth)
    if "key" not in json.loads(k):
        raise RuntimeError(f"the limited key was refused: {k}")
    limited_headers = {"authorization": "Bearer " + json.loads(k)["key"]}
    wait_ok("POST", base + "/v1/chat/completions", CHAT, limited_headers, proc=proc)
    limited = Target(f"{label} (limited key)", base, limited_headers, proc=proc)
    return Target(label, base, headers, proc=proc), key, limited


def cached_target(gw):
    """A key whose answers come from the response cache (`sampled`: the bench's request names no
    temperature); its first request fetches the answer, every later one is a hit."""
    _, token = http("POST", gw.base + "/api/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})
    auth = {"authorization": "Bearer " + json.loads(token)["token"]}
    _, k = http("POST", gw.base + "/api/admin/keys",
                {"name": "bench-cached", "cache": {"sampled": True, "ttl_s": 86400}}, auth)
    headers = {"authorization": "Bearer " + json.loads(k)["key"]}
    wait_ok("POST", gw.base + "/v1/chat/completions", CHAT, headers, proc=gw.proc)
    time.sleep(0.3)  # the entry is kept after the answer
    return Target("llm-gateway (cache hit)", gw.base, headers, proc=gw.proc)


def start_litellm(mock):
    port = free_port()
    cfg = os.path.join(OUT, "litellm.yaml")
    models = "".join(
        f"  - model_name: {name}\n    litellm_params:\n      model: openai/{up}\n"
        f"      api_base: {mock}/v1\n      api_key: sk-mock\n"
        for name, up in [("bench", "mock-text"), ("bench-stream", "mock-text-chunks-20")])
    open(cfg, "w").write("model_list:\n" + models)
    # Two workers: the machine's two cores, as the other servers get.
    proc = Proc("litellm", [os.path.join(VENV, "bin", "litellm"), "--config", cfg, "--host", "127.0.0.1",
                            "--port", str(port), "--num_workers", "2"],
                {"LITELLM_MASTER_KEY": "sk-bench", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"})
    base = f"http://127.0.0.1:{port}"
    headers = {"authorization": "Bearer sk-bench"}
    wait_ok("POST", base + "/v1/chat/completions", CHAT, headers, limit=180, proc=proc)
    return Target("LiteLLM", base, headers, proc=proc)


def start_portkey(mock):
    port = free_port()
    script = os.path.join(NODE, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")
    proc = Proc("portkey", ["node", script, f"--port={port}", "--headless"])
    base = f"http://127.0.0.1:{port}"
    headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": mock + "/v1",
               "authorization": "Bearer sk-mock"}
    target = Target("Portkey", base, headers, model="mock-text", proc=proc)
    wait_ok("POST", base + "/v1/chat/completions", dict(CHAT, model="mock-text"), headers, limit=60, proc=proc)
    return target


TENSORZERO = """
import sys, time, tensorzero
gateway = tensorzero._start_http_gateway(config_file=sys.argv[1], clickhouse_url=None, postgres_url=None,
                                         valkey_url=None, async_setup=False)
print("BASE_URL", gateway.base_url, flush=True)
while True:
    time.sleep(3600)
"""


def start_tensorzero(mock):
    cfg = os.path.join(OUT, "tensorzero.toml")
    models = "".join(
        f'[models.{name}]\nrouting = ["mock"]\n[models.{name}.providers.mock]\ntype = "openai"\n'
        f'model_name = "{up}"\napi_base = "{mock}/v1/"\napi_key_location = "none"\n'
        for name, up in [("bench", "mock-text"), ("bench_stream", "mock-text-chunks-20")])
    open(cfg, "w").write(models + "[gateway.observability]\nenabled = false\n")
    script = os.path.join(OUT, "tensorzero_http.py")
    open(script, "w").write(TENSORZERO)
    proc = Proc("tensorzero", [os.path.join(VENV, "bin", "python"), script, cfg],
                {"TENSORZERO_DISABLE_PSEUDONYMOUS_USAGE_ANALYTICS": "1", "RUST_LOG": "warn"})
    start = time.perf_counter()
    base = None
    while time.perf_counter() - start < 60 and base is None:
        for line in proc.output().splitlines():
            if line.startswith("BASE_URL "):
                base = line.split()[1].rstrip("/")
        if proc.p.poll() is not None:
            raise RuntimeError("tensorzero exited:\n" + proc.output()[-3000:])
        time.sleep(0.05)
    if base is None:
        raise RuntimeError("tensorzero did not start:\n" + proc.output()[-3000:])
    target = Target("TensorZero", base, {}, model="tensorzero::model_name::bench", proc=proc,
                    chat_path="/chat/completions")  # base_url ends in /openai/v1
    wait_ok("POST", base + target.chat_path, dict(CHAT, model=target.model), {}, proc=proc)
    return target


# ---------------------------------------------------------------- load

def load(url, headers, body, *, rate=None, connections=None, duration, warmup, stream=False):
    cmd = [os.path.join(RELEASE, "gateway-bench"), "--url", url, "--body", json.dumps(body),
           "--duration", str(duration), "--warmup", str(warmup)]
    for k, v in headers.items():
        cmd += ["--header", f"{k}: {v}"]
    cmd += ["--rate", str(rate)] if rate else ["--connections", str(connections)]
    if stream:
        cmd.append("--stream")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def wrk(url, headers, body, connections, duration):
    """Closed-loop throughput with wrk (one thread: the machine's other core runs the server)."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\nwrk.body = ' + json.dumps(json.dumps(body)) + "\n"
                 + "".join(f'wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n'
                           for k, v in {**headers, "content-type": "application/json"}.items())
                 + "function done(summary, latency, requests)\n"
                 + "  io.write(string.format('RESULT %d %d %d %d\\n', summary.requests, summary.duration,"
                 + " summary.errors.status + summary.errors.connect + summary.errors.read"
                 + " + summary.errors.write + summary.errors.timeout, latency:percentile(50)))\nend\n")
    script.close()
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", script.name, url],
                         capture_output=True, text=True, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            n, dur_us, errors, p50 = (int(x) for x in line.split()[1:])
            return {"rps": (n - errors) / (dur_us / 1e6), "errors": errors, "p50_ms": p50 / 1000}
    raise RuntimeError("wrk: " + out.stdout + out.stderr)


# ---------------------------------------------------------------- the run

def fmt(x, digits=3):
    return "—" if x is None else f"{x:.{digits}f}"


def inside(args):
    quick = args.quick
    duration, warmup = (2, 0.5) if quick else (6, 1)
    rates = [500, 1000] if quick else [500, 1000, 2000]
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    results = {"machine": machine(), "duration_s": duration, "rates": rates, "peers": peers}
    mock_proc, mock = start_mock()
    db_dir = tempfile.mkdtemp(prefix="bench-db-")
    db = os.path.join(db_dir, "gateway.db")
    procs = [mock_proc]
    try:
        gw, key, limited = start_gateway(mock, db)
        procs.append(gw.proc)
        time.sleep(0.5)
        results["gateway_rss_idle_kb"] = gw.proc.rss_kb()
        direct = Target("direct", mock, {"authorization": "Bearer sk-mock"}, model="mock-text")
        relay = start_relay(mock)
        procs.append(relay.proc)
        cached = cached_target(gw)
        targets = [relay, gw]
        for peer, starter in [("litellm", start_litellm), ("tensorzero", start_tensorzero),
                              ("portkey", start_portkey)]:
            if peer in peers:
                log(f"== starting {peer}")
                try:
                    t = starter(mock)
                    procs.append(t.proc)
                    targets.append(t)
                    time.sleep(1)
                    results[f"{t.name}_rss_idle_kb"] = t.proc.rss_kb()
                except Exception as e:  # a peer that cannot start is reported, not fatal
                    log(f"   {peer} did not start: {e}")
                    results.setdefault("peer_failures", {})[peer] = str(e)[-2000:]

        # RSS under load: sampled every 100 ms while the loads run (VmHWM would count start-up and
        # the admin login's Argon2 buffer, which no request touches).
        peaks = {t.name: 0 for t in targets}
        sampling = threading.Event()

        def sample():
            while not sampling.is_set():
                for t in targets:
                    peaks[t.name] = max(peaks[t.name], t.proc.rss_kb())
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        # 1. Added latency at fixed offered rates (open loop), non-streaming.
        fixed = {}
        for rate in rates:
            for t in [direct] + targets + [cached]:
                url, headers, body = t.chat()
                log(f"== {t.name}: {rate} req/s for {duration}s")
                fixed[(t.name, rate)] = load(url, headers, body, rate=rate, duration=duration, warmup=warmup)
        results["fixed_rate"] = {f"{n}@{r}": v for (n, r), v in fixed.items()}

        # 2. Maximum throughput (closed loop, 32 connections): rounds in rotating order, the median
        # round per target (the machine is shared; one point can be off by a third).
        rounds = {}
        everyone = [direct] + targets + [limited, cached]
        for i in range(1 if quick else 3):
            for t in everyone[i % len(everyone):] + everyone[:i % len(everyone)]:
                url, headers, body = t.chat()
                log(f"== {t.name}: maximum throughput (round {i + 1})")
                if shutil.which("wrk"):
                    point = wrk(url, headers, body, 32, duration)
                else:
                    r = load(url, headers, body, connections=32, duration=duration, warmup=warmup)
                    point = {"rps": r["rps"], "errors": r["errors"], "p50_ms": r["latency_ms"]["p50"]}
                rounds.setdefault(t.name, []).append(point)
        throughput = {}
        for name, points in rounds.items():
            points.sort(key=lambda p: p["rps"])
            throughput[name] = dict(points[len(points) // 2], rounds=[round(p["rps"]) for p in points])
        results["throughput"] = throughput
        results["load_tool"] = "wrk" if shutil.which("wrk") else "gateway-bench"

        # 2b. Key limits: the limited key against the unlimited one on each limit store (one
        # instance on the libSQL file, one on Redis), then two instances on one database; store
        # round trips and log writes per request from the instances' own counters.
        results["limits"] = limits_section(mock, gw, limited, db, duration, quick)

        # 3. Streaming (20 chunks): first chunk and last byte, at 200 req/s. Portkey's streaming
        # fails on this Node version (see TOOLCHAIN notes), so it is left out.
        streaming = {}
        for t in [direct] + [t for t in targets if t.name != "Portkey"]:
            model = {"direct": "mock-text-chunks-20", "bare relay": "mock-text-chunks-20",
                     "TensorZero": "tensorzero::model_name::bench_stream"}.get(t.name, "bench-stream")
            url, headers, body = t.chat(stream=True, model=model)
            log(f"== {t.name}: streaming at 200 req/s")
            streaming[t.name] = load(url, headers, body, rate=200, duration=duration, warmup=warmup, stream=True)
        results["streaming"] = streaming

        # 4. Translated path: Anthropic Messages in, OpenAI upstream, vs the direct OpenAI call.
        body = {"model": "bench", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello"}]}
        log("== llm-gateway: /v1/messages → OpenAI upstream at 1000 req/s")
        results["translated"] = load(gw.base + "/v1/messages", gw.headers, body, rate=1000, duration=duration,
                                     warmup=warmup)

        sampling.set()
        sampler.join()
        results["gateway_rss_peak_kb"] = peaks[gw.name]
        results["gateway_vmhwm_kb"] = gw.proc.rss_kb("VmHWM")
        for t in targets:
            if t is not gw:
                results[f"{t.name}_rss_peak_kb"] = peaks[t.name]
        gw.proc.stop()
        procs.remove(gw.proc)

        # 5. Process start to first successful response, on the configured database (median of 5).
        starts = []
        for _ in range(3 if quick else 5):
            port = free_port()
            t0 = time.perf_counter()
            p = Proc("gateway-restart", [os.path.join(RELEASE, "llm-gateway")], gateway_env(db, port))
            try:
                wait_ok("POST", f"http://127.0.0.1:{port}/v1/chat/completions", CHAT,
                        {"authorization": "Bearer " + key}, limit=30, proc=p)
                starts.append((time.perf_counter() - t0) * 1000)
            finally:
                p.stop()
        results["start_to_first_response_ms"] = sorted(starts)[len(starts) // 2]

        # 6. The same start with glibc's default malloc settings: RSS after two admin logins (the
        # first Argon2 buffer is mmapped and returned; glibc then raises its mmap threshold and
        # keeps the next one in its heap).
        port = free_port()
        p = Proc("gateway-glibc-default", [os.path.join(RELEASE, "llm-gateway")],
                 gateway_env(db, port, tunables=False))
        try:
            wait_ok("GET", f"http://127.0.0.1:{port}/healthz", proc=p)
            for _ in range(2):
                http("POST", f"http://127.0.0.1:{port}/api/auth/login",
                     {"username": "admin", "password": ADMIN_PASSWORD})
            time.sleep(0.3)
            results["gateway_rss_after_login_default_malloc_kb"] = p.rss_kb()
        finally:
            p.stop()
    finally:
        for p in procs:
            p.stop()
        shutil.rmtree(db_dir, ignore_errors=True)

    results["stats"] = stats_at_volume(200_000 if quick else 1_000_000)
    sse = subprocess.run([os.path.join(RELEASE, "gateway-bench"), "sse", "16"], capture_output=True, text=True)
    results["sse_line"] = json.loads(sse.stdout)
    results["binary_bytes"] = os.path.getsize(os.path.join(RELEASE, "llm-gateway"))
    wasm = find_wasm()
    if wasm:
        results["worker_wasm_bytes"] = os.path.getsize(wasm)
        results["worker_wasm_gzip_bytes"] = len(gzip.compress(open(wasm, "rb").read(), 9))
    return results


def closed_loop(targets, duration, connections=32):
    """Runs the closed loop against every target at once (connections shared among them);
    returns the summed requests/s and the store round trips per request."""
    before = [counters(t.base) for t in targets]
    points, threads = [None] * len(targets), []
    for i, t in enumerate(targets):
        def run(i=i, t=t):
            url, headers, body = t.chat()
            if shutil.which("wrk"):
                points[i] = wrk(url, headers, body, connections // len(targets), duration)
            else:
                r = load(url, headers, body, connections=connections // len(targets), duration=duration, warmup=0.5)
                points[i] = {"rps": r["rps"], "errors": r["errors"]}
        threads.append(threading.Thread(target=run))
        threads[-1].start()
    for th in threads:
        th.join()
    after = [counters(t.base) for t in targets]
    return dict(per_request(before, after), rps=round(sum(p["rps"] for p in points)),
                errors=sum(p["errors"] for p in points))


def limits_section(mock, gw, limited, db, duration, quick):
    out = {"rounds": 1 if quick else 3}
    procs = []
    try:
        rows = {"one instance, libSQL file": (gw, limited)}
        redis = start_redis()
        if redis:
            procs.append(redis[0])
            r_db_dir = tempfile.mkdtemp(prefix="bench-redis-db-")
            r_gw, _, r_limited = start_gateway(mock, os.path.join(r_db_dir, "gateway.db"),
                                               {"LIMITS_URL": redis[1]}, label="llm-gateway on Redis")
            procs.append(r_gw.proc)
            rows["one instance, Redis"] = (r_gw, r_limited)
        else:
            out["redis"] = "redis-server not installed: row skipped"
        # A second instance on the first gateway's database (its keys and models are there).
        proc, base = start_gateway(mock, db, setup=False)
        procs.append(proc)
        gw2 = Target("llm-gateway #2", base, gw.headers, proc=proc)
        limited2 = Target("llm-gateway #2 (limited key)", base, limited.headers, proc=proc)
        wait_ok("POST", base + "/v1/chat/completions", CHAT, limited.headers, proc=proc)
        table = {}
        for i in range(out["rounds"]):
            for row, (plain, lim) in rows.items():
                for kind, t in (("unlimited", plain), ("limited", lim)):
                    log(f"== limits: {row}, {kind} key (round {i + 1})")
                    table.setdefault((row, kind), []).append(closed_loop([t], duration))
            log(f"== limits: two instances on one database (round {i + 1})")
            table.setdefault(("two instances, one libSQL file", "unlimited"), []).append(
                closed_loop([gw, gw2], duration))
            table.setdefault(("two instances, one libSQL file", "limited"), []).append(
                closed_loop([limited, limited2], duration))
        out["rows"] = []
        for (row, kind), points in table.items():
            points.sort(key=lambda p: p["rps"])
            out["rows"].append(dict(points[len(points) // 2], row=row, key=kind,
                                    rounds=[p["rps"] for p in points]))
        # The stores' own ceilings: exact reservations per second (one write each), from one
        # process and from two at once.
        ceiling_db = tempfile.mkdtemp(prefix="bench-ceiling-")
        stores = {"libSQL file": os.path.join(ceiling_db, "limits.db")}
        if redis:
            stores["Redis"] = redis[1]
        out["ceilings"] = {}
        for name, store in stores.items():
            for n in (1, 2):
                log(f"== limits: {name} reservations/s, {n} process(es)")
                runs = [subprocess.Popen([os.path.join(RELEASE, "gateway-bench"), "limits", store, str(duration)],
                                         stdout=subprocess.PIPE, text=True) for _ in range(n)]
                total = sum(json.loads(p.communicate(timeout=duration + 60)[0])["reservations_per_s"] for p in runs)
                out["ceilings"][f"{name}, {n} process(es)"] = round(total)
        shutil.rmtree(ceiling_db, ignore_errors=True)
    finally:
        for p in procs:
            p.stop()
    return out


def stats_at_volume(rows):
    """`GET /api/admin/stats?window=30d` over `rows` synthetic log rows spread over 29 days (20
    models, 4 providers, 50 keys, latencies spread evenly over 0.1-4.1 s: the worst case for
    histograms), first from the logs, then from the hourly rollups: seconds and VmHWM growth."""
    log(f"== dashboard stats over {rows} log rows")
    db_dir = tempfile.mkdtemp(prefix="bench-stats-")
    db = os.path.join(db_dir, "gateway.db")

    def started(extra=None):
        port = free_port()
        env = dict(gateway_env(db, port), **(extra or {}))
        p = Proc("gateway-stats", [os.path.join(RELEASE, "llm-gateway")], env)
        base = f"http://127.0.0.1:{port}"
        wait_ok("GET", base + "/healthz", proc=p)
        _, token = http("POST", base + "/api/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})
        return p, base, {"authorization": "Bearer " + json.loads(token)["token"]}

    def measured():
        p, base, auth = started()
        try:
            http("GET", base + "/api/admin/stats?window=24h", headers=auth, timeout=300)
            before = p.rss_kb("VmHWM")
            t0 = time.perf_counter()
            _, body = http("GET", base + "/api/admin/stats?window=30d", headers=auth, timeout=300)
            took = time.perf_counter() - t0
            assert json.loads(body)["totals"]["requests"] == rows, body[:300]
            return {"seconds": round(took, 3), "vmhwm_growth_kb": p.rss_kb("VmHWM") - before}
        finally:
            p.stop()

    try:
        p, _, _ = started()
        p.stop()
        import sqlite3
        now = int(time.time() * 1000)
        con = sqlite3.connect(db)
        con.execute("""WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
            INSERT INTO request_logs (id, created_at, request_id, key_id, endpoint, model_requested,
            provider_id, status, error_kind, latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd)
            SELECT printf('log%07d', i), ? - i * (2500000000 / ?), 'r' || i, 'key-' || (i % 50),
            '/v1/chat/completions', 'model-' || (i % 20), 'prv-' || (i % 4),
            CASE WHEN i % 50 = 0 THEN 502 ELSE 200 END, CASE WHEN i % 50 = 0 THEN 'upstream_error' END,
            100 + (i * 7919) % 4000, 50 + (i * 104729) % 1000, 100, 50, 0.0001 FROM n""", (rows, now, rows))
        con.commit()
        con.close()
        result = {"rows": rows, "from_logs": measured()}
        # Let the periodic jobs build the rollups, then measure again.
        p, base, auth = started({"MAINTENANCE_INTERVAL_SECS": "1"})
        try:
            deadline = time.time() + 300
            while time.time() < deadline:
                _, body = http("GET", base + "/api/admin/stats?window=24h", headers=auth, timeout=300)
                until = json.loads(body).get("rolled_up_until")
                if until and until >= now - 3 * 3600_000:
                    break
                time.sleep(0.5)
        finally:
            p.stop()
        result["from_rollups"] = measured()
        return result
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)


def find_wasm():
    for d, _, files in os.walk(os.path.join(ROOT, "adapters", "cloudflare", "build")):
        for f in files:
            if f.endswith(".wasm"):
                return os.path.join(d, f)
    return None


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "note": "load generator, mock upstream and the server under test share these cores"}


def report(r):
    lines = [f"Machine: {r['machine']['cpu']}, {r['machine']['cores']} cores ({r['machine']['note']}). "
             f"Mock upstream with zero latency; {r['duration_s']} s per point.", ""]
    names = ["bare relay", "llm-gateway"] + [n for n in ("llm-gateway (cache hit)", "LiteLLM", "TensorZero", "Portkey")
                                             if any(k.startswith(n + "@") for k in r["fixed_rate"])]
    lines += ["### Added latency at fixed offered rates (through X minus direct; ms)", "",
              "| rate | target | P50 | P95 | P99 | added P50 | added P99 | errors |", "|---|---|---|---|---|---|---|---|"]
    for rate in r["rates"]:
        d = r["fixed_rate"][f"direct@{rate}"]["latency_ms"]
        lines.append(f"| {rate}/s | direct | {fmt(d['p50'])} | {fmt(d['p95'])} | {fmt(d['p99'])} | | | "
                     f"{r['fixed_rate'][f'direct@{rate}']['errors']} |")
        for n in names:
            x = r["fixed_rate"].get(f"{n}@{rate}")
            if not x or not x["latency_ms"]:
                lines.append(f"| {rate}/s | {n} | — | — | — | — | — | {x and x['errors']} |")
                continue
            l = x["latency_ms"]
            lines.append(f"| {rate}/s | {n} | {fmt(l['p50'])} | {fmt(l['p95'])} | {fmt(l['p99'])} | "
                         f"{fmt(l['p50'] - d['p50'])} | {fmt(l['p99'] - d['p99'])} | {x['errors'] + x['dropped']} |")
    lines += ["", "`bare relay` forwards bytes with the gateway's own HTTP stack and no logic at all: the "
              "floor of one proxy hop here. The gateway's own work is the difference between its row and "
              "the relay's:", ""]
    for rate in r["rates"]:
        g, b = r["fixed_rate"][f"llm-gateway@{rate}"]["latency_ms"], r["fixed_rate"][f"bare relay@{rate}"]["latency_ms"]
        lines.append(f"- {rate}/s: llm-gateway minus bare relay: P50 {fmt(g['p50'] - b['p50'])} ms, "
                     f"P99 {fmt(g['p99'] - b['p99'])} ms")
    t = r["throughput"]
    ours = t["llm-gateway"]["rps"]
    lines += ["", f"### Maximum throughput (closed loop, 32 connections, {r['load_tool']}; median of the rounds)",
              "", "| target | requests/s | rounds | vs direct | llm-gateway ÷ this | errors |",
              "|---|---|---|---|---|---|"]
    for n, v in t.items():
        ratio = ours / v["rps"] if v["rps"] else None
        lines.append(f"| {n} | {v['rps']:.0f} | {', '.join(str(x) for x in v['rounds'])} | "
                     f"{v['rps'] / t['direct']['rps']:.2f}× | {fmt(ratio, 2)}× | {v['errors']} |")
    hit = t.get("llm-gateway (cache hit)")
    if hit:
        lines += ["", f"Response cache: a hit answers {hit['rps'] / t['direct']['rps']:.2f}× as many requests a second "
                  f"as the mock upstream itself ({hit['rps']:.0f} vs {t['direct']['rps']:.0f}) and "
                  f"{hit['rps'] / ours:.2f}× the gateway's uncached rate; hits are in the fixed-rate table as "
                  "`llm-gateway (cache hit)` (the mock answers at once, so a hit's gain here is the upstream hop, "
                  "not a model's seconds)."]
    lim = r.get("limits", {})
    if lim.get("rows"):
        lines += ["", f"### Key limits (closed loop, 32 connections; median of {lim['rounds']} rounds)", "",
                  "A key with rpm, tpm, concurrency and budget limits (high enough never to refuse) against "
                  "a key with none, on the same instance(s) in the same round. Round trips and log writes "
                  "are per request, from the instances' `/metrics`.", "",
                  "| setup | key | requests/s | rounds | limited ÷ unlimited | limit-store round trips | "
                  "log batches | errors |", "|---|---|---|---|---|---|---|---|"]
        plain = {x["row"]: x["rps"] for x in lim["rows"] if x["key"] == "unlimited"}
        for x in lim["rows"]:
            ratio = f"{x['rps'] / plain[x['row']]:.2f}×" if x["key"] == "limited" and plain.get(x["row"]) else ""
            lines.append(f"| {x['row']} | {x['key']} | {x['rps']} | {', '.join(str(v) for v in x['rounds'])} | "
                         f"{ratio} | {x['limit_trips']:.4f} | {x['log_batches']:.4f} | {x['errors']} |")
        if lim.get("redis"):
            lines.append(f"\n{lim['redis']}")
        if lim.get("ceilings"):
            lines += ["", "Limit stores alone (`gateway-bench limits`: exact reservations, one write each, 32 at "
                      "once over 64 keys): " + "; ".join(f"{k}: {v} /s" for k, v in lim["ceilings"].items()) + "."]
    s = r["streaming"]
    lines += ["", "### Streaming, 20 chunks, 200 req/s (ms)", "",
              "| target | first chunk P50 | P99 | last byte P50 | P99 | added first chunk P50 |", "|---|---|---|---|---|---|"]
    for n, v in s.items():
        f, l = v["ttfb_ms"] or {}, v["latency_ms"] or {}
        added = fmt(f.get("p50", 0) - s["direct"]["ttfb_ms"]["p50"]) if f else "—"
        lines.append(f"| {n} | {fmt(f.get('p50'))} | {fmt(f.get('p99'))} | {fmt(l.get('p50'))} | "
                     f"{fmt(l.get('p99'))} | {added} |")
    tr, d = r["translated"]["latency_ms"], r["fixed_rate"]["direct@1000"]["latency_ms"]
    lines += ["", "### Translated path at 1000 req/s: Anthropic `/v1/messages` in, OpenAI upstream (ms)", "",
              f"P50 {fmt(tr['p50'])}, P99 {fmt(tr['p99'])}; added over direct: P50 {fmt(tr['p50'] - d['p50'])}, "
              f"P99 {fmt(tr['p99'] - d['p99'])}; errors {r['translated']['errors']}.", ""]
    mb = lambda kb: f"{kb / 1024:.1f} MB"
    lines += ["### Footprint", "", "| figure | llm-gateway | peers |", "|---|---|---|",
              f"| RSS idle (after setup: first admin, login, configuration, one request) | {mb(r['gateway_rss_idle_kb'])} | "
              + ", ".join(f"{n} {mb(r[n + '_rss_idle_kb'])}" for n in names[1:] if n + "_rss_idle_kb" in r) + " |",
              f"| RSS after two admin logins, glibc's default malloc settings | "
              f"{mb(r['gateway_rss_after_login_default_malloc_kb'])} | |",
              f"| RSS peak under load (sampled every 100 ms) | {mb(r['gateway_rss_peak_kb'])} | "
              + ", ".join(f"{n} {mb(r[n + '_rss_peak_kb'])}" for n in names[1:] if n + "_rss_peak_kb" in r) + " |",
              f"| VmHWM (peak ever, start-up and Argon2 logins included) | {mb(r['gateway_vmhwm_kb'])} | |",
              f"| binary (release, stripped) | {r['binary_bytes'] / 1e6:.1f} MB | |",
              f"| process start → first successful response (median) | {r['start_to_first_response_ms']:.1f} ms | |"]
    if "worker_wasm_gzip_bytes" in r:
        lines.append(f"| Worker wasm (gzip -9) | {r['worker_wasm_gzip_bytes'] / 1048576:.2f} MiB "
                     f"({r['worker_wasm_bytes'] / 1048576:.2f} MiB raw) | |")
    st = r["stats"]
    lines += ["", f"### Dashboard statistics over {st['rows']:,} log rows (30-day window)", "",
              "| source | seconds | peak memory growth |", "|---|---|---|",
              f"| the logs (before the first hourly job) | {st['from_logs']['seconds']} | "
              f"{mb(st['from_logs']['vmhwm_growth_kb'])} |",
              f"| hourly rollups (+ the last hours from the logs) | {st['from_rollups']['seconds']} | "
              f"{mb(st['from_rollups']['vmhwm_growth_kb'])} |",
              "", f"SSE decoder, one {r['sse_line']['line_mib']} MiB line in {r['sse_line']['chunk_kib']} KiB "
              f"chunks: {r['sse_line']['ms']:.1f} ms.", ""]
    if r.get("peer_failures"):
        lines += ["", "Peers that did not start: " + ", ".join(r["peer_failures"])]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short points, two rates (a smoke run)")
    ap.add_argument("--peers", default="litellm,tensorzero,portkey")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    if not args.inside:
        setup(peers)
        os.makedirs(OUT, exist_ok=True)
        me = [sys.executable, os.path.abspath(__file__), "--inside", "--peers", args.peers or "none"] + (
            ["--quick"] if args.quick else [])
        ns = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
        probe = subprocess.run(ns + ["true"], capture_output=True)
        if probe.returncode == 0:
            sys.exit(subprocess.run(ns + me).returncode)
        log("note: no private network namespace here (unshare --net failed); running on the host's "
            "loopback without Portkey, which binds every interface")
        me[me.index("--peers") + 1] = ",".join(p for p in peers if p != "portkey") or "none"
        sys.exit(subprocess.run(me).returncode)
    results = inside(args)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    text = report(results)
    print(text)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
