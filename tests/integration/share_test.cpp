// `seedbank share` between real node processes on 127.0.0.1: B holds a
// copy of a model A published (A's node never runs), shares its models
// folder, and C fetches the file from B, which reads it where it is.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/http_client.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"

namespace fs = std::filesystem;

namespace {

struct Library : seedbank::testing::Net {
  nlohmann::json release;  // `publish --json` on A
  fs::path model, models, lora, shared;
  std::string b, c;
  std::unique_ptr<seedbank::testing::Process> nb, nc;

  // A publishes; B learns the release by import (so B is its only seed);
  // B's A1111 models folder holds a copy, a file nobody published, a
  // truncated one, and a symlink loop.
  Library() {
    model = seedbank::testing::write_safetensors(dir / "lantern.safetensors", 2 * 1024 * 1024 + 77, 21);
    BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
    auto pub =
        sb("a", {"publish", model.string(), "--name", "Lantern", "--type", "LORA", "--base-model", "SD 1.5", "--json"});
    BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
    release = nlohmann::json::parse(pub.out);
    auto exported = dir / "release.rec";
    BOOST_REQUIRE_EQUAL(sb("a", {"record", "export", release["releaseId"], "--out", exported.string()}).exit_code, 0);
    BOOST_REQUIRE_EQUAL(sb("b", {"record", "import", exported.string()}).exit_code, 0);

    models = dir / "webui" / "models";
    lora = models / "Lora";
    fs::create_directories(lora);
    fs::create_directories(models / "Stable-diffusion");
    shared = lora / "lantern_v1.safetensors";
    fs::copy_file(model, shared);
    seedbank::testing::write_safetensors(models / "Stable-diffusion" / "mine.safetensors", 300000, 5);
    std::ofstream(lora / "cut.safetensors", std::ios::binary) << std::string("\x20\x00\x00\x00", 4);
    fs::create_directory_symlink("..", lora / "loop");
  }
  std::string sha() const { return release["files"][0]["hashes"]["SHA256"]; }
  std::string sha_lower() const {
    auto s = sha();
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }
  std::size_t stored_files(const std::string& node) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir / node / "store" / "sha256", ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      n += it->is_regular_file();
    return n;
  }
  // B's torrents that read a file shared in place.
  int in_place(const std::string& node) {
    auto r = sb(node, {"status", "--json"});
    if (r.exit_code != 0) return -1;
    int n = 0;
    auto status = nlohmann::json::parse(r.out);
    for (const auto& t : status["torrents"]) n += t.value("filesInPlace", 0);
    return n;
  }
  std::string read(const fs::path& p) { return seedbank::testing::slurp(p.string()); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(share_test, Library)

BOOST_AUTO_TEST_CASE(a_shared_folder_is_seeded_in_place_and_stops_being_served_when_edited) {
  // A dry run says what would happen, and changes nothing.
  auto dry = sb("b", {"share", models.string(), "--dry-run", "--json"});
  BOOST_REQUIRE_MESSAGE(dry.exit_code == 0, dry.err);
  auto plan = nlohmann::json::parse(dry.out);
  BOOST_REQUIRE_EQUAL(plan["seed"].size(), 1u);
  BOOST_TEST(plan["seed"][0]["path"] == shared.string());
  BOOST_TEST(plan["seed"][0]["releases"][0]["releaseId"] == release["releaseId"]);
  BOOST_REQUIRE_EQUAL(plan["unknown"].size(), 1u);
  BOOST_TEST(plan["unknown"][0]["path"] == (models / "Stable-diffusion" / "mine.safetensors").string());
  std::string problems = plan["problems"].dump();
  BOOST_TEST(problems.find("cut.safetensors") != std::string::npos, problems);
  BOOST_TEST(problems.find("loop") != std::string::npos, problems);
  BOOST_TEST(plan["shared"] == 0);
  BOOST_TEST(plan["hashed"] == 2);
  BOOST_TEST(!fs::exists(dir / "b" / "store" / "shared.json"));

  // Without a terminal and without --yes nothing becomes public.
  auto refused = sb("b", {"share", models.string()});
  BOOST_TEST(refused.exit_code == 2);
  BOOST_TEST(refused.err.find("--yes") != std::string::npos, refused.err);
  BOOST_TEST(!fs::exists(dir / "b" / "store" / "shared.json"));

  // B runs, then shares: the running node picks the list up and seeds.
  nb = start("b", {}, &b);
  auto done = sb("b", {"share", models.string(), "--yes", "--json"});
  BOOST_REQUIRE_MESSAGE(done.exit_code == 0, done.err);
  auto result = nlohmann::json::parse(done.out);
  BOOST_TEST(result["shared"] == 1);
  BOOST_TEST(result["hashed"] == 0);  // both hashed by the dry run: kept by identity
  BOOST_TEST(result["cached"] == 2);
  BOOST_TEST(result["nodeRunning"] == true);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }), nb->err());
  BOOST_TEST(stored_files("b") == 0u);  // served from the folder: the store holds no copy

  // C, which only knows B, resolves it by AutoV2 and gets the verified bytes.
  nc = start("c", {b}, &c, {"--outbound", "1"});
  auto got = sb("c", {"resolve", release["files"][0]["hashes"]["AutoV2"], "--out", (dir / "c-out").string(), "--json",
                      "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(got.exit_code == 0, got.err + bt_log("b"));
  BOOST_TEST(read(dir / "c-out" / "lantern.safetensors") == read(model));
  BOOST_TEST(stored_files("b") == 0u);
  // B's HTTP API serves it too (a Civitai tool's download).
  auto url = "/api/files/" + sha_lower() + "/lantern.safetensors";
  auto http = seedbank::testing::http_get(this->http["b"], url);
  BOOST_TEST(http.status == 200);
  BOOST_TEST(http.body == read(model));

  // B's own resolve places a copy of its shared file (checked, not linked).
  auto mine = sb("b", {"resolve", sha(), "--out", (dir / "b-out").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(mine.exit_code == 0, mine.err);
  BOOST_TEST(read(dir / "b-out" / "lantern.safetensors") == read(model));
  BOOST_TEST(stored_files("b") == 0u);

  // A tool rewrites C's placed file: C's store keeps the verified bytes.
  std::ofstream(dir / "c-out" / "lantern.safetensors", std::ios::binary | std::ios::in) << "XXXX";
  BOOST_TEST(read(dir / "c" / "store" / "sha256" / sha_lower().substr(0, 2) / sha_lower()) == read(model));

  // Edited in place on B (same size, new bytes): no longer served.
  {
    std::fstream f(shared, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024 * 1024);
    f.put('\x55');
  }
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 0; }), nb->err());
  BOOST_TEST(nb->err().find("a file shared in place changed") != std::string::npos, nb->err());
  // (HEAD: a GET would have B fetch the file from C, which now seeds it.)
  BOOST_TEST(seedbank::testing::http_request(this->http["b"], "HEAD", url).status != 200);
  auto listed = sb("b", {"share", "--list", "--json"});
  BOOST_REQUIRE_EQUAL(listed.exit_code, 0);
  BOOST_TEST(nlohmann::json::parse(listed.out)["files"][0]["state"] == "changed");

  // Put back as it was (a copy: a new inode) and shared again; then
  // edited with its mtime put back (`touch -r`): the ctime still tells.
  fs::remove(shared);
  fs::copy_file(model, shared);
  BOOST_REQUIRE_EQUAL(sb("b", {"share", "--yes"}).exit_code, 0);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }), nb->err());
  auto mtime = fs::last_write_time(shared);
  {
    std::fstream f(shared, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2 * 1024 * 1024);
    f.put('\x11');
  }
  fs::last_write_time(shared, mtime);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 0; }), nb->err());
  BOOST_TEST(seedbank::testing::http_request(this->http["b"], "HEAD", url).status != 200);

  // Put back as it was (a copy: a new inode), shared again, then deleted.
  fs::remove(shared);
  fs::copy_file(model, shared);
  BOOST_REQUIRE_EQUAL(sb("b", {"share", "--yes"}).exit_code, 0);  // the folders shared before
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }), nb->err());
  fs::remove(shared);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 0; }), nb->err());
  auto gone = nlohmann::json::parse(sb("b", {"share", "--list", "--json"}).out);
  BOOST_TEST(gone["files"][0]["state"] == "missing");
  BOOST_TEST(stored_files("b") == 0u);
}

BOOST_AUTO_TEST_CASE(shares_survive_a_restart_and_can_be_stopped) {
  BOOST_REQUIRE_EQUAL(sb("b", {"share", models.string(), "--yes"}).exit_code, 0);
  nb = start("b", {}, &b);  // started after the share: reads the list at start
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }), nb->err());
  // Stopped (saving resume data) and started again: seeded again.
  auto stop_b = [&] {
    nb->signal(SIGTERM);
    BOOST_REQUIRE_EQUAL(nb->wait(), 0);
    nb.reset();
  };
  stop_b();
  BOOST_TEST(!fs::is_empty(dir / "b" / "resume"));
  nb = start("b", {}, &b);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }), nb->err());

  // C fetches it from B, so C seeds it too.
  nc = start("c", {b}, &c, {"--outbound", "1"});
  auto got = sb("c", {"resolve", sha(), "--out", (dir / "c-out").string(), "--json", "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(got.exit_code == 0, got.err);

  // Deleted while B is down: after a restart B neither seeds it nor
  // downloads it back from C (its resume data is no fetch).
  stop_b();
  auto kept = dir / "kept.safetensors";
  fs::rename(shared, kept);
  nb = start("b", {c}, &b);  // dials C, which tells it C seeds the release
  std::this_thread::sleep_for(std::chrono::seconds(4));
  BOOST_TEST(in_place("b") == 0);
  auto st = nlohmann::json::parse(sb("b", {"status", "--json"}).out);
  BOOST_TEST(st["torrents"].size() == 0u, st.dump());
  BOOST_TEST(stored_files("b") == 0u);
  fs::rename(kept, shared);

  // Stopped inside a shared folder: a bare `share` leaves it out.
  BOOST_REQUIRE_EQUAL(sb("b", {"share", "--yes"}).exit_code, 0);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }), nb->err());
  auto stopped = sb("b", {"share", "--stop", lora.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(stopped.exit_code == 0, stopped.err);
  BOOST_TEST(nlohmann::json::parse(stopped.out)["stopped"].size() == 1u);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 0; }), nb->err());
  BOOST_TEST(fs::exists(shared));  // stopping never touches the user's files
  auto again = sb("b", {"share", "--yes", "--json"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(nlohmann::json::parse(again.out)["shared"] == 0);
  // Named again, it is shared again.
  auto named = sb("b", {"share", lora.string(), "--yes", "--json"});
  BOOST_TEST(nlohmann::json::parse(named.out)["shared"] == 1);
}

BOOST_AUTO_TEST_CASE(a_watched_folder_shares_known_files_that_appear_in_it) {
  fs::remove(shared);  // the library starts without the known file
  nb = start("b", {}, &b);
  auto done = sb("b", {"share", models.string(), "--yes", "--watch", "--json"});
  BOOST_REQUIRE_MESSAGE(done.exit_code == 0, done.err);
  BOOST_TEST(nlohmann::json::parse(done.out)["shared"] == 0);
  BOOST_TEST(nlohmann::json::parse(sb("b", {"share", "--list", "--json"}).out)["watched"].size() == 1u);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return nb->err().find("watching " + models.string()) != std::string::npos; }),
                        nb->err());
  // A known file copied into a new subfolder: found, hashed and seeded.
  fs::create_directories(lora / "new");
  fs::copy_file(model, lora / "new" / "lantern.safetensors");
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }, std::chrono::seconds(30)), nb->err());
  BOOST_TEST(nb->err().find("sharing " + (lora / "new" / "lantern.safetensors").string()) != std::string::npos);
  // One the network lacks is named, not published.
  seedbank::testing::write_safetensors(lora / "fresh.safetensors", 5000, 99);
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return nb->err().find("fresh.safetensors: not on the network") != std::string::npos; },
                 std::chrono::seconds(30)),
      nb->err());
  BOOST_TEST(nlohmann::json::parse(sb("b", {"releases", "--json"}).out).dump().find("fresh") == std::string::npos);
  // Removed: no longer served.
  fs::remove(lora / "new" / "lantern.safetensors");
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 0; }), nb->err());
  BOOST_TEST(stored_files("b") == 0u);

  // Put back while the node is down: the scan at start shares it.
  nb->signal(SIGTERM);
  BOOST_REQUIRE_EQUAL(nb->wait(), 0);
  fs::copy_file(model, lora / "new" / "again.safetensors");
  nb = start("b", {}, &b);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return in_place("b") == 1; }, std::chrono::seconds(30)), nb->err());
}

BOOST_AUTO_TEST_CASE(publish_unknown_makes_the_sharers_own_releases_read_in_place) {
  auto mine = seedbank::testing::write_safetensors(
      models / "Stable-diffusion" / "mine.safetensors", 300000, 5,
      R"({"ss_network_module":"networks.lora","ss_base_model_version":"sdxl_base_v1-0"})");
  BOOST_REQUIRE_EQUAL(sb("b", {"keygen"}).exit_code, 0);
  // Without --publish-unknown it is only listed.
  auto listed = nlohmann::json::parse(sb("b", {"share", models.string(), "--dry-run", "--json"}).out);
  BOOST_TEST(listed["unknown"].dump().find("mine.safetensors") != std::string::npos);
  auto done = sb("b", {"share", models.string(), "--yes", "--json", "--publish-unknown"});
  BOOST_REQUIRE_MESSAGE(done.exit_code == 0, done.err);
  auto j = nlohmann::json::parse(done.out);
  BOOST_REQUIRE_EQUAL(j["own"].size(), 1u);
  BOOST_TEST(j["own"][0]["path"] == mine.string());
  BOOST_TEST(j["published"] == 1);
  BOOST_TEST(stored_files("b") == 0u);  // read where it is
  auto sha = seedbank::testing::sha256_hex(read(mine));
  auto placed = sb("b", {"resolve", sha, "--out", (dir / "mine-out").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(placed.exit_code == 0, placed.err);
  auto r = nlohmann::json::parse(placed.out);
  BOOST_TEST(r["releaseId"] == j["own"][0]["releaseId"]);
  BOOST_TEST(r["mirror"].is_null());
  BOOST_TEST(r["type"] == "LORA");
  BOOST_TEST(read(dir / "mine-out" / "mine.safetensors") == read(mine));
}

BOOST_AUTO_TEST_CASE(a_damaged_list_shares_nothing_and_loses_nothing) {
  fs::create_directories(dir / "b" / "store");
  std::ofstream(dir / "b" / "store" / "shared.json") << R"({"files": [{"path": 5, "sha256": []}], "folders": 7})";
  auto list = sb("b", {"share", "--list", "--json"});
  BOOST_TEST(list.exit_code != 0);
  BOOST_TEST(list.err.find("shared.json") != std::string::npos, list.err);
  auto share = sb("b", {"share", models.string(), "--yes"});
  BOOST_TEST(share.exit_code != 0);
  BOOST_TEST(read(dir / "b" / "store" / "shared.json").find("\"folders\": 7") != std::string::npos);
  nb = start("b", {}, &b);  // the node still runs, and says what is wrong
  BOOST_TEST(eventually([&] { return nb->err().find("shared.json") != std::string::npos; }), nb->err());
  // Moved away, sharing works again. A damaged hash cache: every file is
  // hashed again, and the command says so.
  fs::rename(dir / "b" / "store" / "shared.json", dir / "shared.json.bad");
  std::ofstream(dir / "b" / "hash-cache.json") << R"({"files": {"k": {"sha256": 12, "seen": "x"}}})";
  auto dry = sb("b", {"share", models.string(), "--dry-run", "--json"});
  BOOST_REQUIRE_MESSAGE(dry.exit_code == 0, dry.err);
  BOOST_TEST(dry.err.find("hash-cache.json is damaged") != std::string::npos, dry.err);
  BOOST_TEST(nlohmann::json::parse(dry.out)["seed"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(files_with_civitai_sidecars_become_labelled_mirrors_and_the_creator_wins) {
  auto png = fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png";
  auto sunset = seedbank::testing::write_safetensors(lora / "sunset.safetensors", 1024 * 1024 + 5, 77);
  auto sunset_sha = seedbank::testing::sha256_hex(read(sunset));
  for (auto& ch : sunset_sha) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  nlohmann::json info = {
      {"id", 2002},
      {"modelId", 1001},
      {"name", "v2"},
      {"baseModel", "SDXL 1.0"},
      {"trainedWords", {"sunset glow"}},
      {"creator", {{"username", "painter"}}},
      {"model", {{"name", "Sunset Glow"}, {"type", "LORA"}, {"nsfw", false}, {"tags", {"landscape"}}}},
      {"files", {{{"name", "sunset.safetensors"}, {"primary", true}, {"hashes", {{"SHA256", sunset_sha}}}}}}};
  std::ofstream(lora / "sunset.civitai.info") << info.dump();
  fs::copy_file(png, lora / "sunset.preview.png");
  // A sidecar that records other bytes, one that is not JSON, and
  // ComfyUI-Lora-Manager's shape with paths that climb out (never used).
  seedbank::testing::write_safetensors(lora / "wrong.safetensors", 4000, 78);
  info["files"][0]["name"] = "wrong.safetensors";
  std::ofstream(lora / "wrong.civitai.info") << info.dump();
  seedbank::testing::write_safetensors(lora / "junk.safetensors", 4000, 79);
  std::ofstream(lora / "junk.civitai.info") << "<html>not json</html>";
  auto comfy = seedbank::testing::write_safetensors(lora / "comfy.safetensors", 5000, 80);
  auto comfy_sha = seedbank::testing::sha256_hex(read(comfy));
  nlohmann::json lm = {{"file_name", "comfy"},
                       {"model_name", "Comfy Thing"},
                       {"file_path", "../../../etc/passwd"},
                       {"preview_url", "../../../etc/shadow"},
                       {"sha256", comfy_sha},
                       {"civitai",
                        {{"id", 3003},
                         {"modelId", 3000},
                         {"name", "v1"},
                         {"model", {{"name", "Comfy Thing"}, {"type", "LORA"}}},
                         {"files", {{{"name", "comfy.safetensors"}, {"hashes", {{"SHA256", comfy_sha}}}}}}}}};
  std::ofstream(lora / "comfy.metadata.json") << lm.dump();

  BOOST_REQUIRE_EQUAL(sb("b", {"keygen"}).exit_code, 0);
  auto shared_out = sb("b", {"share", models.string(), "--yes", "--json"});
  BOOST_REQUIRE_MESSAGE(shared_out.exit_code == 0, shared_out.err);
  auto result = nlohmann::json::parse(shared_out.out);
  BOOST_TEST(result["mirrored"] == 2, result.dump(1));
  std::string problems = result["problems"].dump();
  BOOST_TEST(problems.find("wrong.safetensors") != std::string::npos, problems);
  BOOST_TEST(problems.find("junk") != std::string::npos, problems);
  std::string mirror_id;
  for (const auto& m : result["mirror"])
    if (m["path"] == (lora / "sunset.safetensors").string()) mirror_id = m["releaseId"];
  BOOST_REQUIRE(!mirror_id.empty());
  // Only the preview image went into the store; the models are read in place.
  BOOST_TEST(stored_files("b") == 1u);
  BOOST_TEST(result.dump().find("passwd") == std::string::npos);

  nb = start("b", {}, &b);
  nc = start("c", {b}, &c, {"--outbound", "1"});
  auto got =
      sb("c", {"resolve", sunset_sha.substr(0, 10), "--out", (dir / "c-out").string(), "--json", "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(got.exit_code == 0, got.err + bt_log("b"));
  auto j = nlohmann::json::parse(got.out);
  BOOST_TEST(j["releaseId"] == mirror_id);
  BOOST_TEST(j["mirror"]["site"] == "civitai");
  BOOST_TEST(j["mirror"]["creator"] == "painter");
  BOOST_TEST(j["mirror"]["versionId"] == 2002);
  BOOST_TEST(j["model"] == "Sunset Glow");
  BOOST_TEST(read(dir / "c-out" / "sunset.safetensors") == read(sunset));
  auto api = seedbank::testing::http_get(this->http["c"], "/api/v1/model-versions/by-hash/" + sunset_sha);
  BOOST_REQUIRE_EQUAL(api.status, 200);
  auto version = nlohmann::json::parse(api.body);
  BOOST_TEST(version["seedbank"]["mirror"]["url"] == "https://civitai.com/models/1001?modelVersionId=2002");
  BOOST_TEST(version["seedbank"]["mirror"]["signedBy"] == version["seedbank"]["creator"]);

  // The creator publishes the same bytes: warned that a mirror names them,
  // and from then on their release answers every hash of the file.
  auto mirror_rec = dir / "mirror.rec";
  BOOST_REQUIRE_EQUAL(sb("b", {"record", "export", mirror_id, "--out", mirror_rec.string()}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("a", {"record", "import", mirror_rec.string()}).exit_code, 0);
  auto own = sb("a", {"publish", sunset.string(), "--name", "Sunset Glow", "--type", "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(own.exit_code == 0, own.err);
  auto own_json = nlohmann::json::parse(own.out);
  BOOST_TEST(own_json["warnings"].dump().find("a mirror") != std::string::npos, own_json["warnings"].dump());
  auto own_rec = dir / "own.rec";
  BOOST_REQUIRE_EQUAL(sb("a", {"record", "export", own_json["releaseId"], "--out", own_rec.string()}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("b", {"record", "import", own_rec.string()}).exit_code, 0);
  BOOST_REQUIRE(eventually([&] { return has("c", own_json["releaseId"]); }));
  auto again = sb("c", {"resolve", sunset_sha, "--out", (dir / "c-again").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);  // never "matches 2 files"
  auto aj = nlohmann::json::parse(again.out);
  BOOST_TEST(aj["releaseId"] == own_json["releaseId"]);
  BOOST_TEST(aj["mirror"].is_null());
  BOOST_TEST(aj["alsoNamedBy"].dump().find(mirror_id) != std::string::npos, aj.dump());
  auto by_hash = nlohmann::json::parse(
      seedbank::testing::http_get(this->http["c"], "/api/v1/model-versions/by-hash/" + sunset_sha).body);
  BOOST_TEST(by_hash["seedbank"]["releaseId"] == own_json["releaseId"]);
}

BOOST_AUTO_TEST_SUITE_END()
