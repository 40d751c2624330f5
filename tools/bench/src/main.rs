//! `gateway-bench`: sends HTTP load to one URL on 127.0.0.1 and prints one JSON line of results.
//!
//! ```text
//! gateway-bench --url URL --body JSON [--header 'name: value']... --duration SECS
//!               (--rate RPS | --connections N) [--stream] [--warmup SECS]
//! ```
//! `gateway-bench sse MIB`: times the gateway's SSE decoder on one MIB-MiB `data:` line arriving
//! in 16 KiB network chunks (a decoder that rescans its buffer per chunk is quadratic there).
//!
//! `--rate`: open loop — requests start on a fixed schedule whatever the answers do (in flight
//! capped at 4096; late starts are counted as `dropped`). `--connections`: closed loop — N workers
//! send back to back (maximum throughput). Latency runs from sending to the last body byte; with
//! `--stream`, `ttfb` is the time to the first body chunk (the first SSE event). Percentiles are
//! nearest-rank over every request after the warm-up.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

struct Args {
    url: String,
    body: String,
    headers: Vec<(String, String)>,
    duration: Duration,
    warmup: Duration,
    rate: Option<f64>,
    connections: usize,
    stream: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        body: String::new(),
        headers: Vec::new(),
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(1),
        rate: None,
        connections: 0,
        stream: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let secs =
            |v: String| v.parse::<f64>().map(Duration::from_secs_f64).map_err(|e| e.to_string());
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--body" => args.body = value()?,
            "--header" => {
                let h = value()?;
                let (k, v) = h.split_once(':').ok_or("--header takes 'name: value'")?;
                args.headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "--duration" => args.duration = secs(value()?)?,
            "--warmup" => args.warmup = secs(value()?)?,
            "--rate" => args.rate = Some(value()?.parse().map_err(|_| "--rate takes a number")?),
            "--connections" => {
                args.connections = value()?.parse().map_err(|_| "--connections takes a number")?
            }
            "--stream" => args.stream = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.url.is_empty() || (args.rate.is_none() && args.connections == 0) {
        return Err("need --url and one of --rate or --connections".into());
    }
    Ok(args)
}

#[derive(Default)]
struct Samples {
    latency_us: Vec<u64>,
    ttfb_us: Vec<u64>,
    ok: u64,
    errors: u64,
    dropped: u64,
}

/// One request: (latency, time to first body chunk) in µs, or None on any failure.
async fn one(client: &reqwest::Client, args: &Args) -> Option<(u64, u64)> {
    let started = Instant::now();
    let mut request =
        client.post(&args.url).header("content-type", "application/json").body(args.body.clone());
    for (k, v) in &args.headers {
        request = request.header(k, v);
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        let _ = response.bytes().await;
        return None;
    }
    let mut body = response.bytes_stream();
    let mut first = None;
    while let Some(chunk) = body.next().await {
        chunk.ok()?;
        first.get_or_insert_with(|| started.elapsed());
    }
    let total = started.elapsed();
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    Some((micros(total), micros(first.unwrap_or(total))))
}

fn record(samples: &RefCell<Samples>, result: Option<(u64, u64)>, measured: bool) {
    if !measured {
        return;
    }
    let mut s = samples.borrow_mut();
    match result {
        Some((latency, ttfb)) => {
            s.ok += 1;
            s.latency_us.push(latency);
            s.ttfb_us.push(ttfb);
        }
        None => s.errors += 1,
    }
}

fn percentiles(values: &mut [u64]) -> serde_json::Value {
    if values.is_empty() {
        return serde_json::Value::Null;
    }
    values.sort_unstable();
    let rank = |p: f64| {
        let i = ((p / 100.0) * values.len() as f64).ceil() as usize;
        values[i.clamp(1, values.len()) - 1] as f64 / 1000.0
    };
    let mean = values.iter().sum::<u64>() as f64 / values.len() as f64 / 1000.0;
    json!({"p50": rank(50.0), "p95": rank(95.0), "p99": rank(99.0), "mean": mean,
           "max": rank(100.0)})
}

async fn run(args: Rc<Args>) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default();
    let samples = Rc::new(RefCell::new(Samples::default()));
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;
    let local = tokio::task::LocalSet::new();
    if let Some(rate) = args.rate {
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let inflight = Rc::new(std::cell::Cell::new(0usize));
        local
            .run_until(async {
                let mut i: u32 = 0;
                loop {
                    let at = start + interval * i;
                    if at >= end {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                    i = i.saturating_add(1);
                    let measured = at >= measure_from;
                    if inflight.get() >= 4096 {
                        if measured {
                            samples.borrow_mut().dropped += 1;
                        }
                        continue;
                    }
                    inflight.set(inflight.get() + 1);
                    let (client, args, samples, inflight) =
                        (client.clone(), args.clone(), samples.clone(), inflight.clone());
                    tokio::task::spawn_local(async move {
                        let result = one(&client, &args).await;
                        record(&samples, result, measured);
                        inflight.set(inflight.get() - 1);
                    });
                }
                while inflight.get() > 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await;
    } else {
        local
            .run_until(async {
                let workers: Vec<_> = (0..args.connections)
                    .map(|_| {
                        let (client, args, samples) =
                            (client.clone(), args.clone(), samples.clone());
                        tokio::task::spawn_local(async move {
                            while Instant::now() < end {
                                let measured = Instant::now() >= measure_from;
                                let result = one(&client, &args).await;
                                record(&samples, result, measured);
                            }
                        })
                    })
                    .collect();
                futures::future::join_all(workers).await;
            })
            .await;
    }
    let elapsed = end.saturating_duration_since(measure_from).as_secs_f64().max(1e-9);
    let mut s = samples.borrow_mut();
    let rps = s.ok as f64 / elapsed;
    let latency = percentiles(&mut s.latency_us);
    let ttfb = percentiles(&mut s.ttfb_us);
    json!({"ok": s.ok, "errors": s.errors, "dropped": s.dropped, "rps": rps,
           "latency_ms": latency, "ttfb_ms": if args.stream { ttfb } else { serde_json::Value::Null }})
}

/// `gateway-bench sse MIB`: one JSON line with the decode time of a MIB-MiB line.
fn sse(mib: usize) {
    let chunk = vec![b'x'; 16 << 10];
    let started = Instant::now();
    let mut decoder = gateway_core::sse::SseDecoder::with_max_line(mib << 21);
    let mut events = decoder.push(b"data: ").map(|e| e.len()).unwrap_or(0);
    for _ in 0..(mib << 20) / chunk.len() {
        events += decoder.push(&chunk).map(|e| e.len()).unwrap_or(0);
    }
    events += decoder.push(b"\n\n").map(|e| e.len()).unwrap_or(0);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    println!("{}", json!({"line_mib": mib, "chunk_kib": 16, "events": events, "ms": ms}));
}

/// `gateway-bench limits STORE SECONDS`: one JSON line with the reservations per second one
/// process gets from a limit store — a libSQL file path or a `redis://` URL — with 32 at once,
/// each one counter of one of 64 keys reserved exactly (what a block refill, or a request under a
/// small limit, costs). The ceiling of the store, not of the gateway.
async fn limits(store: &str, seconds: u64) -> Result<serde_json::Value, String> {
    use gateway_core::{LimitStore, Take};
    let store: std::sync::Arc<dyn LimitStore> = match gateway_native::limit_store(Some(store)) {
        Ok(Some(redis)) => redis,
        _ => {
            let s =
                gateway_core::store::Store::new(gateway_native::open_database(store, None).await?);
            s.migrate(0).await.map_err(|e| e.to_string())?;
            std::sync::Arc::new(s)
        }
    };
    let until = Instant::now() + Duration::from_secs(seconds);
    let process = std::process::id();
    let workers = (0..32).map(|w| {
        let store = store.clone();
        async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            let mut i = 0usize;
            while Instant::now() < until {
                let key = format!("bench-{process}-{}", (w + i) % 64);
                let take = Take { kind: "rpm", window: 0, amount: 1, limit: i64::MAX / 2 };
                match store.reserve(&key, 0, &[take], None).await {
                    Ok(true) => ok += 1,
                    _ => failed += 1,
                }
                i += 1;
            }
            (ok, failed)
        }
    });
    let started = Instant::now();
    let results = futures::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let ok: u64 = results.iter().map(|r| r.0).sum();
    let failed: u64 = results.iter().map(|r| r.1).sum();
    Ok(json!({"reservations_per_s": ok as f64 / elapsed, "failed": failed}))
}

fn main() {
    let mut raw = std::env::args().skip(1);
    match raw.next().as_deref() {
        Some("sse") => {
            sse(raw.next().and_then(|m| m.parse().ok()).unwrap_or(16));
            return;
        }
        Some("limits") => {
            let store = raw.next().unwrap_or_default();
            let seconds = raw.next().and_then(|s| s.parse().ok()).unwrap_or(3);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let result = match runtime {
                Ok(r) => r.block_on(limits(&store, seconds)),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(v) => println!("{v}"),
                Err(e) => {
                    eprintln!("gateway-bench limits: {e}");
                    std::process::exit(1);
                }
            }
            return;
        }
        _ => {}
    }
    let args = match parse_args() {
        Ok(a) => Rc::new(a),
        Err(e) => {
            eprintln!("gateway-bench: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let Ok(runtime) = runtime else {
        eprintln!("gateway-bench: cannot start the runtime");
        std::process::exit(1);
    };
    let result = runtime.block_on(run(args));
    println!("{result}");
}
