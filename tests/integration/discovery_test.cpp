// Nodes that are given no gossip addresses find each other: on the Mainline
// DHT (a private one here: every node but the first is given only the
// first's BitTorrent port as its DHT router), and by LAN beacons. Real
// libtorrent DHT, real sockets, real processes.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <random>
#include <set>

#include "seedbank/protocol/discovery.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"
#include "support/test_records.h"

namespace fs = std::filesystem;
using namespace seedbank;
using seedbank::testing::Net;
using seedbank::testing::Process;

namespace {

std::vector<protocol::Bytes> releases(std::uint64_t first, std::size_t n) {
  return seedbank::testing::sample_releases(first, n);
}

// A loopback UDP port nothing listens on: a DHT router that is not there.
const std::string kDeadRouter = "127.0.0.1:9";

struct Swarm : Net {
  std::vector<std::string> names;
  std::map<std::string, std::unique_ptr<Process>> procs;
  std::map<std::string, std::string> gossip, bt;

  // A node with the DHT on and no gossip addresses: on `ip`, with `router`
  // as its only DHT router (none: libtorrent's public ones, as for an
  // ordinary node; tests give the first node of a network a router that is
  // not there, kDeadRouter, so they look nothing up outside this machine).
  void node(const std::string& name, const std::string& ip, const std::string& router,
            const std::string& network = "test", std::vector<std::string> extra = {"--no-lan"}) {
    std::vector<std::string> args{"--bt-listen",     ip + ":0", "--listen",         ip + ":0",
                                  "--sync-interval", "500",     "--no-port-mapping"};
    if (!router.empty()) args.insert(args.end(), {"--dht-bootstrap", router});
    args.insert(args.end(), extra.begin(), extra.end());
    procs[name] = launch(name, args, &gossip[name], &bt[name], network);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  nlohmann::json peers(const std::string& name) {
    auto r = sb(name, {"peers", "--json"});
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }
  std::size_t open_sessions(const std::string& name) {
    std::size_t n = 0;
    for (const auto& p : peers(name).value("peers", nlohmann::json::array())) n += p.value("state", "") == "open";
    return n;
  }
  std::set<std::string> peer_ids(const std::string& name) {
    std::set<std::string> out;
    for (const auto& p : peers(name).value("peers", nlohmann::json::array()))
      if (p.value("state", "") == "open") out.insert(p.value("nodeId", ""));
    return out;
  }
  std::string node_id(const std::string& name) { return peers(name).value("nodeId", ""); }
  // Whether every running node has `n` open sessions; waits up to a minute.
  bool all_have_sessions(std::size_t n) {
    return eventually(
        [&] {
          for (const auto& name : names)
            if (procs.count(name) && open_sessions(name) < n) return false;
          return true;
        },
        std::chrono::seconds(60));
  }
  // Whether every running node has record `id`; waits up to a minute.
  bool all_have(const std::string& id) {
    return eventually(
        [&] {
          for (const auto& name : names)
            if (procs.count(name) && !has(name, id)) return false;
          return true;
        },
        std::chrono::seconds(60));
  }
  std::string sessions_report() {
    std::string out;
    for (const auto& n : names)
      if (procs.count(n)) out += n + ": " + std::to_string(open_sessions(n)) + " sessions; ";
    return out;
  }
  void stop(const std::string& name) {
    procs[name]->signal(SIGTERM);
    BOOST_REQUIRE_EQUAL(procs[name]->wait(std::chrono::seconds(20)), 0);
    procs.erase(name);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(discovery_test, Swarm)

BOOST_AUTO_TEST_CASE(nodes_given_only_a_dht_router_find_each_other_and_rejoin_after_a_restart) {
  // An ordinary node that knows no other: given only a router that is not
  // there (its default, the public routers, would take the test off this
  // machine).
  node("n0", "127.0.0.1", kDeadRouter);
  for (int i = 1; i < 5; ++i) node("n" + std::to_string(i), "127.0.0.1", bt["n0"]);
  BOOST_TEST(all_have_sessions(2), sessions_report());
  // Where the addresses came from, and what the DHT cost.
  auto p1 = peers("n1");
  BOOST_TEST(p1["discovery"]["rendezvous"].get<bool>());
  BOOST_TEST(p1["discovery"]["rendezvousKey"] == protocol::to_hex(protocol::rendezvous_key("test")));
  BOOST_TEST(p1["discovery"]["dhtBytesOut"].get<std::uint64_t>() > 0u);
  std::size_t from_dht = 0;
  for (const auto& n : names) from_dht += peers(n)["discovery"]["foundDht"].get<std::size_t>();
  BOOST_TEST(from_dht >= 4u);
  // Every address dialled came from the DHT, or from a peer that was.
  for (const auto& n : names) {
    auto j = peers(n);  // a temporary would end before the loop
    for (const auto& p : j["peers"]) {
      auto source = p.value("source", "");
      BOOST_TEST((source == "dht" || source == "peer" || source == "inbound"), n << ": " << p.dump());
    }
  }

  auto ids = import("n4", releases(1, 1));
  BOOST_TEST(all_have(ids[0]));

  // n3 restarts with its saved DHT state only: no peers.json, and the
  // router it was given is gone.
  stop("n3");
  auto gone = bt["n0"];
  stop("n0");
  BOOST_REQUIRE(fs::exists(dir / "n3" / "session.state"));
  fs::remove(dir / "n3" / "peers.json");
  node("n3", "127.0.0.1", gone);
  BOOST_TEST(eventually([&] { return open_sessions("n3") >= 1; }, std::chrono::seconds(60)), sessions_report());
  auto later = import("n1", releases(2, 1));
  BOOST_TEST(eventually([&] { return has("n3", later[0]); }, std::chrono::seconds(30)));
}

BOOST_AUTO_TEST_CASE(resolve_with_no_node_and_no_address_finds_the_network_on_the_dht) {
  node("r0", "127.0.0.1", kDeadRouter);
  node("r1", "127.0.0.1", bt["r0"]);
  node("r2", "127.0.0.1", bt["r0"]);
  BOOST_TEST(eventually([&] { return open_sessions("r1") >= 1 && open_sessions("r2") >= 1; }), sessions_report());
  BOOST_REQUIRE_EQUAL(sb("r1", {"keygen"}).exit_code, 0);
  auto model = seedbank::testing::write_safetensors(dir / "beacon.safetensors", 200000, 11);
  auto pub =
      sb("r1", {"publish", model.string(), "--name", "Beacon", "--type", "LORA", "--base-model", "SD 1.5", "--json"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  auto autov2 = nlohmann::json::parse(pub.out)["files"][0]["hashes"]["AutoV2"].get<std::string>();
  // Every node holds the release first: the resolver asks whichever node it
  // reaches first, and gossip reaching r0 and r2 is not what this tests.
  auto release = nlohmann::json::parse(pub.out)["releaseId"].get<std::string>();
  BOOST_TEST_REQUIRE(eventually([&] { return has("r0", release) && has("r2", release); }), sessions_report());
  // A fresh data dir: no node, no peers.json, no bootstrap list; only a
  // DHT router, as a user's first `resolve` has the public ones.
  auto r = sb("x", {"resolve", autov2, "--dht-bootstrap", bt["r0"], "--bt-listen", "127.0.0.1:0", "--out",
                    (dir / "placed").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(fs::file_size(dir / "placed" / "beacon.safetensors") == fs::file_size(model));
  BOOST_TEST(r.err.find("address from dht") != std::string::npos, r.err);
  // A command leaves no control socket behind (a later node would take
  // it for a live one).
  BOOST_TEST(!fs::exists(dir / "x" / "control.sock"));
}

BOOST_AUTO_TEST_CASE(resolve_with_nothing_to_find_gives_up_soon) {
  // Offline: no node, no address, a DHT with no router. The command says
  // so in seconds rather than waiting out the DHT's 30 s; also once a
  // first command has left an empty peers.json behind.
  for (int run = 0; run < 2; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = sb("offline", {"resolve", "0123456789", "--dht-bootstrap", kDeadRouter, "--bt-listen", "127.0.0.1:0"});
    auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.exit_code == 6, r.err);  // no peers
    BOOST_TEST(r.err.find("no peer could be asked") != std::string::npos, r.err);
    BOOST_TEST(took < std::chrono::seconds(15),
               "run " << run << " took " << std::chrono::duration<double>(took).count() << " s");
  }
}

BOOST_AUTO_TEST_CASE(nodes_on_distinct_loopback_addresses_find_each_other) {
  // 127.0.0.2 ... 127.0.0.6: each node its own address, as separate hosts.
  node("h2", "127.0.0.2", kDeadRouter);
  for (int i = 3; i <= 6; ++i) node("h" + std::to_string(i), "127.0.0." + std::to_string(i), bt["h2"]);
  BOOST_TEST(all_have_sessions(1), sessions_report());
  auto ids = import("h6", releases(10, 1));
  BOOST_TEST(all_have(ids[0]));
  // Peers were dialled at the addresses the DHT gave: the node's own.
  auto dialled_other_address = [&] {
    for (const auto& n : names) {
      auto j = peers(n);  // a temporary would end before the loop
      for (const auto& p : j["peers"])
        if (p.value("outbound", false) && p.value("source", "") == "dht" &&
            p.value("address", "").rfind("127.0.0.1:", 0) != 0)
          return true;
    }
    return false;
  };
  BOOST_TEST(eventually(dialled_other_address), [&] {
    std::string s;
    for (const auto& n : names) s += n + " " + peers(n).dump() + "\n";
    return s;
  }());
}

BOOST_AUTO_TEST_CASE(two_networks_on_one_dht_never_meet) {
  node("a0", "127.0.0.1", kDeadRouter, "net-a");
  node("a1", "127.0.0.1", bt["a0"], "net-a");
  node("b0", "127.0.0.1", bt["a0"], "net-b");
  node("b1", "127.0.0.1", bt["a0"], "net-b");
  auto a0 = node_id("a0"), a1 = node_id("a1"), b0 = node_id("b0"), b1 = node_id("b1");
  BOOST_TEST(eventually([&] { return peer_ids("a0").count(a1) && peer_ids("b0").count(b1); }, std::chrono::seconds(60)),
             sessions_report());
  // Records signed for net-b stay there (the index refuses another
  // network's records anyway; the point is that no session forms).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  for (const auto& [n, others] : std::map<std::string, std::set<std::string>>{
           {"a0", {b0, b1}}, {"a1", {b0, b1}}, {"b0", {a0, a1}}, {"b1", {a0, a1}}})
    for (const auto& id : peer_ids(n)) BOOST_TEST(!others.count(id), n << " has a session with another network's node");
  for (const auto& n : names) BOOST_TEST(peers(n)["bans"].get<std::uint64_t>() == 0u, n);
}

BOOST_AUTO_TEST_CASE(two_nodes_on_one_lan_find_each_other_by_beacons) {
  // Broadcast on the loopback network: the real beacon code on real
  // sockets, on hosts whose loopback has no multicast.
  std::mt19937 rng(std::random_device{}());
  auto beacon = "127.255.255.255:" + std::to_string(20000 + rng() % 12000);  // below the ephemeral ports
  node("l0", "127.0.0.1", "", "test", {"--no-dht", "--lan-beacon", beacon});
  node("l1", "127.0.0.1", "", "test", {"--no-dht", "--lan-beacon", beacon});
  BOOST_TEST(eventually([&] { return open_sessions("l0") >= 1 && open_sessions("l1") >= 1; }), sessions_report());
  auto from_lan = [&] {
    for (const auto& n : names) {
      auto j = peers(n);  // a temporary would end before the loop
      for (const auto& p : j["peers"])
        if (p.value("source", "") == "lan" && p.value("state", "") == "open") return true;
    }
    return false;
  };
  BOOST_TEST(eventually(from_lan), peers("l0").dump() + "\n" + peers("l1").dump());
  BOOST_TEST(peers("l0")["discovery"]["beaconsReceived"].get<std::uint64_t>() >= 1u);
  auto ids = import("l0", releases(20, 1));
  BOOST_TEST(eventually([&] { return has("l1", ids[0]); }));
}

BOOST_AUTO_TEST_SUITE_END()
