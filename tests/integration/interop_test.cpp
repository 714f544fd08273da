// Interoperability with an independent BitTorrent client: Debian's aria2c
// and a local opentracker on 127.0.0.1. aria2 1.36 cannot load BEP 52
// torrents, so it uses a release's v1-compat form (same files and pieces);
// in both directions the peers find each other only through the tracker.

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "support/http_client.h"
#include "support/model_files.h"
#include "support/process.h"
#include "support/tracker.h"

namespace fs = std::filesystem;
using seedbank::testing::Process;

namespace {

using seedbank::testing::free_port;
using seedbank::testing::which;

struct Interop : seedbank::testing::ScratchDir {
  Interop() : ScratchDir("seedbank-interop-") { fs::create_directories(dir / "in"); }

  std::unique_ptr<Process> spawn(const std::vector<std::string>& args, const std::string& name) {
    return std::make_unique<Process>(args, (dir / name).string());
  }
  // opentracker on 127.0.0.1 that tracks only the listed info-hashes.
  std::unique_ptr<Process> start_tracker(int port, const std::vector<std::string>& hashes) {
    try {
      return seedbank::testing::start_opentracker(dir, port, hashes);
    } catch (const std::exception& e) {
      BOOST_FAIL(e.what());
    }
    return nullptr;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(interop_test, Interop)

BOOST_AUTO_TEST_CASE(aria2c_fetches_from_a_node_and_a_node_fetches_from_aria2c_through_opentracker) {
  std::string aria2c = which("aria2c");
  BOOST_REQUIRE_MESSAGE(!aria2c.empty(), "aria2c is not installed (./test.sh installs it: apt-get install aria2)");
  int tracker_port = free_port();
  std::string announce = "http://127.0.0.1:" + std::to_string(tracker_port) + "/announce";

  // A release of two files (so the torrent has a pad file) with a tracker.
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto model = seedbank::testing::write_safetensors(dir / "in" / "lantern.safetensors", 2 * 1024 * 1024 + 999, 7);
  std::string png = (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png").string();
  auto pub = sb("a", {"publish", model.string(), "--name", "Lantern", "--type", "LORA", "--image", png, "--tracker",
                      announce, "--json"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  auto release = nlohmann::json::parse(pub.out);
  std::string id = release["releaseId"];
  std::string compat_hash = release["infoHashV1Compat"];
  std::string magnet = release["magnetV1Compat"];
  BOOST_TEST(magnet.find("xt=urn:btih:" + compat_hash) != std::string::npos);
  BOOST_TEST(magnet.find("tr=http%3A%2F%2F127.0.0.1%3A" + std::to_string(tracker_port)) != std::string::npos);
  // A second release with no tracker of its own: the node's --tracker
  // announces it.
  auto moth = seedbank::testing::write_safetensors(dir / "in" / "moth.safetensors", 700 * 1024 + 3, 8);
  auto pub2 = sb("a", {"publish", moth.string(), "--name", "Moth", "--type", "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(pub2.exit_code == 0, pub2.err);
  auto release2 = nlohmann::json::parse(pub2.out);
  BOOST_TEST(release2["magnetV1Compat"].get<std::string>().find("&tr=") == std::string::npos);
  auto tracker = start_tracker(tracker_port, {compat_hash, release["infoHashV1"].get<std::string>(),
                                              release2["infoHashV1Compat"].get<std::string>()});

  // 1. aria2c, given only the magnet link, finds the node through the
  //    tracker, fetches the info dictionary from it, then the files.
  auto seed = spawn(
      {SEEDBANK_BINARY, "--data-dir", (dir / "a").string(), "--network", "test", "node", "--bt-listen", "127.0.0.1:0",
       "--no-dht", "--no-lan", "--no-port-mapping", "--listen", "off", "--http", "off", "--tracker", announce},
      "a-node");
  BOOST_REQUIRE_MESSAGE(seed->wait_for_err("running"), seed->err());
  auto got = dir / "aria2-got";
  auto leech =
      spawn({aria2c, "--dir", got.string(), "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
             "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--listen-port=" + std::to_string(free_port()),
             "--summary-interval=0", "--console-log-level=warn", "--bt-stop-timeout=60", magnet},
            "aria2-leech");
  int leech_exit = leech->wait(std::chrono::seconds(90));
  BOOST_REQUIRE_MESSAGE(leech_exit == 0, "aria2c exit " << leech_exit << ": " << leech->out() << leech->err());
  std::string torrent_name = release["torrentName"];
  BOOST_TEST(seedbank::testing::slurp((got / torrent_name / "lantern.safetensors").string()) ==
             seedbank::testing::slurp(model.string()));
  BOOST_TEST(seedbank::testing::slurp((got / torrent_name / "images" / "a1111.png").string()) ==
             seedbank::testing::slurp(png));
  {
    // The tracker-less release, found through the node's --tracker.
    std::string magnet2 = release2["magnetV1Compat"].get<std::string>() + "&tr=" + "http%3A%2F%2F127.0.0.1%3A" +
                          std::to_string(tracker_port) + "%2Fannounce";
    auto leech2 = spawn(
        {aria2c, "--dir", (dir / "aria2-moth").string(), "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
         "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--listen-port=" + std::to_string(free_port()),
         "--summary-interval=0", "--console-log-level=warn", "--bt-stop-timeout=60", magnet2},
        "aria2-leech2");
    int rc = leech2->wait(std::chrono::seconds(90));
    BOOST_REQUIRE_MESSAGE(rc == 0, "aria2c exit " << rc << ": " << leech2->out() << leech2->err());
    BOOST_TEST(seedbank::testing::slurp(
                   (dir / "aria2-moth" / release2["torrentName"].get<std::string>() / "moth.safetensors").string()) ==
               seedbank::testing::slurp(moth.string()));
  }
  seed->signal(SIGTERM);
  BOOST_REQUIRE_EQUAL(seed->wait(std::chrono::seconds(20)), 0);

  // 2. Now only aria2c seeds (the v1-compat .torrent over what it fetched).
  //    Node B knows the release record only; its fetch finds no peer in the
  //    hybrid swarm, falls back to the v1-compat swarm, and verifies every
  //    file's SHA-256 before it enters the store.
  auto torrent_file = dir / "compat.torrent";
  auto exported = sb("a", {"torrent", id, "--v1-compat", "--out", torrent_file.string()});
  BOOST_REQUIRE_MESSAGE(exported.exit_code == 0, exported.err);
  auto aria_seed = spawn({aria2c, "--dir", got.string(), "--check-integrity=true", "--seed-ratio=0.0",
                          "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                          "--enable-peer-exchange=false", "--listen-port=" + std::to_string(free_port()),
                          "--summary-interval=0", "--console-log-level=warn", torrent_file.string()},
                         "aria2-seed");
  auto record = dir / "release.record";
  BOOST_REQUIRE_EQUAL(sb("a", {"record", "export", id, "--out", record.string()}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("b", {"record", "import", record.string()}).exit_code, 0);
  auto fetched = sb("b", {"fetch", id, "--no-dht", "--bt-listen", "127.0.0.1:0", "--timeout", "90", "--out",
                          (dir / "b-out").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(fetched.exit_code == 0, "fetch exit " << fetched.exit_code << ": " << fetched.err << fetched.out
                                                              << "\naria2c: " << aria_seed->out());
  auto result = nlohmann::json::parse(fetched.out);
  BOOST_TEST(result["complete"] == true);
  BOOST_TEST(seedbank::testing::slurp((dir / "b-out" / "lantern.safetensors").string()) ==
             seedbank::testing::slurp(model.string()));
  std::string sha = release["files"][0]["hashes"]["SHA256"];
  for (auto& c : sha) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  BOOST_TEST(fs::exists(dir / "b" / "store" / "sha256" / sha.substr(0, 2) / sha));

  // 3. A running node asked for the file over HTTP streams it while it
  //    downloads from the v1-compat swarm: the first bytes reach the client
  //    before the download is finished, from pieces checked against the
  //    signed v1 piece hashes. aria2c uploads slowly so that this is clear.
  aria_seed->signal(SIGTERM);
  (void)aria_seed->wait(std::chrono::seconds(20));
  auto slow_seed =
      spawn({aria2c, "--dir", got.string(), "--check-integrity=true", "--seed-ratio=0.0", "--max-upload-limit=256K",
             "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
             "--listen-port=" + std::to_string(free_port()), "--summary-interval=0", "--console-log-level=warn",
             torrent_file.string()},
            "aria2-slow-seed");
  BOOST_REQUIRE_EQUAL(sb("c", {"record", "import", record.string()}).exit_code, 0);
  auto c = spawn({SEEDBANK_BINARY, "--data-dir", (dir / "c").string(), "--network", "test", "node", "--bt-listen",
                  "127.0.0.1:0", "--no-dht", "--no-lan", "--no-port-mapping", "--listen", "off", "--http",
                  "127.0.0.1:0", "--bt-log", (dir / "c-bt.log").string()},
                 "c-node");
  BOOST_REQUIRE_MESSAGE(c->wait_for_err("running"), c->err());
  std::smatch m;
  std::string err = c->err();
  BOOST_REQUIRE(std::regex_search(err, m, std::regex("API on http://([0-9.]+:[0-9]+)/")));
  std::string http = m[1];
  auto version = seedbank::testing::http_get(http, "/api/v1/model-versions/by-hash/" + sha);
  BOOST_REQUIRE_EQUAL(version.status, 200);
  std::string url = nlohmann::json::parse(version.body)["downloadUrl"];
  std::string target = url.substr(url.find("/api/"));
  // C's view of the download when the first body bytes arrived.
  nlohmann::json at_first_bytes;
  auto torrent_on_c = [&] {
    auto st = sb("c", {"status", "--json"});
    if (st.exit_code != 0) return nlohmann::json{{"statusFailed", st.err}};
    auto status = nlohmann::json::parse(st.out);
    for (const auto& t : status["torrents"])
      if (t["releaseId"] == id) return t;
    return nlohmann::json{{"notListed", status}};
  };
  auto reply = seedbank::testing::http_download(http, target, 120, [&] { at_first_bytes = torrent_on_c(); });
  BOOST_REQUIRE_EQUAL(reply.status, 200);
  auto tail = [&] {
    std::ifstream in(dir / "c-bt.log");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.substr(all.size() > 6000 ? all.size() - 6000 : 0);
  };
  BOOST_REQUIRE_MESSAGE(reply.body == seedbank::testing::slurp(model.string()),
                        "streamed " << reply.body.size() << " bytes; C's log:\n"
                                    << c->err() << "\nC's BitTorrent log:\n"
                                    << tail());
  // Streamed, not served once complete: the download was still under way.
  // (The lookup by hash started fetching the sample image, which may be
  // stored by then: the model file is not.)
  BOOST_TEST((at_first_bytes.value("filesStored", -1) < at_first_bytes.value("filesWanted", 0) &&
              at_first_bytes.value("done", 0ull) < at_first_bytes.value("wanted", 0ull)),
             "when the first bytes came, C's torrent was " << at_first_bytes.dump() << "; C's BitTorrent log:\n"
                                                           << tail());
  // Then the hybrid torrent rechecks what the fallback wrote, and the file
  // is verified into the store.
  bool in_store = false;
  for (int i = 0; i < 300 && !in_store; ++i) {
    in_store = torrent_on_c().value("allStored", false);
    if (!in_store) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(in_store, torrent_on_c().dump());
  BOOST_TEST(fs::exists(dir / "c" / "store" / "sha256" / sha.substr(0, 2) / sha));
}

BOOST_AUTO_TEST_CASE(v2_only_releases_have_no_v1_compat_form) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto model = seedbank::testing::write_safetensors(dir / "in" / "v2.safetensors", 300 * 1024, 3);
  auto pub = sb("a", {"publish", model.string(), "--name", "Only V2", "--type", "LORA", "--v2-only", "--json"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  auto release = nlohmann::json::parse(pub.out);
  BOOST_TEST(release["infoHashV1Compat"].is_null());
  auto exported = sb("a", {"torrent", release["releaseId"], "--v1-compat", "--out", (dir / "x.torrent").string()});
  BOOST_TEST(exported.exit_code != 0);
  BOOST_TEST(exported.err.find("v2-only") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
