// seedbank-bench [SECTION...] [--dir DIR] [--size-mib N] [--releases N] [--json]
//
// Each section measures Seedbank against a reference measured in the same
// run on the same data, and prints the ratio: timings on shared machines
// drift, a ratio within one run does not (much).
//   hash    all content hashes of a 1 GiB file vs `openssl dgst -sha256`
//   ingest  index ingest rate vs raw libsodium verification of the same records
//   publish a 1 GiB release (all hashes, torrent, signed record) vs `openssl dgst -sha256`
//   fetch   node-to-node fetch of a 1 GiB release on loopback vs `cp` + `sync`
//   lookup  by-hash lookup latency (p50/p99) with --releases releases indexed
//   ... (see --help and bench/README.md); `scale` runs only when named.
#include <openssl/evp.h>
#include <sched.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <zlib.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/context.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/node/gossip.h"
#include "seedbank/node/publish.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/gossip_message.h"
#include "seedbank/protocol/http_target.h"
#include "seedbank/protocol/reconcile.h"
#include "seedbank/protocol/record.h"
#include "seedbank/protocol/util.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_records.h"
#include "support/tracker.h"
#include "support/wire_client.h"

namespace fs = std::filesystem;
using namespace seedbank;
using Clock = std::chrono::steady_clock;

namespace {

// Warnings and errors only: what the nodes say at info level (peers
// joining, records received) is not what a bench reports.
protocol::Log quiet_log() { return protocol::Log(protocol::LogLevel::warn, protocol::Log::stderr_sink()); }

struct Options {
  std::vector<std::string> sections;
  fs::path dir;
  std::uint64_t size_mib = 1024;
  std::uint64_t releases = 1000000;
  std::uint64_t posts = 0;                // image posts in the http index; 0: ten per release, at most 1,000,000
  std::uint64_t posters = 1000;           // keys posting them
  std::uint64_t posted_releases = 10000;  // releases they are about
  bool spread_posts = false;              // each key posts about many releases (scale), not one in ten (http)
  std::string label = "http";             // what the http bench's progress messages start with
  std::uint64_t ingest_records = 20000;
  std::uint64_t sync_records = 100000;
  int load_seconds = 60;
  int repeats = 3;
  std::vector<std::string> swarm_runs{"4t", "4s", "8t", "8s", "4a"};
  bool json = false;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double>& sorted, double p) {
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

void say(const Options& o, const std::string& line) {
  if (!o.json) std::cout << line << std::endl;
}

// Runs a shell command, discarding its output; returns wall seconds.
double time_command(const std::string& cmd) {
  auto t = Clock::now();
  int rc = std::system((cmd + " >/dev/null").c_str());
  if (rc != 0) throw std::runtime_error("command failed: " + cmd);
  return seconds_since(t);
}

// Writes a safetensors-shaped file (so AutoV3 is computed too) of
// incompressible bytes from `seed`, or plain random bytes.
void write_model_file(const fs::path& path, std::uint64_t size, bool safetensors, std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::uint64_t written = 0;
  if (safetensors) {
    // A header padded to 128 bytes describing one U8 tensor over the rest.
    std::uint64_t data = size - 8 - 128;
    std::string header = "{\"w\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(data) + "],\"data_offsets\":[0," +
                         std::to_string(data) + "]}}";
    header.resize(128, ' ');
    std::uint64_t len = header.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << header;
    written = 8 + header.size();
  }
  std::vector<std::uint8_t> block(1 << 20);
  std::mt19937_64 rng(seed);
  while (written < size) {
    for (std::size_t i = 0; i < block.size(); i += 8) {
      std::uint64_t r = rng();
      std::memcpy(block.data() + i, &r, 8);
    }
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - written));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    written += n;
  }
}

// The bench's model file in `dir`, kept between runs.
fs::path make_model_file(const fs::path& dir, std::uint64_t size, bool safetensors) {
  fs::path path = dir / (safetensors ? "bench-v2.safetensors" : "bench.bin");
  if (!fs::exists(path) || fs::file_size(path) != size) write_model_file(path, size, safetensors, 42);
  return path;
}

nlohmann::json bench_hash(const Options& o) {
  nlohmann::json result;
  for (bool st : {true, false}) {
    auto path = make_model_file(o.dir, o.size_mib << 20, st);
    time_command("cat '" + path.string() + "'");  // warm the page cache for both sides
    std::vector<double> ref, ours, ours1;
    for (int i = 0; i < o.repeats; ++i) {
      ref.push_back(time_command("openssl dgst -sha256 '" + path.string() + "'"));
      auto t = Clock::now();
      auto d = protocol::hash_file(path);
      ours.push_back(seconds_since(t));
      if (!d) throw std::runtime_error(d.error().message);
      protocol::HashOptions one;
      one.threads = 1;
      t = Clock::now();
      (void)protocol::hash_file(path, one);
      ours1.push_back(seconds_since(t));
    }
    double r = median(ref), s = median(ours), s1 = median(ours1);
    std::string name = st ? "safetensors" : "plain";
    result[name] = {{"bytes", o.size_mib << 20}, {"openssl_s", r},         {"seedbank_s", s}, {"ratio", s / r},
                    {"seedbank_1thread_s", s1},  {"ratio_1thread", s1 / r}};
    char line[256];
    std::snprintf(line, sizeof line,
                  "hash %-11s %llu MiB: openssl dgst -sha256 %.3f s | seedbank all hashes %.3f s (%.2fx) | "
                  "1 thread %.3f s (%.2fx)   [goal <= 1.2x]",
                  name.c_str(), static_cast<unsigned long long>(o.size_mib), r, s, s / r, s1, s1 / r);
    say(o, line);
  }
  return result;
}

// Signs `n` distinct releases with `keys` authors on two threads. Releases
// that travel over gossip carry the work stamp nodes ask of new keys;
// those written straight into an index need none.
std::vector<protocol::Bytes> make_releases(std::uint64_t n, std::uint64_t first, const std::string& network,
                                           std::uint32_t work_bits = 0) {
  std::vector<protocol::Bytes> out(n);
  auto work = [&](std::uint64_t begin, std::uint64_t end) {
    std::vector<protocol::SecretKey> keys;
    for (int k = 0; k < 16; ++k) keys.push_back(protocol::SecretKey::generate());
    for (std::uint64_t i = begin; i < end; ++i) {
      auto type = (i % 3 == 0) ? schema::ModelType::CHECKPOINT : schema::ModelType::LORA;
      out[i] = testing::sign_release(keys[i % keys.size()], testing::sample_release(first + i, type),
                                     1700000000000 + first + i, network, work_bits);
    }
  };
  std::thread t(work, n / 2, n);
  work(0, n / 2);
  t.join();
  return out;
}

indexer::IndexOptions index_options(const fs::path& dir, unsigned threads) {
  indexer::IndexOptions io;
  io.dir = dir;
  io.network = "bench";
  io.map_size = 64ull << 30;
  io.verify_threads = threads;
  return io;
}

// Reference for ingest and sync: libsodium verification alone, one core, on
// the same records' signed messages (prepared outside the timing).
struct RawVerify {
  std::vector<protocol::Bytes> messages;
  std::vector<protocol::Signature> sigs;
  std::vector<protocol::PublicKey> authors;
  explicit RawVerify(const std::vector<protocol::Bytes>& records);
  double rate() const {  // records per second
    auto t = Clock::now();
    for (std::size_t i = 0; i < messages.size(); ++i)
      if (crypto_sign_verify_detached(sigs[i].data(), messages[i].data(), messages[i].size(), authors[i].bytes.data()))
        throw std::runtime_error("reference verification failed");
    return static_cast<double>(messages.size()) / seconds_since(t);
  }
};

RawVerify::RawVerify(const std::vector<protocol::Bytes>& records) {
  for (const auto& b : records) {
    auto rec = protocol::verify_record(b, "bench");
    auto body = rec->body();
    auto words = capnp::canonicalize(body);
    protocol::Bytes m(protocol::kRecordDomain.begin(), protocol::kRecordDomain.end());
    auto wb = words.asBytes();
    m.insert(m.end(), wb.begin(), wb.end());
    messages.push_back(std::move(m));
    protocol::Signature s;
    std::memcpy(s.data(), rec->reader().getSignature().begin(), 64);
    sigs.push_back(s);
    authors.push_back(rec->author());
  }
}

nlohmann::json bench_ingest(const Options& o) {
  auto records = make_releases(o.ingest_records, 0, "bench");
  RawVerify reference(records);
  // Rounds interleave the reference and Seedbank so drift hits both; the
  // reported ratio is the median of the per-round ratios.
  auto raw_verify = [&] { return reference.rate(); };
  auto ingest = [&](unsigned threads) {
    fs::path dir = o.dir / ("ingest-" + std::to_string(threads));
    fs::remove_all(dir);
    auto index = std::move(indexer::Index::open(index_options(dir, threads))).value();
    auto t = Clock::now();
    // What a sync from a peer does: hand the index everything received.
    constexpr std::size_t kBatch = 20000;
    for (std::size_t i = 0; i < records.size(); i += kBatch) {
      auto end = std::min(records.size(), i + kBatch);
      auto out = index->ingest_batch(std::span<const protocol::Bytes>(records.data() + i, end - i));
      for (auto& r : out)
        if (r.status != indexer::IngestStatus::added) throw std::runtime_error("ingest failed: " + r.error.message);
    }
    double rate = static_cast<double>(records.size()) / seconds_since(t);
    index.reset();
    fs::remove_all(dir);
    return rate;
  };
  std::vector<double> raw_rates, ratios, ratios1, rates, rates1, record_rates;
  for (int round = 0; round < o.repeats; ++round) {
    double raw = raw_verify();
    auto t = Clock::now();
    for (const auto& b : records)
      if (!protocol::verify_record(b, "bench")) throw std::runtime_error("verify_record failed");
    record_rates.push_back(static_cast<double>(records.size()) / seconds_since(t));
    double r2 = ingest(2), r1 = ingest(1);
    raw_rates.push_back(raw);
    rates.push_back(r2);
    rates1.push_back(r1);
    ratios.push_back(r2 / raw);
    ratios1.push_back(r1 / raw);
  }
  double raw_rate = median(raw_rates), record_rate = median(record_rates);
  nlohmann::json result = {{"records", records.size()},
                           {"batch", 20000},
                           {"raw_verify_per_s", raw_rate},
                           {"verify_record_per_s", record_rate},
                           {"ingest_per_s", median(rates)},
                           {"ratio", median(ratios)},
                           {"ingest_1thread_per_s", median(rates1)},
                           {"ratio_1thread", median(ratios1)}};
  char line[256];
  std::snprintf(line, sizeof line,
                "ingest %zu releases: raw libsodium verify %.0f/s (1 core) | verify_record %.0f/s | ingest %.0f/s "
                "(%.2fx) | ingest verifying on 1 thread %.0f/s (%.2fx)   [goal >= 0.8x]",
                records.size(), raw_rate, record_rate, result["ingest_per_s"].get<double>(),
                result["ratio"].get<double>(), result["ingest_1thread_per_s"].get<double>(),
                result["ratio_1thread"].get<double>());
  say(o, line);
  return result;
}

// Adds releases until `index` holds --releases of them (kept between runs:
// building a million takes minutes).
void fill_releases(const Options& o, indexer::Index& index, const std::string& section, const fs::path& dir) {
  std::uint64_t have = index.stats().by_kind[1];
  if (have >= o.releases) return;
  say(o, section + ": building an index of " + std::to_string(o.releases) + " releases (kept in " + dir.string() +
             " for the next run)...");
  auto t = Clock::now();
  constexpr std::uint64_t kChunk = 20000;
  for (std::uint64_t i = have; i < o.releases; i += kChunk) {
    auto batch = make_releases(std::min(kChunk, o.releases - i), i, "bench");
    for (auto& r : index.ingest_batch(batch))
      if (r.status == indexer::IngestStatus::rejected) throw std::runtime_error(r.error.message);
  }
  say(o, section + ": built in " + std::to_string(static_cast<int>(seconds_since(t))) + " s");
}

nlohmann::json bench_lookup(const Options& o) {
  fs::path dir = o.dir / "lookup-index";
  auto index = std::move(indexer::Index::open(index_options(dir, 2))).value();
  fill_releases(o, *index, "lookup", dir);
  // Warm the page cache first: the goal is the index's own latency, not how
  // fast the disk pages in a 3 GB file after other sections evicted it.
  {
    std::mt19937_64 warm(3);
    for (int i = 0; i < 50000; ++i)
      (void)index->find_by_hash(protocol::to_hex(testing::fake_digest(warm() % o.releases, 1)));
  }
  std::mt19937_64 rng(7);
  auto measure = [&](auto make_query, std::size_t expect_min) {
    std::vector<double> us;
    for (int i = 0; i < 100000; ++i) {
      std::string q = make_query(rng() % o.releases);
      auto t = Clock::now();
      auto r = index->find_by_hash(q);
      us.push_back(seconds_since(t) * 1e6);
      if (!r || r->size() < expect_min) throw std::runtime_error("lookup missed " + q);
    }
    std::sort(us.begin(), us.end());
    return nlohmann::json{{"p50_us", percentile(us, 0.5)}, {"p99_us", percentile(us, 0.99)}, {"max_us", us.back()}};
  };
  nlohmann::json result = {{"releases", o.releases}};
  result["sha256"] = measure([](std::uint64_t n) { return protocol::to_hex(testing::fake_digest(n, 1)); }, 1);
  result["autov2"] =
      measure([](std::uint64_t n) { return protocol::to_hex(testing::fake_digest(n, 1)).substr(0, 10); }, 1);
  result["miss"] = measure([](std::uint64_t n) { return protocol::to_hex(testing::fake_digest(n, 99)); }, 0);
  for (const char* k : {"sha256", "autov2", "miss"}) {
    char line[200];
    std::snprintf(line, sizeof line,
                  "lookup %-6s with %llu releases: p50 %.1f us, p99 %.1f us, max %.0f us   [goal p99 <= 50 us]", k,
                  static_cast<unsigned long long>(o.releases), result[k]["p50_us"].get<double>(),
                  result[k]["p99_us"].get<double>(), result[k]["max_us"].get<double>());
    say(o, line);
  }
  return result;
}

// A node on an emptied data dir, on the bench network.
std::unique_ptr<node::NodeContext> fresh_node(const fs::path& dir) {
  fs::remove_all(dir);
  node::NodeOptions options;
  options.data_dir = dir;
  options.network = "bench";
  auto n = node::NodeContext::open(options);
  if (!n) throw std::runtime_error(n.error().message);
  return std::move(n).value();
}

// Publishes one model file as a Checkpoint on `n` (what every bench that
// needs a release starts with).
node::PublishResult publish_one(node::NodeContext& n, const protocol::SecretKey& key, const fs::path& file,
                                const std::string& name, bool v2_only = false) {
  node::PublishTarget target{*n.index, *n.store, "bench"};
  node::PublishRequest req;
  req.files = {file};
  req.name = name;
  req.type = "Checkpoint";
  req.v2_only = v2_only;
  auto published = node::publish(target, key, req);
  if (!published) throw std::runtime_error(published.error().message);
  return std::move(published).value();
}

nlohmann::json bench_publish(const Options& o) {
  auto path = make_model_file(o.dir, o.size_mib << 20, true);
  time_command("cat '" + path.string() + "'");
  auto key = protocol::SecretKey::generate();
  nlohmann::json result;
  for (bool v2_only : {false, true}) {
    std::vector<double> ref, ours, store;
    for (int i = 0; i < o.repeats; ++i) {
      ref.push_back(time_command("openssl dgst -sha256 '" + path.string() + "'"));
      fs::path data = o.dir / "publish-data";
      auto n = fresh_node(data);
      auto t = Clock::now();
      auto r = publish_one(*n, key, path, "Bench Model", v2_only);
      double total = seconds_since(t);
      ours.push_back(total - r.store_seconds);
      store.push_back(r.store_seconds);
      n.reset();
      fs::remove_all(data);
    }
    double r = median(ref), s = median(ours), c = median(store);
    std::string name = v2_only ? "v2-only" : "hybrid";
    result[name] = {{"openssl_s", r}, {"publish_s", s}, {"ratio", s / r}, {"store_copy_s", c}};
    char line[256];
    std::snprintf(line, sizeof line,
                  "publish %-7s %llu MiB safetensors: openssl dgst -sha256 %.3f s | publish (hashes, torrent, "
                  "record) %.3f s (%.2fx) | store copy apart %.3f s   [goal <= 1.3x]",
                  name.c_str(), static_cast<unsigned long long>(o.size_mib), r, s, s / r, c);
    say(o, line);
  }
  return result;
}

// A BitTorrent session of a bench node: loopback, no DHT, quiet.
node::TorrentOptions loopback_torrents(const fs::path& data_dir) {
  node::TorrentOptions t;
  t.data_dir = data_dir;
  t.listen = "127.0.0.1:0";
  t.dht = false;
  t.log = quiet_log();
  return t;
}

double fetch_from(node::TorrentService& seeder, const protocol::Record& release, const fs::path& dir,
                  double* cpu_s = nullptr);
int usable_cores();
// What a receiver must compute to verify a fetched file, each pass timed
// alone with OpenSSL over `path` (read from the page cache in 1 MiB
// chunks): SHA-1 of the v1 pieces, SHA-256 of the v2 16 KiB leaves, and
// SHA-256 of the whole file. The limit is the file's size over the three
// passes' time shared by two cores, in MiB/s.
struct VerifyLimit {
  double sha1_mib_s = 0, leaves_mib_s = 0, sha256_mib_s = 0, limit_mib_s = 0;
};
VerifyLimit verify_limit(const fs::path& path);

nlohmann::json bench_fetch(const Options& o) {
  auto path = make_model_file(o.dir, o.size_mib << 20, true);
  time_command("cat '" + path.string() + "'");
  auto key = protocol::SecretKey::generate();
  fs::path a_dir = o.dir / "fetch-a", b_dir = o.dir / "fetch-b";
  auto a = fresh_node(a_dir);
  auto published = publish_one(*a, key, path, "Fetch Bench");
  // The same file as a --v2-only release: no v1 pieces, so no SHA-1 pass.
  auto published_v2 = publish_one(*a, key, path, "Fetch Bench v2", true);
  auto seeder = std::move(node::TorrentService::start(loopback_torrents(a_dir), *a->index, *a->store)).value();
  seeder->seed_all();
  auto stored = a->store->path_of(published.files[0].digests.sha256);
  time_command("cat '" + stored.string() + "'");

  // Each round: cp, the hybrid release, the --v2-only one, so both fetches
  // find the page cache alike.
  std::vector<double> ref, ours, cpu, busy, ours_v2;
  for (int i = 0; i < o.repeats; ++i) {
    fs::path copy = o.dir / "fetch-cp-copy";
    ref.push_back(time_command("cp '" + stored.string() + "' '" + copy.string() + "' && sync '" + copy.string() + "'"));
    fs::remove(copy);
    ours.push_back(fetch_from(*seeder, *published.record, b_dir, &cpu.emplace_back()));
    busy.push_back(cpu.back() / ours.back());
    ours_v2.push_back(fetch_from(*seeder, *published_v2.record, b_dir));
  }
  seeder.reset();
  a.reset();
  fs::remove_all(a_dir);
  double r = median(ref), s = median(ours);
  double mib = static_cast<double>(o.size_mib);
  nlohmann::json result = {{"bytes", o.size_mib << 20}, {"cp_s", r}, {"fetch_s", s}, {"throughput_vs_cp", r / s}};
  char line[256];
  std::snprintf(line, sizeof line,
                "fetch %llu MiB node to node on loopback (verified into the store): %.3f s (%.0f MiB/s) | cp + sync "
                "%.3f s (%.0f MiB/s) | throughput %.2fx cp   [goal >= 0.6x]",
                static_cast<unsigned long long>(o.size_mib), s, mib / s, r, mib / r, r / s);
  say(o, line);
  // The receiver's verification limit, measured now on the same file.
  const auto limit = verify_limit(path);  // the same bytes as the stored copy, which is gone
  result["verify_limit_mib_s"] = limit.limit_mib_s;
  result["throughput_vs_verify_limit"] = mib / s / limit.limit_mib_s;
  std::snprintf(line, sizeof line,
                "fetch verification limit: SHA-1 %.0f MiB/s + SHA-256 leaves %.0f MiB/s + SHA-256 file %.0f MiB/s "
                "-> %.0f MiB/s over two cores | fetch %.2fx of it   [goal >= 0.5x]",
                limit.sha1_mib_s, limit.leaves_mib_s, limit.sha256_mib_s, limit.limit_mib_s,
                mib / s / limit.limit_mib_s);
  say(o, line);
  // Second reference: aria2c seeding to aria2c, when the tools are here.
  if (std::system("command -v aria2c >/dev/null && command -v opentracker >/dev/null && "
                  "command -v transmission-create >/dev/null") == 0) {
    std::string script = std::string(SEEDBANK_SOURCE_DIR) + "/bench/aria2_baseline.sh '" + path.string() + "'";
    if (FILE* pipe = ::popen(script.c_str(), "r")) {
      char buf[64] = {};
      bool ok = std::fgets(buf, sizeof buf, pipe) != nullptr;
      if (::pclose(pipe) == 0 && ok) {
        double aria = std::atof(buf);
        result["aria2c_s"] = aria;
        result["speed_vs_aria2c"] = aria / s;
        char line[200];
        std::snprintf(line, sizeof line,
                      "fetch vs aria2c seeding to aria2c (v1 torrent, local tracker): %.3f s -> "
                      "seedbank %.2fx faster   [goal > 1x]",
                      aria, aria / s);
        say(o, line);
      }
    }
  } else {
    say(o, "fetch vs aria2c: skipped (install aria2, opentracker, transmission-cli)");
  }
  // Where a fetch's time goes: both nodes run in this process on the
  // machine's cores, so the process's CPU time over the fetch is theirs.
  // The first fetch of each release also has the seed check each piece as
  // it first serves it (seed mode); the median of 3 or more leaves that out.
  const int cores = usable_cores();
  const double cpu_s = median(cpu),
               hashing_s = mib / limit.sha1_mib_s + mib / limit.leaves_mib_s + mib / limit.sha256_mib_s;
  result["cpu_s"] = cpu_s;
  result["hashing_cpu_s"] = hashing_s;
  std::snprintf(line, sizeof line,
                "fetch CPU: %.1f core-seconds for both nodes (%.0f%% of %d cores over the fetch) | the three "
                "verification passes %.1f core-seconds, %.2fx of it",
                cpu_s, 100.0 * median(busy) / cores, cores, hashing_s, hashing_s / cpu_s);
  say(o, line);
  const double v2_s = median(ours_v2), v2_limit = 2.0 / (1.0 / limit.leaves_mib_s + 1.0 / limit.sha256_mib_s);
  result["v2_only_fetch_s"] = v2_s;
  result["v2_only_vs_hybrid"] = s / v2_s;
  result["v2_only_vs_verify_limit"] = mib / v2_s / v2_limit;
  std::snprintf(line, sizeof line,
                "fetch of the same file as a --v2-only release (no SHA-1 pass): %.3f s (%.0f MiB/s) | %.2fx the "
                "hybrid's throughput | %.2fx its own verification limit (SHA-256 leaves + SHA-256 file over two "
                "cores: %.0f MiB/s)",
                v2_s, mib / v2_s, s / v2_s, mib / v2_s / v2_limit, v2_limit);
  say(o, line);
  return result;
}

VerifyLimit verify_limit(const fs::path& path) {
  constexpr std::size_t kChunk = 1 << 20, kLeaf = 16 << 10;
  std::vector<unsigned char> buf(kChunk);
  auto pass = [&](const auto& each_chunk) {
    std::ifstream in(path, std::ios::binary);
    std::uint64_t bytes = 0;
    auto t = Clock::now();
    while (in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(kChunk)) || in.gcount() > 0) {
      const auto n = static_cast<std::size_t>(in.gcount());
      each_chunk(buf.data(), n);
      bytes += n;
    }
    return static_cast<double>(bytes) / (1 << 20) / seconds_since(t);
  };
  VerifyLimit v;
  {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);  // pieces are consecutive: one stream costs the same
    v.sha1_mib_s = pass([&](const unsigned char* p, std::size_t n) { EVP_DigestUpdate(ctx, p, n); });
    EVP_MD_CTX_free(ctx);
  }
  v.leaves_mib_s = pass([&](const unsigned char* p, std::size_t n) {
    unsigned char out[32];
    unsigned int len = 0;
    for (std::size_t at = 0; at < n; at += kLeaf)
      EVP_Digest(p + at, std::min(kLeaf, n - at), out, &len, EVP_sha256(), nullptr);
  });
  {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    v.sha256_mib_s = pass([&](const unsigned char* p, std::size_t n) { EVP_DigestUpdate(ctx, p, n); });
    EVP_MD_CTX_free(ctx);
  }
  v.limit_mib_s = 2.0 / (1.0 / v.sha1_mib_s + 1.0 / v.leaves_mib_s + 1.0 / v.sha256_mib_s);
  return v;
}

// The cores this process may run on (its affinity mask).
int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// This process's CPU time (user and system, all threads), in seconds.
double process_cpu_seconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// Fetches `release` from `seeder` into a fresh node at `dir`; wall seconds,
// and the CPU seconds this process spent meanwhile in `cpu_s`.
double fetch_from(node::TorrentService& seeder, const protocol::Record& release, const fs::path& dir, double* cpu_s) {
  auto b = fresh_node(dir);
  b->index->ingest(release.bytes());
  auto fetcher = std::move(node::TorrentService::start(loopback_torrents(dir), *b->index, *b->store)).value();
  auto t = Clock::now();
  const double cpu_at_start = process_cpu_seconds();
  if (auto st = fetcher->fetch(release, false, {seeder.listen_address()}); !st)
    throw std::runtime_error(st.error().message);
  for (;;) {
    fetcher->poll();
    seeder.poll();
    auto s = fetcher->status_of(protocol::to_hex(release.id()));
    if (s && s->complete) break;
    if (s && !s->error.empty()) throw std::runtime_error(s->error);
    if (seconds_since(t) > 300) throw std::runtime_error("fetch did not finish in 300 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double took = seconds_since(t);
  if (cpu_s) *cpu_s = process_cpu_seconds() - cpu_at_start;
  fetcher.reset();
  b.reset();
  fs::remove_all(dir);
  return took;
}

// `seedbank share` over a generated library of 20 model files (4 x
// --size-mib in all, one of them --size-mib), every file already a release
// in the index: the first run against the two-core hashing limit of the
// same bytes (SHA-256 of each file, of its tensor data and of its v2
// leaves, SHA-1 of its v1 pieces: four `openssl dgst` passes, halved), the
// second run over the unchanged library, and a node fetching the big file
// from the sharing node (read in place) against one whose store holds it.
nlohmann::json bench_share(const Options& o) {
  auto library = o.dir / "share-library";
  fs::create_directories(library / "Lora");
  fs::create_directories(library / "Stable-diffusion");
  std::uint64_t big = o.size_mib << 20, rest = 3 * big / 19;
  std::vector<fs::path> files;
  for (int i = 0; i < 20; ++i) {
    auto dir = library / (i == 0 ? "Stable-diffusion" : "Lora");
    auto path = dir / ("model-" + std::to_string(i) + ".safetensors");
    std::uint64_t size = i == 0 ? big : rest;
    if (!fs::exists(path) || fs::file_size(path) != size)  // kept between runs; each file its own bytes
      write_model_file(path, size, true, 1000 + static_cast<std::uint64_t>(i));
    files.push_back(path);
  }
  std::uint64_t total = 0;
  for (const auto& f : files) total += fs::file_size(f);
  std::string all_files;
  for (const auto& f : files) all_files += " '" + f.string() + "'";
  say(o, "share: library of " + std::to_string(files.size()) + " files, " + std::to_string(total >> 20) + " MiB");

  // Every file is a release (published with --link: nothing copied).
  auto key = protocol::SecretKey::generate();
  fs::path pub_dir = o.dir / "share-publisher", sharer_dir = o.dir / "share-sharer";
  auto publisher = fresh_node(pub_dir);
  std::vector<protocol::Record> releases;
  for (std::size_t i = 0; i < files.size(); ++i) {
    node::PublishTarget target{*publisher->index, *publisher->store, "bench"};
    node::PublishRequest req;
    req.files = {files[i]};
    req.name = "Share Bench " + std::to_string(i);
    req.type = i == 0 ? "Checkpoint" : "LORA";
    req.link = true;
    auto r = node::publish(target, key, req);
    if (!r) throw std::runtime_error(r.error().message);
    releases.push_back(std::move(*r->record));
  }
  {
    auto sharer = fresh_node(sharer_dir);
    for (const auto& r : releases) sharer->index->ingest(r.bytes());
  }

  // The limit: four passes over the same bytes, page cache warm.
  time_command("cat" + all_files);
  std::vector<double> sha256, sha1;
  for (int i = 0; i < o.repeats; ++i) {
    sha256.push_back(time_command("openssl dgst -sha256" + all_files));
    sha1.push_back(time_command("openssl dgst -sha1" + all_files));
  }
  double limit = (3 * median(sha256) + median(sha1)) / 2;

  // First run: a fresh hash cache each time; second run: unchanged.
  std::string share_cmd = std::string(SEEDBANK_BINARY) + " --data-dir '" + sharer_dir.string() +
                          "' --network bench share '" + library.string() + "' --yes --json";
  std::vector<double> first, second;
  for (int i = 0; i < o.repeats; ++i) {
    fs::remove(sharer_dir / "hash-cache.json");
    time_command("cat" + all_files);
    first.push_back(time_command(share_cmd));
    second.push_back(time_command(share_cmd));
  }
  double f = median(first), g = median(second);
  if (fs::exists(sharer_dir / "store" / "sha256") && !fs::is_empty(sharer_dir / "store" / "sha256"))
    throw std::runtime_error("share copied files into the store");
  char line[320];
  std::snprintf(line, sizeof line,
                "share first run %.2f s | hashing limit (3 SHA-256 + 1 SHA-1 passes / 2 cores) %.2f s | %.2fx   "
                "[goal <= 1.2x]; second run %.3f s   [goal <= 2 s]",
                f, limit, f / limit, g);
  say(o, line);

  // Fetching the big file: from the sharer (in place) and from the
  // publisher (its store holds a hard link to the same file).
  std::vector<double> from_shared, from_store;
  double check_s = 0;
  {
    auto sharer = std::move(node::NodeContext::open([&] {
                    node::NodeOptions no;
                    no.data_dir = sharer_dir;
                    no.network = "bench";
                    return no;
                  }()))
                      .value();
    auto seeder =
        std::move(node::TorrentService::start(loopback_torrents(sharer_dir), *sharer->index, *sharer->store)).value();
    auto t = Clock::now();
    seeder->seed_all();
    seeder->seed_shared();
    // Added without resume data, a torrent over shared files is checked
    // first (read once); then it seeds.
    for (;;) {
      seeder->poll();
      auto st = seeder->status_of(protocol::to_hex(releases[0].id()));
      if (st && st->state == "seeding") break;
      if (seconds_since(t) > 300) throw std::runtime_error("the shared file was not checked in 300 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    check_s = seconds_since(t);
    for (int i = 0; i < o.repeats; ++i) from_shared.push_back(fetch_from(*seeder, releases[0], o.dir / "share-b"));
  }
  {
    auto seeder =
        std::move(node::TorrentService::start(loopback_torrents(pub_dir), *publisher->index, *publisher->store))
            .value();
    seeder->seed_all();
    for (int i = 0; i < o.repeats; ++i) from_store.push_back(fetch_from(*seeder, releases[0], o.dir / "share-c"));
  }
  double a = median(from_shared), b = median(from_store);
  std::snprintf(line, sizeof line,
                "share: fetch %llu MiB from the sharing node (in place) %.3f s | from a node whose store holds it "
                "%.3f s | throughput %.2fx   [goal 1x] (first check of the shared files at start: %.1f s)",
                static_cast<unsigned long long>(o.size_mib), a, b, b / a, check_s);
  say(o, line);
  publisher.reset();
  fs::remove_all(pub_dir);
  fs::remove_all(sharer_dir);
  return {{"files", files.size()},         {"bytes", total}, {"first_s", f},        {"limit_s", limit},
          {"first_vs_limit", f / limit},   {"second_s", g},  {"fetch_shared_s", a}, {"fetch_store_s", b},
          {"fetch_shared_vs_store", b / a}};
}

// Full sync over a real gossip session on 127.0.0.1: a node holding N
// records, a fresh node bootstrapping from it; time until the fresh index
// holds all N, as records/s against raw signature verification of the same
// records on one core. Both nodes share this process (one I/O thread and
// each index's two verification threads).
nlohmann::json bench_sync(const Options& o) {
  auto records = make_releases(o.sync_records, 0, "bench", testing::kTestWorkBits);
  RawVerify reference(records);
  auto src_dir = o.dir / "sync-source";
  fs::remove_all(src_dir);
  {
    auto index = std::move(indexer::Index::open(index_options(src_dir / "index", 2))).value();
    for (std::size_t i = 0; i < records.size(); i += 20000) {
      auto end = std::min(records.size(), i + 20000);
      index->ingest_batch(std::span<const protocol::Bytes>(records.data() + i, end - i));
    }
  }
  // The second reference: the same records through Index::ingest_batch
  // into a fresh index (its two verification threads), in batches of
  // 8,000, the most a sync stores at once (kIngestBatch): the sync's own
  // limit, so what the network, framing, decryption and decoding cost
  // shows as the gap to 1.
  auto ingest_rate = [&] {
    auto dir = o.dir / "sync-ingest";
    fs::remove_all(dir);
    auto index = std::move(indexer::Index::open(index_options(dir / "index", 2))).value();
    auto t = Clock::now();
    for (std::size_t i = 0; i < records.size(); i += 8000) {
      auto end = std::min(records.size(), i + 8000);
      for (const auto& out : index->ingest_batch(std::span<const protocol::Bytes>(records.data() + i, end - i)))
        if (out.status != indexer::IngestStatus::added) throw std::runtime_error("ingest failed: " + out.error.message);
    }
    double rate = static_cast<double>(records.size()) / seconds_since(t);
    index.reset();
    fs::remove_all(dir);
    return rate;
  };
  std::vector<double> ratios, rates, raws, ingests, vs_ingest;
  for (int round = 0; round < o.repeats; ++round) {
    double raw = reference.rate();
    double ingest = ingest_rate();
    auto dst_dir = o.dir / "sync-fresh";
    fs::remove_all(dst_dir);
    auto src = std::move(indexer::Index::open(index_options(src_dir / "index", 2))).value();
    auto dst = std::move(indexer::Index::open(index_options(dst_dir / "index", 2))).value();
    boost::asio::io_context io;
    auto key_a = protocol::SecretKey::generate(), key_b = protocol::SecretKey::generate();
    node::GossipOptions ga;
    ga.data_dir = src_dir;
    ga.network = "bench";
    ga.listen = "127.0.0.1:0";
    ga.sync_interval = std::chrono::hours(1);
    ga.log = quiet_log();
    auto a = std::move(node::GossipService::start(io, ga, *src, key_a)).value();
    node::GossipOptions gb = ga;
    gb.data_dir = dst_dir;
    gb.bootstrap = {a->listen_address()};
    auto t = Clock::now();
    auto b = std::move(node::GossipService::start(io, gb, *dst, key_b)).value();
    while (dst->stats().records < records.size()) {
      io.run_for(std::chrono::milliseconds(20));
      if (seconds_since(t) > 600) throw std::runtime_error("sync did not finish in 600 s");
    }
    double rate = static_cast<double>(records.size()) / seconds_since(t);
    b.reset();
    a.reset();
    raws.push_back(raw);
    rates.push_back(rate);
    ratios.push_back(rate / raw);
    ingests.push_back(ingest);
    vs_ingest.push_back(rate / ingest);
    dst.reset();
    fs::remove_all(dst_dir);
  }
  fs::remove_all(src_dir);
  double ratio = median(ratios);
  char line[384];
  std::snprintf(line, sizeof line,
                "sync %llu records to a fresh node over gossip: %.0f records/s | raw verify %.0f/s (1 core) | %.2fx   "
                "[goal >= 0.5x] | ingest_batch %.0f/s (2 verify threads) | %.2fx of it [goal >= 0.8x]",
                static_cast<unsigned long long>(records.size()), median(rates), median(raws), ratio, median(ingests),
                median(vs_ingest));
  say(o, line);
  return {{"records", records.size()},
          {"records_per_s", median(rates)},
          {"raw_verify_per_s", median(raws)},
          {"ratio", ratio},
          {"ingest_batch_per_s", median(ingests)},
          {"ratio_vs_ingest", median(vs_ingest)}};
}

// Convergence: 32 nodes on 127.0.0.1, each dialling 2 random others (mean
// degree about 4). A record published on one node: time until every index
// holds it, and bytes all nodes sent meanwhile per node, against the
// record's size. Hops: the graph distance from the origin to the farthest
// node (every session announces, so a record travels shortest paths).
nlohmann::json bench_converge(const Options& o) {
  constexpr int kNodes = 32, kRecords = 10;
  auto records = make_releases(kRecords, 500000, "bench", testing::kTestWorkBits);
  auto root = o.dir / "converge";
  fs::remove_all(root);
  boost::asio::io_context io;
  std::vector<std::unique_ptr<indexer::Index>> indexes;
  std::vector<std::unique_ptr<node::GossipService>> nodes;
  std::vector<protocol::SecretKey> keys;
  std::map<std::string, int> by_id;
  for (int i = 0; i < kNodes; ++i) {
    auto opts = index_options(root / std::to_string(i) / "index", 2);
    opts.map_size = 1ull << 30;
    indexes.push_back(std::move(indexer::Index::open(opts)).value());
    keys.push_back(protocol::SecretKey::generate());
    node::GossipOptions g;
    g.data_dir = root / std::to_string(i);
    g.network = "bench";
    g.listen = "127.0.0.1:0";
    g.outbound = 2;
    g.sync_interval = std::chrono::hours(1);
    g.log = quiet_log();
    nodes.push_back(std::move(node::GossipService::start(io, g, *indexes.back(), keys.back())).value());
    by_id[nodes.back()->node_id()] = i;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < kNodes; ++i) {
    std::set<int> picks;
    while (picks.size() < 2) {
      int j = static_cast<int>(rng() % kNodes);
      if (j != i) picks.insert(j);
    }
    for (int j : picks) nodes[i]->add_peer(nodes[j]->listen_address());
  }
  io.run_for(std::chrono::seconds(2));  // sessions open, first reconciliations done
  // The graph as the sessions formed it.
  std::vector<std::set<int>> graph(kNodes);
  std::size_t edges = 0;
  for (int i = 0; i < kNodes; ++i)
    for (const auto& p : nodes[i]->peers())
      if (p.state == "open" && by_id.count(p.node_id)) {
        graph[i].insert(by_id[p.node_id]);
        graph[by_id[p.node_id]].insert(i);
      }
  for (const auto& g : graph) edges += g.size();
  auto sent = [&] {
    std::uint64_t total = 0;
    for (auto& n : nodes)
      for (const auto& p : n->peers()) total += p.bytes_out;
    return total;
  };
  std::vector<double> times, per_node_ratios;
  int hops_max = 0;
  for (int r = 0; r < kRecords; ++r) {
    int origin = static_cast<int>(rng() % kNodes);
    // Distance from the origin to the farthest node.
    std::vector<int> dist(kNodes, -1);
    std::deque<int> queue{origin};
    dist[origin] = 0;
    while (!queue.empty()) {
      int u = queue.front();
      queue.pop_front();
      for (int v : graph[u])
        if (dist[v] < 0) {
          dist[v] = dist[u] + 1;
          queue.push_back(v);
        }
    }
    int hops = *std::max_element(dist.begin(), dist.end());
    if (*std::min_element(dist.begin(), dist.end()) < 0) throw std::runtime_error("the random graph is not connected");
    hops_max = std::max(hops_max, hops);
    auto before = sent();
    auto t = Clock::now();
    indexes[origin]->ingest(records[r], indexer::Durability::replicated);
    auto id = protocol::record_id_of(records[r]);
    nodes[origin]->add_local({id});  // as after a publish
    for (;;) {
      io.run_for(std::chrono::milliseconds(1));
      bool all = true;
      for (auto& idx : indexes) all = all && idx->contains(id);
      if (all) break;
      if (seconds_since(t) > 60) throw std::runtime_error("record did not reach every node in 60 s");
    }
    times.push_back(seconds_since(t));
    io.run_for(std::chrono::milliseconds(200));  // let the last announcements go out
    double per_node = static_cast<double>(sent() - before) / kNodes;
    per_node_ratios.push_back(per_node / static_cast<double>(records[r].size()));
  }
  nodes.clear();
  indexes.clear();
  fs::remove_all(root);
  char line[320];
  std::snprintf(line, sizeof line,
                "converge: %d nodes, mean degree %.1f: a new record everywhere in %.1f ms (median of %d), up to %d "
                "hops; bytes sent per node %.2fx the record (%zu bytes)   [goal <= 3x]",
                kNodes, static_cast<double>(edges) / kNodes, median(times) * 1000, kRecords, hops_max,
                median(per_node_ratios), records[0].size());
  say(o, line);
  return {{"nodes", kNodes},
          {"mean_degree", static_cast<double>(edges) / kNodes},
          {"time_s", median(times)},
          {"max_hops", hops_max},
          {"bytes_per_node_vs_record", median(per_node_ratios)},
          {"record_bytes", records[0].size()}};
}

// `seedbank resolve` (the real binary, as a user runs it, with no node of
// its own: it opens a gossip session, asks for the hash, finds the seeds,
// fetches, verifies, places) of a 256 MiB release seeded by two nodes on
// 127.0.0.1 (in this process), split into lookup, peer connect and
// transfer; transfer throughput against cp + sync of the same file.
nlohmann::json bench_resolve(const Options& o) {
  const std::uint64_t size = 256ull << 20;
  auto path = make_model_file(o.dir, size, true);
  auto key = protocol::SecretKey::generate();
  fs::path a_dir = o.dir / "resolve-a", b_dir = o.dir / "resolve-b", c_dir = o.dir / "resolve-c";
  fs::remove_all(a_dir);
  fs::remove_all(b_dir);
  auto a = fresh_node(a_dir);
  auto b = fresh_node(b_dir);
  auto published = publish_one(*a, key, path, "Resolve Bench");
  const auto& digests = published.files[0].digests;
  b->index->ingest(published.record->bytes());
  if (auto added =
          b->store->add(a->store->path_of(digests.sha256), digests.sha256, node::ContentStore::AddMode::hardlink);
      !added)
    throw std::runtime_error(added.error().message);
  auto stored = a->store->path_of(digests.sha256);
  time_command("cat '" + stored.string() + "'");

  // Two seeding nodes, BitTorrent and gossip, on one background thread.
  boost::asio::io_context io;
  std::vector<std::unique_ptr<node::TorrentService>> torrents;
  std::vector<std::unique_ptr<node::GossipService>> gossips;
  std::vector<protocol::SecretKey> keys;
  keys.push_back(protocol::SecretKey::generate());
  keys.push_back(protocol::SecretKey::generate());
  auto r = published.record->body().getPayload().getRelease();
  protocol::Sha256Digest ih{};
  std::memcpy(ih.data(), r.getTorrent().getInfoHashV2().begin(), 32);
  for (int i = 0; i < 2; ++i) {
    auto& n = i == 0 ? *a : *b;
    node::TorrentOptions t;
    t.data_dir = i == 0 ? a_dir : b_dir;
    t.listen = "127.0.0.1:0";
    t.dht = false;
    t.log = quiet_log();
    torrents.push_back(std::move(node::TorrentService::start(t, *n.index, *n.store)).value());
    torrents.back()->seed_all();
    node::GossipOptions g;
    g.data_dir = t.data_dir;
    g.network = "bench";
    g.listen = "127.0.0.1:0";
    g.log = quiet_log();
    auto bt = torrents.back()->listen_address();
    g.bt_port = protocol::util::port_of(bt);
    if (i == 1) g.bootstrap = {gossips[0]->listen_address()};
    gossips.push_back(
        std::move(node::GossipService::start(io, g, *n.index, keys[static_cast<std::size_t>(i)])).value());
    gossips.back()->set_seeding({ih});
  }
  std::atomic<bool> stop{false};
  std::thread service([&] {
    while (!stop) {
      io.run_for(std::chrono::milliseconds(5));
      for (auto& t : torrents) t->poll();
    }
  });
  std::string bootstrap = gossips[0]->listen_address();
  std::vector<double> ref, lookups, connects, transfers, totals;
  for (int i = 0; i < o.repeats; ++i) {
    fs::path copy = o.dir / "resolve-cp-copy";
    ref.push_back(time_command("cp '" + stored.string() + "' '" + copy.string() + "' && sync '" + copy.string() + "'"));
    fs::remove(copy);
    fs::remove_all(c_dir);
    std::string cmd = std::string(SEEDBANK_BINARY) + " --data-dir '" + c_dir.string() + "' --network bench resolve " +
                      digests.autov2_hex() + " --bootstrap " + bootstrap +
                      " --no-dht --bt-listen 127.0.0.1:0 --json --out '" + (c_dir / "out").string() + "'";
    auto t = Clock::now();
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run seedbank resolve");
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    if (::pclose(pipe) != 0) throw std::runtime_error("seedbank resolve failed: " + out);
    double wall = seconds_since(t);
    auto j = nlohmann::json::parse(out);
    auto tm = j["timings"];
    lookups.push_back(tm["lookupMs"].get<double>());
    connects.push_back(tm["connectMs"].get<double>());
    transfers.push_back(tm["transferMs"].get<double>() / 1000);
    totals.push_back(wall);
  }
  stop = true;
  service.join();
  gossips.clear();
  torrents.clear();
  a.reset();
  b.reset();
  fs::remove_all(a_dir);
  fs::remove_all(b_dir);
  fs::remove_all(c_dir);
  double cp = median(ref), transfer = median(transfers);
  char line[400];
  std::snprintf(line, sizeof line,
                "resolve 256 MiB (hash unknown locally, 2 seeds, own gossip + BitTorrent session): total %.2f s = "
                "lookup %.1f ms [goal <= 50 ms] + connect %.0f ms + transfer %.2f s | cp + sync %.2f s | transfer "
                "%.2fx cp [goal >= 0.5x]",
                median(totals), median(lookups), median(connects), transfer, cp, cp / transfer);
  say(o, line);
  return {{"total_s", median(totals)},
          {"lookup_ms", median(lookups)},
          {"connect_ms", median(connects)},
          {"transfer_s", transfer},
          {"cp_s", cp},
          {"transfer_vs_cp", cp / transfer}};
}

// Load on one real `seedbank node` process: 200 gossip sessions held open
// for --load-seconds (each authenticated, each asking for a reconciliation
// and answering nothing), while the CLI keeps asking the node for its
// status. Reports sessions that stayed open, status latency, whether a new
// record still reaches all 200, and the node's peak RSS.
nlohmann::json bench_load(const Options& o) {
  constexpr int kSessions = 200;
  auto dir = o.dir / "load";
  fs::remove_all(dir);
  {
    auto index = std::move(indexer::Index::open(index_options(dir / "index", 2))).value();
    auto records = make_releases(5000, 900000, "bench");
    index->ingest_batch(records);
  }
  testing::Process node(
      {SEEDBANK_BINARY, "--data-dir", dir.string(), "--network", "bench", "node", "--bt-listen", "127.0.0.1:0",
       "--no-dht", "--no-lan", "--no-port-mapping", "--listen", "127.0.0.1:0", "--http", "off"},
      (o.dir / "load-node").string());
  if (!node.wait_for_err("running")) throw std::runtime_error("node did not start: " + node.err());
  std::smatch m;
  std::string err = node.err();
  if (!std::regex_search(err, m, std::regex("gossip on ([0-9.]+:[0-9]+)")))
    throw std::runtime_error("no gossip address");
  std::string address = m[1];
  std::vector<std::unique_ptr<testing::WireClient>> clients;
  std::vector<protocol::SecretKey> keys;
  auto t0 = Clock::now();
  for (int i = 0; i < kSessions; ++i) {
    keys.push_back(protocol::SecretKey::generate());
    clients.push_back(std::make_unique<testing::WireClient>(address));
    if (!clients.back()->handshake(keys.back(), "bench"))
      throw std::runtime_error("handshake " + std::to_string(i) + " failed");
    // Ask for a reconciliation of an empty set: the node answers with
    // fingerprints of its 5,000 records.
    std::vector<seedbank::protocol::reconcile::Item> none;
    auto first = seedbank::protocol::reconcile::Reconciler(none).initiate();
    capnp::MallocMessageBuilder msg;
    msg.initRoot<schema::GossipMessage>().setReconcile(capnp::Data::Reader(first.data(), first.size()));
    clients.back()->send_frame(protocol::gossip::encode(msg));
  }
  double connect_s = seconds_since(t0);
  std::vector<double> status_ms;
  std::size_t frames = 0;
  auto until = Clock::now() + std::chrono::seconds(o.load_seconds);
  auto last_ping = Clock::now();
  auto drain = [&] {
    std::vector<pollfd> fds;
    for (auto& c : clients) fds.push_back({c->fd(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 20) <= 0) return;
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents & POLLIN)
        if (clients[i]->read_frame()) ++frames;
  };
  while (Clock::now() < until) {
    drain();
    auto t = Clock::now();
    auto r = testing::run({SEEDBANK_BINARY, "--data-dir", dir.string(), "status", "--json"},
                          (o.dir / "load-status").string());
    status_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    if (r.exit_code != 0) throw std::runtime_error("status failed under load: " + r.err);
    if (Clock::now() - last_ping > std::chrono::seconds(20)) {
      last_ping = Clock::now();
      for (auto& c : clients) {
        capnp::MallocMessageBuilder ping;
        ping.initRoot<schema::GossipMessage>().setPing();
        c->send_frame(protocol::gossip::encode(ping));
      }
    }
  }
  // A record imported now must still be announced to every session.
  auto record = make_releases(1, 990000, "bench")[0];
  auto file = o.dir / "load-record";
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(record.data()), static_cast<long>(record.size()));
  testing::run({SEEDBANK_BINARY, "--data-dir", dir.string(), "--network", "bench", "record", "import", file.string()},
               (o.dir / "load-import").string());
  auto peers =
      testing::run({SEEDBANK_BINARY, "--data-dir", dir.string(), "peers", "--json"}, (o.dir / "load-peers").string());
  std::size_t open = nlohmann::json::parse(peers.out)["peers"].size();
  // Each session now gets a `have`; count sessions that received a frame.
  std::size_t announced = 0;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  std::vector<bool> got(clients.size(), false);
  while (announced < clients.size() && Clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (auto& c : clients) fds.push_back({c->fd(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents & POLLIN) {
        auto frame = clients[i]->read_frame();
        if (!frame || got[i]) continue;
        auto msg = protocol::gossip::ReceivedMessage::parse(*frame);
        if (msg && msg->root().which() == schema::GossipMessage::HAVE) {
          got[i] = true;
          ++announced;
        }
      }
  }
  std::string status = testing::slurp("/proc/" + std::to_string(node.pid()) + "/status");
  std::smatch hwm;
  double peak_mib = 0;
  if (std::regex_search(status, hwm, std::regex("VmHWM:\\s+([0-9]+) kB"))) peak_mib = std::stod(hwm[1]) / 1024.0;
  clients.clear();
  node.signal(SIGTERM);
  node.wait(std::chrono::seconds(20));
  fs::remove_all(dir);
  std::sort(status_ms.begin(), status_ms.end());
  double p50 = status_ms.empty() ? 0 : status_ms[status_ms.size() / 2];
  double p99 = status_ms.empty() ? 0 : status_ms[std::min(status_ms.size() - 1, status_ms.size() * 99 / 100)];
  char line[400];
  std::snprintf(line, sizeof line,
                "load: %d gossip sessions for %d s (opened in %.2f s): %zu open at the end, %zu/%d got the new "
                "record's announcement, status p50 %.1f ms p99 %.1f ms, node peak RSS %.0f MiB",
                kSessions, o.load_seconds, connect_s, open, announced, kSessions, p50, p99, peak_mib);
  say(o, line);
  return {{"sessions", kSessions},    {"seconds", o.load_seconds}, {"open_at_end", open},
          {"announced", announced},   {"status_p50_ms", p50},      {"status_p99_ms", p99},
          {"peak_rss_mib", peak_mib}, {"frames_received", frames}};
}

// wrk against one node's HTTP API on an index of --releases releases
// (kept in DIR/http-node between runs): by-hash lookups with random hashes,
// the filtered listing the issue names, and as the reference the same
// server answering with a constant file (its floor), each for 10 s with 4
// connections. Then a 60 s (--load-seconds) mix of API requests: rate,
// errors and the node's peak RSS.
struct WrkResult {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  std::uint64_t requests = 0, errors = 0;
};

WrkResult run_wrk(const Options& o, const std::string& url, const fs::path& script, int seconds, int connections) {
  static const std::string wrk = [] {
    for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"})
      if (fs::exists(std::string(dir) + "wrk")) return std::string(dir) + "wrk";
    throw std::runtime_error("wrk is not installed (apt-get install wrk; test.sh installs it)");
  }();
  std::vector<std::string> args{wrk, "-t1", "-c" + std::to_string(connections), "-d" + std::to_string(seconds) + "s",
                                "--latency"};
  if (!script.empty()) args.insert(args.end(), {"-s", script.string()});
  args.push_back(url);
  testing::Process p(args, (o.dir / "wrk").string());
  testing::ProcessResult r;
  r.exit_code = p.wait(std::chrono::seconds(seconds + 60));
  r.out = p.out();
  r.err = p.err();
  if (r.exit_code != 0) throw std::runtime_error("wrk failed: " + r.err + r.out);
  WrkResult w;
  std::smatch m;
  auto ms = [](const std::string& v, const std::string& unit) {
    double x = std::stod(v);
    return unit == "us" ? x / 1000 : unit == "s" ? x * 1000 : x;
  };
  if (std::regex_search(r.out, m, std::regex("Requests/sec:\\s+([0-9.]+)"))) w.rps = std::stod(m[1]);
  if (std::regex_search(r.out, m, std::regex("50%\\s+([0-9.]+)(us|ms|s)"))) w.p50_ms = ms(m[1], m[2]);
  if (std::regex_search(r.out, m, std::regex("99%\\s+([0-9.]+)(us|ms|s)"))) w.p99_ms = ms(m[1], m[2]);
  if (std::regex_search(r.out, m, std::regex("([0-9]+) requests in"))) w.requests = std::stoull(m[1]);
  if (std::regex_search(r.out, m, std::regex("Non-2xx or 3xx responses: ([0-9]+)"))) w.errors += std::stoull(m[1]);
  if (std::regex_search(r.out, m,
                        std::regex("Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)")))
    w.errors += std::stoull(m[1]) + std::stoull(m[2]) + std::stoull(m[3]) + std::stoull(m[4]);
  return w;
}

// A wrk script that requests `paths` in random order.
fs::path wrk_script(const fs::path& file, const std::vector<std::string>& paths) {
  std::ofstream out(file);
  out << "local paths = {\n";
  for (const auto& p : paths) out << "  \"" << p << "\",\n";
  out << "}\nrequest = function()\n  return wrk.format(\"GET\", paths[math.random(#paths)])\nend\n";
  return file;
}

std::uint64_t posts_wanted(const Options& o) {
  return o.posts ? o.posts : std::min<std::uint64_t>(o.releases * 10, 1000000);
}

// Image posts by `o.posters` keys about `o.posted_releases` of the releases
// (1,000 and 10,000 for http), their times among the releases' so the
// image feed mixes both; their images, 256 distinct
// small files, in the node's store, as posted images are (a post whose
// image is missing is not listed by a node without gossip).
void add_posts(const Options& o, indexer::Index& index, const fs::path& dir) {
  const std::uint64_t wanted = posts_wanted(o);
  std::vector<protocol::Sha256Digest> images(256);
  {
    node::ContentStore store(node::store_dir(dir));
    if (auto st = store.open(); !st) throw std::runtime_error(st.error().message);
    for (std::size_t k = 0; k < images.size(); ++k) {
      std::string bytes = "seedbank bench posted image " + std::to_string(k);
      crypto_hash_sha256(images[k].data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
      if (store.contains(images[k])) continue;
      auto file = o.dir / "post-image.tmp";
      std::ofstream(file, std::ios::binary) << bytes;
      if (auto added = store.add(file, images[k], node::ContentStore::AddMode::copy); !added)
        throw std::runtime_error(added.error().message);
      fs::remove(file);
    }
  }
  std::uint64_t have = index.stats().by_kind[static_cast<int>(protocol::RecordKind::image_post)];
  if (have >= wanted) return;
  say(o, o.label + ": adding " + std::to_string(wanted - have) + " image posts (kept in " + dir.string() +
             " for the next run)...");
  auto t = Clock::now();
  std::mt19937_64 rng(have + 17);
  std::vector<protocol::RecordId> releases;
  while (releases.size() < o.posted_releases) {
    auto page = index.find_by_hash(protocol::to_hex(testing::fake_digest(rng() % o.releases, 1)));
    if (page && !page->empty()) releases.push_back((*page)[0].release);
  }
  std::vector<protocol::SecretKey> keys;
  for (std::uint64_t k = 0; k < o.posters; ++k) keys.push_back(protocol::SecretKey::generate());
  constexpr std::uint64_t kChunk = 20000;
  for (std::uint64_t first = have; first < wanted; first += kChunk) {
    std::uint64_t n = std::min(kChunk, wanted - first);
    std::vector<protocol::Bytes> batch(n);
    auto sign = [&](std::uint64_t begin, std::uint64_t end) {
      for (std::uint64_t i = begin; i < end; ++i) {
        std::uint64_t p = first + i;
        // http: key k posts about one release in ten; scale: each key's posts
        // move on by one release per round over the keys, so a release's
        // posts come from many keys.
        const std::uint64_t about = (p * 7919 + (o.spread_posts ? p / keys.size() : 0)) % releases.size();
        batch[i] = testing::sign_post(keys[p % keys.size()], releases[about], images[p % images.size()],
                                      1700000000000 + p * o.releases / wanted, "bench", 0,
                                      "made with it, take " + std::to_string(p));
      }
    };
    std::thread other(sign, n / 2, n);
    sign(0, n / 2);
    other.join();
    for (auto& r : index.ingest_batch(batch))
      if (r.status == indexer::IngestStatus::rejected) throw std::runtime_error(r.error.message);
  }
  say(o, o.label + ": posts added in " + std::to_string(static_cast<int>(seconds_since(t))) + " s");
}

// Reactions and comments for the http bench: reactions from 2,000 keys on
// the image posts of the feed's newest 20,000 records, skewed so that a few
// posts have many, and top-level comments on 1,000 of the posts' releases.
// Returns how long storing them took (0 when they were there already).
struct SocialAdded {
  std::uint64_t reactions = 0, comments = 0;
  double seconds = 0;
};
std::uint64_t reactions_wanted(const Options& o) { return posts_wanted(o) / 5; }
std::uint64_t comments_wanted(const Options& o) { return posts_wanted(o) / 50; }
SocialAdded add_social(const Options& o, indexer::Index& index, std::vector<protocol::RecordId>& releases) {
  SocialAdded out;
  std::vector<protocol::RecordId> posts;
  for (const auto& e : index.image_feed(std::nullopt, 0, {}, 20000)) {
    auto rec = index.get(e.id);
    if (!rec || rec->kind() != protocol::RecordKind::image_post) continue;
    posts.push_back(rec->id());
    auto release = protocol::util::digest_of(rec->body().getPayload().getImagePost().getRelease());
    if (releases.size() < 1000 && std::find(releases.begin(), releases.end(), release) == releases.end())
      releases.push_back(release);
  }
  if (posts.empty() || releases.empty()) throw std::runtime_error(o.label + ": no image posts to react to");
  auto stats = index.stats();
  auto have_r = stats.by_kind[static_cast<int>(protocol::RecordKind::reaction)];
  auto have_c = stats.by_kind[static_cast<int>(protocol::RecordKind::comment)];
  if (have_r >= reactions_wanted(o) && have_c >= comments_wanted(o)) return out;
  say(o, o.label + ": adding " + std::to_string(reactions_wanted(o) - std::min(have_r, reactions_wanted(o))) +
             " reactions and " + std::to_string(comments_wanted(o) - std::min(have_c, comments_wanted(o))) +
             " comments (kept for the next run)...");
  std::vector<protocol::SecretKey> keys;
  for (int k = 0; k < 2000; ++k) keys.push_back(protocol::SecretKey::generate());
  std::vector<protocol::Bytes> batch;
  auto t = Clock::now();
  auto flush = [&] {
    for (auto& r : index.ingest_batch(batch))
      if (r.status == indexer::IngestStatus::rejected) throw std::runtime_error(r.error.message);
    batch.clear();
  };
  const std::uint64_t when = 1700000000000 + 3000000;
  for (std::uint64_t p = have_r; p < reactions_wanted(o); ++p) {
    double u = static_cast<double>((p * 2654435761ull) % 1000003) / 1000003.0;
    const auto& post = posts[static_cast<std::size_t>(static_cast<double>(posts.size()) * u * u)];
    auto release = index.get(post);
    if (!release) continue;
    protocol::SubjectDraft subject{protocol::util::digest_of(release->body().getPayload().getImagePost().getRelease()),
                                   std::nullopt, post};
    protocol::ReactionDraft reaction{subject, static_cast<protocol::ReactionKind>(1 + p % 4)};
    batch.push_back(protocol::sign_draft(keys[p % keys.size()], "bench", when + p, reaction, 0).value());
    if (batch.size() == 20000) flush();
  }
  for (std::uint64_t c = have_c; c < comments_wanted(o); ++c) {
    protocol::SubjectDraft subject{releases[c % releases.size()], std::nullopt, std::nullopt};
    protocol::CommentDraft draft{subject, std::nullopt, "Works well at 0.7, take " + std::to_string(c), std::nullopt,
                                 false};
    batch.push_back(protocol::sign_draft(keys[c % keys.size()], "bench", when + c, draft, 0).value());
    if (batch.size() == 20000) flush();
  }
  flush();
  out.reactions = reactions_wanted(o) - std::min(have_r, reactions_wanted(o));
  out.comments = comments_wanted(o) - std::min(have_c, comments_wanted(o));
  out.seconds = seconds_since(t);
  say(o, o.label + ": reactions and comments added in " + std::to_string(static_cast<int>(out.seconds)) + " s");
  return out;
}

// A real `seedbank node` serving `dir` over HTTP only (no gossip, DHT or
// LAN), and its "ip:port" once it runs.
std::pair<std::unique_ptr<testing::Process>, std::string> http_node(const Options& o, const fs::path& dir,
                                                                    const std::string& log) {
  auto node = std::make_unique<testing::Process>(
      std::vector<std::string>{SEEDBANK_BINARY, "--data-dir", dir.string(), "--network", "bench", "node", "--bt-listen",
                               "127.0.0.1:0", "--no-dht", "--no-lan", "--no-port-mapping", "--no-gossip", "--http",
                               "127.0.0.1:0"},
      (o.dir / log).string());
  if (!node->wait_for_err("running", std::chrono::seconds(600)))
    throw std::runtime_error("node did not start: " + node->err());
  std::smatch m;
  std::string err = node->err();
  if (!std::regex_search(err, m, std::regex("API on http://([0-9.]+:[0-9]+)/")))
    throw std::runtime_error("no HTTP address");
  return {std::move(node), std::string(m[1])};
}

// `name` names the section and its data dir (NAME-node, kept in --dir).
nlohmann::json bench_http(const Options& o, const std::string& name = "http") {
  auto dir = o.dir / (name + "-node");
  std::uint64_t ratings_wanted = o.releases / 10;
  SocialAdded social_added;
  std::vector<protocol::RecordId> commented;  // releases with comments
  std::uint64_t generated = 0;                // records added to the kept index by this run
  double generation_s = 0;
  {
    auto index = std::move(indexer::Index::open(index_options(dir / "index", 2))).value();
    const std::uint64_t records_before = index->stats().records;
    const auto generation_start = Clock::now();
    fill_releases(o, *index, name, dir);
    // Ratings from 8 keys on random releases, so "Highest Rated" has an order.
    std::uint64_t rated = index->stats().by_kind[static_cast<int>(protocol::RecordKind::rating)];
    if (rated < ratings_wanted) {
      std::vector<protocol::SecretKey> raters;
      for (int k = 0; k < 8; ++k) raters.push_back(protocol::SecretKey::generate());
      std::mt19937_64 rng(rated + 11);
      std::vector<protocol::Bytes> batch;
      for (std::uint64_t i = rated; i < ratings_wanted; ++i) {
        auto page = index->find_by_hash(protocol::to_hex(testing::fake_digest(rng() % o.releases, 1)));
        if (!page || page->empty()) continue;
        batch.push_back(testing::sign_rating(raters[i % raters.size()], (*page)[0].release,
                                             static_cast<std::uint8_t>(1 + rng() % 5), 1700000000000 + 2000000 + i,
                                             "bench", 0));
        if (batch.size() == 20000) {
          index->ingest_batch(batch);
          batch.clear();
        }
      }
      index->ingest_batch(batch);
    }
    add_posts(o, *index, dir);
    social_added = add_social(o, *index, commented);
    generated = index->stats().records - std::min(records_before, index->stats().records);
    if (generated) generation_s = seconds_since(generation_start);
  }
  auto [node_process, host] = http_node(o, dir, name + "-node-log");
  testing::Process& node = *node_process;
  std::string base = "http://" + host;
  std::smatch m;

  std::mt19937_64 rng(5);
  std::vector<std::string> by_hash, mixed;
  for (int i = 0; i < 5000; ++i) {
    auto hex = protocol::to_hex(testing::fake_digest(rng() % o.releases, 1));
    by_hash.push_back("/api/v1/model-versions/by-hash/" + (i % 2 ? hex : hex.substr(0, 10)));
  }
  auto hash_script = wrk_script(o.dir / "wrk-by-hash.lua", by_hash);
  const std::string list = "/api/v1/models?types=LORA&sort=Highest%20Rated";
  // Warm the page cache (a 3 GB index) so the figures are the server's.
  run_wrk(o, base + "/", hash_script, 5, 4);
  run_wrk(o, base + list, {}, 3, 4);

  auto floor = run_wrk(o, base + "/static/style.css", {}, 10, 4);
  auto hashes = run_wrk(o, base + "/", hash_script, 10, 4);
  auto listing = run_wrk(o, base + list, {}, 10, 4);
  auto listing20 = run_wrk(o, base + list + "&limit=20", {}, 10, 4);
  // The image feed: its first page, and pages at depths down to 20,000
  // images by the cursors the API hands out.
  std::vector<std::string> feed_pages{"/api/v1/images?limit=20"};
  {
    std::string next = "/api/v1/images?limit=200";
    for (int i = 0; i < 100 && !next.empty(); ++i) {
      auto r = testing::http_get(base.substr(7), next);
      if (r.status != 200) throw std::runtime_error("GET " + next + ": " + std::to_string(r.status) + " " + r.body);
      auto page = nlohmann::json::parse(r.body);
      auto cursor = page["metadata"].value("nextCursor", std::string());
      next = cursor.empty() ? "" : "/api/v1/images?limit=200&cursor=" + cursor;
      if (!cursor.empty()) feed_pages.push_back("/api/v1/images?limit=20&cursor=" + cursor);
    }
  }
  auto feed = run_wrk(o, base + "/", wrk_script(o.dir / "wrk-feed.lua", feed_pages), 10, 4);
  // The feed by most reactions, the same way (the ranked images, then the
  // rest), and pages of comments on a release.
  std::vector<std::string> ranked_pages{"/api/v1/images?limit=20&sort=Most%20Reactions"};
  {
    std::string next = "/api/v1/images?limit=200&sort=Most%20Reactions";
    for (int i = 0; i < 50 && !next.empty(); ++i) {
      auto r = testing::http_get(base.substr(7), next);
      if (r.status != 200) throw std::runtime_error("GET " + next + ": " + std::to_string(r.status) + " " + r.body);
      auto cursor = nlohmann::json::parse(r.body)["metadata"].value("nextCursor", std::string());
      next = cursor.empty() ? "" : "/api/v1/images?limit=200&sort=Most%20Reactions&cursor=" + cursor;
      if (!cursor.empty())
        ranked_pages.push_back("/api/v1/images?limit=20&sort=Most%20Reactions&cursor=" +
                               protocol::percent_encode(cursor));
    }
  }
  auto ranked = run_wrk(o, base + "/", wrk_script(o.dir / "wrk-ranked.lua", ranked_pages), 10, 4);
  std::vector<std::string> comment_pages;
  for (const auto& id : commented) comment_pages.push_back("/api/seedbank/comments?releaseId=" + protocol::to_hex(id));
  auto comments = run_wrk(o, base + "/", wrk_script(o.dir / "wrk-comments.lua", comment_pages), 10, 4);
  // Search, 20 a page by relevance: whole words, prefixes, a word every
  // release has, and two words.
  std::vector<std::string> searches;
  for (int i = 0; i < 400; ++i) {
    auto n = std::to_string(rng() % o.releases);
    if (i % 4 == 0) searches.push_back("/api/v1/models?limit=20&query=tweaker%20" + n);
    if (i % 4 == 1) searches.push_back("/api/v1/models?limit=20&query=twe%20" + n.substr(0, 3));
    if (i % 4 == 2) searches.push_back("/api/v1/models?limit=20&query=tag" + std::to_string(rng() % 50));
    if (i % 4 == 3) searches.push_back("/api/v1/models?limit=20&query=detail");
  }
  auto search = run_wrk(o, base + "/", wrk_script(o.dir / "wrk-search.lua", searches), 10, 4);
  for (int i = 0; i < 2000; ++i) {
    mixed.push_back(by_hash[static_cast<std::size_t>(i)]);
    if (i % 4 == 0) mixed.push_back("/api/v1/models?limit=20&types=LORA&sort=Highest%20Rated");
    if (i % 4 == 1) mixed.push_back("/api/v1/models?limit=20&query=tweaker%20" + std::to_string(rng() % 1000));
    if (i % 4 == 2) mixed.push_back("/api/v1/models?limit=20&tag=tag" + std::to_string(rng() % 50));
    if (i % 4 == 3) mixed.push_back("/api/v1/tags?limit=20");
  }
  auto load = run_wrk(o, base + "/", wrk_script(o.dir / "wrk-mixed.lua", mixed), o.load_seconds, 16);
  std::string status = testing::slurp("/proc/" + std::to_string(node.pid()) + "/status");
  double peak_mib = 0, anon_mib = 0;
  if (std::regex_search(status, m, std::regex("VmHWM:\\s+([0-9]+) kB"))) peak_mib = std::stod(m[1]) / 1024.0;
  // VmHWM counts the index's pages mapped in (LMDB reads through mmap);
  // RssAnon is the node's own memory.
  if (std::regex_search(status, m, std::regex("RssAnon:\\s+([0-9]+) kB"))) anon_mib = std::stod(m[1]) / 1024.0;
  node.signal(SIGTERM);
  node.wait(std::chrono::seconds(30));

  char line[1000];
  std::snprintf(
      line, sizeof line,
      "http with %llu releases (wrk, 4 connections, 10 s): constant file %.0f req/s p99 %.2f ms | by-hash "
      "%.0f req/s (%.2fx the floor) p50 %.2f ms p99 %.2f ms [goal p99 <= 1 ms] | models?types=LORA&sort="
      "Highest Rated (100 per page) %.0f req/s p99 %.1f ms, limit=20 %.0f req/s p99 %.1f ms [goal p99 <= 20 ms]",
      static_cast<unsigned long long>(o.releases), floor.rps, floor.p99_ms, hashes.rps, hashes.rps / floor.rps,
      hashes.p50_ms, hashes.p99_ms, listing.rps, listing.p99_ms, listing20.rps, listing20.p99_ms);
  say(o, line);
  std::snprintf(line, sizeof line,
                "http image feed with %llu releases and %llu image posts (wrk, 4 connections, 10 s): 20 per page, "
                "first page and %zu pages down to 20,000 images deep, %.0f req/s p50 %.2f ms p99 %.2f ms "
                "[goal p99 <= 20 ms]",
                static_cast<unsigned long long>(o.releases), static_cast<unsigned long long>(posts_wanted(o)),
                feed_pages.size() - 1, feed.rps, feed.p50_ms, feed.p99_ms);
  say(o, line);
  std::uint64_t index_bytes = 0, records = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename() == "data.mdb") index_bytes += e.file_size();
  if (auto idx = indexer::Index::open(index_options(dir / "index", 2))) records = (*idx)->stats().records;
  std::snprintf(line, sizeof line,
                "http search with %llu releases and %llu image posts (wrk, 4 connections, 10 s): 20 per page by "
                "relevance, whole words, prefixes, a word in every release and two words, %.0f req/s p50 %.2f ms "
                "p99 %.2f ms [goal p99 <= 20 ms] | index %.0f MiB, %.0f bytes per record over %llu records",
                static_cast<unsigned long long>(o.releases), static_cast<unsigned long long>(posts_wanted(o)),
                search.rps, search.p50_ms, search.p99_ms, static_cast<double>(index_bytes) / (1 << 20),
                records ? static_cast<double>(index_bytes) / static_cast<double>(records) : 0.0,
                static_cast<unsigned long long>(records));
  say(o, line);
  std::snprintf(
      line, sizeof line,
      "http reactions and comments, %llu reactions on image posts and %llu comments on %zu releases%s: "
      "images by most reactions, 20 per page, first page and %zu pages down to 10,000 images deep, "
      "%.0f req/s p50 %.2f ms p99 %.2f ms (%.2fx the newest-first feed's p99) [goal p99 <= 20 ms] | "
      "comments of a release (20 a page) %.0f req/s p50 %.2f ms p99 %.2f ms",
      static_cast<unsigned long long>(reactions_wanted(o)), static_cast<unsigned long long>(comments_wanted(o)),
      commented.size(),
      social_added.seconds > 0
          ? (", signed and stored in " + std::to_string(static_cast<int>(social_added.seconds)) + " s (" +
             std::to_string(static_cast<long long>(static_cast<double>(social_added.reactions + social_added.comments) /
                                                   social_added.seconds)) +
             " records/s)")
                .c_str()
          : "",
      ranked_pages.size() - 1, ranked.rps, ranked.p50_ms, ranked.p99_ms,
      feed.p99_ms > 0 ? ranked.p99_ms / feed.p99_ms : 0.0, comments.rps, comments.p50_ms, comments.p99_ms);
  say(o, line);
  std::snprintf(line, sizeof line,
                "http load: %d s of mixed API requests on 16 connections: %llu requests, %.0f req/s [goal >= 2000], "
                "%llu errors, p99 %.1f ms, node peak RSS %.0f MiB (index pages mapped in included), anonymous %.0f MiB",
                o.load_seconds, static_cast<unsigned long long>(load.requests), load.rps,
                static_cast<unsigned long long>(load.errors), load.p99_ms, peak_mib, anon_mib);
  say(o, line);
  auto j = [](const WrkResult& w) {
    return nlohmann::json{
        {"rps", w.rps}, {"p50_ms", w.p50_ms}, {"p99_ms", w.p99_ms}, {"requests", w.requests}, {"errors", w.errors}};
  };
  return {{"releases", o.releases},   {"posts", posts_wanted(o)},    {"floor", j(floor)},
          {"by_hash", j(hashes)},     {"list_100", j(listing)},      {"list_20", j(listing20)},
          {"feed_20", j(feed)},       {"search_20", j(search)},      {"index_bytes", index_bytes},
          {"ranked_20", j(ranked)},   {"comments_20", j(comments)},  {"load", j(load)},
          {"peak_rss_mib", peak_mib}, {"anon_rss_mib", anon_mib},    {"records", records},
          {"generated", generated},   {"generation_s", generation_s}};
}

// The http bench at Civitai's size: --releases (1,000,000) and --posts
// (10,000,000 unless given) image posts, 100 by each key and 100 about each
// posted-about release (at least 1,000 keys and 10,000 releases), with
// reactions and comments as in http. Kept in
// --dir/scale-node between runs; adds the generation time and the index's
// bytes per record by kind.
nlohmann::json bench_scale(const Options& given) {
  Options o = given;
  if (!o.posts) o.posts = 10000000;
  o.posters = std::max<std::uint64_t>(1000, o.posts / 100);
  o.posted_releases = std::min(o.releases, std::max<std::uint64_t>(10000, o.posts / 100));
  o.spread_posts = true;
  o.label = "scale";
  auto result = bench_http(o, "scale");
  const auto generated = result["generated"].get<std::uint64_t>();
  const auto seconds = result["generation_s"].get<double>();
  char line[1000];
  if (generated)
    std::snprintf(line, sizeof line,
                  "scale generation: %llu records signed and stored in %.0f s (%.0f records/s: releases and posts "
                  "signed on two threads, the rest on one, then Index::ingest_batch), %llu posting keys | kept in %s "
                  "for the next run",
                  static_cast<unsigned long long>(generated), seconds, static_cast<double>(generated) / seconds,
                  static_cast<unsigned long long>(o.posters), (o.dir / "scale-node").string().c_str());
  else
    std::snprintf(line, sizeof line, "scale generation: none, the %llu records were kept from an earlier run in %s",
                  static_cast<unsigned long long>(result["records"].get<std::uint64_t>()),
                  (o.dir / "scale-node").string().c_str());
  say(o, line);
  auto index = std::move(indexer::Index::open(index_options(o.dir / "scale-node" / "index", 2))).value();
  const auto space = index->space();
  const auto stats = index->stats();
  std::string kinds;
  nlohmann::json by_kind = nlohmann::json::object();
  for (int k = 0; k < protocol::kRecordKinds; ++k) {
    if (!stats.by_kind[k]) continue;
    const double per = static_cast<double>(space.by_kind[k]) / static_cast<double>(stats.by_kind[k]);
    const double signed_per = static_cast<double>(space.record_bytes[k]) / static_cast<double>(stats.by_kind[k]);
    const std::string kind(protocol::to_string(static_cast<protocol::RecordKind>(k)));
    by_kind[kind] = {
        {"records", stats.by_kind[k]}, {"bytes", space.by_kind[k]}, {"record_bytes", space.record_bytes[k]}};
    char part[200];
    std::snprintf(part, sizeof part, "%s%s %.0f B/record (%.0f signed, %llu records)", kinds.empty() ? "" : ", ",
                  kind.c_str(), per, signed_per, static_cast<unsigned long long>(stats.by_kind[k]));
    kinds += part;
  }
  std::snprintf(line, sizeof line, "scale index: %.2f GiB used, %.0f bytes per record over %llu records | by kind: ",
                static_cast<double>(space.used) / (1 << 30),
                stats.records ? static_cast<double>(space.used) / static_cast<double>(stats.records) : 0.0,
                static_cast<unsigned long long>(stats.records));
  std::snprintf(line + std::strlen(line), sizeof line - std::strlen(line),
                "%s | views several kinds share %.2f GiB (%.0f B/record), free %.2f GiB", kinds.c_str(),
                static_cast<double>(space.shared) / (1 << 30),
                stats.records ? static_cast<double>(space.shared) / static_cast<double>(stats.records) : 0.0,
                static_cast<double>(space.free) / (1 << 30));
  say(o, line);
  result["index_used"] = space.used;
  result["index_shared"] = space.shared;
  result["index_by_kind"] = by_kind;
  return result;
}

// ---- trends ----

// Prompts for the trends bench: 8 to 16 terms each, drawn by a Zipf law
// (s = 1.1) from 40 common real terms and 5,000 made-up ones, the first
// ones most often, as prompts are.
struct PromptMaker {
  std::vector<std::string> terms;
  std::vector<double> cdf;
  PromptMaker() {
    for (const char* t : {"masterpiece",
                          "best quality",
                          "1girl",
                          "solo",
                          "looking at viewer",
                          "smile",
                          "outdoors",
                          "highly detailed",
                          "portrait",
                          "long hair",
                          "blue eyes",
                          "cinematic lighting",
                          "sky",
                          "upper body",
                          "photorealistic",
                          "night",
                          "city",
                          "forest",
                          "dress",
                          "flowers",
                          "landscape",
                          "sunset",
                          "8k",
                          "sharp focus",
                          "anime",
                          "illustration",
                          "depth of field",
                          "red hair",
                          "school uniform",
                          "score_9",
                          "score_8_up",
                          "watercolor",
                          "oil painting",
                          "bokeh",
                          "cat",
                          "dragon",
                          "castle",
                          "rain",
                          "snow",
                          "ocean"})
      terms.emplace_back(t);
    for (int k = 0; terms.size() < 5040; ++k) terms.push_back("concept" + std::to_string(k));
    double sum = 0;
    for (std::size_t r = 0; r < terms.size(); ++r)
      cdf.push_back(sum += 1.0 / std::pow(static_cast<double>(r + 1), 1.1));
    for (auto& c : cdf) c /= sum;
  }
  std::string make(std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> u(0, 1);
    std::string out;
    const int n = 8 + static_cast<int>(rng() % 9);
    for (int i = 0; i < n; ++i) {
      auto at = std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin();
      if (!out.empty()) out += ", ";
      out +=
          terms[static_cast<std::size_t>(std::min<std::ptrdiff_t>(at, static_cast<std::ptrdiff_t>(terms.size()) - 1))];
    }
    return out;
  }
};

protocol::GenerationParams bench_generation(const PromptMaker& prompts, std::mt19937_64& rng) {
  static constexpr const char* kSamplers[] = {"Euler a", "DPM++ 2M Karras", "DPM++ SDE Karras", "Euler", "DDIM",
                                              "UniPC"};
  static constexpr std::uint32_t kSteps[] = {20, 25, 28, 30, 35, 40, 50};
  protocol::GenerationParams g;
  g.prompt = prompts.make(rng);
  g.sampler = kSamplers[rng() % 6];
  g.steps = kSteps[rng() % 7];
  return g;
}

// /api/seedbank/trends of a real node over 100,000 releases and 1,000,000
// image posts (and 100,000 reactions) dated over the 12 weeks before the
// dataset was made, their prompts from PromptMaker; kept in DIR/trends-node.
// One HTTP/1.1 connection kept open for request after request, as a
// browser keeps one for an upload's chunks.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(const std::string& host) : host_(host) {
    sockaddr_in addr = testing::ipv4_address(host);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot connect to " + host);
  }
  ~KeepAliveClient() { ::close(fd_); }
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;
  // The status and body of one request.
  std::pair<int, std::string> request(const std::string& method, const std::string& target, const std::string& body) {
    std::string head = method + " " + target + " HTTP/1.1\r\nHost: " + host_ +
                       "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n";
    send_all(head);
    send_all(body);
    std::size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) fill();
    std::string headers = in_.substr(0, end);
    in_.erase(0, end + 4);
    std::smatch m;
    std::size_t length = 0;
    if (std::regex_search(headers, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)"))) length = std::stoul(m[1]);
    while (in_.size() < length) fill();
    std::string reply = in_.substr(0, length);
    in_.erase(0, length);
    return {std::stoi(headers.substr(9, 3)), reply};
  }

 private:
  void send_all(const std::string& bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("the node closed the connection");
      sent += static_cast<std::size_t>(n);
    }
  }
  void fill() {
    char buf[65536];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("the node closed the connection");
    in_.append(buf, static_cast<std::size_t>(n));
  }
  std::string host_;
  int fd_ = -1;
  std::string in_;
};

// Publishing from the gallery against `seedbank publish` of the same file
// (issue: ≤ 1.3×): a browser-less client sends the file in the gallery's
// 16 MiB chunks to a running node, then asks it to publish and polls the
// job; the command hashes the file and copies it into a store. The chunks
// go over one connection, as a browser sends them. Each run
// has fresh data dirs, so neither finds the file already stored.
nlohmann::json bench_upload(const Options& o) {
  auto path = make_model_file(o.dir, o.size_mib << 20, true);
  time_command("cat '" + path.string() + "'");
  const std::uint64_t size = fs::file_size(path);
  const std::string bin = SEEDBANK_BINARY;
  std::vector<double> cli, chunks, job, total;
  for (int i = 0; i < o.repeats; ++i) {
    // The command.
    auto cli_dir = o.dir / "upload-cli";
    fs::remove_all(cli_dir);
    time_command("'" + bin + "' --data-dir '" + cli_dir.string() + "' keygen");
    cli.push_back(time_command("'" + bin + "' --data-dir '" + cli_dir.string() + "' --network bench publish '" +
                               path.string() + "' --name 'Bench Upload' --type LORA --json"));
    fs::remove_all(cli_dir);
    // The gallery's way.
    auto node_dir = o.dir / "upload-node";
    fs::remove_all(node_dir);
    time_command("'" + bin + "' --data-dir '" + node_dir.string() + "' keygen");
    auto [node_process, host] = http_node(o, node_dir, "upload-node-log");
    auto post = [&](const std::string& target, const std::string& body) {
      auto r = testing::http_request(host, "POST", target, body);
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (r.status / 100 != 2 || j.is_discarded()) throw std::runtime_error(target + " answered " + r.body);
      return j;
    };
    auto t = Clock::now();
    auto made =
        post("/api/seedbank/uploads", nlohmann::json{{"name", path.filename().string()}, {"size", size}}.dump());
    const std::string id = made["id"];
    const std::uint64_t chunk = made["chunkBytes"];
    std::ifstream in(path, std::ios::binary);
    std::string buf;
    KeepAliveClient connection(host);
    for (std::uint64_t at = 0; at < size; at += chunk) {
      buf.resize(std::min(chunk, size - at));
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto [status, reply] =
          connection.request("POST", "/api/seedbank/uploads/" + id + "?offset=" + std::to_string(at), buf);
      if (status != 200) throw std::runtime_error("chunk at " + std::to_string(at) + ": " + reply);
    }
    chunks.push_back(seconds_since(t));
    auto t2 = Clock::now();
    auto started = post(
        "/api/seedbank/releases",
        nlohmann::json{{"files", nlohmann::json::array({{{"upload", id}}})}, {"name", "Bench Upload"}, {"type", "LORA"}}
            .dump());
    for (;;) {
      auto r = testing::http_get(host, started["url"].get<std::string>());
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (!j.is_discarded() && j["state"] == "done") break;
      if (j.is_discarded() || j["state"] == "failed") throw std::runtime_error("publish job: " + r.body);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    job.push_back(seconds_since(t2));
    total.push_back(seconds_since(t));
    node_process.reset();
    fs::remove_all(node_dir);
  }
  double c = median(cli), u = median(chunks), j = median(job), w = median(total);
  char line[320];
  std::snprintf(line, sizeof line,
                "upload %llu MiB through the gallery API: chunks %.3f s (%.0f MiB/s) + publish job %.3f s = %.3f s | "
                "seedbank publish %.3f s | %.2fx   [goal <= 1.3x]",
                static_cast<unsigned long long>(o.size_mib), u, static_cast<double>(size) / (1 << 20) / u, j, w, c,
                w / c);
  say(o, line);
  return {{"size_mib", o.size_mib}, {"chunks_s", u}, {"job_s", j}, {"gallery_s", w}, {"cli_s", c}, {"ratio", w / c}};
}

nlohmann::json bench_trends(const Options& o) {
  const std::uint64_t releases_n = std::min<std::uint64_t>(o.releases, 100000);
  const std::uint64_t posts_n = o.posts ? o.posts : 1000000;
  const std::uint64_t reactions_n = posts_n / 10;
  auto dir = o.dir / "trends-node";
  const std::uint64_t now = testing::now_ms();
  const std::uint64_t span = 84ull * 86400000;  // 12 weeks
  const PromptMaker prompts;
  struct Kind {
    schema::ModelType type;
    int weight;
  };
  const Kind kinds[] = {
      {schema::ModelType::LORA, 60}, {schema::ModelType::CHECKPOINT, 20}, {schema::ModelType::TEXTUAL_INVERSION, 8},
      {schema::ModelType::LOCON, 6}, {schema::ModelType::CONTROLNET, 3},  {schema::ModelType::VAE, 3}};
  const char* bases[] = {"SDXL 1.0", "Pony", "Illustrious", "SD 1.5", "Flux.1 D", "NoobAI"};
  double ingest_with = 0, ingest_without = 0, generated_s = 0;
  {
    auto index = std::move(indexer::Index::open(index_options(dir / "index", 2))).value();
    auto have = [&](protocol::RecordKind k) { return index->stats().by_kind[static_cast<int>(k)]; };
    auto t = Clock::now();
    bool made = false;
    if (have(protocol::RecordKind::release) < releases_n) {
      made = true;
      say(o, "trends: making " + std::to_string(releases_n) + " releases, " + std::to_string(posts_n) +
                 " image posts and " + std::to_string(reactions_n) + " reactions (kept in " + dir.string() + ")...");
      for (std::uint64_t first = have(protocol::RecordKind::release); first < releases_n; first += 20000) {
        const std::uint64_t n = std::min<std::uint64_t>(20000, releases_n - first);
        std::vector<protocol::Bytes> batch(n);
        auto sign = [&](std::uint64_t begin, std::uint64_t end) {
          std::mt19937_64 rng(first + begin);
          std::vector<protocol::SecretKey> keys;
          for (int k = 0; k < 200; ++k) keys.push_back(protocol::SecretKey::generate());
          for (std::uint64_t i = begin; i < end; ++i) {
            int pick = static_cast<int>(rng() % 100);
            schema::ModelType type = kinds[0].type;
            for (const auto& k : kinds) {
              if (pick < k.weight) {
                type = k.type;
                break;
              }
              pick -= k.weight;
            }
            auto d = testing::sample_release(first + i, type, bases[rng() % 6]);
            d.tags = {"style", "tag" + std::to_string(rng() % 200),
                      "tag" + std::to_string((rng() % 20) * (rng() % 20))};
            d.images[0].generation = bench_generation(prompts, rng);
            batch[i] = testing::sign_release(keys[i % keys.size()], d, now - span + rng() % span, "bench", 0);
          }
        };
        std::thread other(sign, n / 2, n);
        sign(0, n / 2);
        other.join();
        for (auto& r : index->ingest_batch(batch))
          if (r.status == indexer::IngestStatus::rejected) throw std::runtime_error(r.error.message);
      }
    }
    std::vector<protocol::RecordId> releases;
    for (std::uint64_t n = 0; n < releases_n && releases.size() < 20000;
         n += std::max<std::uint64_t>(1, releases_n / 20000)) {
      auto page = index->find_by_hash(protocol::to_hex(testing::fake_digest(n, 1)));
      if (page && !page->empty()) releases.push_back((*page)[0].release);
    }
    if (releases.empty()) throw std::runtime_error("trends: no releases to post about");
    std::vector<protocol::SecretKey> keys;
    for (int k = 0; k < 1000; ++k) keys.push_back(protocol::SecretKey::generate());
    auto make_posts = [&](std::uint64_t first, std::uint64_t n, bool with_prompts) {
      std::vector<protocol::Bytes> batch(n);
      auto sign = [&](std::uint64_t begin, std::uint64_t end) {
        std::mt19937_64 rng(first + begin + 7);
        for (std::uint64_t i = begin; i < end; ++i) {
          const double u = std::uniform_real_distribution<double>(0, 1)(rng);
          const auto& release = releases[static_cast<std::size_t>(u * u * static_cast<double>(releases.size()))];
          auto g = bench_generation(prompts, rng);
          batch[i] = testing::sign_post(keys[(first + i) % keys.size()], release, testing::fake_digest(first + i, 21),
                                        now - span + rng() % span, "bench", 0, {}, with_prompts ? &g : nullptr);
        }
      };
      std::thread other(sign, n / 2, n);
      sign(0, n / 2);
      other.join();
      return batch;
    };
    for (std::uint64_t first = have(protocol::RecordKind::image_post); first < posts_n; first += 20000) {
      made = true;
      auto batch = make_posts(first, std::min<std::uint64_t>(20000, posts_n - first), true);
      for (auto& r : index->ingest_batch(batch))
        if (r.status == indexer::IngestStatus::rejected) throw std::runtime_error(r.error.message);
    }
    for (std::uint64_t first = have(protocol::RecordKind::reaction); first < reactions_n; first += 20000) {
      made = true;
      const std::uint64_t n = std::min<std::uint64_t>(20000, reactions_n - first);
      std::vector<protocol::Bytes> batch;
      std::mt19937_64 rng(first + 3);
      for (std::uint64_t i = 0; i < n; ++i) {
        const double u = std::uniform_real_distribution<double>(0, 1)(rng);
        const auto& release = releases[static_cast<std::size_t>(u * u * static_cast<double>(releases.size()))];
        batch.push_back(testing::sign_social(
            keys[(first + i) % keys.size()],
            protocol::ReactionDraft{{release, std::nullopt, std::nullopt}, protocol::ReactionKind::like},
            now - rng() % (60ull * 86400000), 0));
      }
      index->ingest_batch(batch);  // a key's second reaction on a release replaces its first
    }
    if (made) generated_s = seconds_since(t);
    if (made) say(o, "trends: made in " + std::to_string(static_cast<int>(generated_s)) + " s");
    // What counting costs at ingest: 20,000 posts with prompts against the
    // same posts without generation data, each into a fresh index.
    auto with = make_posts(posts_n + 1000000, 20000, true), without = make_posts(posts_n + 1000000, 20000, false);
    auto rate = [&](const std::vector<protocol::Bytes>& batch) {
      auto scratch = o.dir / "trends-ingest";
      fs::remove_all(scratch);
      auto idx = std::move(indexer::Index::open(index_options(scratch, 2))).value();
      auto t0 = Clock::now();
      for (auto& r : idx->ingest_batch(batch))
        if (r.status != indexer::IngestStatus::added) throw std::runtime_error(r.error.message);
      double per_s = static_cast<double>(batch.size()) / seconds_since(t0);
      idx.reset();
      fs::remove_all(scratch);
      return per_s;
    };
    std::vector<double> w, wo;
    for (int round = 0; round < o.repeats; ++round) {
      w.push_back(rate(with));
      wo.push_back(rate(without));
    }
    ingest_with = median(w);
    ingest_without = median(wo);
  }
  auto [node_process, host] = http_node(o, dir, "trends-node-log");
  testing::Process& node = *node_process;
  // Every answer counted afresh: each (weeks, base model) is asked once,
  // so none comes from the node's short-lived cache.
  std::vector<std::string> paths;
  for (int weeks = 1; weeks <= 52; ++weeks)
    for (const char* base : {"", "SDXL%201.0"})
      paths.push_back("/api/seedbank/trends?weeks=" + std::to_string(weeks) + (*base ? "&baseModel=" : "") + base);
  (void)testing::http_get(host, "/api/seedbank/trends?weeks=104");  // pages the counters in
  // What the gallery asks: 4, 12, 26 or 52 weeks, all base models or one.
  std::vector<std::string> gallery;
  for (const char* weeks : {"4", "12", "26", "52"})
    for (const char* base : {"", "&baseModel=SDXL%201.0"})
      gallery.push_back(std::string("/api/seedbank/trends?weeks=") + weeks + base);
  std::vector<double> cold;
  for (const auto& path : paths) {
    auto t0 = Clock::now();
    auto r = testing::http_get(host, path);
    cold.push_back(seconds_since(t0) * 1000);
    if (r.status != 200) throw std::runtime_error("GET " + path + ": " + std::to_string(r.status) + " " + r.body);
  }
  std::sort(cold.begin(), cold.end());
  const std::string base = "http://" + host;
  auto floor = run_wrk(o, base + "/static/style.css", {}, 10, 4);
  auto cached = run_wrk(o, base + "/", wrk_script(o.dir / "wrk-trends.lua", gallery), 10, 4);
  node.signal(SIGTERM);
  node.wait(std::chrono::seconds(30));
  char line[900];
  std::snprintf(
      line, sizeof line,
      "trends with %llu releases, %llu image posts with prompts and %llu reactions over 12 weeks: "
      "/api/seedbank/trends counted afresh (%zu distinct queries, 1-52 weeks, all or one base model) "
      "p50 %.1f ms p99 %.1f ms max %.1f ms [goal p99 <= 50 ms] | the gallery's 8 queries under wrk (4 connections, "
      "10 s, answers kept 2 s) %.0f req/s p99 %.2f ms, constant file p99 %.2f ms | ingest of 20,000 "
      "posts with prompts %.0f/s, without generation data %.0f/s (%.2fx)%s",
      static_cast<unsigned long long>(releases_n), static_cast<unsigned long long>(posts_n),
      static_cast<unsigned long long>(reactions_n), cold.size(), percentile(cold, 0.5), percentile(cold, 0.99),
      cold.back(), cached.rps, cached.p99_ms, floor.p99_ms, ingest_with, ingest_without,
      ingest_without > 0 ? ingest_with / ingest_without : 0.0,
      generated_s > 0 ? (" | dataset made in " + std::to_string(static_cast<int>(generated_s)) + " s").c_str() : "");
  say(o, line);
  return {{"releases", releases_n},
          {"posts", posts_n},
          {"reactions", reactions_n},
          {"cold_p50_ms", percentile(cold, 0.5)},
          {"cold_p99_ms", percentile(cold, 0.99)},
          {"cold_max_ms", cold.back()},
          {"cached_rps", cached.rps},
          {"cached_p99_ms", cached.p99_ms},
          {"floor_p99_ms", floor.p99_ms},
          {"ingest_posts_with_prompts_per_s", ingest_with},
          {"ingest_posts_without_per_s", ingest_without}};
}

// Set reconciliation between two in-memory sets of 100,000 record ids that
// differ by d (half on each side): bytes of reconciliation messages and
// round trips until both know what to fetch. Framing and encryption add
// about 40 bytes per message on the wire (see docs/protocol.md).
nlohmann::json bench_reconcile(const Options& o) {
  namespace rc = seedbank::protocol::reconcile;
  nlohmann::json result = nlohmann::json::object();
  const std::size_t n = 100'000;
  for (std::size_t d : {std::size_t{0}, std::size_t{100}, std::size_t{1000}}) {
    std::mt19937_64 rng(d + 1);
    auto item = [&](std::uint64_t t) {
      rc::Item it;
      it.time = t;
      for (auto& b : it.id) b = static_cast<std::uint8_t>(rng());
      return it;
    };
    std::vector<rc::Item> a, b;
    std::uint64_t t = 1'700'000'000'000;
    for (std::size_t i = 0; i < n; ++i) {
      auto it = item(t += rng() % 60'000);
      a.push_back(it);
      b.push_back(it);
    }
    for (std::size_t i = 0; i < d; ++i)
      (i % 2 ? a : b).push_back(item(1'700'000'000'000 + rng() % (t - 1'700'000'000'000)));
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    rc::Reconciler ra(a), rb(b);
    rc::Outcome oa, ob;
    auto start = std::chrono::steady_clock::now();
    auto msg = ra.initiate();
    std::size_t bytes = 0, messages = 0;
    for (bool to_b = true; !msg.empty(); to_b = !to_b) {
      bytes += msg.size();
      ++messages;
      auto r = to_b ? rb.reply(msg, &ob) : ra.reply(msg, &oa);
      if (!r) throw std::runtime_error(r.error().message);
      msg = std::move(r).value();
    }
    double secs = seconds_since(start);
    std::size_t found = oa.need.size() + oa.have.size() + ob.need.size() + ob.have.size();
    // Each difference is found once, by the side that receives the id list.
    if (found != d)
      throw std::runtime_error("reconciliation found " + std::to_string(found) + " of " + std::to_string(d) +
                               " differences");
    double round_trips = static_cast<double>(messages) / 2.0;
    result["diff_" + std::to_string(d)] = {
        {"bytes", bytes}, {"messages", messages}, {"round_trips", round_trips}, {"cpu_s", secs}};
    char line[256];
    std::snprintf(line, sizeof line,
                  "reconcile 100000 ids, %zu differ: %zu bytes in %zu messages (%.1f round trips), %.3f s CPU   "
                  "[goal %s]",
                  d, bytes, messages, round_trips, secs,
                  d == 0     ? "<= 1 KiB"
                  : d == 100 ? "<= 64 KiB, <= 6 RT"
                             : "-");
    say(o, line);
  }
  return result;
}

}  // namespace

// A PNG of noise, `side` pixels square (about 3 bytes a pixel on disk): a
// sample image the size creators post, that no compressor shrinks.
void write_noise_png(const fs::path& path, std::uint32_t side) {
  auto be32 = [](std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
  };
  auto chunk = [&](std::string& out, const char* type, const std::string& data) {
    be32(out, static_cast<std::uint32_t>(data.size()));
    std::string body = std::string(type, 4) + data;
    out += body;
    be32(out, static_cast<std::uint32_t>(
                  crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  };
  std::string ihdr;
  be32(ihdr, side);
  be32(ihdr, side);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  std::mt19937_64 rng(side);
  std::string raw;
  for (std::uint32_t y = 0; y < side; ++y) {
    raw.push_back('\0');  // no filter
    for (std::uint32_t x = 0; x < side * 3; ++x) raw.push_back(static_cast<char>(rng()));
  }
  std::string packed(compressBound(static_cast<uLong>(raw.size())), '\0');
  uLongf n = packed.size();
  compress2(reinterpret_cast<Bytef*>(packed.data()), &n, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), 1);
  packed.resize(n);
  std::string png("\x89PNG\r\n\x1a\n", 8);
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", packed);
  chunk(png, "IEND", "");
  std::ofstream(path, std::ios::binary) << png;
}

// A Civitai client's first preview: on a node that has a release's record
// but not its images (a peer seeds them), the time from asking the version
// by hash to the first image's 200 with all its bytes. The reference is the
// same node-to-node transfer asked for directly: a fresh node of the same
// kind fetching the release's images from the seeder (`seedbank fetch
// --images-only --peer`). Both start from a node that just joined.
nlohmann::json bench_preview(const Options& o) {
  auto dir = o.dir / "preview";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto png = dir / "sample.png";
  write_noise_png(png, 1024);
  auto model = make_model_file(dir, 4ull << 20, true);
  auto a = dir / "a";
  auto sb = [&](const fs::path& data, std::vector<std::string> args) {
    args.insert(args.begin(), {SEEDBANK_BINARY, "--data-dir", data.string(), "--network", "bench"});
    return testing::run(args, (dir / "cmd").string());
  };
  if (auto k = sb(a, {"keygen"}); k.exit_code != 0) throw std::runtime_error("keygen: " + k.err);
  auto pub = sb(
      a, {"publish", model.string(), "--name", "Preview Bench", "--type", "LORA", "--image", png.string(), "--json"});
  if (pub.exit_code != 0) throw std::runtime_error("publish: " + pub.err);
  auto published = nlohmann::json::parse(pub.out);
  std::string release = published["releaseId"], sha = published["files"][0]["hashes"]["SHA256"];
  std::uint64_t image_bytes = published["files"][1]["size"];
  if (auto e = sb(a, {"record", "export", release, "--out", (dir / "record").string()}); e.exit_code != 0)
    throw std::runtime_error("export: " + e.err);
  auto node_args = [&](const fs::path& data, const std::string& http, const std::string& bootstrap) {
    std::vector<std::string> args{SEEDBANK_BINARY, "--data-dir",  data.string(), "--network",         "bench",
                                  "node",          "--bt-listen", "127.0.0.1:0", "--listen",          "127.0.0.1:0",
                                  "--http",        http,          "--no-dht",    "--no-port-mapping", "--no-lan"};
    if (!bootstrap.empty()) args.insert(args.end(), {"--bootstrap", bootstrap});
    return args;
  };
  testing::Process seeder(node_args(a, "off", ""), (dir / "a-log").string());
  if (!seeder.wait_for_err("running")) throw std::runtime_error("seeder did not start: " + seeder.err());
  auto status = nlohmann::json::parse(sb(a, {"status", "--json"}).out);
  std::string a_bt = status["btListen"], a_gossip = status["gossipListen"];

  // A node that holds the record and has a session with the seeder.
  auto joined_node = [&](const fs::path& data, const std::string& http) {
    fs::remove_all(data);
    if (auto i = sb(data, {"record", "import", (dir / "record").string()}); i.exit_code != 0)
      throw std::runtime_error("import: " + i.err);
    auto p = std::make_unique<testing::Process>(node_args(data, http, a_gossip), (data.string() + "-log"));
    if (!p->wait_for_err("running")) throw std::runtime_error("node did not start: " + p->err());
    for (auto t = Clock::now(); seconds_since(t) < 30;) {
      auto peers = sb(data, {"peers", "--json"});
      if (peers.exit_code == 0 && peers.out.find("\"open\"") != std::string::npos) return p;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("node did not join the seeder: " + p->err());
  };
  std::vector<double> lookups, references;
  for (int i = 0; i < o.repeats; ++i) {
    {  // The client: by-hash, then the preview, once each, as Civitai Helper does.
      auto data = dir / "client-node";
      auto node = joined_node(data, "127.0.0.1:0");
      std::smatch m;
      std::string err = node->err();
      if (!std::regex_search(err, m, std::regex("API on http://([0-9.]+:[0-9]+)/")))
        throw std::runtime_error("no HTTP address");
      std::string http = m[1];
      auto t = Clock::now();
      auto version = testing::http_get(http, "/api/v1/model-versions/by-hash/" + sha);
      if (version.status != 200) throw std::runtime_error("by-hash answered " + std::to_string(version.status));
      std::string url = nlohmann::json::parse(version.body)["images"][0]["url"];
      auto image = testing::http_get(http, url.substr(url.find("/api/")));
      double dt = seconds_since(t);
      if (image.status != 200 || image.body.size() != image_bytes)
        throw std::runtime_error("the preview answered " + std::to_string(image.status) + " with " +
                                 std::to_string(image.body.size()) + " bytes");
      lookups.push_back(dt);
      node->signal(SIGTERM);
      node->wait(std::chrono::seconds(30));
    }
    {  // The reference: the same fetch, asked for directly with the seeder's address.
      auto data = dir / "reference-node";
      auto node = joined_node(data, "off");
      auto t = Clock::now();
      auto f = sb(data, {"fetch", release, "--images-only", "--peer", a_bt, "--timeout", "60"});
      double dt = seconds_since(t);
      if (f.exit_code != 0) throw std::runtime_error("reference fetch: " + f.err);
      references.push_back(dt);
      node->signal(SIGTERM);
      node->wait(std::chrono::seconds(30));
    }
  }
  seeder.signal(SIGTERM);
  seeder.wait(std::chrono::seconds(30));
  double lookup = median(lookups), reference = median(references);
  char line[400];
  std::snprintf(line, sizeof line,
                "preview after a lookup (%.1f MiB PNG on a peer, the node had only the record): by-hash then the "
                "image's 200 in %.0f ms | direct images-only fetch from the seeder %.0f ms | %.2fx [goal <= 1.5x]",
                static_cast<double>(image_bytes) / (1 << 20), lookup * 1000, reference * 1000, lookup / reference);
  say(o, line);
  return {{"image_bytes", image_bytes},
          {"lookup_to_preview_s", lookup},
          {"direct_fetch_s", reference},
          {"ratio", lookup / reference}};
}

// discover: 16 nodes on 127.0.0.1 that know no gossip address, the first
// an ordinary node and the others given only its BitTorrent port as DHT
// router. Time until every node has 3 open sessions, then until a release
// imported on one is on all 16; DHT traffic per node. Reference: the same
// 16 nodes given the first node's gossip address instead (--bootstrap,
// --no-dht), the way a lab network starts.
nlohmann::json bench_discover(const Options& o) {
  constexpr int kNodes = 16;
  auto run_network = [&](bool dht) {
    auto dir = o.dir / (dht ? "discover-dht" : "discover-list");
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<std::unique_ptr<testing::Process>> nodes;
    std::vector<fs::path> dirs;
    std::string router_bt, router_gossip;
    auto t0 = Clock::now();
    for (int i = 0; i < kNodes; ++i) {
      dirs.push_back(dir / ("n" + std::to_string(i)));
      std::vector<std::string> args{
          SEEDBANK_BINARY, "--data-dir", dirs.back().string(), "--network", "bench", "node",     "--bt-listen",
          "127.0.0.1:0",   "--listen",   "127.0.0.1:0",        "--http",    "off",   "--no-lan", "--no-port-mapping"};
      if (!dht) args.push_back("--no-dht");
      if (i > 0) args.insert(args.end(), {dht ? "--dht-bootstrap" : "--bootstrap", dht ? router_bt : router_gossip});
      nodes.push_back(std::make_unique<testing::Process>(args, (dir / ("log-" + std::to_string(i))).string()));
      if (!nodes.back()->wait_for_err("running"))
        throw std::runtime_error("node did not start: " + nodes.back()->err());
      if (i == 0) {
        auto st = testing::run({SEEDBANK_BINARY, "--data-dir", dirs[0].string(), "status", "--json"},
                               (dir / "status").string());
        auto j = nlohmann::json::parse(st.out);
        router_bt = j["btListen"];
        router_gossip = j["gossipListen"];
      }
    }
    double started_s = seconds_since(t0);
    auto peers_of = [&](int i) {
      auto r =
          testing::run({SEEDBANK_BINARY, "--data-dir", dirs[i].string(), "peers", "--json"}, (dir / "peers").string());
      return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
    };
    auto open_of = [&](const nlohmann::json& j) {
      std::size_t n = 0;
      for (const auto& p : j.value("peers", nlohmann::json::array())) n += p.value("state", "") == "open";
      return n;
    };
    double joined_s = -1;
    while (seconds_since(t0) < 120) {
      bool all = true;
      for (int i = 0; i < kNodes && all; ++i) all = open_of(peers_of(i)) >= 3;
      if (all) {
        joined_s = seconds_since(t0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (joined_s < 0)
      throw std::runtime_error(std::string("discover: not every node had 3 sessions after 120 s") +
                               (dht ? " (DHT)" : " (bootstrap list)"));
    auto record = make_releases(1, 995000, "bench", testing::kTestWorkBits)[0];
    auto file = dir / "record";
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(record.data()), static_cast<std::streamsize>(record.size()));
    auto id = protocol::to_hex(protocol::record_id_of(record));
    auto t1 = Clock::now();
    auto imported = testing::run({SEEDBANK_BINARY, "--data-dir", dirs[kNodes - 1].string(), "--network", "bench",
                                  "record", "import", file.string()},
                                 (dir / "import").string());
    if (imported.exit_code != 0) throw std::runtime_error("import failed: " + imported.err);
    std::vector<bool> have(kNodes, false);
    double spread_s = -1;
    while (seconds_since(t1) < 60) {
      bool all = true;
      for (int i = 0; i < kNodes; ++i) {
        if (!have[i])
          have[i] = testing::run({SEEDBANK_BINARY, "--data-dir", dirs[i].string(), "--network", "bench", "record",
                                  "export", id, "--out", (dir / "probe").string()},
                                 (dir / "export").string())
                        .exit_code == 0;
        all = all && have[i];
      }
      if (all) {
        spread_s = seconds_since(t1);
        break;
      }
    }
    std::uint64_t dht_in = 0, dht_out = 0;
    for (int i = 0; i < kNodes; ++i) {
      auto d = peers_of(i).value("discovery", nlohmann::json::object());
      dht_in += d.value("dhtBytesIn", std::uint64_t{0});
      dht_out += d.value("dhtBytesOut", std::uint64_t{0});
    }
    for (auto& n : nodes) n->signal(SIGTERM);
    for (auto& n : nodes) n->wait(std::chrono::seconds(20));
    return nlohmann::json{{"startSeconds", started_s},
                          {"joinedSeconds", joined_s},
                          {"releaseEverywhereSeconds", spread_s},
                          {"dhtBytesInPerNode", dht_in / kNodes},
                          {"dhtBytesOutPerNode", dht_out / kNodes}};
  };
  auto dht = run_network(true);
  auto list = run_network(false);
  nlohmann::json out{{"nodes", kNodes}, {"dht", dht}, {"bootstrapList", list}};
  out["joinedVsBootstrapList"] = dht["joinedSeconds"].get<double>() / list["joinedSeconds"].get<double>();
  char line[400];
  std::snprintf(line, sizeof line,
                "discover: %d nodes, DHT only: all had 3 sessions %.1f s after the first start (%.1f s to start "
                "them; a bootstrap list: %.1f s, ratio %.2f); a release was on all %.1f s later (list: %.1f s); DHT "
                "traffic %.1f KiB in, %.1f KiB out per node (goal: joined within 30 s, release within 5 s)",
                kNodes, dht["joinedSeconds"].get<double>(), dht["startSeconds"].get<double>(),
                list["joinedSeconds"].get<double>(), out["joinedVsBootstrapList"].get<double>(),
                dht["releaseEverywhereSeconds"].get<double>(), list["releaseEverywhereSeconds"].get<double>(),
                dht["dhtBytesInPerNode"].get<double>() / 1024, dht["dhtBytesOutPerNode"].get<double>() / 1024);
  say(o, line);
  return out;
}

// swarm: one seed and N leechers fetching a new release, every node's
// upload limited to u (the seed's too), F = 64 MiB, fetches started
// together or 8 s apart. Completion times (each from its own start) as
// ratios to the fluid-model minimum T_min = max(F/u_s, N*F/(u_s + N*u)),
// and the seed's upload as a multiple of F.
nlohmann::json bench_swarm(const Options& o) {
  constexpr std::uint64_t kFile = 64ull << 20;
  constexpr std::uint64_t kUpload = 2ull << 20;  // bytes/s, every node
  // One run's line and JSON: completion times (each from its own start)
  // as ratios to T_min, and the seed's upload as a multiple of F.
  auto report = [&](int n, bool staggered, bool aria2, const std::vector<double>& took, std::uint64_t seed_upload) {
    const double f = static_cast<double>(kFile), u = static_cast<double>(kUpload);
    const double t_min = std::max(f / u, n * f / (u + n * u));
    double max_s = *std::max_element(took.begin(), took.end());
    double mean_s = std::accumulate(took.begin(), took.end(), 0.0) / n;
    char line[400];
    std::snprintf(line, sizeof line,
                  "swarm: 1 seed + %d %sleechers, %s, %.0f MiB, every upload %.0f MiB/s: max %.1f s (%.2fx T_min "
                  "%.1f s), mean %.1f s (%.2fx); the seed uploaded %.2fx F %s",
                  n, aria2 ? "aria2c " : "", staggered ? "started 8 s apart" : "started together", f / (1 << 20),
                  u / (1 << 20), max_s, max_s / t_min, t_min, mean_s, mean_s / t_min,
                  static_cast<double>(seed_upload) / f,
                  aria2 ? "[for comparison]" : "[goal: max <= 1.3x T_min, seed <= 2x F]");
    say(o, line);
    return nlohmann::json{{"leechers", n},
                          {"client", aria2 ? "aria2c" : "seedbank"},
                          {"staggered", staggered},
                          {"tMinSeconds", t_min},
                          {"maxSeconds", max_s},
                          {"meanSeconds", mean_s},
                          {"maxRatio", max_s / t_min},
                          {"meanRatio", mean_s / t_min},
                          {"seedUploadOverF", static_cast<double>(seed_upload) / f},
                          {"leecherSeconds", took}};
  };
  // `seedbank node` on `data` with every upload limited to kUpload.
  auto node_args = [&](const fs::path& data, const std::string& bootstrap) {
    std::vector<std::string> args{SEEDBANK_BINARY,
                                  "--data-dir",
                                  data.string(),
                                  "--network",
                                  "bench",
                                  "node",
                                  "--bt-listen",
                                  "127.0.0.1:0",
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--http",
                                  "off",
                                  "--no-dht",
                                  "--no-port-mapping",
                                  "--no-lan",
                                  "--upload-limit",
                                  std::to_string(kUpload)};
    if (!bootstrap.empty()) args.insert(args.end(), {"--bootstrap", bootstrap});
    return args;
  };
  // What the seed on `data` uploaded of `release`, both swarms (status).
  auto seed_uploaded = [&](const fs::path& data, const fs::path& scratch, const std::string& release) {
    auto status = testing::run({SEEDBANK_BINARY, "--data-dir", data.string(), "--network", "bench", "status", "--json"},
                               scratch.string());
    std::uint64_t uploaded = 0;
    auto after = nlohmann::json::parse(status.out);
    for (const auto& t : after["torrents"])
      if (t["releaseId"] == release) uploaded = t["uploaded"];
    return uploaded;
  };
  auto one_run = [&](int n, bool staggered) {
    auto dir = o.dir / ("swarm-" + std::to_string(n) + (staggered ? "-staggered" : "-together"));
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto sb = [&](const fs::path& data, std::vector<std::string> args) {
      args.insert(args.begin(), {SEEDBANK_BINARY, "--data-dir", data.string(), "--network", "bench"});
      return testing::run(args, (dir / "cmd").string());
    };
    auto seed_dir = dir / "seed";
    if (auto k = sb(seed_dir, {"keygen"}); k.exit_code != 0) throw std::runtime_error("keygen: " + k.err);
    auto model = make_model_file(dir, kFile, true);
    auto pub = sb(seed_dir, {"publish", model.string(), "--name", "Swarm Bench", "--type", "LORA", "--json"});
    if (pub.exit_code != 0) throw std::runtime_error("publish: " + pub.err);
    std::string release = nlohmann::json::parse(pub.out)["releaseId"];
    testing::Process seed(node_args(seed_dir, ""), (dir / "seed-log").string());
    if (!seed.wait_for_err("running")) throw std::runtime_error("seed did not start: " + seed.err());
    auto status = nlohmann::json::parse(sb(seed_dir, {"status", "--json"}).out);
    std::string seed_bt = status["btListen"], seed_gossip = status["gossipListen"];
    std::vector<std::unique_ptr<testing::Process>> leechers;
    std::vector<fs::path> dirs;
    for (int i = 0; i < n; ++i) {
      dirs.push_back(dir / ("l" + std::to_string(i)));
      leechers.push_back(std::make_unique<testing::Process>(node_args(dirs.back(), seed_gossip),
                                                            (dir / ("l-log" + std::to_string(i))).string()));
      if (!leechers.back()->wait_for_err("running")) throw std::runtime_error("leecher did not start");
    }
    for (const auto& d : dirs)  // each has the record (gossip)
      for (auto t = Clock::now();;) {
        if (sb(d, {"record", "export", release, "--out", (dir / "probe").string()}).exit_code == 0) break;
        if (seconds_since(t) > 30) throw std::runtime_error("a leecher never got the record");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    std::vector<std::unique_ptr<testing::Process>> fetches(n);
    std::vector<Clock::time_point> started(n);
    std::vector<double> took(n, -1);
    auto t0 = Clock::now();
    int next = 0, done = 0;
    while (done < n) {
      if (next < n && seconds_since(t0) >= (staggered ? 8.0 * next : 0.0)) {
        started[next] = Clock::now();
        fetches[next] = std::make_unique<testing::Process>(
            std::vector<std::string>{SEEDBANK_BINARY, "--data-dir", dirs[next].string(), "--network", "bench", "fetch",
                                     release, "--peer", seed_bt, "--timeout", "900", "--json"},
            (dir / ("fetch-" + std::to_string(next))).string());
        ++next;
        continue;
      }
      for (int i = 0; i < next; ++i)
        if (took[i] < 0 && fetches[i]->wait(std::chrono::milliseconds(1)) >= 0) {
          took[i] = seconds_since(started[i]);
          if (nlohmann::json::parse(fetches[i]->out()).value("complete", false) != true)
            throw std::runtime_error("a fetch did not complete: " + fetches[i]->err());
          ++done;
        }
      if (seconds_since(t0) > 1200) throw std::runtime_error("swarm: fetches still running after 20 min");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::uint64_t seed_upload = seed_uploaded(seed_dir, dir / "cmd", release);
    for (auto& l : leechers) l->signal(SIGTERM);
    seed.signal(SIGTERM);
    for (auto& l : leechers) l->wait(std::chrono::seconds(20));
    seed.wait(std::chrono::seconds(20));
    return report(n, staggered, false, took, seed_upload);
  };
  // The same crowd as aria2c processes (Debian's aria2 1.36 loads the
  // v1-compat form of the release) started together, each uploading at u
  // and seeding once complete as the nodes do, finding the seed and each
  // other through a local opentracker (and PEX).
  auto aria2_run = [&](int n) {
    std::string aria2c = testing::which("aria2c");
    if (aria2c.empty() || testing::which("opentracker").empty()) {
      say(o,
          "swarm: aria2c leechers skipped: aria2c or opentracker is not installed (apt-get install aria2 opentracker)");
      return nlohmann::json{{"leechers", n}, {"client", "aria2c"}, {"skipped", true}};
    }
    auto dir = o.dir / ("swarm-" + std::to_string(n) + "-aria2c");
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto sb = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {SEEDBANK_BINARY, "--data-dir", (dir / "seed").string(), "--network", "bench"});
      return testing::run(args, (dir / "cmd").string());
    };
    int tracker_port = testing::free_port();
    std::string tracker_at = "127.0.0.1:" + std::to_string(tracker_port);
    if (auto k = sb({"keygen"}); k.exit_code != 0) throw std::runtime_error("keygen: " + k.err);
    auto model = make_model_file(dir, kFile, true);
    auto pub = sb({"publish", model.string(), "--name", "Swarm Bench", "--type", "LORA", "--tracker",
                   "http://" + tracker_at + "/announce", "--json"});
    if (pub.exit_code != 0) throw std::runtime_error("publish: " + pub.err);
    auto release = nlohmann::json::parse(pub.out);
    std::string compat = release["infoHashV1Compat"];
    auto tracker = testing::start_opentracker(dir, tracker_port, {compat});
    testing::Process seed(node_args(dir / "seed", ""), (dir / "seed-log").string());
    if (!seed.wait_for_err("running")) throw std::runtime_error("seed did not start: " + seed.err());
    std::string scrape = "/scrape?info_hash=";
    for (std::size_t i = 0; i + 1 < compat.size(); i += 2) scrape += "%" + compat.substr(i, 2);
    for (auto t = Clock::now();; std::this_thread::sleep_for(std::chrono::milliseconds(200))) {
      if (testing::http_get(tracker_at, scrape).body.find("8:completei1e") != std::string::npos) break;
      if (seconds_since(t) > 30) throw std::runtime_error("swarm: the seed never announced itself to opentracker");
    }
    std::vector<std::unique_ptr<testing::Process>> leechers;
    std::vector<fs::path> done;
    std::vector<double> took(n, -1);
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto at = dir / ("a" + std::to_string(i));
      fs::create_directories(at);
      done.push_back(at / "complete");
      auto hook = at / "on-complete.sh";  // aria2 runs it when the download completes
      std::ofstream(hook) << "#!/bin/sh\n: > '" << done.back().string() << "'\n";
      fs::permissions(hook, fs::perms::owner_all);
      leechers.push_back(std::make_unique<testing::Process>(
          std::vector<std::string>{aria2c, "--dir", (at / "files").string(), "--seed-ratio=0.0", "--enable-dht=false",
                                   "--enable-dht6=false", "--bt-enable-lpd=false",
                                   "--listen-port=" + std::to_string(testing::free_port()), "--summary-interval=0",
                                   "--console-log-level=warn", "--file-allocation=none",
                                   "--max-overall-upload-limit=" + std::to_string(kUpload),
                                   "--on-bt-download-complete=" + hook.string(), release["magnetV1Compat"]},
          (at / "log").string()));
    }
    for (int left = n; left > 0; std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
      for (int i = 0; i < n; ++i)
        if (took[i] < 0 && fs::exists(done[i])) {
          took[i] = seconds_since(t0);
          --left;
        }
      for (int i = 0; i < n; ++i)
        if (took[i] < 0 && !fs::exists(done[i]) && leechers[i]->wait(std::chrono::milliseconds(1)) >= 0)
          throw std::runtime_error("swarm: aria2c leecher " + std::to_string(i) +
                                   " exited before completing: " + leechers[i]->out() + leechers[i]->err());
      if (seconds_since(t0) > 900)
        throw std::runtime_error("swarm: aria2c leechers still running after 15 min: " + leechers[0]->err());
    }
    std::uint64_t seed_upload = seed_uploaded(dir / "seed", dir / "cmd", release["releaseId"]);
    for (auto& l : leechers) l->signal(SIGTERM);
    seed.signal(SIGTERM);
    for (auto& l : leechers) l->wait(std::chrono::seconds(20));
    seed.wait(std::chrono::seconds(20));
    tracker->signal(SIGTERM);
    tracker->wait(std::chrono::seconds(5));
    return report(n, false, true, took, seed_upload);
  };
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : o.swarm_runs) {  // checked by main: "4t" 4 together, "8s" 8 staggered, "4a" 4 aria2c
    int n = std::stoi(run);
    runs.push_back(run.back() == 'a' ? aria2_run(n) : one_run(n, run.back() == 's'));
  }
  return {{"fileBytes", kFile}, {"uploadLimit", kUpload}, {"runs", runs}};
}

int main(int argc, char** argv) {
  Options o;
  try {  // a bad option: say which, and how to see the right ones
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&] {
        if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
        return std::string(argv[++i]);
      };
      if (a == "--dir")
        o.dir = value();
      else if (a == "--size-mib")
        o.size_mib = std::stoull(value());
      else if (a == "--releases")
        o.releases = std::stoull(value());
      else if (a == "--posts")
        o.posts = std::stoull(value());
      else if (a == "--ingest-records")
        o.ingest_records = std::stoull(value());
      else if (a == "--sync-records")
        o.sync_records = std::stoull(value());
      else if (a == "--load-seconds")
        o.load_seconds = std::stoi(value());
      else if (a == "--repeats") {
        o.repeats = std::stoi(value());
        if (o.repeats < 1) throw std::runtime_error("--repeats must be at least 1");
      } else if (a == "--swarm-runs") {
        o.swarm_runs.clear();
        std::stringstream list(value());
        for (std::string run; std::getline(list, run, ',');) {
          static const std::regex kRun("([1-9]|[12][0-9]|3[0-2])[tsa]");
          if (!std::regex_match(run, kRun))
            throw std::runtime_error("--swarm-runs: '" + run +
                                     "' is not N (1-32) followed by t (together), s (8 s apart) or a (aria2c)");
          o.swarm_runs.push_back(run);
        }
      } else if (a == "--json")
        o.json = true;
      else if (a == "--help" || a == "-h") {
        std::cout
            << "usage: seedbank-bench [hash] [publish] [fetch] [ingest] [lookup] [reconcile] [sync] [converge] "
               "[resolve] [load] [http] [discover] [preview] [swarm] [share] [trends] [upload] [scale] [--dir DIR] "
               "[--size-mib N] "
               "[--releases N] [--posts N]\n"
               "                      [--ingest-records N] [--repeats N] [--swarm-runs LIST] [--json]\n"
               "Runs every section but scale when none is named. DIR (default $TMPDIR/seedbank-bench)\n"
               "keeps the test file and the indexes between runs. scale is http at Civitai's size:\n"
               "--releases (1,000,000) and --posts (10,000,000 unless given), about 21 GB in DIR.\n"
               "--swarm-runs picks swarm's runs, each N leechers started together (t), 8 s apart (s),\n"
               "or N aria2c leechers together (a): default 4t,4s,8t,8s,4a.\n";
        return 0;
      } else
        o.sections.push_back(a);
    }
  } catch (const std::exception& e) {
    std::cerr << "seedbank-bench: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (o.sections.empty())
    o.sections = {"hash", "publish", "fetch",    "ingest",  "lookup", "reconcile", "sync",   "converge", "resolve",
                  "load", "http",    "discover", "preview", "swarm",  "share",     "trends", "upload"};
  if (o.dir.empty()) o.dir = fs::temp_directory_path() / "seedbank-bench";
  fs::create_directories(o.dir);
  if (sodium_init() < 0) return 1;
  nlohmann::json all;
  try {
    for (const auto& s : o.sections) {
      if (s == "hash")
        all["hash"] = bench_hash(o);
      else if (s == "ingest")
        all["ingest"] = bench_ingest(o);
      else if (s == "lookup")
        all["lookup"] = bench_lookup(o);
      else if (s == "publish")
        all["publish"] = bench_publish(o);
      else if (s == "fetch")
        all["fetch"] = bench_fetch(o);
      else if (s == "reconcile")
        all["reconcile"] = bench_reconcile(o);
      else if (s == "sync")
        all["sync"] = bench_sync(o);
      else if (s == "converge")
        all["converge"] = bench_converge(o);
      else if (s == "resolve")
        all["resolve"] = bench_resolve(o);
      else if (s == "load")
        all["load"] = bench_load(o);
      else if (s == "http")
        all["http"] = bench_http(o);
      else if (s == "discover")
        all["discover"] = bench_discover(o);
      else if (s == "preview")
        all["preview"] = bench_preview(o);
      else if (s == "swarm")
        all["swarm"] = bench_swarm(o);
      else if (s == "share")
        all["share"] = bench_share(o);
      else if (s == "trends")
        all["trends"] = bench_trends(o);
      else if (s == "upload")
        all["upload"] = bench_upload(o);
      else if (s == "scale")
        all["scale"] = bench_scale(o);
      else
        throw std::runtime_error("unknown section '" + s +
                                 "' (hash, publish, fetch, ingest, lookup, reconcile, sync, converge, resolve, load, "
                                 "http, discover, preview, swarm, share, trends, upload, scale)");
    }
  } catch (const std::exception& e) {
    std::cerr << "seedbank-bench: " << e.what() << "\n";
    return 1;
  }
  if (o.json) std::cout << all.dump(2) << "\n";
  return 0;
}
