// A crowd fetching one release at once: one seed and three leechers, each
// node's upload limited, all fetches started together. The leechers must
// trade pieces among themselves (rarest-first, the seed offering each
// different pieces), so the seed uploads well under N copies; every file
// still verifies. An HTTP download of a file
// still arriving streams in order, the pieces it needs asked for first.
// Started one after the other, the seed holds its upload for the first.
// No node ever connects to itself.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "support/http_client.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"

namespace fs = std::filesystem;
using nlohmann::json;
using seedbank::testing::Process;

namespace {

// 96 pieces of 256 KiB, three times the verifier's read-ahead window, so
// pieces that arrive ahead of the hashed prefix wait to be read back.
constexpr std::uint64_t kFileBytes = 24u << 20;
constexpr const char* kUploadLimit = "3145728";  // 3 MiB/s a node: the crowd takes ~8 s, a star ~24 s

struct Crowd : seedbank::testing::Net {
  std::string seed_gossip, seed_bt;
  std::unique_ptr<Process> seed;
  std::map<std::string, std::unique_ptr<Process>> leechers;
  std::map<std::string, std::string> bt;  // node -> its BitTorrent HOST:PORT
  json release;

  Crowd() {
    auto file = seedbank::testing::write_safetensors(dir / "crowd.safetensors", kFileBytes, 5);
    BOOST_REQUIRE_EQUAL(sb("seed", {"keygen"}).exit_code, 0);
    auto pub = sb("seed", {"publish", file.string(), "--name", "Crowd", "--type", "LORA", "--json"});
    BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
    release = json::parse(pub.out);
    seed = launch("seed", node_args({}), &seed_gossip, &seed_bt);
    bt["seed"] = seed_bt;
  }
  std::vector<std::string> node_args(const std::vector<std::string>& bootstrap) {
    std::vector<std::string> args{"--bt-listen", "127.0.0.1:0", "--no-dht",        "--no-lan", "--no-port-mapping",
                                  "--listen",    "127.0.0.1:0", "--sync-interval", "500",      "--upload-limit",
                                  kUploadLimit};
    for (const auto& b : bootstrap) args.insert(args.end(), {"--bootstrap", b});
    return args;
  }
  std::string id() const { return release["releaseId"]; }
  void start_leecher(const std::string& name) {
    std::string gossip;
    leechers[name] = launch(name, node_args({seed_gossip}), &gossip, &bt[name]);
    BOOST_REQUIRE(eventually([&] { return has(name, id()); }));
  }
  // `seedbank fetch` of the release on `node`, from the seed.
  std::unique_ptr<Process> start_fetch(const std::string& node) {
    return std::make_unique<Process>(
        std::vector<std::string>{SEEDBANK_BINARY, "--data-dir", (dir / node).string(), "--network", "test", "fetch",
                                 id(), "--peer", seed_bt, "--timeout", "120", "--json"},
        (dir / (node + "-fetch")).string());
  }
  json torrent_of(const std::string& node) {
    auto r = sb(node, {"status", "--json", "--peers"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto status = json::parse(r.out);
    for (const auto& t : status["torrents"])
      if (t["releaseId"] == id()) return t;
    BOOST_FAIL(node << " has no torrent for the release: " << r.out);
    return {};
  }
  // Each node dials its own endpoint at most once a swarm (the hybrid and
  // the v1-compat one), when a peer first names it; that closes at once
  // and libtorrent bans the address. Before: once a second, in every swarm.
  void check_no_self_dials() {
    for (const auto& [node, endpoint] : bt) {
      std::ifstream in(dir / (node + "-bt.log"));
      BOOST_TEST_REQUIRE(static_cast<bool>(in), node << " has no BitTorrent log");
      std::string dials;
      int count = 0;
      for (std::string line; std::getline(in, line);)
        if (line.find("ASYNC_CONNECT [ dst: " + endpoint + " ]") != std::string::npos) {
          ++count;
          dials += line + "\n";
        }
      BOOST_TEST(count <= 2, node << " dialled itself " << count << " times:\n" << dials);
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(swarm_test, Crowd)

BOOST_AUTO_TEST_CASE(leechers_fetching_together_trade_pieces_and_the_seed_uploads_well_under_n_copies) {
  const std::vector<std::string> names{"l1", "l2", "l3"};
  for (const auto& n : names) start_leecher(n);
  std::vector<std::unique_ptr<Process>> fetches;
  for (const auto& n : names) fetches.push_back(start_fetch(n));
  for (std::size_t i = 0; i < names.size(); ++i) {
    int code = fetches[i]->wait(std::chrono::seconds(150));
    BOOST_REQUIRE_MESSAGE(code == 0, names[i] << " fetch exited " << code << ": " << fetches[i]->err() << "\n"
                                              << bt_log(names[i], 60));
    BOOST_TEST(json::parse(fetches[i]->out())["complete"] == true);  // every file passed its SHA-256 check
  }
  // What each leecher got from the other leechers, not from the seed.
  for (const auto& n : names) {
    auto t = torrent_of(n);
    std::uint64_t from_seed = 0, from_others = 0;
    for (const auto& peer : t["peerList"])
      (peer["endpoint"] == seed_bt ? from_seed : from_others) += peer["received"].get<std::uint64_t>();
    BOOST_TEST_MESSAGE(n << ": " << from_seed << " bytes from the seed, " << from_others << " from other leechers");
    BOOST_TEST(from_seed + from_others >= kFileBytes * 9 / 10, n << " counted " << from_seed + from_others << " bytes");
    BOOST_TEST(from_others >= kFileBytes / 5, n << " got only " << from_others << " of " << kFileBytes
                                                << " bytes from other leechers: a star around the seed");
    BOOST_TEST(t["peersSent"].get<int>() >= 2);
  }
  auto s = torrent_of("seed");
  BOOST_TEST_MESSAGE("the seed uploaded " << s["uploaded"].get<std::uint64_t>() << " bytes");
  // A star (each leecher served by the seed alone) needs 3 copies from it;
  // without offering different pieces to each leecher, 1.6-1.9.
  BOOST_TEST(s["uploaded"].get<std::uint64_t>() <= 2 * kFileBytes,
             "the seed uploaded " << s["uploaded"].get<std::uint64_t>() << " bytes for 3 leechers of " << kFileBytes);
  // The seed offered each leecher pieces (SUGGEST_PIECE: only the seed
  // sends them).
  for (const auto& n : names) {
    std::ifstream in(dir / (n + "-bt.log"));
    int offers = 0;
    for (std::string line; std::getline(in, line);)
      offers += line.find("<== SUGGEST_PIECE [ piece: ") != std::string::npos ? 1 : 0;
    BOOST_TEST(offers > 0, n << " was offered no piece by the seed");
  }
  check_no_self_dials();
}

// A crowd that arrives over time: the seed holds its upload for the
// downloader nearest the end, choking one that started well behind it
// (which takes what it can from the first), and lets it go again once
// the first is done. Both files verify.
BOOST_AUTO_TEST_CASE(a_seed_holds_its_upload_for_the_first_of_a_staggered_crowd) {
  start_leecher("l1");
  start_leecher("l2");
  auto first = start_fetch("l1");
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          auto status = json::parse(sb("l1", {"status", "--json"}).out);
                          for (const auto& t : status["torrents"])
                            if (t["releaseId"] == id()) return t["done"].get<std::uint64_t>() >= kFileBytes / 4;
                          return false;  // the fetch has not started yet
                        }),
                        "l1 never got a quarter of the file:\n"
                            << bt_log("l1", 60));
  auto second = start_fetch("l2");
  for (const auto& [name, p] :
       std::vector<std::pair<std::string, Process*>>{{"l1", first.get()}, {"l2", second.get()}}) {
    int code = p->wait(std::chrono::seconds(150));
    BOOST_REQUIRE_MESSAGE(code == 0, name << " fetch exited " << code << ": " << p->err() << "\n" << bt_log(name, 60));
    BOOST_TEST(json::parse(p->out())["complete"] == true);
  }
  // In the seed's log: HOLD_BACK lines name the peer's endpoint; between
  // "choked" and "released" that peer must not be unchoked (libtorrent's
  // own choker must not undo the hold).
  std::ifstream in(dir / "seed-bt.log");
  std::map<std::string, bool> holding;  // endpoint -> held now
  int held = 0, released = 0;
  std::string undone;
  const std::regex endpoint(R"(\] \[([0-9.]+:[0-9]+)\] )");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, endpoint)) continue;
    if (line.find("HOLD_BACK [ choked") != std::string::npos) {
      holding[m[1]] = true;
      ++held;
    } else if (line.find("HOLD_BACK [ released") != std::string::npos) {
      holding[m[1]] = false;
      ++released;
    } else if (line.find("==> UNCHOKE") != std::string::npos && holding[m[1]]) {
      undone += line + "\n";
    }
  }
  BOOST_TEST_MESSAGE("the seed held back a peer " << held << " times, released " << released);
  BOOST_TEST(held > 0, "the seed never held its upload back from l2 for l1");
  BOOST_TEST(released > 0, "the seed never let l2 go");
  BOOST_TEST(undone.empty(), "peers unchoked while held back:\n" << undone);
  check_no_self_dials();
}

BOOST_AUTO_TEST_CASE(an_http_download_of_a_file_still_arriving_gets_its_own_bytes_first) {
  start_leecher("c");
  std::string http = this->http["c"];
  // A client asks for the file's last quarter: those pieces come first
  // (by deadline), while the rest of the fetch runs rarest-first, so the
  // answer is complete long before the file is.
  const std::uint64_t from = kFileBytes - kFileBytes / 4;
  auto sha = release["files"][0]["hashes"]["SHA256"].get<std::string>();
  std::string path = "/api/files/" + seedbank::testing::lower(sha) + "/crowd.safetensors";
  auto tail = seedbank::testing::http_get(http, path, {{"Range", "bytes=" + std::to_string(from) + "-"}});
  BOOST_REQUIRE_MESSAGE(tail.status == 206u, tail.status << " " << tail.body.substr(0, 300));
  auto t = torrent_of("c");
  BOOST_TEST_MESSAGE("when the tail was sent, " << t["done"] << " of " << t["wanted"] << " bytes were here");
  BOOST_TEST(t["done"].get<std::uint64_t>() < t["wanted"].get<std::uint64_t>() * 3 / 4,
             "the tail came only with the whole file: " << t["done"] << " of " << t["wanted"]);
  std::ifstream in(dir / "crowd.safetensors", std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  BOOST_TEST((tail.body == bytes.substr(from)));
  // The whole file, streamed in order while the rest arrives, is the file.
  auto whole = seedbank::testing::http_download(http, path, 120);
  BOOST_REQUIRE_EQUAL(whole.status, 200u);
  BOOST_TEST(seedbank::testing::sha256_hex(whole.body) == seedbank::testing::lower(sha));
}

BOOST_AUTO_TEST_SUITE_END()
