// `seedbank resolve` between real node processes on 127.0.0.1: A publishes,
// B relays, C (which never has a gossip session with A) resolves.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "support/http_client.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"

namespace fs = std::filesystem;

namespace {

struct Line : seedbank::testing::NodeLine {
  fs::path model, png = fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png";

  // Publishes on A before A's node starts; `before_start` may tamper with A.
  void up(const std::function<void()>& before_start = {}) {
    model = seedbank::testing::write_safetensors(dir / "lantern.safetensors", 2 * 1024 * 1024 + 77, 21);
    publish_on_a(model, {"--name", "Lantern", "--type", "LORA", "--base-model", "SD 1.5", "--image", png.string()});
    if (before_start) before_start();
    // A dials nobody; C dials only B: C and A never share a gossip session.
    start_line({"--outbound", "0"}, {"--outbound", "1"});
    // The relay has the release (C may not yet: then it asks B).
    BOOST_REQUIRE(eventually([&] { return has("b", release["releaseId"]); }));
  }
  std::string file_hash(const std::string& type) { return release["files"][0]["hashes"][type]; }
  std::string read(const fs::path& p) { return seedbank::testing::slurp(p.string()); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(resolve_test, Line)

BOOST_AUTO_TEST_CASE(every_hash_type_resolves_to_the_verified_file_on_a_node_that_never_met_the_publisher) {
  up();
  std::vector<std::pair<std::string, std::string>> forms = {
      {"SHA256", file_hash("SHA256")},   {"AutoV2", file_hash("AutoV2")},
      {"AutoV1", file_hash("AutoV1")},   {"AutoV3", file_hash("AutoV3")},
      {"CRC32", file_hash("CRC32")},     {"BTIHv1", release["infoHashV1"]},
      {"BTIHv2", release["infoHashV2"]}, {"magnet", release["magnet"]},
      {"release", release["releaseId"]}, {"lowercase", ""}};
  forms.back().second = file_hash("SHA256");
  for (auto& ch : forms.back().second) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  int i = 0;
  for (const auto& [kind, hash] : forms) {
    auto out = dir / ("out-" + std::to_string(++i));
    auto r = sb("c", {"resolve", hash, "--out", out.string(), "--json", "--timeout", "60"});
    BOOST_TEST_CONTEXT(kind << " " << hash) {
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      auto j = nlohmann::json::parse(r.out);
      BOOST_TEST(j["file"]["SHA256"] == file_hash("SHA256"));
      BOOST_TEST(read(out / "lantern.safetensors") == read(model));
      BOOST_TEST(j["fetched"] == (i == 1));  // fetched once, then placed from the store
    }
  }
  // Already there with the right SHA-256: not fetched or copied again.
  auto again = sb("c", {"resolve", file_hash("AutoV2"), "--out", (dir / "out-1").string(), "--json"});
  BOOST_REQUIRE_EQUAL(again.exit_code, 0);
  BOOST_TEST(nlohmann::json::parse(again.out)["alreadyPresent"] == true);
}

BOOST_AUTO_TEST_CASE(unknown_hashes_exit_with_the_not_found_code) {
  up();
  auto r = sb("c", {"resolve", "0123456789", "--out", (dir / "none").string()});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.find("no model file with hash 0123456789") != std::string::npos, r.err);
  BOOST_TEST(!fs::exists(dir / "none" / "lantern.safetensors"));
}

BOOST_AUTO_TEST_CASE(without_a_running_node_resolve_starts_its_own) {
  up();
  // D has no node and an empty index: it asks B for the hash over its own
  // gossip session, learns who seeds it, fetches, verifies, then stops.
  auto r = sb("d", {"resolve", file_hash("AutoV2"), "--bootstrap", b, "--no-dht", "--bt-listen", "127.0.0.1:0", "--out",
                    (dir / "d-out").string(), "--json", "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  BOOST_TEST(j["foundIn"] == "peers");
  BOOST_TEST(read(dir / "d-out" / "lantern.safetensors") == read(model));
}

BOOST_AUTO_TEST_CASE(without_a_running_node_fetch_finds_seeders_through_the_peers_it_knows) {
  up();
  // D knows the release (its record, imported by hand) and, from an earlier
  // run, three live peers in peers.json; it has no node and no bootstrap
  // list. Like resolve, fetch dials the peers, asks who seeds the release
  // and fetches from them, instead of waiting for a peer that never comes.
  auto exported = dir / "release.rec";
  BOOST_REQUIRE_EQUAL(sb("a", {"record", "export", release["releaseId"], "--out", exported.string()}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("d", {"record", "import", exported.string()}).exit_code, 0);
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& addr : {a, b, c}) peers.push_back({{"address", addr}, {"nodeId", ""}, {"lastSeen", 1}});
  std::ofstream(dir / "d" / "peers.json") << peers.dump();
  auto r = sb("d", {"fetch", release["releaseId"], "--no-dht", "--bt-listen", "127.0.0.1:0", "--out",
                    (dir / "d-fetched").string(), "--json", "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(nlohmann::json::parse(r.out)["complete"] == true);
  BOOST_TEST(read(dir / "d-fetched" / "lantern.safetensors") == read(model));
  // The command left no control socket: D's data dir has no live node.
  BOOST_TEST(!fs::exists(dir / "d" / "control.sock"));
  BOOST_TEST(sb("d", {"status"}).exit_code != 0);
}

BOOST_AUTO_TEST_CASE(a1111_layout_writes_the_file_the_civitai_info_and_the_preview) {
  up();
  auto models = dir / "webui" / "models";
  auto r = sb("c", {"resolve", file_hash("AutoV2"), "--layout", "a1111", "--models-dir", models.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lora = models / "Lora";
  BOOST_TEST(read(lora / "lantern.safetensors") == read(model));
  BOOST_TEST(read(lora / "lantern.preview.png") == read(png));
  auto info = nlohmann::json::parse(read(lora / "lantern.civitai.info"));
  BOOST_TEST(info["model"]["name"] == "Lantern");
  BOOST_TEST(info["model"]["type"] == "LORA");
  BOOST_TEST(info["baseModel"] == "SD 1.5");
  BOOST_TEST(info["files"][0]["hashes"]["SHA256"] == file_hash("SHA256"));
  BOOST_TEST(info["files"][0]["hashes"]["AutoV2"] == file_hash("AutoV2"));
  BOOST_TEST(info["id"].get<std::uint64_t>() < (1ull << 53));
  BOOST_TEST(info["seedbank"]["releaseId"] == release["releaseId"]);

  auto comfy = dir / "ComfyUI" / "models";
  auto c2 = sb("c", {"resolve", file_hash("SHA256"), "--layout", "comfyui", "--models-dir", comfy.string()});
  BOOST_REQUIRE_MESSAGE(c2.exit_code == 0, c2.err);
  BOOST_TEST(fs::exists(comfy / "loras" / "lantern.safetensors"));
}

BOOST_AUTO_TEST_CASE(a_seed_with_corrupted_data_never_produces_a_file) {
  up([&] {
    // Flip one byte of A's stored copy before its node starts seeding it.
    std::string sha = file_hash("SHA256");
    for (auto& ch : sha) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto stored = dir / "a" / "store" / "sha256" / sha.substr(0, 2) / sha;
    fs::permissions(stored, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024 * 1024);
    f.put('\x55');
  });
  auto r = sb("c", {"resolve", file_hash("AutoV2"), "--out", (dir / "bad").string(), "--timeout", "15"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(!fs::exists(dir / "bad" / "lantern.safetensors"));
  std::string sha = file_hash("SHA256");
  for (auto& ch : sha) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  BOOST_TEST(!fs::exists(dir / "c" / "store" / "sha256" / sha.substr(0, 2) / sha));
}

BOOST_AUTO_TEST_CASE(a_file_two_releases_name_is_one_file_with_one_answer) {
  up();
  // The same file published again as another model by its creator: its
  // SHA256 still names one file. The release C stored first answers, and
  // the other is listed as also naming it.
  auto pub = sb("a", {"publish", model.string(), "--name", "Lantern Copy", "--type", "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  std::string copy_id = nlohmann::json::parse(pub.out)["releaseId"];
  BOOST_REQUIRE(eventually([&] { return has("c", copy_id); }));
  for (const auto& form : {file_hash("SHA256"), file_hash("AutoV2"), file_hash("CRC32")}) {
    auto r = sb("c", {"resolve", form, "--out", (dir / "one").string(), "--json", "--timeout", "60"});
    BOOST_TEST_CONTEXT(form) {
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);  // never "matches 2 files"
      auto j = nlohmann::json::parse(r.out);
      BOOST_TEST(j["releaseId"] == release["releaseId"]);
      BOOST_TEST(j["alsoNamedBy"].dump().find(copy_id) != std::string::npos, j.dump());
    }
  }
  BOOST_TEST(read(dir / "one" / "lantern.safetensors") == read(model));
  // by-hash answers with the same release.
  auto api = seedbank::testing::http_get(http["c"], "/api/v1/model-versions/by-hash/" + file_hash("SHA256"));
  BOOST_REQUIRE_EQUAL(api.status, 200);
  BOOST_TEST(nlohmann::json::parse(api.body)["seedbank"]["releaseId"] == release["releaseId"]);
}

BOOST_AUTO_TEST_CASE(from_dir_reports_known_files_and_writes_their_sidecars) {
  up();
  auto folder = dir / "my-loras";
  fs::create_directories(folder / "sub");
  fs::copy_file(model, folder / "sub" / "my-lantern.safetensors");
  seedbank::testing::write_safetensors(folder / "mine-only.safetensors", 100 * 1024, 99);
  std::ofstream(folder / "notes.txt") << "not a model";
  auto r = sb("c", {"resolve", "--from-dir", folder.string(), "--fetch-missing-previews", "--json", "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  BOOST_TEST(j["files"] == 2);
  BOOST_TEST(j["known"] == 1);
  for (const auto& item : j["results"]) {
    bool lantern = item["path"].get<std::string>().find("my-lantern") != std::string::npos;
    BOOST_TEST(item["known"] == lantern);
    if (lantern) BOOST_TEST(item["releaseId"] == release["releaseId"]);
  }
  auto info = nlohmann::json::parse(read(folder / "sub" / "my-lantern.civitai.info"));
  BOOST_TEST(info["files"][0]["hashes"]["SHA256"] == file_hash("SHA256"));
  BOOST_TEST(read(folder / "sub" / "my-lantern.preview.png") == read(png));
  BOOST_TEST(!fs::exists(folder / "mine-only.civitai.info"));
}

BOOST_AUTO_TEST_SUITE_END()
