// Fetching releases between real seedbank processes on 127.0.0.1.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "support/model_files.h"
#include "support/process.h"

namespace fs = std::filesystem;
using seedbank::testing::Process;

namespace {

std::string read_file(const fs::path& p) { return seedbank::testing::slurp(p.string()); }

struct Swarm : seedbank::testing::ScratchDir {
  Swarm() : ScratchDir("seedbank-fetch-") { fs::create_directories(dir / "in"); }

  std::unique_ptr<Process> start_node(const std::string& node, std::string* bt_address) {
    auto p = std::make_unique<Process>(
        std::vector<std::string>{SEEDBANK_BINARY, "--data-dir", (dir / node).string(), "--network", "test", "node",
                                 "--bt-listen", "127.0.0.1:0", "--no-dht", "--no-lan", "--no-port-mapping", "--listen",
                                 "off", "--http", "off"},
        (dir / (node + "-node")).string());
    BOOST_REQUIRE_MESSAGE(p->wait_for_err("running"), p->err());
    std::smatch m;
    std::string err = p->err();
    BOOST_REQUIRE(std::regex_search(err, m, std::regex("BitTorrent on ([0-9.]+:[0-9]+)")));
    *bt_address = m[1];
    return p;
  }
  fs::path model(const std::string& name, std::size_t n, unsigned seed) {
    return seedbank::testing::write_safetensors(dir / "in" / name, n, seed);
  }
  // Publishes on `node`; returns the release JSON.
  nlohmann::json publish(const std::string& node, const fs::path& file, const std::string& name) {
    std::string png = (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png").string();
    auto r = sb(node, {"publish", file.string(), "--name", name, "--type", "Checkpoint", "--image", png, "--json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << ": " << r.err << r.out);
    return nlohmann::json::parse(r.out);
  }
  void copy_record(const std::string& from, const std::string& to, const std::string& id) {
    auto file = dir / (id.substr(0, 8) + ".record");
    BOOST_REQUIRE_EQUAL(sb(from, {"record", "export", id, "--out", file.string()}).exit_code, 0);
    auto imp = sb(to, {"record", "import", file.string()});
    BOOST_REQUIRE_MESSAGE(imp.exit_code == 0, imp.err);
  }
  bool stored(const std::string& node, const std::string& sha256_upper) {
    std::string hex = sha256_upper;
    for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return fs::exists(dir / node / "store" / "sha256" / hex.substr(0, 2) / hex);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fetch_test, Swarm)

BOOST_AUTO_TEST_CASE(fetch_whole_release_and_images_only_from_a_seed) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto file = model("castle.safetensors", 3 * 1024 * 1024 + 17, 1);
  auto release = publish("a", file, "Castle");
  std::string id = release["releaseId"];
  std::string model_sha = release["files"][0]["hashes"]["SHA256"];
  std::string image_sha = release["files"][1]["hashes"]["SHA256"];

  std::string seed_address;
  auto seed = start_node("a", &seed_address);
  copy_record("a", "b", id);
  copy_record("a", "c", id);

  // B: the whole release, found by its AutoV2 hash, placed in a folder too.
  auto b = sb("b", {"fetch", release["files"][0]["hashes"]["AutoV2"], "--peer", seed_address, "--no-dht", "--bt-listen",
                    "127.0.0.1:0", "--timeout", "60", "--out", (dir / "b-out").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(b.exit_code == 0, b.err);
  BOOST_TEST(stored("b", model_sha));
  BOOST_TEST(stored("b", image_sha));
  BOOST_TEST(read_file(dir / "b-out" / "castle.safetensors") == read_file(file));
  BOOST_TEST(fs::exists(dir / "b-out" / "a1111.png"));

  // C: only the sample images.
  auto c = sb("c", {"fetch", id, "--images-only", "--peer", seed_address, "--no-dht", "--bt-listen", "127.0.0.1:0",
                    "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(c.exit_code == 0, c.err);
  BOOST_TEST(stored("c", image_sha));
  BOOST_TEST(!stored("c", model_sha));

  // The seed reports what it serves.
  auto status = sb("a", {"status", "--json"});
  BOOST_REQUIRE_EQUAL(status.exit_code, 0);
  auto s = nlohmann::json::parse(status.out);
  BOOST_REQUIRE_EQUAL(s["torrents"].size(), 1u);
  BOOST_TEST(s["torrents"][0]["state"] == "seeding");
  seed->signal(SIGTERM);
  BOOST_TEST(seed->wait(std::chrono::seconds(20)) == 0);
  BOOST_TEST(!fs::is_empty(dir / "a" / "resume"));  // resume data saved on SIGTERM
}

BOOST_AUTO_TEST_CASE(corrupted_seed_data_never_reaches_the_fetchers_store) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto file = model("bad.safetensors", 2 * 1024 * 1024, 2);
  auto release = publish("a", file, "Bad Seed");
  std::string id = release["releaseId"];
  std::string model_sha = release["files"][0]["hashes"]["SHA256"];
  // Flip one byte of the seed's stored copy.
  std::string hex = model_sha;
  for (auto& ch : hex) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto stored_path = dir / "a" / "store" / "sha256" / hex.substr(0, 2) / hex;
  {
    std::fstream f(stored_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024 * 1024);
    f.put('\x42' ^ static_cast<char>(f.peek()));
  }
  std::string seed_address;
  auto seed = start_node("a", &seed_address);
  copy_record("a", "d", id);
  auto d = sb("d", {"fetch", id, "--peer", seed_address, "--no-dht", "--bt-listen", "127.0.0.1:0", "--timeout", "12"});
  BOOST_TEST(d.exit_code != 0);
  BOOST_TEST(!stored("d", model_sha));
}

BOOST_AUTO_TEST_CASE(a_killed_fetch_resumes_without_starting_over) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  const std::size_t size = 8 * 1024 * 1024;
  auto release = publish("a", model("big.safetensors", size, 3), "Big");
  std::string id = release["releaseId"];
  std::string seed_address;
  auto seed = start_node("a", &seed_address);
  copy_record("a", "b", id);
  {
    // At 1 MB/s the fetch is still running when it is killed.
    Process slow({SEEDBANK_BINARY, "--data-dir", (dir / "b").string(), "--network", "test", "fetch", id, "--peer",
                  seed_address, "--no-dht", "--bt-listen", "127.0.0.1:0", "--download-limit", "1000000"},
                 (dir / "slow").string());
    // Kill it once at least 2 MiB have reached the disk, after the resume
    // data saved once its files were checked (listing no pieces) and before
    // the next save: the restart must check what is on disk, not trust it.
    auto resume_saved = [&] {
      std::error_code ec;
      return fs::exists(dir / "b" / "resume", ec) && !fs::is_empty(dir / "b" / "resume", ec);
    };
    auto on_disk = [&] {
      std::uint64_t bytes = 0;
      std::error_code ec;
      for (auto& e : fs::recursive_directory_iterator(dir / "b" / "partial", ec)) {
        struct stat st {};
        if (e.is_regular_file() && ::stat(e.path().c_str(), &st) == 0)
          bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
      }
      return bytes;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while ((on_disk() < 2 * 1024 * 1024 || !resume_saved()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    BOOST_REQUIRE_MESSAGE(on_disk() >= 2 * 1024 * 1024, "the slow fetch never got going: " << slow.err());
    BOOST_REQUIRE_MESSAGE(resume_saved(), "the fetch saved no resume data: " << slow.err());
    slow.signal(SIGKILL);
    slow.wait(std::chrono::seconds(5));
  }
  BOOST_TEST(!stored("b", release["files"][0]["hashes"]["SHA256"]));
  auto again = sb("b", {"fetch", id, "--peer", seed_address, "--no-dht", "--bt-listen", "127.0.0.1:0", "--timeout",
                        "60", "--json"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(stored("b", release["files"][0]["hashes"]["SHA256"]));
  auto j = nlohmann::json::parse(again.out);
  std::uint64_t downloaded = j["status"]["downloaded"];
  BOOST_TEST(downloaded < size - 1024 * 1024, "downloaded " << downloaded << " of " << size << " again");
}

BOOST_AUTO_TEST_CASE(a_restarted_node_resumes_its_fetch_by_itself) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  const std::size_t size = 6 * 1024 * 1024;
  auto release = publish("a", model("resume.safetensors", size, 6), "Resumed");
  std::string id = release["releaseId"];
  std::string model_sha = release["files"][0]["hashes"]["SHA256"];
  std::string a_address, b_address;
  auto a = start_node("a", &a_address);
  copy_record("a", "b", id);
  {
    // B's node downloads slowly; stop it part-way with SIGTERM.
    Process b({SEEDBANK_BINARY, "--data-dir", (dir / "b").string(), "--network", "test", "node", "--bt-listen",
               "127.0.0.1:0", "--no-dht", "--no-lan", "--no-port-mapping", "--listen", "off", "--http", "off",
               "--download-limit", "1000000"},
              (dir / "b-node1").string());
    BOOST_REQUIRE_MESSAGE(b.wait_for_err("running"), b.err());
    auto started = sb("b", {"fetch", id, "--peer", a_address, "--no-dht", "--timeout", "2"});  // the node goes on
    BOOST_TEST(started.exit_code != 0);  // not done within 2 s at 1 MB/s
    b.signal(SIGTERM);
    BOOST_REQUIRE_EQUAL(b.wait(std::chrono::seconds(20)), 0);
  }
  BOOST_TEST(!stored("b", model_sha));
  BOOST_TEST(!fs::is_empty(dir / "b" / "resume"));
  // Restarted without any fetch command: it resumes from its resume data,
  // and A is found again through the peer list saved with it.
  auto b = start_node("b", &b_address);
  nlohmann::json status;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    status = nlohmann::json::parse(sb("b", {"status", "--json"}).out);
  } while (!(status["torrents"].size() == 1 && status["torrents"][0]["complete"] == true) &&
           std::chrono::steady_clock::now() < deadline);
  BOOST_REQUIRE_EQUAL(status["torrents"].size(), 1u);
  BOOST_TEST(status["torrents"][0]["complete"] == true, status.dump());
  BOOST_TEST(stored("b", model_sha));
}

BOOST_AUTO_TEST_CASE(another_seed_finishes_when_the_first_dies) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  const std::size_t size = 8 * 1024 * 1024;
  auto release = publish("a", model("twice.safetensors", size, 4), "Twice Seeded");
  std::string id = release["releaseId"];
  std::string a_address, c_address;
  auto a = start_node("a", &a_address);
  copy_record("a", "c", id);
  copy_record("a", "b", id);
  auto c_fetch =
      sb("c", {"fetch", id, "--peer", a_address, "--no-dht", "--bt-listen", "127.0.0.1:0", "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(c_fetch.exit_code == 0, c_fetch.err);
  auto c = start_node("c", &c_address);

  Process b(
      {SEEDBANK_BINARY, "--data-dir", (dir / "b").string(), "--network", "test", "fetch", id, "--peer", a_address,
       "--peer", c_address, "--no-dht", "--bt-listen", "127.0.0.1:0", "--download-limit", "2000000", "--timeout", "90"},
      (dir / "b-fetch").string());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  a->signal(SIGKILL);
  BOOST_TEST(b.wait(std::chrono::seconds(90)) == 0, b.err());
  BOOST_TEST(stored("b", release["files"][0]["hashes"]["SHA256"]));
}

BOOST_AUTO_TEST_CASE(store_quota_refuses_a_fetch_that_does_not_fit) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto release = publish("a", model("quota.safetensors", 3 * 1024 * 1024, 5), "Quota");
  std::string id = release["releaseId"];
  copy_record("a", "b", id);
  auto r =
      sb("b", {"fetch", id, "--no-dht", "--bt-listen", "127.0.0.1:0", "--store-quota", "1000000", "--timeout", "5"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("quota") != std::string::npos, r.err);
  BOOST_TEST((!fs::exists(dir / "b" / "partial") || fs::is_empty(dir / "b" / "partial")));
}

BOOST_AUTO_TEST_CASE(a_full_disk_stops_the_fetch_clearly_and_it_continues_once_space_is_freed) {
  // B's data dir lives on a 10 MiB tmpfs (mounting needs root, as in CI).
  auto disk = dir / "small-disk";
  fs::create_directories(disk);
  if (::geteuid() != 0 || ::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=10m") != 0) {
    BOOST_TEST_MESSAGE("skipped: mounting a small tmpfs needs root");
    return;
  }
  struct Unmount {
    fs::path path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{disk};

  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto file = model("big.safetensors", 7 * 1024 * 1024, 9);
  auto release = publish("a", file, "Big");
  std::string id = release["releaseId"];
  std::string seed_address;
  auto seed = start_node("a", &seed_address);
  copy_record("a", "small-disk/b", id);
  std::ofstream(disk / "filler", std::ios::binary) << std::string(4 * 1024 * 1024, 'x');

  auto full = sb("small-disk/b",
                 {"fetch", id, "--peer", seed_address, "--no-dht", "--bt-listen", "127.0.0.1:0", "--timeout", "30"});
  BOOST_TEST(full.exit_code == 1, full.err);
  BOOST_TEST(full.err.find("bytes free") != std::string::npos, full.err);
  BOOST_TEST(full.err.find("free space") != std::string::npos, full.err);
  BOOST_TEST(!stored("small-disk/b", release["files"][0]["hashes"]["SHA256"]));

  fs::remove(disk / "filler");
  auto retry = sb("small-disk/b", {"fetch", id, "--peer", seed_address, "--no-dht", "--bt-listen", "127.0.0.1:0",
                                   "--timeout", "60", "--out", (dir / "b-out").string()});
  BOOST_REQUIRE_MESSAGE(retry.exit_code == 0, retry.err);
  BOOST_TEST(stored("small-disk/b", release["files"][0]["hashes"]["SHA256"]));
  BOOST_TEST(read_file(dir / "b-out" / "big.safetensors") == read_file(file));
}

BOOST_AUTO_TEST_CASE(unknown_release_is_not_found) {
  auto r = sb("e", {"fetch", "0123456789abcdef0123", "--no-dht", "--timeout", "5"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.find("record import") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
