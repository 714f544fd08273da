// kill -9 at awkward moments, then restart: the index opens, every stored
// record verifies, no file with a wrong hash is visible in the store, and
// the interrupted work completes.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include "seedbank/indexer/index.h"
#include "seedbank/protocol/content_hash.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"
#include "support/test_records.h"

namespace fs = std::filesystem;
using namespace seedbank;
using seedbank::testing::Net;
using seedbank::testing::Process;

namespace {

// Every file under store/sha256 is named by its SHA-256; returns how many
// were checked.
std::size_t check_store(const fs::path& data_dir) {
  std::size_t n = 0;
  auto root = data_dir / "store" / "sha256";
  if (!fs::exists(root)) return 0;
  for (auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    auto d = protocol::hash_file(e.path());
    BOOST_REQUIRE(d.ok());
    BOOST_TEST(d->sha256_hex() == protocol::to_hex_upper(*protocol::from_hex(e.path().filename().string())),
               e.path() << " holds other bytes than its name says");
    ++n;
  }
  return n;
}

// Opens the index directly and verifies every record in it.
std::size_t check_index(const fs::path& data_dir) {
  indexer::IndexOptions o;
  o.dir = data_dir / "index";
  o.network = "test";
  auto index = indexer::Index::open(o);
  BOOST_REQUIRE_MESSAGE(index.ok(), (index.ok() ? std::string() : index.error().message));
  std::size_t n = 0;
  (*index)->for_each_by_time(0, [&](std::uint64_t, const protocol::RecordId& id) {
    auto rec = (*index)->get(id);
    BOOST_REQUIRE(rec.ok());
    auto verified = protocol::verify_record(rec->bytes(), "test");
    BOOST_TEST(verified.ok(), "record " << protocol::to_hex(id) << " does not verify");
    ++n;
    return true;
  });
  BOOST_TEST((*index)->stats().records == n);
  return n;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(crash_test, Net)

BOOST_AUTO_TEST_CASE(killed_during_publish) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto model = seedbank::testing::write_safetensors(dir / "big.safetensors", 96 * 1024 * 1024, 5);
  for (int delay_ms : {5, 40, 120, 250}) {
    Process p({SEEDBANK_BINARY, "--data-dir", (dir / "a").string(), "--network", "test", "publish", model.string(),
               "--name", "Crash " + std::to_string(delay_ms), "--type", "Checkpoint"},
              (dir / ("publish-" + std::to_string(delay_ms))).string());
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    p.signal(SIGKILL);
    p.wait(std::chrono::seconds(10));
    check_index(dir / "a");
    check_store(dir / "a");
  }
  // Afterwards a publish completes, and the store holds exactly that file.
  auto done = sb("a", {"publish", model.string(), "--name", "Crash Done", "--type", "Checkpoint", "--json"});
  BOOST_REQUIRE_MESSAGE(done.exit_code == 0, done.err);
  BOOST_TEST(check_store(dir / "a") == 1u);
  BOOST_TEST(check_index(dir / "a") >= 1u);
}

BOOST_AUTO_TEST_CASE(killed_while_ingesting_a_large_sync) {
  static protocol::SecretKey key = protocol::SecretKey::generate();
  std::vector<protocol::Bytes> batch;
  // One a second over the last 5.5 hours: a busy author, under the
  // per-author limit on records from the last hour.
  for (std::uint64_t i = 0; i < 20000; ++i)
    batch.push_back(seedbank::testing::sign_release(key, seedbank::testing::sample_release(i),
                                                    seedbank::testing::now_ms() - 1000 * i));
  seed_index("big", batch);
  std::string big, fresh;
  auto nbig = start("big", {}, &big);
  {
    auto nfresh = start("fresh", {big}, &fresh);
    // Kill it part-way through (the sync takes about a second).
    BOOST_REQUIRE(eventually([&] { return records("fresh") > 0; }, std::chrono::seconds(30)));
    nfresh->signal(SIGKILL);
    nfresh->wait(std::chrono::seconds(10));
  }
  auto kept = check_index(dir / "fresh");
  BOOST_TEST_MESSAGE("records kept after kill -9: " << kept);
  auto again = start("fresh", {big}, &fresh);
  BOOST_TEST(eventually([&] { return records("fresh") == 20000u; }, std::chrono::seconds(60)),
             "after the restart the fresh node has " << records("fresh") << "; its log:\n"
                                                     << again->err());
}

BOOST_AUTO_TEST_CASE(killed_during_a_download) {
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
  auto model = seedbank::testing::write_safetensors(dir / "dl.safetensors", 12 * 1024 * 1024, 8);
  auto pub = sb("a", {"publish", model.string(), "--name", "Download", "--type", "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  std::string id = nlohmann::json::parse(pub.out)["releaseId"];
  std::string a;
  auto na = start("a", {}, &a);
  std::string b;
  for (int round = 0; round < 2; ++round) {
    // B is a node fetching slowly; it is killed mid-download, twice.
    auto nb = start("b", {a}, &b, {"--download-limit", "2000000"});
    BOOST_REQUIRE(eventually([&] { return has("b", id); }));
    auto f = sb("b", {"fetch", id, "--timeout", "2"});  // starts it, returns early
    (void)f;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    nb->signal(SIGKILL);
    nb->wait(std::chrono::seconds(10));
    check_store(dir / "b");  // whatever is there is correct
    check_index(dir / "b");
  }
  // Restarted without limits, B finishes by itself from its resume data.
  auto nb = start("b", {a}, &b);
  std::string sha = nlohmann::json::parse(pub.out)["files"][0]["hashes"]["SHA256"];
  for (auto& ch : sha) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  BOOST_TEST(eventually([&] { return fs::exists(dir / "b" / "store" / "sha256" / sha.substr(0, 2) / sha); },
                        std::chrono::seconds(60)));
  BOOST_TEST(check_store(dir / "b") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
