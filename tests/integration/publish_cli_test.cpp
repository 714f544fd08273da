// `seedbank publish` and `seedbank releases`, run as real processes.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/model_files.h"
#include "support/process.h"

namespace fs = std::filesystem;

namespace {

struct PublishCli : seedbank::testing::ScratchDir {
  PublishCli() : ScratchDir("seedbank-pubcli-") {}
  seedbank::testing::ProcessResult sb(std::vector<std::string> args) { return ScratchDir::sb("data", std::move(args)); }
  fs::path model(const std::string& name, std::size_t n, unsigned seed) {
    return seedbank::testing::write_safetensors(dir / name, n, seed, R"({"ss_base_model_version":"sd_v1"})");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(publish_cli_test, PublishCli)

BOOST_AUTO_TEST_CASE(publish_then_list) {
  BOOST_REQUIRE_EQUAL(sb({"keygen"}).exit_code, 0);
  auto file = model("castle.safetensors", 300000, 1);
  std::string png = (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png").string();
  auto r =
      sb({"publish", file.string(), "--name", "Castle Walls", "--version", "v1.0", "--type", "LORA", "--tag",
          "architecture", "--trigger", "castle_walls", "--image", png, "--allow-commercial-use", "Image", "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  BOOST_TEST(j["alreadyPublished"] == false);
  BOOST_TEST(j["type"] == "LORA");
  BOOST_TEST(j["baseModel"] == "SD 1.5");  // from the file's metadata
  std::string id = j["releaseId"];
  BOOST_TEST(id.size() == 64u);
  BOOST_TEST(j["files"].size() == 2u);
  BOOST_TEST(j["files"][0]["hashes"].contains("AutoV3"));
  std::string magnet = j["magnet"];
  BOOST_TEST(magnet.find("xt=urn:btih:") != std::string::npos);
  BOOST_TEST(magnet.find("xt=urn:btmh:1220") != std::string::npos);

  auto again =
      sb({"publish", file.string(), "--name", "Castle Walls", "--version", "v1.0", "--type", "LORA", "--tag",
          "architecture", "--trigger", "castle_walls", "--image", png, "--allow-commercial-use", "Image", "--json"});
  BOOST_REQUIRE_EQUAL(again.exit_code, 0);
  BOOST_TEST(nlohmann::json::parse(again.out)["alreadyPublished"] == true);
  BOOST_TEST(nlohmann::json::parse(again.out)["releaseId"] == id);

  auto list = sb({"releases", "--mine", "--json"});
  BOOST_REQUIRE_EQUAL(list.exit_code, 0);
  auto l = nlohmann::json::parse(list.out);
  BOOST_REQUIRE_EQUAL(l.size(), 1u);
  BOOST_TEST(l[0]["releaseId"] == id);
  BOOST_TEST(l[0]["model"] == "Castle Walls");
}

BOOST_AUTO_TEST_CASE(bad_paths_get_clear_errors_not_crashes_or_hangs) {
  BOOST_REQUIRE_EQUAL(sb({"keygen"}).exit_code, 0);
  fs::create_directories(dir / "a-folder");
  auto fifo = dir / "a-fifo";
  BOOST_REQUIRE_EQUAL(::mkfifo(fifo.c_str(), 0600), 0);
  struct Case {
    std::string path, says;
    int exit_code;
  };
  for (const auto& c : std::vector<Case>{{(dir / "missing.safetensors").string(), "no such file", 3},
                                         {(dir / "a-folder").string(), "is a directory", 2},
                                         {"/dev/zero", "is a device", 2},
                                         {fifo.string(), "is a FIFO", 2}}) {
    // publish used to abort (exit 134); inspect hung on a FIFO and called
    // /dev/zero a 16 EiB file; hash hung on a FIFO.
    auto pub = sb({"publish", c.path, "--name", "Bad", "--type", "LORA", "--base-model", "SD 1.5"});
    BOOST_TEST(pub.exit_code == c.exit_code, c.path << ": " << pub.err);
    BOOST_TEST(pub.err.find(c.says) != std::string::npos, pub.err);
    auto as_image = sb({"publish", model("ok.safetensors", 1000, 9).string(), "--image", c.path, "--name", "Bad",
                        "--type", "LORA", "--base-model", "SD 1.5"});
    BOOST_TEST(as_image.exit_code == c.exit_code, c.path << ": " << as_image.err);
    for (const char* command : {"inspect", "hash"}) {
      auto r = sb({command, c.path, "--json"});
      BOOST_TEST(r.exit_code == c.exit_code, command << " " << c.path << ": " << r.err);
      BOOST_TEST(r.err.find(c.says) != std::string::npos, r.err);
      auto j = nlohmann::json::parse(r.out, nullptr, false);
      BOOST_TEST(j.dump().find(c.says) != std::string::npos, command << " --json: " << r.out);
    }
  }
  BOOST_TEST(sb({"releases", "--json"}).out.find("Bad") == std::string::npos);  // nothing was published
}

BOOST_AUTO_TEST_CASE(refusals_say_why_and_store_nothing) {
  BOOST_REQUIRE_EQUAL(sb({"keygen"}).exit_code, 0);
  std::ofstream(dir / "old.ckpt", std::ios::binary) << std::string("\x80\x02}q\x00.", 6);
  auto r = sb({"publish", (dir / "old.ckpt").string(), "--type", "Checkpoint"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("--allow-unsafe") != std::string::npos);
  auto nokey = sb({"publish", model("m.safetensors", 1000, 2).string(), "--key", (dir / "nokey").string()});
  BOOST_TEST(nokey.exit_code != 0);
  BOOST_TEST(nokey.err.find("seedbank keygen") != std::string::npos);
  auto list = sb({"releases", "--json"});
  BOOST_TEST(nlohmann::json::parse(list.out).empty());
  std::size_t stored = 0;
  if (fs::exists(dir / "data" / "store" / "sha256"))
    for (auto& e : fs::recursive_directory_iterator(dir / "data" / "store" / "sha256")) stored += e.is_regular_file();
  BOOST_TEST(stored == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
