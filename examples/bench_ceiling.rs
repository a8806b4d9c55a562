//! The ceiling for `bench/run.sh`: the service's DynamoDB operations sent straight to the engine
//! through aws-sdk-dynamodb, with no HTTP in between, at a given concurrency.
//!
//! ```text
//! cargo run --release --example bench_ceiling -- \
//!     --op get|author|category|patch --books bench/out/books.json \
//!     [--concurrency 32] [--duration 10] [--warmup 1] [--table Books] [--limit 20]
//! ```
//!
//! Each request mirrors the one the service sends for the same route (see `src/repository`):
//! `get` is a strongly consistent GetItem, `author` a strongly consistent Query for `limit + 1`
//! items, `category` a Query on `CategoryIndex` for `limit + 1` items, `patch` the format
//! PATCH's UpdateItem (`SET Formats.#n = :v, UpdatedAt = :now ADD Version :one` under
//! `attribute_exists(Author) AND attribute_exists(Formats) AND size(Formats) <= :room`,
//! ALL_NEW). Keys are drawn at random from the seed file. The client is the service's own
//! (`bookstore::repository::build_client`: same timeouts and retries), built once and cloned.
//!
//! Prints one JSON object: requests/s, p50 and p99 latency in ms, and this process's CPU time
//! per request (utime + stime from `/proc/self/stat`, sampled at the start and end of the
//! measured window; the warm-up is not counted).

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::{
    Client,
    types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure},
};
use clap::{Parser, ValueEnum};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// The same allocator as `bookstore serve`: with glibc's malloc this client paid for allocations
/// the service does not, and the service-to-ceiling ratio looked better than it is.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What one run does, from the command line (`bench/bench.py` passes `--op`, `--books`,
/// `--concurrency`, `--duration` and `--warmup`).
#[derive(Parser)]
#[command(
    about = "DynamoDB's ceiling for bench/run.sh: the service's operations, straight to the engine",
    // As the hand-written parser did: a repeated flag's last value counts.
    args_override_self = true
)]
struct Args {
    /// Which operation to send.
    #[arg(long, value_enum, default_value = "get")]
    op: Op,
    /// The seed file (a JSON array of books) keys are drawn from.
    #[arg(long, value_name = "FILE")]
    books: String,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value = "32", value_parser = at_least_one)]
    concurrency: usize,
    /// Seconds measured (fractions allowed).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    duration: Duration,
    /// Seconds run before measuring (fractions allowed).
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = seconds)]
    warmup: Duration,
    /// The table.
    #[arg(
        long,
        value_name = "NAME",
        env = "BOOKSTORE_TABLE",
        default_value = "Books"
    )]
    table: String,
    /// Page size of `author` and `category` (each Query asks for one more).
    #[arg(long, value_name = "N", default_value = "20")]
    limit: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Op {
    Get,
    Author,
    Category,
    Patch,
}

fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse() {
        Ok(0) | Err(_) => Err("must be a whole number of at least 1".to_owned()),
        Ok(n) => Ok(n),
    }
}

fn seconds(value: &str) -> Result<Duration, String> {
    value
        .parse()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| "must be a number of seconds, 0 or more".to_owned())
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Author => "author",
            Op::Category => "category",
            Op::Patch => "patch",
        }
    }
}

/// The keys requests are drawn from.
struct Keys {
    books: Vec<(String, String)>,
    authors: Vec<String>,
    categories: Vec<String>,
}

/// What one worker measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

fn load_keys(path: &str) -> Keys {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("bench_ceiling: cannot read {path}: {e}");
        std::process::exit(1)
    });
    let books: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("bench_ceiling: {path} is not a JSON array of books: {e}");
        std::process::exit(1)
    });
    let field = |b: &serde_json::Value, name: &str| {
        b[name]
            .as_str()
            .unwrap_or_else(|| {
                eprintln!("bench_ceiling: a book in {path} has no string {name:?}");
                std::process::exit(1)
            })
            .to_owned()
    };
    let mut authors = BTreeSet::new();
    let mut categories = BTreeSet::new();
    let mut keys = Vec::with_capacity(books.len());
    for b in &books {
        let author = field(b, "author");
        authors.insert(author.clone());
        categories.insert(field(b, "category"));
        keys.push((author, field(b, "title")));
    }
    if keys.is_empty() {
        eprintln!("bench_ceiling: {path} has no books");
        std::process::exit(1)
    }
    Keys {
        books: keys,
        authors: authors.into_iter().collect(),
        categories: categories.into_iter().collect(),
    }
}

/// This process's CPU time so far (user + system, all threads), in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// A small xorshift generator: enough to spread keys, no extra dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The table's key of a book.
fn book_key(author: &str, title: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("Author".to_owned(), s(author)),
        ("Title".to_owned(), s(title)),
    ])
}

/// One request of the given kind, as the service would send it.
async fn one_request(
    client: &Client,
    table: &str,
    op: Op,
    limit: i32,
    keys: &Keys,
    rng: &mut Rng,
) -> Result<(), String> {
    match op {
        Op::Get => get(client, table, keys, rng).await,
        Op::Author => {
            let author = &keys.authors[rng.below(keys.authors.len())];
            query(client, table, ("Author", author, None), limit).await
        }
        Op::Category => {
            let category = &keys.categories[rng.below(keys.categories.len())];
            let partition = ("Category", category.as_str(), Some("CategoryIndex"));
            query(client, table, partition, limit).await
        }
        Op::Patch => patch(client, table, keys, rng).await,
    }
}

/// `get`: a strongly consistent GetItem of a random book.
async fn get(client: &Client, table: &str, keys: &Keys, rng: &mut Rng) -> Result<(), String> {
    let (author, title) = &keys.books[rng.below(keys.books.len())];
    client
        .get_item()
        .table_name(table)
        .set_key(Some(book_key(author, title)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| format!("GetItem: {e:?}"))?
        .item
        .ok_or_else(|| format!("GetItem: no book {author:?} / {title:?}"))?;
    Ok(())
}

/// `author` and `category`: one page of a partition (attribute, value, index), as the listings
/// ask for it; the table itself is read strongly consistent, an index cannot be.
async fn query(
    client: &Client,
    table: &str,
    (attribute, partition, index): (&str, &str, Option<&str>),
    limit: i32,
) -> Result<(), String> {
    let out = client
        .query()
        .table_name(table)
        .set_index_name(index.map(str::to_owned))
        .key_condition_expression("#n0 = :v0")
        .expression_attribute_names("#n0", attribute)
        .expression_attribute_values(":v0", s(partition))
        .scan_index_forward(true)
        .limit(limit + 1)
        .set_consistent_read(index.is_none().then_some(true))
        .send()
        .await
        .map_err(|e| format!("Query: {e:?}"))?;
    if out.items().is_empty() {
        return Err(format!("Query: no items for {attribute} = {partition:?}"));
    }
    Ok(())
}

/// `patch`: the format PATCH's conditional UpdateItem on a random book.
async fn patch(client: &Client, table: &str, keys: &Keys, rng: &mut Rng) -> Result<(), String> {
    let (author, title) = &keys.books[rng.below(keys.books.len())];
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    client
        .update_item()
        .table_name(table)
        .set_key(Some(book_key(author, title)))
        .update_expression("SET #n0.#n1 = :v0, #n2 = :v1 ADD #n3 :v2")
        .condition_expression(
            "attribute_exists(#n4) AND attribute_exists(#n0) AND size(#n0) <= :v3",
        )
        .set_expression_attribute_names(Some(HashMap::from([
            ("#n0".to_owned(), "Formats".to_owned()),
            ("#n1".to_owned(), "Audiobook".to_owned()),
            ("#n2".to_owned(), "UpdatedAt".to_owned()),
            ("#n3".to_owned(), "Version".to_owned()),
            ("#n4".to_owned(), "Author".to_owned()),
        ])))
        .set_expression_attribute_values(Some(HashMap::from([
            (":v0".to_owned(), s("X")),
            (":v1".to_owned(), s(&now)),
            (":v2".to_owned(), AttributeValue::N("1".to_owned())),
            (":v3".to_owned(), AttributeValue::N("31".to_owned())),
        ])))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .map_err(|e| format!("UpdateItem: {e:?}"))?;
    Ok(())
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// One worker: requests back to back until `end`, counting those that finish in `start..=end`.
async fn worker(
    w: usize,
    client: Client,
    table: Arc<str>,
    keys: Arc<Keys>,
    (op, limit): (Op, i32),
    (start, end): (Instant, Instant),
) -> Tally {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((w as u64 + 1) * 0x2545_F491_4F6C_DD1D));
    let mut tally = Tally::default();
    loop {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let result = one_request(&client, &table, op, limit, &keys, &mut rng).await;
        let done = Instant::now();
        if done < start || done > end {
            continue;
        }
        match result {
            Ok(()) => {
                let us = done.duration_since(sent).as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e);
            }
        }
    }
    tally
}

/// The JSON line `bench/bench.py` reads.
fn report(args: &Args, latencies: &[u32], errors: u64, cpu_ticks: u64) -> serde_json::Value {
    let clk_tck: f64 = std::env::var("BENCH_CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0);
    let secs = args.duration.as_secs_f64();
    let requests = latencies.len();
    let cpu_s = cpu_ticks as f64 / clk_tck;
    serde_json::json!({
        "op": args.op.name(),
        "concurrency": args.concurrency,
        "duration_s": secs,
        "requests": requests,
        "errors": errors,
        "rps": requests as f64 / secs,
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "cpu_s": cpu_s,
        "cpu_ms_per_req": if requests > 0 { cpu_s * 1000.0 / requests as f64 } else { 0.0 },
    })
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let keys = Arc::new(load_keys(&args.books));
    let sdk = bookstore::repository::load_sdk_config().await;
    let client = bookstore::repository::build_client(&sdk);
    let table: Arc<str> = Arc::from(args.table.as_str());

    let begin = Instant::now();
    let start = begin + args.warmup;
    let end = start + args.duration;
    let workers: Vec<_> = (0..args.concurrency)
        .map(|w| {
            tokio::spawn(worker(
                w,
                client.clone(),
                table.clone(),
                keys.clone(),
                (args.op, args.limit),
                (start, end),
            ))
        })
        .collect();

    tokio::time::sleep_until(start.into()).await;
    let cpu_before = cpu_ticks();
    tokio::time::sleep_until(end.into()).await;
    let cpu_after = cpu_ticks();

    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let tally = worker.await.expect("a worker panicked");
        latencies.extend(tally.latencies_us);
        errors += tally.errors;
        if let Some(e) = tally.first_error {
            eprintln!("bench_ceiling: error: {e}");
        }
    }
    latencies.sort_unstable();
    println!(
        "{}",
        report(&args, &latencies, errors, cpu_after - cpu_before)
    );
}
