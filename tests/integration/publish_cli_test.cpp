// `seedbank publish` and `seedbank releases`, run as real processes.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

BOOST_AUTO_TEST_CASE(text_from_peers_and_files_never_reaches_the_terminal_raw) {
  // A publisher's name set the window title (OSC), cleared the screen (CSI)
  // and hid text behind a bidirectional override; a file's own metadata
  // reaches `inspect` unsigned. Every human-readable output shows them
  // escaped; --json keeps them exact.
  BOOST_REQUIRE_EQUAL(sb({"keygen"}).exit_code, 0);
  const std::string hostile =
      "Evil\x1b]0;owned\x07\x1b[2J\xc2\x9b"
      "31m\xe2\x80\xae"
      "gnp.exe\x7f";
  auto file = seedbank::testing::write_safetensors(
      dir / "evil.safetensors", 4000, 9, R"({"ss_base_model_version":"sd_v1","ss_output_name":"out\u001b[2Jname"})");
  auto pub = sb({"publish", file.string(), "--name", hostile, "--version", hostile, "--description", hostile, "--tag",
                 "tag\x1b[8m", "--trigger", "trig\x1b[8m", "--type", "LORA"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  auto json = sb({"releases", "--json"});
  BOOST_REQUIRE_EQUAL(json.exit_code, 0);
  BOOST_TEST(nlohmann::json::parse(json.out)[0]["model"] == hostile);  // stored and exported exactly
  std::string sha = nlohmann::json::parse(sb({"hash", file.string(), "--json"}).out)[0]["hashes"]["SHA256"];
  auto has_raw_control = [](const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return true;
      if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
          static_cast<unsigned char>(text[i + 1]) <= 0x9f)
        return true;  // C1 control
      if (text.compare(i, 3, "\xe2\x80\xae") == 0) return true;
    }
    return false;
  };
  fs::create_directories(dir / "placed");
  auto weird = dir / "name\x1b[31m.safetensors";  // names on disk are the user's, yet printed escaped
  fs::copy_file(file, weird);
  struct Run {
    std::vector<std::string> args;
    std::string shows;  // proof the hostile text was printed, escaped
  };
  for (const auto& run :
       std::vector<Run>{{{"publish", file.string(), "--name", hostile, "--version", hostile, "--type", "LORA"},
                         "Evil\\u001b]0;owned"},
                        {{"releases"}, "Evil\\u001b]0;owned\\u0007\\u001b[2J\\u009b31m\\u202egnp.exe\\u007f"},
                        {{"releases", "--mine"}, "Evil\\u001b"},
                        {{"resolve", sha, "--out", (dir / "placed").string()}, "Evil\\u001b"},
                        {{"resolve", "--from-dir", dir.string()}, "Evil\\u001b"},
                        {{"inspect", file.string()}, "out\\u001b[2Jname"},
                        {{"hash", weird.string()}, "name\\u001b[31m"},
                        {{"rate", sha, "--stars", "5", "--review", hostile}, ""},
                        {{"retract", sha, "--reason", hostile}, ""}}) {
    auto r = sb(run.args);
    std::string shown = run.args[0] + (run.args.size() > 1 ? " " + run.args[1] : "");
    BOOST_TEST(!has_raw_control(r.out), shown << " printed a raw control character:\n" << r.out);
    BOOST_TEST(!has_raw_control(r.err), shown << " printed a raw control character to stderr:\n" << r.err);
    if (!run.shows.empty())
      BOOST_TEST((r.out + r.err).find(run.shows) != std::string::npos, shown << " did not show the text:\n"
                                                                             << r.out << r.err);
  }
}

BOOST_AUTO_TEST_CASE(placed_files_are_their_own_and_killed_writes_are_cleaned_up) {
  BOOST_REQUIRE_EQUAL(sb({"keygen"}).exit_code, 0);
  auto file = model("tower.safetensors", 200000, 4);
  std::string png = (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png").string();
  auto pub = sb({"publish", file.string(), "--name", "Tower", "--type", "LORA", "--image", png, "--json"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  auto j = nlohmann::json::parse(pub.out);
  std::string sha = j["files"][0]["hashes"]["SHA256"];
  std::string lower = sha;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  auto stored = dir / "data" / "store" / "sha256" / lower.substr(0, 2) / lower;
  BOOST_REQUIRE(fs::exists(stored));

  // What killed writers left: a placement's temporary file beside the
  // destination and a store copy in store/tmp, both just written (no age
  // rule). One more is held by a live process (this test), so it stays.
  auto models = dir / "webui-models";
  auto out = models / "Lora";  // where --layout a1111 puts a LoRA
  fs::create_directories(out);
  std::ofstream(out / ".sb-00000000deadbeef.tmp") << "half a model";
  std::ofstream(out / ".sb-00000000cafef00d.tmp") << "being written";
  std::ofstream(out / "notes.tmp") << "the user's own file";
  std::ofstream(dir / "data" / "store" / "tmp" / "0123.4567.part") << "half a copy";
  int held = ::open((out / ".sb-00000000cafef00d.tmp").c_str(), O_RDONLY);
  BOOST_REQUIRE(held >= 0);
  BOOST_REQUIRE_EQUAL(::flock(held, LOCK_EX), 0);

  auto r = sb({"resolve", sha, "--layout", "a1111", "--models-dir", models.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(!fs::exists(out / ".sb-00000000deadbeef.tmp"));
  BOOST_TEST(fs::exists(out / ".sb-00000000cafef00d.tmp"));  // held: still being written
  BOOST_TEST(fs::exists(out / "notes.tmp"));                 // not ours
  BOOST_TEST(!fs::exists(dir / "data" / "store" / "tmp" / "0123.4567.part"));
  ::close(held);

  // The placed model and its preview are files of their own: a tool that
  // rewrites them in place does not change what the node serves.
  auto placed = out / "tower.safetensors";
  auto preview = out / "tower.preview.png";
  BOOST_REQUIRE(fs::exists(placed));
  BOOST_REQUIRE(fs::exists(preview));
  struct stat a {
  }, b{};
  BOOST_REQUIRE_EQUAL(::stat(placed.c_str(), &a), 0);
  BOOST_REQUIRE_EQUAL(::stat(stored.c_str(), &b), 0);
  BOOST_TEST(a.st_ino != b.st_ino);
  BOOST_TEST(a.st_nlink == 1u);
  BOOST_TEST(a.st_size == b.st_size);
  std::ofstream(placed, std::ios::binary | std::ios::trunc) << "rewritten by a tool";
  std::ofstream(preview, std::ios::binary | std::ios::trunc) << "rewritten by a tool";
  auto check = sb({"hash", stored.string(), "--json"});
  BOOST_TEST(nlohmann::json::parse(check.out)[0]["hashes"]["SHA256"] == sha);
  std::string png_sha = j["files"][1]["hashes"]["SHA256"];
  std::transform(png_sha.begin(), png_sha.end(), png_sha.begin(), ::tolower);
  auto stored_png = dir / "data" / "store" / "sha256" / png_sha.substr(0, 2) / png_sha;
  BOOST_TEST(fs::file_size(stored_png) == fs::file_size(png));
}

BOOST_AUTO_TEST_CASE(content_decides_the_format_and_a_symlink_is_named) {
  BOOST_REQUIRE_EQUAL(sb({"keygen"}).exit_code, 0);
  // Text named .safetensors used to be published as an "other" file.
  std::ofstream(dir / "notes.safetensors") << "just some notes\n";
  auto text = sb({"publish", (dir / "notes.safetensors").string(), "--name", "X", "--type", "LORA"});
  BOOST_TEST(text.exit_code == 2);
  BOOST_TEST(text.err.find("it is text") != std::string::npos, text.err);
  // A protocol-0 pickle (no magic; this one runs a shell command when
  // loaded) named .safetensors was reported pickleScanResult "Success".
  const std::string pickle = "cposix\nsystem\np0\n(Vecho hi\np1\ntp2\nRp3\n.";
  std::ofstream(dir / "evil.safetensors", std::ios::binary) << pickle;
  auto named = sb({"publish", (dir / "evil.safetensors").string(), "--name", "X", "--type", "LORA", "--allow-unsafe"});
  BOOST_TEST(named.exit_code == 2);
  BOOST_TEST(named.err.find("Python pickle (protocol 0 or 1) despite the .safetensors name") != std::string::npos,
             named.err);
  std::ofstream(dir / "evil.dat", std::ios::binary) << pickle;  // a name that claims nothing
  auto unnamed = sb({"publish", (dir / "evil.dat").string(), "--name", "X", "--type", "Checkpoint"});
  BOOST_TEST(unnamed.exit_code != 0);
  BOOST_TEST(unnamed.err.find("--allow-unsafe") != std::string::npos, unnamed.err);
  BOOST_TEST(nlohmann::json::parse(sb({"releases", "--json"}).out).empty());

  // A symbolic link is followed, and the publisher is told where to.
  auto real = model("real.safetensors", 2000, 5);
  fs::create_symlink(real, dir / "linked.safetensors");
  auto linked = sb({"publish", (dir / "linked.safetensors").string(), "--name", "Linked", "--type", "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(linked.exit_code == 0, linked.err);
  auto j = nlohmann::json::parse(linked.out);
  BOOST_TEST(j["files"][0]["name"] == "linked.safetensors");
  BOOST_REQUIRE_EQUAL(j["warnings"].size(), 1u);
  std::string warning = j["warnings"][0];
  BOOST_TEST(warning.find("is a symbolic link to " + fs::canonical(real).string()) != std::string::npos, warning);
}

BOOST_AUTO_TEST_SUITE_END()
