// Community records between real nodes on 127.0.0.1 (A <- B <- C): ratings
// converge, a retraction stops seeding everywhere, a deny-list binds only
// its subscribers, a key rotation moves releases to the new identity.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/http_client.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"
#include "support/test_records.h"

namespace fs = std::filesystem;
using nlohmann::json;
using seedbank::testing::http_get;
using seedbank::testing::lower;

namespace {

struct Community : seedbank::testing::NodeLine {
  std::uint64_t version_id = 0;

  std::string keygen(const std::string& name) {
    auto file = dir / (name + ".key");
    auto r = sb("a", {"keygen", "--out", file.string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto pub = sb("a", {"pubkey", "--key", file.string()});
    key_text[name] = pub.out.substr(0, pub.out.find_first_of(" \n"));
    return file.string();
  }
  std::map<std::string, std::string> key_text;

  // Publishes on A, then starts the line; `config_b` is B's config.json,
  // `a_args` more options for A's node.
  void up(const json& config_b = json::object(), const std::function<void()>& before_start = {},
          const std::vector<std::string>& a_args = {}) {
    publish_on_a(seedbank::testing::write_safetensors(dir / "lamp.safetensors", 600 * 1024, 7),
                 {"--name", "Lamp", "--type", "LORA", "--image",
                  (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png").string()});
    fs::create_directories(dir / "b");
    std::ofstream(dir / "b" / "config.json") << config_b.dump();
    if (before_start) before_start();
    start_line(a_args, {});
    BOOST_REQUIRE(eventually([&] { return has("c", release["releaseId"]); }));
    auto v = version("c");
    BOOST_REQUIRE(v.contains("id"));
    version_id = v["id"];
  }
  json version(const std::string& node) {
    auto hash = release["files"][0]["hashes"]["SHA256"].get<std::string>();
    auto r = http_get(http[node], "/api/v1/model-versions/by-hash/" + hash);
    return r.status == 200 ? json::parse(r.body) : json{{"status", r.status}};
  }
  bool listed(const std::string& node) {
    auto r = http_get(http[node], "/api/v1/models");
    return r.status == 200 && json::parse(r.body)["items"].size() == 1;
  }
  bool seeding(const std::string& node) {
    auto s = sb(node, {"status", "--json"});
    if (s.exit_code != 0) return false;
    auto status = json::parse(s.out);
    for (const auto& t : status["torrents"])
      if (t["releaseId"] == release["releaseId"]) return t["state"] == "seeding";
    return false;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(community_test, Community)

BOOST_AUTO_TEST_CASE(ratings_from_three_keys_converge_and_a_replaced_one_counts_once) {
  up();
  auto k1 = keygen("k1"), k2 = keygen("k2"), k3 = keygen("k3");
  std::string id = release["releaseId"];
  BOOST_REQUIRE_EQUAL(sb("a", {"rate", id, "--stars", "5", "--key", k1}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("b", {"rate", id, "--stars", "4", "--review", "good", "--key", k2}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("c", {"rate", release["files"][0]["hashes"]["AutoV2"], "--stars", "3", "--key", k3}).exit_code,
                      0);
  // k1 changes its mind: the newer rating replaces the older everywhere.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  BOOST_REQUIRE_EQUAL(sb("a", {"rate", id, "--stars", "2", "--key", k1}).exit_code, 0);
  for (const char* node : {"a", "b", "c"}) {
    BOOST_TEST_CONTEXT(node) {
      BOOST_TEST(eventually([&] {
        auto v = version(node);
        return v["stats"]["ratingCount"] == 3 && v["stats"]["rating"] == 3;  // (2 + 4 + 3) / 3
      }));
      auto reviews =
          json::parse(http_get(http[node], "/api/seedbank/reviews?modelVersionId=" + std::to_string(version_id)).body);
      BOOST_TEST(reviews["items"].size() == 3u);
    }
  }
  // The gallery's rating form: the node signs with its identity key. A's
  // key published the release, and a creator cannot rate their own.
  std::string body =
      "{\"modelVersionId\": " + std::to_string(version_id) + ", \"stars\": 5, \"review\": \"from the gallery\"}";
  auto own = seedbank::testing::http_request(http["a"], "POST", "/api/seedbank/ratings", body,
                                             {{"Content-Type", "application/json"}, {"Origin", "http://" + http["a"]}});
  BOOST_TEST(own.status == 403);
  BOOST_TEST(own.body.find("cannot rate their own release") != std::string::npos, own.body);
  auto own_cli = sb("a", {"rate", id, "--stars", "5"});  // the CLI with A's identity neither
  BOOST_TEST(own_cli.exit_code != 0);
  BOOST_TEST(own_cli.err.find("cannot rate their own release") != std::string::npos, own_cli.err);
  // B's user rates from B's gallery. Pages of other sites cannot make it do so.
  BOOST_REQUIRE_EQUAL(sb("b", {"keygen"}).exit_code, 0);
  auto forged =
      seedbank::testing::http_request(http["b"], "POST", "/api/seedbank/ratings", body,
                                      {{"Content-Type", "application/json"}, {"Sec-Fetch-Site", "cross-site"}});
  BOOST_TEST(forged.status == 403);
  auto posted =
      seedbank::testing::http_request(http["b"], "POST", "/api/seedbank/ratings", body,
                                      {{"Content-Type", "application/json"}, {"Origin", "http://" + http["b"]}});
  BOOST_REQUIRE_MESSAGE(posted.status == 200, posted.body);
  BOOST_TEST(eventually([&] { return version("c")["stats"]["ratingCount"] == 4; }));
  // A NUL in the text is refused whole, never cut there and signed.
  auto with_nul = seedbank::testing::http_request(
      http["b"], "POST", "/api/seedbank/ratings",
      "{\"modelVersionId\": " + std::to_string(version_id) + ", \"stars\": 1, \"review\": \"good\\u0000 not\"}",
      {{"Content-Type", "application/json"}, {"Origin", "http://" + http["b"]}});
  BOOST_TEST(with_nul.status == 400);
  BOOST_TEST(with_nul.body.find("review") != std::string::npos);
  BOOST_TEST(version("b")["stats"]["rating"] == 3.5);  // (2 + 4 + 3 + 5) / 4

  // Out of range is refused before anything is signed.
  BOOST_TEST(sb("a", {"rate", id, "--stars", "6", "--key", k1}).exit_code != 0);

  // A user's image made with the release shows with the release's images,
  // with its generation parameters.
  auto post = sb("a", {"post-image", (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.jpg").string(), "--release",
                       id, "--caption", "mine", "--key", k2, "--json"});
  BOOST_REQUIRE_MESSAGE(post.exit_code == 0, post.err);
  auto sha = json::parse(post.out)["sha256"].get<std::string>();
  BOOST_TEST(eventually([&] {
    auto images =
        json::parse(http_get(http["a"], "/api/v1/images?modelVersionId=" + std::to_string(version_id)).body)["items"];
    for (const auto& i : images)
      if (i["hash"] == sha) return !i["postId"].is_null() && !i["meta"]["prompt"].get<std::string>().empty();
    return false;
  }));
  BOOST_TEST(http_get(http["a"], "/api/images/" + sha).status == 200);
  // The image feed: the post, with its caption, among the sample images
  // (newest first), on every node; by its poster and by its post id.
  auto feed_has_post = [&](const std::string& node, const std::string& query, bool samples_too) {
    auto r = http_get(http[node], "/api/v1/images?limit=100" + query);
    if (r.status != 200) return false;
    bool post_found = false, sample_found = false;
    auto page = json::parse(r.body);
    for (const auto& i : page["items"]) {
      if (i["postId"].is_null()) {
        sample_found = true;
      } else if (i["hash"] == sha) {
        post_found = i["caption"] == "mine" && i["modelVersionId"] == version_id && i["modelId"].is_number();
      }
    }
    return post_found && sample_found == samples_too;
  };
  for (const char* node : {"a", "b", "c"}) BOOST_TEST_CONTEXT(node) {
      BOOST_TEST(eventually([&] { return feed_has_post(node, "", true); }));
    }
  BOOST_TEST(feed_has_post("c", "&username=" + key_text["k2"], false));
  json post_id;
  auto feed = json::parse(http_get(http["c"], "/api/v1/images?limit=100").body);
  for (const auto& i : feed["items"])
    if (i["hash"] == sha && !i["postId"].is_null()) post_id = i["postId"];
  BOOST_TEST(feed_has_post("c", "&postId=" + post_id.dump(), false));
  BOOST_TEST(feed_has_post("c", "&period=Week", true));
  BOOST_TEST(http_get(http["c"], "/api/v1/images?period=Fortnight").status == 400);
  BOOST_TEST(http_get(http["c"], "/api/v1/images?cursor=zz.1").status == 400);

  // Favourites and follows are local, and export to another node.
  BOOST_REQUIRE_EQUAL(sb("a", {"favorite", "add", id}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("a", {"follow", "add", release["creator"]}).exit_code, 0);
  auto exported = sb("a", {"favorite", "list", "--json"});
  BOOST_TEST(json::parse(exported.out)["favorites"] == json::array({id}));
  std::ofstream(dir / "favorites.json") << exported.out;
  BOOST_REQUIRE_EQUAL(sb("c", {"favorite", "import", (dir / "favorites.json").string()}).exit_code, 0);
  // The list names what each entry is, from the index.
  auto listed = sb("c", {"favorite", "list"}).out;
  BOOST_TEST(listed.rfind(id + "  Lamp · ", 0) == 0u, listed);
  BOOST_TEST(std::count(listed.begin(), listed.end(), '\n') == 1);
  // The images of whom this node's user follows: the creator's sample
  // images, not k2's post; private, so not for other sites' pages.
  auto followed_feed = http_get(http["a"], "/api/v1/images?followed=true");
  BOOST_REQUIRE_EQUAL(followed_feed.status, 200);
  auto followed_items = json::parse(followed_feed.body)["items"];
  BOOST_TEST(followed_items.size() == 1u);  // Lamp's one sample image
  for (const auto& i : followed_items) BOOST_TEST(i["postId"].is_null());
  BOOST_TEST(http_get(http["a"], "/api/v1/images?followed=true", {{"Sec-Fetch-Site", "cross-site"}}).status == 403);
  BOOST_TEST(
      json::parse(http_get(http["c"], "/api/v1/images?followed=true").body)["items"].empty());  // C follows no one
  // A peer's name cannot add a line: a newline in it prints as a space.
  BOOST_REQUIRE_EQUAL(sb("a", {"profile", "--name", "Lamp\nMaker"}).exit_code, 0);
  auto followed = sb("a", {"follow", "list"}).out;
  BOOST_TEST(followed == release["creator"].get<std::string>() + "  Lamp Maker\n", followed);
  BOOST_TEST(sb("a", {"follow", "add", "not-a-key"}).exit_code != 0);
}

BOOST_AUTO_TEST_CASE(post_images_and_avatars_travel_to_nodes_two_hops_away) {
  up();
  auto k = keygen("poster");
  std::string id = release["releaseId"];
  auto image = fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.jpg";
  auto avatar = fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.webp";
  auto bytes_of = [](const fs::path& f) {
    std::ifstream in(f, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto post = sb("a", {"post-image", image.string(), "--release", id, "--key", k, "--json"});
  BOOST_REQUIRE_MESSAGE(post.exit_code == 0, post.err);
  auto sha = json::parse(post.out)["sha256"].get<std::string>();
  auto profile = sb("a", {"profile", "--name", "Poster", "--avatar", avatar.string(), "--key", k, "--json"});
  BOOST_REQUIRE_MESSAGE(profile.exit_code == 0, profile.err);
  // C learns both records through B; B fetches the images from A as the
  // records arrive, and C from B. Nothing was fetched by hand.
  for (const char* node : {"b", "c"}) {
    BOOST_TEST_CONTEXT(node) {
      BOOST_TEST(eventually(
          [&] {
            auto images = json::parse(
                http_get(http[node], "/api/v1/images?modelVersionId=" + std::to_string(version_id)).body)["items"];
            for (const auto& i : images)
              if (i["hash"] == sha) return !i["postId"].is_null() && i["username"] == "Poster";
            return false;
          },
          std::chrono::seconds(30)));
      BOOST_TEST(eventually([&] { return http_get(http[node], "/api/images/" + sha).status == 200; },
                            std::chrono::seconds(30)));
      BOOST_TEST(http_get(http[node], "/api/images/" + sha).body == bytes_of(image));
      auto creators = json::parse(http_get(http[node], "/api/v1/creators?query=Poster").body)["items"];
      BOOST_REQUIRE_EQUAL(creators.size(), 1u);
      std::string url = creators[0]["image"];
      auto path = url.substr(url.find("/api/images/"));
      BOOST_TEST(eventually([&] { return http_get(http[node], path).status == 200; }, std::chrono::seconds(30)));
      BOOST_TEST(http_get(http[node], path).body == bytes_of(avatar));
    }
  }
  // Too big to travel: refused before anything is signed, saying why.
  auto big = dir / "big.png";
  {
    auto png = bytes_of(fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png");
    png.resize(17u << 20, '\0');  // trailing bytes after IEND: still a readable PNG
    std::ofstream(big, std::ios::binary) << png;
  }
  auto refused = sb("a", {"post-image", big.string(), "--release", id, "--key", k});
  BOOST_TEST(refused.exit_code != 0);
  BOOST_TEST(refused.err.find("16 MiB") != std::string::npos, refused.err);
}

BOOST_AUTO_TEST_CASE(the_gallerys_forms_sign_posts_profiles_retractions_and_keep_favourites) {
  up();
  using seedbank::testing::http_request;
  auto bytes_of = [](const fs::path& f) {
    std::ifstream in(f, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto post = [&](const std::string& node, const std::string& path, const std::string& body,
                  const std::string& type = "application/json") {
    return http_request(http[node], "POST", path, body, {{"Content-Type", type}, {"Origin", "http://" + http[node]}});
  };
  std::string vid = std::to_string(version_id);
  // Who the gallery acts as: A's identity, the release's author.
  auto me = json::parse(http_get(http["a"], "/api/seedbank/me").body);
  BOOST_TEST(me["identity"] == release["creator"]);
  BOOST_TEST(me["favorites"].empty());

  // Favourites and follows: the same local lists the CLI keeps.
  auto fav = post("a", "/api/seedbank/favorites", "{\"modelVersionId\": " + vid + ", \"favorite\": true}");
  BOOST_REQUIRE_MESSAGE(fav.status == 200, fav.body);
  BOOST_TEST(json::parse(fav.body)["favorites"][0]["releaseId"] == release["releaseId"]);
  BOOST_TEST(sb("a", {"favorite", "list"}).out.rfind(release["releaseId"].get<std::string>() + "  Lamp · ", 0) == 0u);
  auto follow = post("a", "/api/seedbank/follows", "{\"creator\": \"" + key_text["k"] + "\", \"follow\": true}");
  BOOST_TEST(follow.status == 400);  // not a key
  keygen("k");
  follow = post("a", "/api/seedbank/follows", "{\"creator\": \"" + key_text["k"] + "\", \"follow\": true}");
  BOOST_TEST(json::parse(follow.body)["follows"] == json::array({key_text["k"]}));
  fav = post("a", "/api/seedbank/favorites", "{\"modelVersionId\": " + vid + ", \"favorite\": false}");
  BOOST_TEST(json::parse(fav.body)["favorites"].empty());
  BOOST_TEST(json::parse(http_get(http["a"], "/api/seedbank/me").body)["follows"].size() == 1u);

  // An image: uploaded, then posted; its parameters are read from it.
  auto image = fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.jpg";
  auto up_image = post("a", "/api/seedbank/images", bytes_of(image), "image/jpeg");
  BOOST_REQUIRE_MESSAGE(up_image.status == 200, up_image.body);
  auto uploaded = json::parse(up_image.body);
  BOOST_TEST(!uploaded["meta"]["prompt"].get<std::string>().empty());
  std::string sha = uploaded["sha256"];
  BOOST_TEST(post("a", "/api/seedbank/images", "not an image", "image/png").status == 400);
  auto foreign = http_request(http["a"], "POST", "/api/seedbank/images", bytes_of(image),
                              {{"Content-Type", "image/jpeg"}, {"Sec-Fetch-Site", "cross-site"}});
  BOOST_TEST(foreign.status == 403);
  // Over 16 MiB: refused as the header arrives, before any of the body.
  auto big = seedbank::testing::parse_reply(
      seedbank::testing::http_exchange(http["a"], "POST /api/seedbank/images HTTP/1.1\r\nHost: " + http["a"] +
                                                      "\r\nContent-Length: " + std::to_string(17u << 20) + "\r\n\r\n"));
  BOOST_TEST(big.status == 413);
  auto posted = post("a", "/api/seedbank/posts",
                     "{\"modelVersionId\": " + vid + ", \"image\": \"" + sha + "\", \"caption\": \"mine\"}");
  BOOST_REQUIRE_MESSAGE(posted.status == 200, posted.body);
  BOOST_TEST(
      post("a", "/api/seedbank/posts", "{\"modelVersionId\": " + vid + ", \"image\": \"" + std::string(64, 'a') + "\"}")
          .status == 404);
  // A profile with that image as avatar.
  auto profile = post("a", "/api/seedbank/profile",
                      "{\"displayName\": \"Lamp Maker\", \"bio\": \"hi\", \"links\": [\"https://example.org\"], "
                      "\"avatar\": \"" +
                          sha + "\"}");
  BOOST_REQUIRE_MESSAGE(profile.status == 200, profile.body);
  // Both reach C, two hops away, with the image.
  BOOST_TEST(eventually(
      [&] {
        auto images = json::parse(http_get(http["c"], "/api/v1/images?modelVersionId=" + vid).body)["items"];
        for (const auto& i : images)
          if (i["hash"] == sha) return i["username"] == "Lamp Maker";
        return false;
      },
      std::chrono::seconds(30)));
  BOOST_TEST(
      eventually([&] { return http_get(http["c"], "/api/images/" + sha).status == 200; }, std::chrono::seconds(30)));

  // Retraction: B's node has no identity key; on A, the author's, it works.
  BOOST_TEST(post("b", "/api/seedbank/retractions", "{\"modelVersionId\": " + vid + "}").status == 409);
  auto retracted = post("a", "/api/seedbank/retractions", "{\"modelVersionId\": " + vid + ", \"reason\": \"broken\"}");
  BOOST_REQUIRE_MESSAGE(retracted.status == 200, retracted.body);
  BOOST_TEST(eventually([&] { return version("c")["status"] == 404; }, std::chrono::seconds(30)));
}

BOOST_AUTO_TEST_CASE(a_retraction_stops_listing_and_seeding_on_every_node) {
  up();
  std::string id = release["releaseId"];
  for (const char* node : {"b", "c"}) {
    auto f = sb(node, {"fetch", id, "--timeout", "60"});
    BOOST_REQUIRE_MESSAGE(f.exit_code == 0, f.err);
  }
  BOOST_REQUIRE(eventually([&] { return seeding("a") && seeding("b") && seeding("c"); }));
  // Someone's image post about it, which every node has once C does.
  auto poster = keygen("poster");
  auto post = sb("a", {"post-image", (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.jpg").string(), "--release",
                       id, "--key", poster, "--json"});
  BOOST_REQUIRE_MESSAGE(post.exit_code == 0, post.err);
  std::string post_image = json::parse(post.out)["sha256"];
  std::string sample = release["files"][1]["hashes"]["SHA256"], model = release["files"][0]["hashes"]["SHA256"];
  std::string download = version("c")["downloadUrl"];
  download = download.substr(download.find("/api/"));
  BOOST_REQUIRE(eventually([&] { return http_get(http["c"], "/api/images/" + post_image).status == 200; },
                           std::chrono::seconds(30)));
  for (const char* node : {"a", "b", "c"}) {
    BOOST_TEST_CONTEXT(node) {
      BOOST_TEST(http_get(http[node], "/api/images/" + sample).status == 200);
      // The image route serves images, never a model file, though the store has it.
      BOOST_TEST(http_get(http[node], "/api/images/" + model).status == 404);
    }
  }
  // Only the author can retract.
  auto other = keygen("other");
  BOOST_TEST(sb("a", {"retract", id, "--key", other}).exit_code != 0);
  auto r = sb("a", {"retract", id, "--reason", "broken weights", "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::string retraction = json::parse(r.out)["recordId"];
  for (const char* node : {"a", "b", "c"}) {
    BOOST_TEST_CONTEXT(node) {
      BOOST_REQUIRE(eventually([&] { return has(node, retraction); }, std::chrono::seconds(30)));
      // Every route that serves bytes stops as soon as the retraction is
      // stored: its sample image, a post about it, the model file.
      for (const auto& target : {"/api/images/" + sample, "/api/images/" + sample + "?width=160",
                                 "/api/images/" + post_image, "/api/images/" + model, download,
                                 "/api/files/" + model + "/lamp.safetensors", "/api/files/" + sample + "/a1111.png"})
        BOOST_TEST(http_get(http[node], target).status == 404, target);
      BOOST_TEST(eventually([&] { return !listed(node) && !seeding(node); }, std::chrono::seconds(30)));
      BOOST_TEST(version(node)["status"] == 404);
    }
  }
  // resolve places nothing of it, and says why.
  auto placed = sb("c", {"resolve", model, "--out", (dir / "placed").string()});
  BOOST_TEST(placed.exit_code == 3);
  BOOST_TEST(placed.err.find("retracted by its author") != std::string::npos, placed.err);
  BOOST_TEST(!fs::exists(dir / "placed" / "lamp.safetensors"));
  // The retraction itself replicated (the release record is kept).
  BOOST_TEST(has("c", id));
}

BOOST_AUTO_TEST_CASE(a_download_streaming_when_its_release_is_retracted_ends_at_once) {
  // A seeds at 32 KiB/s, so B's stream of the model is still running when
  // the author retracts the release.
  up(json::object(), {}, {"--upload-limit", "32768"});
  std::string id = release["releaseId"];
  auto url = version("b")["downloadUrl"].get<std::string>();
  auto target = url.substr(url.find("/api/"));
  bool retracted = false;
  std::string retract_err;
  auto retracted_at = std::chrono::steady_clock::now();
  auto reply = seedbank::testing::http_download(http["b"], target, 120, [&] {
    retracted = true;
    auto r = sb("a", {"retract", id, "--reason", "withdrawn"});
    if (r.exit_code != 0) retract_err = r.err;
    retracted_at = std::chrono::steady_clock::now();
  });
  auto waited = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - retracted_at);
  BOOST_REQUIRE_MESSAGE(retracted, "no body arrived: status " << reply.status << ": " << reply.body.substr(0, 300));
  BOOST_REQUIRE_MESSAGE(retract_err.empty(), retract_err);
  BOOST_TEST(reply.status == 200);
  // B stops the download when the retraction arrives, and the stream ends
  // short (the client sees fewer bytes than Content-Length) instead of
  // waiting for bytes that will never come.
  BOOST_TEST(reply.body.size() < std::stoull(reply.header("content-length")));
  BOOST_TEST(waited.count() < 30, "the stream ended " << waited.count() << " s after the retraction");
  BOOST_TEST(eventually([&] { return !listed("b") && !seeding("b"); }, std::chrono::seconds(30)));
}

BOOST_AUTO_TEST_CASE(a_deny_list_binds_its_subscribers_only) {
  auto curator = keygen("curator");
  up({{"denyListCurators", {key_text["curator"]}}});
  std::string id = release["releaseId"];
  BOOST_TEST(listed("b"));
  std::string sample = release["files"][1]["hashes"]["SHA256"], model = release["files"][0]["hashes"]["SHA256"];
  std::string download = version("b")["downloadUrl"];
  download = download.substr(download.find("/api/"));
  // B holds the files before the list arrives.
  auto f = sb("b", {"fetch", id, "--timeout", "60"});
  BOOST_REQUIRE_MESSAGE(f.exit_code == 0, f.err);
  BOOST_TEST(http_get(http["b"], "/api/images/" + sample).status == 200);
  auto d = sb("a", {"deny-list", "--name", "takedowns", "--release", id, "--reason", "not theirs to share", "--key",
                    curator, "--json"});
  BOOST_REQUIRE_MESSAGE(d.exit_code == 0, d.err);
  // Every node gets the list; only B follows its curator.
  std::string list = json::parse(d.out)["recordId"];
  BOOST_REQUIRE(eventually([&] { return has("c", list) && has("b", list); }));
  // B follows the curator: nothing of the release is served, listed or
  // placed from the moment the list is stored, though its store has it all.
  for (const auto& target :
       {"/api/images/" + sample, "/api/images/" + model, download, "/api/files/" + model + "/lamp.safetensors"})
    BOOST_TEST(http_get(http["b"], target).status == 404, target);
  BOOST_TEST(!listed("b"));
  BOOST_TEST(version("b")["status"] == 404);
  auto releases = sb("b", {"releases", "--json"});
  BOOST_TEST(json::parse(releases.out).empty(), releases.out);
  BOOST_TEST(json::parse(sb("b", {"releases", "--all", "--json"}).out).size() == 1u);
  auto placed = sb("b", {"resolve", model, "--out", (dir / "placed").string()});
  BOOST_TEST(placed.exit_code == 3);
  BOOST_TEST(placed.err.find("denied by a deny-list") != std::string::npos, placed.err);
  BOOST_TEST(!fs::exists(dir / "placed" / "lamp.safetensors"));
  // Anyone may name the image as an avatar: that does not bring it back.
  auto avatar = sb(
      "a", {"profile", "--name", "Reviver", "--avatar",
            (fs::path(SEEDBANK_FIXTURES_DIR) / "images" / "a1111.png").string(), "--key", keygen("reviver"), "--json"});
  BOOST_REQUIRE_MESSAGE(avatar.exit_code == 0, avatar.err);
  BOOST_REQUIRE(eventually([&] { return has("b", json::parse(avatar.out)["recordId"]); }));
  BOOST_TEST(http_get(http["b"], "/api/images/" + sample).status == 404);
  // C follows nobody: it fetches and serves the image as before.
  BOOST_TEST(
      eventually([&] { return http_get(http["c"], "/api/images/" + sample).status == 200; }, std::chrono::seconds(30)));
  auto refused = sb("b", {"fetch", id, "--timeout", "20"});
  BOOST_TEST(refused.exit_code != 0);
  BOOST_TEST(refused.err.find("denied") != std::string::npos, refused.err);
  // C does not: it lists and fetches it as before.
  BOOST_TEST(listed("c"));
  auto got = sb("c", {"fetch", id, "--timeout", "60"});
  BOOST_TEST(got.exit_code == 0, got.err);
}

// A curator rates an image higher than its publisher did: nodes that follow
// the curator show it at that level (and a node that leaves out NSFW
// stops serving it); the others show the publisher's level.
BOOST_AUTO_TEST_CASE(a_followed_curator_raises_an_images_level) {
  auto curator = keygen("curator");
  up({{"denyListCurators", {key_text["curator"]}}});
  std::string sample = release["files"][1]["hashes"]["SHA256"];
  auto level_on = [&](const std::string& node) -> json {
    auto v = version(node);
    if (!v.contains("images") || v["images"].empty()) return nullptr;
    return v["images"][0]["nsfwLevel"];
  };
  BOOST_TEST(level_on("b") == 1);
  auto d = sb("a", {"deny-list", "--name", "ratings", "--level", lower(sample) + "=X", "--key", curator, "--json"});
  BOOST_REQUIRE_MESSAGE(d.exit_code == 0, d.err);
  std::string list = json::parse(d.out)["recordId"];
  BOOST_REQUIRE(eventually([&] { return has("b", list) && has("c", list); }));
  // Not a denial: B still lists the release, its image now at X there.
  BOOST_TEST(listed("b"));
  BOOST_TEST(level_on("b") == 8);
  BOOST_TEST(version("b")["nsfwLevel"] == 8);
  auto feed = json::parse(http_get(http["b"], "/api/v1/images").body);
  BOOST_REQUIRE_EQUAL(feed["items"].size(), 1u);
  BOOST_TEST(feed["items"][0]["browsingLevel"] == 8);
  BOOST_TEST(json::parse(http_get(http["b"], "/api/v1/images?browsingLevel=1").body)["items"].empty());
  BOOST_TEST(level_on("c") == 1);  // C follows nobody
  // A level that is not one is refused before signing.
  auto bad = sb("a", {"deny-list", "--name", "ratings", "--level", lower(sample) + "=spicy", "--key", curator});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err.find("SHA256=LEVEL") != std::string::npos, bad.err);
  // The curator's newer list without the rating: back to the publisher's.
  auto cleared = sb("a", {"deny-list", "--name", "ratings", "--key", curator, "--json"});
  BOOST_REQUIRE_MESSAGE(cleared.exit_code == 0, cleared.err);
  BOOST_TEST(eventually([&] { return level_on("b") == 1; }));
}

BOOST_AUTO_TEST_CASE(a_key_rotation_moves_releases_to_the_new_identity) {
  up();
  auto next = keygen("next");
  BOOST_REQUIRE_EQUAL(sb("a", {"profile", "--name", "Lamp Maker", "--key", next}).exit_code, 0);
  auto rot = sb("a", {"rotate-key", "--new", next, "--revoke", "--reason", "laptop stolen", "--json"});
  BOOST_REQUIRE_MESSAGE(rot.exit_code == 0, rot.err);
  for (const char* node : {"b", "c"}) {
    BOOST_TEST_CONTEXT(node) {
      BOOST_TEST(eventually([&] {
        auto r = http_get(http[node], "/api/v1/models");
        if (r.status != 200) return false;
        auto items = json::parse(r.body)["items"];
        return items.size() == 1 && items[0]["creator"]["username"] == "Lamp Maker" &&
               items[0]["creator"]["seedbank"]["rotatedTo"] == key_text["next"];
      }));
    }
  }
  // The revoked key's later signatures are distrusted: a release it signs
  // now is not listed.
  auto late = seedbank::testing::write_safetensors(dir / "late.safetensors", 100 * 1024, 9);
  auto pub = sb("a", {"publish", late.string(), "--name", "Forged", "--type", "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  BOOST_REQUIRE(eventually([&] { return has("c", json::parse(pub.out)["releaseId"]); }));
  auto models = json::parse(http_get(http["c"], "/api/v1/models").body);
  BOOST_TEST(models["items"].size() == 1u);
  BOOST_TEST(models["items"][0]["name"] == "Lamp");
}

BOOST_AUTO_TEST_CASE(a_flood_from_one_key_is_capped_without_hurting_other_authors) {
  auto flooder = seedbank::protocol::SecretKey::generate();
  auto honest = seedbank::protocol::SecretKey::generate();
  std::string honest_id;
  up({{"spam", {{"perAuthorPerHour", 50}}}}, [&] {
    std::vector<seedbank::protocol::Bytes> records;
    auto now = seedbank::testing::now_ms();
    for (int i = 0; i < 200; ++i)
      records.push_back(seedbank::testing::sign_release(flooder, seedbank::testing::sample_release(1000 + i), now - i));
    auto h = seedbank::testing::sign_release(honest, seedbank::testing::sample_release(5000), now);
    honest_id = seedbank::protocol::to_hex(seedbank::protocol::record_id_of(h));
    records.push_back(std::move(h));
    import("a", records);
  });
  // B takes at most 50 of the flooder's records from the last hour, and
  // still everything else; A (no limit set but the default) has them all.
  BOOST_TEST(eventually([&] { return has("b", honest_id); }));
  auto page = [&](const std::string& node) {
    return json::parse(
        http_get(http[node], "/api/v1/models?limit=100&username=" + flooder.public_key().to_text()).body);
  };
  auto count = [&](const std::string& node) { return page(node)["items"].size(); };
  BOOST_TEST(eventually([&] { return count("b") == 50u; }));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // more reconciliations change nothing
  BOOST_TEST(count("b") == 50u);
  BOOST_TEST(count("a") == 100u);  // a full page, and more: A kept all 200
  BOOST_TEST(page("a")["metadata"].contains("nextCursor"));
  // B did not ban A for relaying them: they are still connected.
  auto peers = json::parse(sb("b", {"peers", "--json"}).out);
  BOOST_TEST(peers["peers"].size() >= 2u);
  // A record from a key B has never seen, without the work stamp B asks
  // of new keys, is refused even from an honest peer.
  auto lazy = seedbank::protocol::SecretKey::generate();
  auto unstamped = seedbank::testing::sign_release(
      lazy, seedbank::testing::sample_release(6000),
      seedbank::testing::unstamped_time(lazy, seedbank::testing::now_ms(), 10u /* the default spam.newKeyWorkBits */),
      "test", 0);
  // A stamped record from another new key goes with it: once B has that,
  // B has seen (and refused) the other.
  auto marker = seedbank::testing::sign_release(seedbank::protocol::SecretKey::generate(),
                                                seedbank::testing::sample_release(6001), seedbank::testing::now_ms());
  auto ids = import("a", {unstamped, marker});
  BOOST_REQUIRE(eventually([&] { return has("b", ids[1]); }));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  BOOST_TEST(has("a", ids[0]));
  BOOST_TEST(!has("b", ids[0]));
}

BOOST_AUTO_TEST_SUITE_END()
