// The seedbank command line, run as a real process.
#include <sys/stat.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "support/model_files.h"
#include "support/process.h"

namespace fs = std::filesystem;
using seedbank::testing::Process;

namespace {

struct CliFixture : seedbank::testing::ScratchDir {
  CliFixture() : ScratchDir("seedbank-cli-") {}
  seedbank::testing::ProcessResult sb(std::vector<std::string> args) { return run_seedbank(std::move(args)); }
  fs::path write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  }
};

std::string pattern(std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>(static_cast<std::uint32_t>(i * 2654435761u) >> 13);
  return out;
}

nlohmann::json vector_case(const std::string& name) {
  std::ifstream in(fs::path(SEEDBANK_FIXTURES_DIR) / "hash_vectors.json");
  auto vectors = nlohmann::json::parse(in);
  for (auto& c : vectors["cases"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no vector " + name);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(cli_test, CliFixture)

BOOST_AUTO_TEST_CASE(hash_json_prints_civitai_hashes) {
  auto expect = vector_case("pattern-1126457");
  auto file = write("model.bin", pattern(1126457));
  auto r = sb({"hash", file.string(), "--json"});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  auto out = nlohmann::json::parse(r.out);
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  auto h = out[0]["hashes"];
  BOOST_TEST(h["SHA256"] == expect["SHA256"]);
  BOOST_TEST(h["AutoV2"] == expect["AutoV2"]);
  BOOST_TEST(h["AutoV1"] == expect["AutoV1"]);
  BOOST_TEST(h["CRC32"] == expect["CRC32"]);
  BOOST_TEST(!h.contains("AutoV3"));
  BOOST_TEST(out[0]["piecesRoot"] == expect["piecesRoot"]);
  BOOST_TEST(out[0]["size"] == 1126457);
}

BOOST_AUTO_TEST_CASE(hash_text_output_and_errors) {
  auto file = write("small.bin", "hello");
  auto r = sb({"hash", file.string()});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_TEST(r.out.find("SHA256      2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824") !=
             std::string::npos);
  BOOST_TEST(r.out.find("file ends before 0x110000") != std::string::npos);
  auto missing = sb({"hash", (dir / "nope.safetensors").string()});
  BOOST_TEST(missing.exit_code != 0);
  BOOST_TEST(missing.err.find("nope.safetensors") != std::string::npos);
  auto help = sb({"hash", "--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(help.out.find("AutoV3") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keygen_writes_a_private_seed_and_never_overwrites) {
  auto key = dir / "keys" / "creator.key";
  auto r = sb({"keygen", "--out", key.string(), "--json"});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.out);
  std::string pub = j["publicKey"];
  BOOST_TEST(pub.rfind("sbpk1", 0) == 0);
  struct stat st {};
  BOOST_REQUIRE(::stat(key.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_TEST(st.st_size == 32);
  auto before = seedbank::testing::slurp(key.string());

  auto again = sb({"keygen", "--out", key.string()});
  BOOST_TEST(again.exit_code != 0);
  BOOST_TEST(again.err.find("already exists") != std::string::npos);
  BOOST_TEST(seedbank::testing::slurp(key.string()) == before);

  auto show = sb({"pubkey", "--key", key.string()});
  BOOST_REQUIRE_EQUAL(show.exit_code, 0);
  BOOST_TEST(show.out == pub + "\n");
}

BOOST_AUTO_TEST_CASE(inspect_reads_safetensors_pickles_and_images) {
  // A kohya-style LoRA header with one tensor.
  std::string header =
      R"({"__metadata__":{"ss_base_model_version":"sdxl_base_v1-0","ss_network_module":"networks.lora",)"
      R"("ss_tag_frequency":"{\"10_x\": {\"zyx_style\": 9, \"tree\": 2}}"},)"
      R"("lora_unet_a.lora_down.weight":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}})";
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  auto st = write("lora.safetensors", len + header + std::string(8, '\1'));
  auto r = sb({"inspect", st.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  BOOST_TEST(j["format"] == "safetensors");
  BOOST_TEST(j["unsafe"] == false);
  BOOST_TEST(j["hints"]["type"] == "LORA");
  BOOST_TEST(j["hints"]["baseModel"] == "SDXL 1.0");
  BOOST_TEST(j["hints"]["trainedWords"][0] == "zyx_style");

  auto pickle = write("old.ckpt", std::string("\x80\x02}q\x00.", 6));
  auto p = sb({"inspect", pickle.string(), "--json"});
  BOOST_REQUIRE_EQUAL(p.exit_code, 0);
  BOOST_TEST(nlohmann::json::parse(p.out)["unsafe"] == true);

  auto png = sb({"inspect", (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png").string(), "--json"});
  BOOST_REQUIRE_EQUAL(png.exit_code, 0);
  auto img = nlohmann::json::parse(png.out);
  BOOST_TEST(img["width"] == 512);
  BOOST_TEST(img["meta"]["steps"] == 20);
  BOOST_TEST(img["meta"]["sampler"] == "Euler a");
  // A short video is read as an image is, with its generation data.
  auto webm = sb({"inspect", (fs::path(SEEDBANK_FIXTURES_DIR) / "videos" / "vhs.webm").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(webm.exit_code == 0, webm.err);
  auto video = nlohmann::json::parse(webm.out);
  BOOST_TEST(video["kind"] == "video");
  BOOST_TEST(video["width"] == 64);
  BOOST_TEST(video["meta"]["prompt"] == "a paper boat drifting");

  auto bad = write("broken.safetensors", len + "{\"a\":");
  auto b = sb({"inspect", bad.string()});
  BOOST_TEST(b.exit_code != 0);
  BOOST_TEST(b.err.find("broken.safetensors") != std::string::npos);
}

// --index-size limits the index: a publish past it fails saying what to
// do, nothing already there is lost, and a larger size (also from
// config.json) lets the same publish through.
BOOST_AUTO_TEST_CASE(index_size_limits_the_index_and_says_how_to_raise_it) {
  auto at = [&](const std::string& size, std::vector<std::string> args) {
    std::vector<std::string> all{"--data-dir", (dir / "data").string(), "--network", "test"};
    if (!size.empty()) all.insert(all.end(), {"--index-size", size});
    all.insert(all.end(), args.begin(), args.end());
    return sb(all);
  };
  BOOST_REQUIRE_EQUAL(at("", {"keygen"}).exit_code, 0);
  std::string description;
  for (int i = 0; i < 6000; ++i) description += "word" + std::to_string(i) + " ";
  int published = 0;
  seedbank::testing::ProcessResult full;
  fs::path last;
  for (int i = 0; i < 40; ++i) {
    last = seedbank::testing::write_safetensors(dir / ("m" + std::to_string(i) + ".safetensors"), 4000,
                                                static_cast<unsigned>(i + 1));
    full = at("1MiB", {"publish", last.string(), "--name", "Model " + std::to_string(i), "--type", "LORA",
                       "--base-model", "SD 1.5", "--description", description});
    if (full.exit_code != 0) break;
    ++published;
  }
  BOOST_TEST_REQUIRE(full.exit_code != 0, "40 releases fit in a 1 MiB index");
  BOOST_TEST(published > 0);
  BOOST_TEST(full.err.find("the index reached its size limit") != std::string::npos, full.err);
  BOOST_TEST(full.err.find("--index-size") != std::string::npos, full.err);
  BOOST_TEST(full.err.find("indexSize") != std::string::npos, full.err);
  // Nothing lost; with room (config.json's indexSize) the same publish goes through.
  std::ofstream(dir / "data" / "config.json") << "{\"indexSize\": 16777216}";
  auto again = at("", {"publish", last.string(), "--name", "Model last", "--type", "LORA", "--base-model", "SD 1.5",
                       "--description", description});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  auto listed = at("", {"releases", "--json"});
  BOOST_REQUIRE_EQUAL(listed.exit_code, 0);
  BOOST_TEST(nlohmann::json::parse(listed.out).size() == static_cast<std::size_t>(published + 1));
  // Too small to hold an index at all: refused, by the flag and in config.json.
  auto tiny = at("512KiB", {"releases"});
  BOOST_TEST(tiny.exit_code != 0);
  BOOST_TEST(tiny.err.find("below the least an index needs") != std::string::npos, tiny.err);
  std::ofstream(dir / "data" / "config.json") << "{\"indexSize\": 1000}";
  auto bad = at("", {"releases"});
  BOOST_TEST(bad.exit_code != 0);
  BOOST_TEST(bad.err.find("indexSize must be a number of bytes") != std::string::npos, bad.err);
}

BOOST_AUTO_TEST_CASE(node_starts_on_a_fresh_data_dir_and_stops_on_sigterm) {
  auto data = dir / "data";
  // Loopback only, no DHT: tests never reach outside this machine.
  Process node({SEEDBANK_BINARY, "--data-dir", data.string(), "node", "--bt-listen", "127.0.0.1:0", "--no-dht",
                "--no-lan", "--no-port-mapping", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"},
               (dir / "node").string());
  BOOST_REQUIRE_MESSAGE(node.wait_for_err("running"), node.err());
  struct stat st {};
  BOOST_REQUIRE(::stat(data.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  BOOST_TEST(fs::exists(data / "index" / "data.mdb"));
  node.signal(SIGTERM);
  BOOST_TEST(node.wait(std::chrono::seconds(10)) == 0);
  BOOST_TEST(node.err().find("shutting down") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_commands_are_usage_errors) {
  auto r = sb({"frobnicate"});
  BOOST_TEST(r.exit_code == 2);
  auto none = sb({});
  BOOST_TEST(none.exit_code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
