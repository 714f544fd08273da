// A few real `seedbank node` processes on 127.0.0.1 with gossip, for
// integration tests: start them, run commands against their data dirs,
// wait for something to become true.
#pragma once

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/protocol/record.h"
#include "support/process.h"

namespace seedbank::testing {

namespace fs = std::filesystem;

struct Net : ScratchDir {
  std::map<std::string, std::string> http;  // node -> its HTTP API's HOST:PORT, once started
  Net() : ScratchDir("seedbank-net-") {}

  // Starts a node; returns it and its gossip address.
  std::unique_ptr<Process> start(const std::string& node, std::vector<std::string> bootstrap, std::string* gossip,
                                 std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--bt-listen", "127.0.0.1:0", "--no-dht",        "--no-lan", "--no-port-mapping",
                                  "--listen",    "127.0.0.1:0", "--sync-interval", "500"};
    for (const auto& b : bootstrap) args.insert(args.end(), {"--bootstrap", b});
    args.insert(args.end(), extra.begin(), extra.end());
    return launch(node, args, gossip);
  }
  // Starts `seedbank --network test node ARGS... --http 127.0.0.1:0 --bt-log
  // ...` on `node`'s data dir; returns it, its gossip address and (when
  // asked) its BitTorrent address.
  std::unique_ptr<Process> launch(const std::string& node, const std::vector<std::string>& node_args,
                                  std::string* gossip, std::string* bt = nullptr, const std::string& network = "test") {
    std::vector<std::string> args{SEEDBANK_BINARY, "--data-dir", (dir / node).string(), "--network", network, "node"};
    args.insert(args.end(), node_args.begin(), node_args.end());
    args.insert(args.end(), {"--http", "127.0.0.1:0", "--bt-log", (dir / (node + "-bt.log")).string()});
    auto p = std::make_unique<Process>(args, (dir / (node + "-node-" + std::to_string(++calls))).string());
    BOOST_REQUIRE_MESSAGE(p->wait_for_err("running"), p->err());
    std::smatch m;
    std::string err = p->err();
    BOOST_REQUIRE(std::regex_search(err, m, std::regex("gossip on ([0-9.]+:[0-9]+)")));
    *gossip = m[1];
    if (bt && std::regex_search(err, m, std::regex("BitTorrent on ([0-9.]+:[0-9]+)"))) *bt = m[1];
    if (std::regex_search(err, m, std::regex("API on http://([0-9.]+:[0-9]+)/"))) http[node] = m[1];
    return p;
  }
  // The last `lines` lines of `node`'s BitTorrent log (--bt-log), for a
  // failure message when a download does not move.
  std::string bt_log(const std::string& node, std::size_t lines = 150) {
    std::ifstream in(dir / (node + "-bt.log"));
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(std::move(line));
      if (tail.size() > lines) tail.pop_front();
    }
    std::string out;
    for (const auto& line : tail) out += line + "\n";
    return out;
  }
  std::uint64_t records(const std::string& node) {
    auto r = sb(node, {"status", "--json"});
    if (r.exit_code != 0) return 0;
    return nlohmann::json::parse(r.out)["records"].get<std::uint64_t>();
  }
  bool has(const std::string& node, const std::string& id) {
    return sb(node, {"record", "export", id, "--out", (dir / "probe").string()}).exit_code == 0;
  }
  template <class F>
  bool eventually(F f, std::chrono::seconds limit = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return f();
  }
  // Fills `node`'s index directly (no node running yet): fast setup for
  // tests that need many records.
  void seed_index(const std::string& node, const std::vector<protocol::Bytes>& records) {
    indexer::IndexOptions o;
    o.dir = dir / node / "index";
    o.network = "test";
    fs::create_directories(o.dir);
    auto index = indexer::Index::open(o);
    BOOST_REQUIRE(index.ok());
    for (const auto& out : (*index)->ingest_batch(records)) BOOST_REQUIRE(out.status == indexer::IngestStatus::added);
  }
  // Writes signed records to files and imports them on `node`.
  std::vector<std::string> import(const std::string& node, const std::vector<protocol::Bytes>& records) {
    std::vector<std::string> args{"record", "import"}, ids;
    for (std::size_t i = 0; i < records.size(); ++i) {
      auto f = dir / (node + "-rec-" + std::to_string(calls) + "-" + std::to_string(i));
      std::ofstream(f, std::ios::binary)
          .write(reinterpret_cast<const char*>(records[i].data()), static_cast<long>(records[i].size()));
      args.push_back(f.string());
      ids.push_back(protocol::to_hex(protocol::record_id_of(records[i])));
    }
    auto r = sb(node, args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return ids;
  }
};

// Three nodes in a line, A <- B <- C, and the release A published.
struct NodeLine : Net {
  std::string a, b, c;  // gossip addresses
  std::unique_ptr<Process> na, nb, nc;
  nlohmann::json release;  // `publish --json` on A

  // Makes A's key and publishes `file` there with `options` (A's node need
  // not run yet).
  void publish_on_a(const fs::path& file, std::vector<std::string> options) {
    BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
    options.insert(options.begin(), {"publish", file.string()});
    options.push_back("--json");
    auto pub = sb("a", options);
    BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
    release = nlohmann::json::parse(pub.out);
  }
  // Starts A, then B dialling A, then C dialling only B.
  void start_line(const std::vector<std::string>& a_args, const std::vector<std::string>& b_args) {
    na = start("a", {}, &a, a_args);
    nb = start("b", {a}, &b, b_args);
    nc = start("c", {b}, &c, {"--outbound", "1"});
  }
};

}  // namespace seedbank::testing
