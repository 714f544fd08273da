// The HTTP API between real node processes on 127.0.0.1: A publishes, B
// learns the releases over gossip and serves them with Civitai's shapes;
// images and model files B does not have come from A over BitTorrent.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <sys/wait.h>
#include <unistd.h>

#include "seedbank/protocol/http_target.h"
#include "support/http_client.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"
#include "support/test_records.h"

namespace fs = std::filesystem;
using nlohmann::json;
using seedbank::testing::http_get;
using seedbank::testing::http_request;
using seedbank::testing::HttpReply;
using seedbank::testing::lower;
using seedbank::testing::Net;
using seedbank::testing::Process;
using seedbank::testing::sha256_hex;

namespace {

// A copy of the PNG `from` whose first "parameters" text is `parameters`
// (a tEXt chunk right after IHDR, ahead of any the file has).
fs::path png_with_parameters(const fs::path& from, const fs::path& to, const std::string& parameters) {
  std::ifstream in(from, std::ios::binary);
  std::string png(std::istreambuf_iterator<char>(in), {});
  BOOST_REQUIRE(png.size() > 33 && png.compare(12, 4, "IHDR") == 0);
  const std::string data = "tEXtparameters" + std::string(1, '\0') + parameters;
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xffffffffu;
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  png.insert(33, be32(static_cast<std::uint32_t>(data.size() - 4)) + data + be32(crc));
  std::ofstream(to, std::ios::binary) << png;
  return to;
}

struct Gallery : Net {
  std::string a, b;
  std::unique_ptr<Process> na, nb;
  json alpha1, alpha2, beta;
  fs::path images = fs::path(SEEDBANK_FIXTURES_DIR) / "images";
  fs::path beta_file;

  json publish(const std::vector<std::string>& args) {
    auto r = sb("a", args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return json::parse(r.out);
  }

  Gallery() {
    BOOST_REQUIRE_EQUAL(sb("a", {"keygen"}).exit_code, 0);
    auto f1 = seedbank::testing::write_safetensors(dir / "alpha.safetensors", 300 * 1024, 1);
    auto f2 = seedbank::testing::write_safetensors(dir / "alpha_v2.safetensors", 310 * 1024, 2);
    beta_file = seedbank::testing::write_safetensors(dir / "beta.safetensors", 3 * 1024 * 1024 + 5, 3);
    alpha1 = publish({"publish", f1.string(), "--name", "Alpha LoRA", "--type", "LORA", "--base-model", "SD 1.5",
                      "--tag", "anime", "--image", (images / "a1111.png").string(), "--image",
                      (images / "a1111.jpg").string(), "--json"});
    alpha2 =
        publish({"publish", f2.string(), "--name", "Alpha LoRA", "--version", "v2.0", "--type", "LORA", "--base-model",
                 "SD 1.5", "--tag", "anime", "--image", (images / "a1111.png").string(), "--json"});
    beta = publish({"publish", beta_file.string(), "--name", "Beta Checkpoint", "--type", "Checkpoint", "--base-model",
                    "SDXL 1.0", "--tag", "photo", "--image", (images / "a1111.webp").string(), "--json"});
    // Ratings from three other keys: Alpha 5 and 4 (on two versions), Beta 2.
    auto k1 = seedbank::protocol::SecretKey::generate(), k2 = seedbank::protocol::SecretKey::generate();
    auto id = [](const json& j) { return *seedbank::protocol::from_hex_fixed<32>(j["releaseId"].get<std::string>()); };
    auto now = seedbank::testing::now_ms();
    // And a post about Beta made 30 days ago, for the image feed's period.
    import(
        "a",
        {seedbank::testing::sign_rating(k1, id(alpha1), 5, now), seedbank::testing::sign_rating(k2, id(alpha2), 4, now),
         seedbank::testing::sign_rating(k1, id(beta), 2, now),
         seedbank::testing::sign_post(k2, id(beta), seedbank::testing::fake_digest(77, 7), now - 30ull * 86400000,
                                      "test", seedbank::testing::kTestWorkBits, "from last month")});
    na = start("a", {}, &a);
    nb = start("b", {a}, &b);
    BOOST_REQUIRE(http.count("a") && http.count("b"));
    BOOST_REQUIRE(eventually([&] { return has("b", beta["releaseId"]) && has("b", alpha2["releaseId"]); }));
    BOOST_REQUIRE(eventually([&] {
      auto r = http_get(http["b"], "/api/v1/models");
      return r.status == 200 && json::parse(r.body)["items"].size() == 2;
    }));
    // And the post (it may come in a later batch): 4 sample images and it.
    BOOST_REQUIRE(eventually([&] {
      auto r = http_get(http["b"], "/api/v1/images?limit=100");
      return r.status == 200 && json::parse(r.body)["items"].size() == 5;
    }));
  }

  // A download through B, which may first have to fetch the file from A:
  // under sanitizers on a loaded machine the first byte can take over a
  // minute, so the client waits up to four.
  seedbank::testing::HttpReply download(const std::string& target) {
    return seedbank::testing::http_download(http["b"], target, 240);
  }

  json get_json(const std::string& target, int status = 200) {
    auto r = http_get(http["b"], target);
    BOOST_TEST_CONTEXT(target) {
      BOOST_REQUIRE_EQUAL(r.status, status);
      BOOST_TEST(r.header("content-type").rfind("application/json", 0) == 0u);
    }
    return json::parse(r.body);
  }
  std::vector<std::string> names(const json& page) {
    std::vector<std::string> out;
    for (const auto& m : page["items"]) out.push_back(m["name"]);
    return out;
  }
  json version_of(const json& published) {
    auto id = published["releaseId"].get<std::string>();
    auto page = get_json("/api/v1/models?limit=100");
    for (const auto& m : page["items"])
      for (const auto& v : m["modelVersions"])
        if (v["seedbank"]["releaseId"] == id) return v;
    BOOST_FAIL("release " + id + " is not listed");
    return {};
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(http_test, Gallery)

BOOST_AUTO_TEST_CASE(models_are_listed_filtered_and_paged_with_civitai_fields) {
  auto page = get_json("/api/v1/models");
  BOOST_TEST((names(page) == std::vector<std::string>{"Beta Checkpoint", "Alpha LoRA"}));  // newest first
  auto alpha = page["items"][1];
  BOOST_TEST(alpha["type"] == "LORA");
  BOOST_TEST(alpha["creator"]["username"] == alpha1["creator"]);
  BOOST_TEST(alpha["tags"] == json::array({"anime"}));
  BOOST_TEST(alpha["allowDerivatives"] == true);
  BOOST_TEST(alpha["id"].get<std::uint64_t>() < (1ull << 53));
  // Both versions, newest first, each with its files, hashes and images.
  BOOST_REQUIRE_EQUAL(alpha["modelVersions"].size(), 2u);
  auto v2 = alpha["modelVersions"][0];
  BOOST_TEST(v2["name"] == "v2.0");
  BOOST_TEST(v2["modelId"] == alpha["id"]);
  BOOST_TEST(v2["baseModel"] == "SD 1.5");
  BOOST_TEST(v2["files"][0]["hashes"]["SHA256"] == alpha2["files"][0]["hashes"]["SHA256"]);
  BOOST_TEST(v2["files"][0]["hashes"]["AutoV2"] == alpha2["files"][0]["hashes"]["AutoV2"]);
  BOOST_TEST(v2["files"][0]["primary"] == true);
  BOOST_TEST(v2["files"][0]["downloadUrl"].get<std::string>().rfind(
                 "http://" + http["b"] + "/api/download/models/" + std::to_string(v2["id"].get<std::uint64_t>()), 0) ==
             0u);
  BOOST_TEST(!v2["images"][0]["meta"]["prompt"].get<std::string>().empty());
  // Ratings: one per key, mean over the model's versions.
  BOOST_TEST(alpha["stats"]["ratingCount"] == 2);
  BOOST_TEST(alpha["stats"]["rating"] == 4.5);
  BOOST_TEST(v2["stats"]["ratingCount"] == 1);
  // Downloads = nodes known to seed: A (B seeds nothing yet).
  BOOST_TEST(eventually([&] { return version_of(alpha2)["stats"]["downloadCount"] == 1; }));

  BOOST_TEST((names(get_json("/api/v1/models?types=LORA")) == std::vector<std::string>{"Alpha LoRA"}));
  BOOST_TEST((names(get_json("/api/v1/models?types=Checkpoint,VAE")) == std::vector<std::string>{"Beta Checkpoint"}));
  BOOST_TEST((names(get_json("/api/v1/models?baseModels=SDXL%201.0")) == std::vector<std::string>{"Beta Checkpoint"}));
  BOOST_TEST((names(get_json("/api/v1/models?tag=anime")) == std::vector<std::string>{"Alpha LoRA"}));
  BOOST_TEST((names(get_json("/api/v1/models?query=bet")) == std::vector<std::string>{"Beta Checkpoint"}));
  BOOST_TEST((names(get_json("/api/v1/models?sort=Highest%20Rated")) ==
              std::vector<std::string>{"Alpha LoRA", "Beta Checkpoint"}));
  BOOST_TEST(names(get_json("/api/v1/models?username=" + alpha1["creator"].get<std::string>())).size() == 2u);
  BOOST_TEST(names(get_json("/api/v1/models?username=nobody")).empty());
  BOOST_TEST(names(get_json("/api/v1/models?types=LORA&sort=Most%20Downloaded")).size() == 1u);

  // Cursor paging: one per page, then the end.
  auto first = get_json("/api/v1/models?limit=1");
  BOOST_REQUIRE(first["metadata"].contains("nextCursor"));
  auto next = first["metadata"]["nextPage"].get<std::string>();
  auto second = get_json(next.substr(next.find("/api/")));
  BOOST_TEST((names(second) == std::vector<std::string>{"Alpha LoRA"}));
  BOOST_TEST((names(get_json("/api/v1/models?limit=1&page=2")) == std::vector<std::string>{"Alpha LoRA"}));
  BOOST_TEST(!second["metadata"].contains("nextCursor"));  // the last page

  // One model, one version, by their numeric ids.
  auto model = get_json("/api/v1/models/" + std::to_string(alpha["id"].get<std::uint64_t>()));
  BOOST_TEST(model["name"] == "Alpha LoRA");
  auto version = get_json("/api/v1/model-versions/" + std::to_string(v2["id"].get<std::uint64_t>()));
  BOOST_TEST(version["model"]["name"] == "Alpha LoRA");
  BOOST_TEST(version["model"]["type"] == "LORA");
}

BOOST_AUTO_TEST_CASE(every_hash_type_finds_the_version_by_hash) {
  auto expected = version_of(beta)["id"];
  auto h = beta["files"][0]["hashes"];
  for (std::string hash :
       {h["SHA256"].get<std::string>(), lower(h["SHA256"]), h["AutoV2"].get<std::string>(), lower(h["AutoV2"]),
        h["AutoV1"].get<std::string>(), h["AutoV3"].get<std::string>(), h["CRC32"].get<std::string>(),
        beta["infoHashV1"].get<std::string>(), beta["infoHashV2"].get<std::string>()}) {
    BOOST_TEST_CONTEXT(hash) {
      auto v = get_json("/api/v1/model-versions/by-hash/" + hash);
      BOOST_TEST(v["id"] == expected);
      BOOST_TEST(v["files"][0]["name"] == "beta.safetensors");
    }
  }
  BOOST_TEST(get_json("/api/v1/model-versions/by-hash/0123456789abcdef", 404)["error"] == "Model not found");
  // POST: several SHA256s at once; unknown ones are left out.
  json body = json::array({h["SHA256"], alpha1["files"][0]["hashes"]["SHA256"], std::string(64, 'a')});
  auto r = http_request(http["b"], "POST", "/api/v1/model-versions/by-hash", body.dump(),
                        {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  auto list = json::parse(r.body);
  BOOST_REQUIRE_EQUAL(list.size(), 2u);
  BOOST_TEST(list[0]["id"] == expected);
  auto bad = http_request(http["b"], "POST", "/api/v1/model-versions/by-hash", "{\"not\":\"a list\"}");
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(json::parse(bad.body).contains("error"));
}

BOOST_AUTO_TEST_CASE(images_tags_creators_and_reviews) {
  auto v1 = version_of(alpha1);
  auto imgs = get_json("/api/v1/images?modelVersionId=" + std::to_string(v1["id"].get<std::uint64_t>()));
  BOOST_REQUIRE_EQUAL(imgs["items"].size(), 2u);
  BOOST_TEST(imgs["items"][0]["hash"] == v1["images"][0]["hash"]);
  BOOST_TEST(imgs["items"][0]["username"] == alpha1["creator"]);
  BOOST_TEST(!imgs["items"][0]["meta"]["prompt"].get<std::string>().empty());
  auto all = get_json("/api/v1/images?limit=2");
  BOOST_TEST(all["items"].size() == 2u);
  BOOST_TEST(all["metadata"].contains("nextCursor"));

  auto tags = get_json("/api/v1/tags");
  std::map<std::string, int> counts;
  for (const auto& t : tags["items"]) counts[t["name"]] = t["modelCount"];
  BOOST_TEST(counts["anime"] == 1);  // one model, two versions
  BOOST_TEST(counts["photo"] == 1);

  // Search: a tag prefix, a creator key, a word of the description; the
  // most used tags.
  auto found = get_json("/api/v1/models?query=anim");
  BOOST_TEST(names(found) == std::vector<std::string>{"Alpha LoRA"});
  auto by_key = get_json("/api/v1/models?query=" + alpha1["creator"].get<std::string>());
  BOOST_TEST(by_key["items"].size() == 2u);
  BOOST_TEST(get_json("/api/v1/models?query=anim%20photo")["items"].empty());
  auto top = get_json("/api/v1/tags?sort=Most%20Models&limit=1");
  BOOST_REQUIRE_EQUAL(top["items"].size(), 1u);
  BOOST_TEST(top["items"][0]["modelCount"] == 1);
  get_json("/api/v1/tags?sort=Popular", 400);

  auto creators = get_json("/api/v1/creators");
  BOOST_REQUIRE_EQUAL(creators["items"].size(), 1u);
  BOOST_TEST(creators["items"][0]["modelCount"] == 2);
  BOOST_TEST(creators["items"][0]["username"] == alpha1["creator"]);

  auto reviews = get_json("/api/seedbank/reviews?modelVersionId=" + std::to_string(v1["id"].get<std::uint64_t>()));
  BOOST_REQUIRE_EQUAL(reviews["items"].size(), 1u);
  BOOST_TEST(reviews["items"][0]["stars"] == 5);
}

// The author changes a release's page (an update record): every node shows
// the new state, the signed release stays as it was, and another key
// cannot sign an update of it.
BOOST_AUTO_TEST_CASE(an_update_by_the_author_changes_the_page_on_every_node) {
  auto v1 = version_of(alpha1), v2 = version_of(alpha2);
  const auto model_id = std::to_string(v2["modelId"].get<std::uint64_t>());
  BOOST_TEST(v2["seedbank"]["update"].is_null());
  auto r = http_request(http["a"], "POST", "/api/seedbank/updates",
                        json{{"modelVersionId", v2["id"]},
                             {"modelDescription", "A **page** of its own"},
                             {"tags", {"anime", "retro"}},
                             {"trainedWords", {"alpha_style"}}}
                            .dump(),
                        {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  // One of v1's two images stops showing (the command line this time).
  const std::string hidden = v1["images"][1]["hash"];
  auto cli = sb("a", {"update", alpha1["releaseId"], "--hide-image", hidden.substr(0, 12), "--json"});
  BOOST_REQUIRE_MESSAGE(cli.exit_code == 0, cli.err);
  BOOST_TEST(json::parse(cli.out)["kind"] == "releaseUpdate");
  // B shows both over gossip.
  BOOST_REQUIRE(eventually([&] {
    auto m = json::parse(http_get(http["b"], "/api/v1/models/" + model_id).body);
    return m["description"] == "A **page** of its own" && m["modelVersions"][1]["images"].size() == 1;
  }));
  auto model = get_json("/api/v1/models/" + model_id);
  BOOST_TEST(model["tags"] == json::array({"anime", "retro"}));
  auto shown2 = model["modelVersions"][0];
  BOOST_TEST(shown2["trainedWords"] == json::array({"alpha_style"}));
  BOOST_TEST(shown2["files"] == v2["files"]);  // never the files
  BOOST_TEST(shown2["seedbank"]["update"]["recordId"].is_string());
  BOOST_TEST(shown2["updatedAt"] != shown2["publishedAt"]);
  BOOST_TEST(model["modelVersions"][1]["seedbank"]["hiddenImages"] == json::array({hidden}));
  // Listings, search and the image feed go by the page as shown.
  BOOST_TEST(names(get_json("/api/v1/models?tag=retro")) == std::vector<std::string>{"Alpha LoRA"});
  BOOST_TEST(names(get_json("/api/v1/models?query=retro")) == std::vector<std::string>{"Alpha LoRA"});
  auto feed = get_json("/api/v1/images?modelVersionId=" + std::to_string(v1["id"].get<std::uint64_t>()));
  BOOST_REQUIRE_EQUAL(feed["items"].size(), 1u);  // v1's other sample image
  BOOST_TEST(feed["items"][0]["hash"] == v1["images"][0]["hash"]);
  // The signed release is unchanged, and B hands it out as signed.
  auto exported = dir / "alpha2.record";
  BOOST_REQUIRE_EQUAL(sb("b", {"record", "export", alpha2["releaseId"], "--out", exported.string()}).exit_code, 0);
  auto original = seedbank::protocol::verify_record(
      seedbank::protocol::as_bytes(seedbank::testing::slurp(exported.string())), "test");
  BOOST_REQUIRE(original);
  BOOST_TEST(original->body().getPayload().getRelease().getModelDescription().size() == 0u);
  BOOST_TEST(original->body().getPayload().getRelease().getTags().size() == 1u);
  // B's key did not sign Alpha: the API and the command line refuse.
  BOOST_REQUIRE_EQUAL(sb("b", {"keygen"}).exit_code, 0);
  auto refused = http_request(http["b"], "POST", "/api/seedbank/updates",
                              json{{"modelVersionId", v2["id"]}, {"description", "mine now"}}.dump(),
                              {{"Content-Type", "application/json"}});
  BOOST_TEST(refused.status == 403);
  BOOST_TEST(refused.body.find("only that key") != std::string::npos, refused.body);
  auto denied = sb("b", {"update", alpha2["releaseId"], "--description", "mine now"});
  BOOST_TEST(denied.exit_code != 0);
  BOOST_TEST(denied.err.find("only that key") != std::string::npos, denied.err);
  BOOST_TEST(get_json("/api/v1/models/" + model_id)["modelVersions"][0]["description"] != "mine now");
}

// A collection (a signed list of releases and images) made on A, from the
// gallery's form and the command line, shows on B as Civitai's
// /api/v1/collections shapes it; its items list through /models and
// /images; a retraction, a removal and a deletion reach B.
BOOST_AUTO_TEST_CASE(collections_made_on_one_node_show_on_another) {
  auto post = [&](const json& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    return http_request(http["a"], "POST", "/api/seedbank/collections", body.dump(), headers);
  };
  BOOST_REQUIRE_EQUAL(sb("a", {"favorite", "add", beta["releaseId"]}).exit_code, 0);
  auto made = post({{"name", "Favourite things"}, {"description", "What I *use*"}, {"fromFavorites", true}});
  BOOST_REQUIRE_MESSAGE(made.status == 200, made.body);
  auto created = json::parse(made.body);
  BOOST_TEST(created["slug"] == "favourite-things");
  const auto id = std::to_string(created["collectionId"].get<std::uint64_t>());
  // The command line adds a version, a sample image and a post.
  auto v1 = version_of(alpha1);
  const std::string image = v1["images"][1]["hash"];  // the JPEG: Alpha v2.0 shows the PNG too
  std::string post_id;
  const auto feed = get_json("/api/v1/images?limit=100");
  for (const auto& item : feed["items"])
    if (item["caption"] == "from last month") post_id = item["seedbank"]["post"].get<std::string>();
  BOOST_REQUIRE(!post_id.empty());
  auto cli = sb("a", {"collection", "set", "favourite-things", "--add", alpha2["releaseId"], "--add", "image:" + image,
                      "--add", "post:" + post_id, "--note", "see this", "--json"});
  BOOST_REQUIRE_MESSAGE(cli.exit_code == 0, cli.err);
  BOOST_TEST(json::parse(cli.out)["items"] == 4);
  BOOST_REQUIRE(eventually([&] {
    auto r = http_get(http["b"], "/api/v1/collections/" + id);
    return r.status == 200 && json::parse(r.body)["itemCount"] == 4;
  }));
  auto listed = get_json("/api/v1/collections");
  BOOST_REQUIRE_EQUAL(listed["items"].size(), 1u);
  auto c = listed["items"][0];
  BOOST_TEST(c["id"].get<std::uint64_t>() == created["collectionId"].get<std::uint64_t>());
  BOOST_TEST(c["name"] == "Favourite things");
  BOOST_TEST(c["description"] == "What I *use*");
  BOOST_TEST(c["type"].is_null());  // models and images
  BOOST_TEST(c["isPublic"] == true);
  BOOST_TEST(c["read"] == "Public");
  BOOST_TEST(c["user"]["username"] == alpha1["creator"]);
  BOOST_TEST(c["coverImageUrl"].get<std::string>().find("/api/images/") != std::string::npos);
  auto detail = get_json("/api/v1/collections/" + id);
  BOOST_TEST(detail["seedbank"]["key"].get<std::string>().size() == 64u);  // what a deny-list names
  auto items = detail["seedbank"]["items"];
  BOOST_REQUIRE_EQUAL(items.size(), 4u);
  BOOST_TEST(items[0]["releaseId"] == beta["releaseId"]);
  BOOST_TEST(items[1]["releaseId"] == alpha2["releaseId"]);
  BOOST_TEST(items[1]["note"] == "see this");
  BOOST_TEST(items[2]["hash"] == image);
  BOOST_TEST(items[3]["post"] == post_id);
  BOOST_TEST(names(get_json("/api/v1/models?collectionId=" + id)) ==
             (std::vector<std::string>{"Beta Checkpoint", "Alpha LoRA"}));
  auto pictures = get_json("/api/v1/images?collectionId=" + id)["items"];
  BOOST_REQUIRE_EQUAL(pictures.size(), 2u);
  BOOST_TEST(pictures[0]["hash"] == image);
  BOOST_TEST(pictures[1]["caption"] == "from last month");
  auto one = get_json("/api/v1/images?limit=1&collectionId=" + id);  // a page at a time
  BOOST_REQUIRE_EQUAL(one["items"].size(), 1u);
  auto two = get_json("/api/v1/images?limit=1&collectionId=" + id +
                      "&cursor=" + one["metadata"]["nextCursor"].get<std::string>());
  BOOST_REQUIRE_EQUAL(two["items"].size(), 1u);
  BOOST_TEST(two["items"][0]["caption"] == "from last month");
  BOOST_TEST(get_json("/api/v1/collections?username=" + alpha1["creator"].get<std::string>())["items"].size() == 1u);
  BOOST_TEST(get_json("/api/v1/collections?username=nobody")["items"].empty());
  BOOST_TEST(get_json("/api/v1/collections?query=FAVOURITE")["items"].size() == 1u);
  BOOST_TEST(get_json("/api/v1/collections?query=zebra")["items"].empty());
  // Pages of the list, newest first: a second collection comes first.
  BOOST_REQUIRE_EQUAL(
      sb("a", {"collection", "set", "second", "--name", "Second", "--add", beta["releaseId"]}).exit_code, 0);
  BOOST_REQUIRE(eventually([&] { return get_json("/api/v1/collections")["items"].size() == 2; }));
  auto first = get_json("/api/v1/collections?limit=1");
  BOOST_REQUIRE_EQUAL(first["items"].size(), 1u);
  BOOST_TEST(first["items"][0]["name"] == "Second");
  auto rest = get_json("/api/v1/collections?limit=1&cursor=" + first["metadata"]["nextCursor"].get<std::string>());
  BOOST_REQUIRE_EQUAL(rest["items"].size(), 1u);
  BOOST_TEST(rest["items"][0]["name"] == "Favourite things");
  BOOST_TEST(!rest["metadata"].contains("nextCursor"));
  get_json("/api/v1/collections/12345", 404);
  get_json("/api/v1/collections/abc", 400);
  get_json("/api/v1/images?collectionId=12345", 404);

  // Bad requests change nothing, each with its reason.
  auto foreign = post({{"name", "Theirs"}}, {{"Origin", "http://evil.example"}});
  BOOST_TEST(foreign.status == 403);
  auto bad_slug = post({{"slug", "Not A Slug"}, {"name", "x"}});
  BOOST_TEST(bad_slug.status == 400);
  BOOST_TEST(bad_slug.body.find("is not a collection slug") != std::string::npos, bad_slug.body);
  auto unknown = post({{"slug", "favourite-things"}, {"add", {{{"releaseId", std::string(64, 'a')}}}}});
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(unknown.body.find("no release with that id is known here") != std::string::npos, unknown.body);
  auto same = sb("a", {"collection", "set", "favourite-things", "--add", alpha2["releaseId"]});
  BOOST_TEST(same.exit_code != 0);
  BOOST_TEST(same.err.find("changes nothing") != std::string::npos, same.err);
  const std::string shared = v1["images"][0]["hash"];  // the PNG, in both versions
  auto which = sb("a", {"collection", "set", "favourite-things", "--add", "image:" + shared});
  BOOST_TEST(which.exit_code == 4);  // ambiguous
  BOOST_TEST(which.err.find("image:<SHA-256>@<release>") != std::string::npos, which.err);
  auto nameless = sb("a", {"collection", "set", "new-one", "--add", alpha2["releaseId"]});
  BOOST_TEST(nameless.err.find("give it a name") != std::string::npos, nameless.err);

  // A retraction takes its release out of every collection's items.
  BOOST_REQUIRE_EQUAL(sb("a", {"retract", alpha2["releaseId"], "--reason", "broken"}).exit_code, 0);
  BOOST_REQUIRE(eventually([&] { return get_json("/api/v1/collections/" + id)["itemCount"] == 3; }));
  BOOST_TEST(names(get_json("/api/v1/models?collectionId=" + id)) == std::vector<std::string>{"Beta Checkpoint"});
  BOOST_TEST(get_json("/api/v1/images?collectionId=" + id)["items"].size() == 2u);  // Alpha v1.0's image stays
  // Removal and deletion by the author reach B.
  BOOST_REQUIRE_EQUAL(sb("a", {"collection", "set", "favourite-things", "--remove", beta["releaseId"]}).exit_code, 0);
  BOOST_REQUIRE(eventually([&] { return get_json("/api/v1/collections/" + id)["itemCount"] == 2; }));
  auto shown = sb("b", {"collection", "show", id, "--json"});
  BOOST_REQUIRE_MESSAGE(shown.exit_code == 0, shown.err);
  BOOST_TEST(json::parse(shown.out)["shown"].size() == 2u);
  BOOST_REQUIRE_EQUAL(sb("a", {"collection", "delete", "favourite-things"}).exit_code, 0);
  BOOST_REQUIRE(eventually([&] { return http_get(http["b"], "/api/v1/collections/" + id).status == 404; }));
  BOOST_TEST(names(get_json("/api/v1/collections")) == std::vector<std::string>{"Second"});
  BOOST_TEST(sb("b", {"collection", "list", "--creator", "nobody"}).out.find("no collections") != std::string::npos);
  // A new collection never takes over one of the same slug ("Second"):
  // the gallery's "New collection…" asks for one (create).
  auto fresh = post({{"name", "Second"}, {"create", true}, {"add", {{{"releaseId", beta["releaseId"]}}}}});
  BOOST_REQUIRE_MESSAGE(fresh.status == 200, fresh.body);
  BOOST_TEST(json::parse(fresh.body)["slug"] == "second-2");
  // Nor a deleted one's: its number would lead old links to the new one.
  auto reborn = post({{"name", "Favourite things"}, {"create", true}, {"add", {{{"releaseId", beta["releaseId"]}}}}});
  BOOST_REQUIRE_MESSAGE(reborn.status == 200, reborn.body);
  BOOST_TEST(json::parse(reborn.body)["slug"] == "favourite-things-2");
  BOOST_TEST(json::parse(reborn.body)["collectionId"] != created["collectionId"]);
}

BOOST_AUTO_TEST_CASE(reactions_and_comments_made_on_one_node_show_on_another) {
  const std::string release = alpha1["releaseId"];
  auto v1 = version_of(alpha1);
  const std::string image = v1["images"][0]["hash"];
  auto post = [&](const std::string& target, const json& body, int status = 200) {
    auto r = http_request(http["a"], "POST", target, body.dump(), {{"Content-Type", "application/json"}});
    BOOST_TEST_CONTEXT(target << " " << body.dump() << " -> " << r.body) { BOOST_REQUIRE_EQUAL(r.status, status); }
    return json::parse(r.body);
  };
  // A's user likes the version and hearts one of its images; then changes
  // the like to a laugh.
  post("/api/seedbank/reactions", {{"releaseId", release}, {"reaction", "like"}});
  auto hearted = post("/api/seedbank/reactions", {{"releaseId", release}, {"image", image}, {"reaction", "heart"}});
  BOOST_TEST(hearted["stats"]["heartCount"] == 1);
  auto laughed = post("/api/seedbank/reactions", {{"modelVersionId", v1["id"]}, {"reaction", "laugh"}});
  BOOST_TEST(laughed["stats"]["likeCount"] == 0);
  BOOST_TEST(laughed["stats"]["laughCount"] == 1);
  // A comment, a reply by another key (imported), and an edit.
  auto first = post("/api/seedbank/comments", {{"releaseId", release}, {"text", "**Great** LoRA"}});
  const std::string first_id = first["id"];
  auto other = seedbank::protocol::SecretKey::generate();
  auto theirs = seedbank::testing::sign_social(
      other,
      seedbank::protocol::CommentDraft{{*seedbank::protocol::from_hex_fixed<32>(release), std::nullopt, std::nullopt},
                                       *seedbank::protocol::from_hex_fixed<32>(first_id),
                                       "Agreed",
                                       std::nullopt,
                                       false},
      seedbank::testing::now_ms(), 16);  // peers ask 12 bits of work of every comment
  import("a", {theirs});
  post("/api/seedbank/comments", {{"edits", first_id}, {"text", "**Great** LoRA, edited"}});
  // B has all of it over gossip, with Civitai's names for the counts.
  BOOST_TEST(eventually([&] {
    auto r = http_get(http["b"], "/api/seedbank/comments?releaseId=" + release);
    if (r.status != 200) return false;
    auto page = json::parse(r.body);
    return page["items"].size() == 1 && page["items"][0]["text"] == "**Great** LoRA, edited" &&
           page["items"][0]["replies"].size() == 1;
  }));
  auto page = get_json("/api/seedbank/comments?releaseId=" + release);
  BOOST_TEST(page["items"][0]["editedAt"].is_string());
  BOOST_TEST(page["items"][0]["mine"] == false);  // B's user did not write it
  BOOST_TEST(page["items"][0]["replies"][0]["text"] == "Agreed");
  BOOST_TEST(page["items"][0]["moreReplies"] == false);
  auto replies = get_json("/api/seedbank/comments?releaseId=" + release + "&parent=" + first_id);
  BOOST_REQUIRE_EQUAL(replies["items"].size(), 1u);
  BOOST_TEST(replies["items"][0]["parent"] == first_id);
  BOOST_TEST(page["stats"]["commentCount"] == 2);
  BOOST_TEST(eventually([&] {
    auto r = http_get(http["b"], "/api/seedbank/reactions?releaseId=" + release);
    return r.status == 200 && json::parse(r.body)["stats"]["laughCount"] == 1;
  }));
  BOOST_TEST(get_json("/api/seedbank/reactions?releaseId=" + release)["stats"]["likeCount"] == 0);
  // The image's counts are in the image feed's stats.
  BOOST_TEST(eventually([&] {
    auto imgs = json::parse(
        http_get(http["b"], "/api/v1/images?modelVersionId=" + std::to_string(v1["id"].get<std::uint64_t>())).body);
    for (const auto& i : imgs["items"])
      if (i["hash"] == image && i["postId"].is_null()) return i["stats"]["heartCount"] == 1;
    return false;
  }));
  // The feed by most reactions: the hearted image first, then every other
  // image, newest first, over pages (here one image a page). An item is
  // its version, image and post (the same bytes are in both versions).
  auto item_of = [](const json& i) {
    return i["modelVersionId"].dump() + "/" + i["hash"].get<std::string>() + "/" + i["postId"].dump();
  };
  auto newest = get_json("/api/v1/images?limit=100");
  std::vector<std::string> by_reactions;
  std::string cursor;
  for (int pages = 0; pages < 20; ++pages) {
    auto pg = get_json("/api/v1/images?limit=1&sort=Most%20Reactions" +
                       (cursor.empty() ? std::string() : "&cursor=" + cursor));
    for (const auto& i : pg["items"]) by_reactions.push_back(item_of(i));
    if (!pg["metadata"].contains("nextCursor")) break;
    cursor = seedbank::protocol::percent_encode(pg["metadata"]["nextCursor"].get<std::string>());
  }
  std::vector<std::string> expected{v1["id"].dump() + "/" + image + "/null"};
  for (const auto& i : newest["items"])
    if (item_of(i) != expected[0]) expected.push_back(item_of(i));
  BOOST_TEST(expected.size() == newest["items"].size());
  BOOST_TEST(by_reactions == expected, json(by_reactions).dump() << " vs " << json(expected).dump());
  // No image has comments: that order is the feed's.
  auto by_comments = get_json("/api/v1/images?limit=100&sort=Most%20Comments");
  BOOST_TEST(by_comments["items"].size() == newest["items"].size());
  BOOST_TEST(by_comments["items"][0]["hash"] == newest["items"][0]["hash"]);
  // Sorts Civitai has and this node does not: served newest first.
  BOOST_TEST(get_json("/api/v1/images?limit=100&sort=Random")["items"] == newest["items"]);
  // One version's images, ranked: v1's second image gets two likes (keys
  // of other users), more than the first image's heart.
  namespace sp = seedbank::protocol;
  const std::string second = v1["images"][1]["hash"];
  sp::SubjectDraft second_image{*sp::from_hex_fixed<32>(release), *sp::from_hex_fixed<32>(second), std::nullopt};
  auto like = [&](const sp::SecretKey& key) {
    return seedbank::testing::sign_social(key, sp::ReactionDraft{second_image, sp::ReactionKind::like},
                                          seedbank::testing::now_ms(), 16);
  };
  import("a", {like(sp::SecretKey::generate()), like(sp::SecretKey::generate())});
  const std::string v1_images =
      "/api/v1/images?sort=Most%20Reactions&modelVersionId=" + std::to_string(v1["id"].get<std::uint64_t>());
  BOOST_REQUIRE(eventually([&] {
    auto r = http_get(http["b"], v1_images);
    if (r.status != 200) return false;
    auto items = json::parse(r.body)["items"];
    return items.size() == 2 && items[0]["hash"] == second;
  }));
  BOOST_TEST(get_json(v1_images)["items"][1]["hash"] == image);
  // Over a period (here the past week: the post from last month is out),
  // the newest images that match are ranked: the liked one, the hearted
  // one, then the rest.
  auto week = get_json("/api/v1/images?limit=100&sort=Most%20Reactions&period=Week");
  BOOST_REQUIRE_EQUAL(week["items"].size(), newest["items"].size() - 1);
  BOOST_TEST(week["items"][0]["hash"] == second);
  BOOST_TEST(item_of(week["items"][1]) == expected[0]);
  for (const auto& i : week["items"]) BOOST_TEST(i["caption"] != "from last month");
  // Only the author edits or deletes; a reply to a reply, an unknown image
  // or a comment from another site is refused with a reason.
  auto reply_id = seedbank::protocol::to_hex(seedbank::protocol::record_id_of(theirs));
  auto refused = post("/api/seedbank/comments", {{"edits", reply_id}, {"delete", true}}, 403);
  BOOST_TEST(refused["error"].get<std::string>().find("author") != std::string::npos);
  post("/api/seedbank/comments", {{"releaseId", release}, {"parent", reply_id}, {"text", "deeper"}}, 400);
  post("/api/seedbank/reactions", {{"releaseId", release}, {"image", std::string(64, 'a')}, {"reaction", "like"}}, 404);
  post("/api/seedbank/reactions", {{"releaseId", release}, {"reaction", "dislike"}}, 400);
  auto cross =
      http_request(http["a"], "POST", "/api/seedbank/comments", json{{"releaseId", release}, {"text", "spam"}}.dump(),
                   {{"Content-Type", "application/json"}, {"Origin", "http://evil.example"}});
  BOOST_TEST(cross.status == 403);
  // Deleting the comment keeps it as a placeholder while its reply stands.
  post("/api/seedbank/comments", {{"edits", first_id}, {"delete", true}});
  auto after = json::parse(http_get(http["a"], "/api/seedbank/comments?releaseId=" + release).body);
  BOOST_REQUIRE_EQUAL(after["items"].size(), 1u);
  BOOST_TEST(after["items"][0]["deleted"] == true);
  BOOST_TEST(after["items"][0]["text"] == "");
  BOOST_TEST(after["stats"]["commentCount"] == 1);
  // The command line lists the same.
  auto listed = sb("b", {"comments", release, "--json"});
  BOOST_REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  BOOST_TEST(json::parse(listed.out)["stats"]["laugh"] == 1);
}

BOOST_AUTO_TEST_CASE(odd_requests_get_civitai_style_errors) {
  for (const char* target : {"/api/v1/models?types=Bogus", "/api/v1/models?sort=Worst", "/api/v1/models?limit=1000",
                             "/api/v1/models?cursor=zz", "/api/v1/models?nsfw=maybe", "/api/v1/models/abc",
                             "/api/v1/models?limit=%zz", "/api/v1/images?modelId=x", "/api/images/nothex"}) {
    BOOST_TEST_CONTEXT(target) { BOOST_TEST(get_json(target, 400).contains("error")); }
  }
  for (const char* target :
       {"/api/v1/models/1", "/api/v1/model-versions/1", "/api/v1/nothing", "/api/download/models/1",
        "/api/images/"
        "0000000000000000000000000000000000000000000000000000000000000000"}) {
    BOOST_TEST_CONTEXT(target) { BOOST_TEST(get_json(target, 404).contains("error")); }
  }
  BOOST_TEST(http_request(http["b"], "DELETE", "/api/v1/models").status == 405);
  // A name that is not this machine's (DNS rebinding) gets nothing.
  auto raw = "GET /api/v1/models HTTP/1.1\r\nHost: evil.example:7480\r\nConnection: close\r\n\r\n";
  BOOST_TEST(seedbank::testing::parse_reply(seedbank::testing::http_exchange(http["b"], raw)).status == 421);
  // Not HTTP at all, and a header far over the limit: 400, and the node goes on.
  auto garbage = seedbank::testing::parse_reply(seedbank::testing::http_exchange(http["b"], "HELLO\r\n\r\n"));
  BOOST_TEST(garbage.status == 400);
  auto huge = http_get(http["b"], "/api/v1/models", {{"X-Big", std::string(64 * 1024, 'x')}});
  BOOST_TEST(huge.status == 400);
  BOOST_TEST(http_get(http["b"], "/api/v1/models").status == 200);
}

BOOST_AUTO_TEST_CASE(images_and_model_files_not_here_come_from_peers) {
  // B has only records, and knows A seeds beta. The first request for an
  // image waits while B fetches it from A, and gets it (clients ask for a
  // preview once, right after a lookup, and do not retry).
  BOOST_REQUIRE(eventually([&] { return version_of(beta)["stats"]["downloadCount"] >= 1; }));
  auto v = version_of(beta);
  auto sha = v["images"][0]["hash"].get<std::string>();
  auto image = http_get(http["b"], "/api/images/" + sha);
  BOOST_REQUIRE_EQUAL(image.status, 200);
  BOOST_TEST(sha256_hex(image.body) == sha, "got " << image.body.size() << " bytes; B's log:\n" << nb->err());
  BOOST_TEST(image.header("content-type") == "image/webp");
  auto thumb = http_get(http["b"], "/api/images/" + sha + "?width=160");
  BOOST_REQUIRE_EQUAL(thumb.status, 200);
  BOOST_TEST(thumb.header("content-type") == "image/jpeg");
  BOOST_TEST(thumb.body.rfind("\xff\xd8", 0) == 0u);

  // The download URL redirects, as Civitai's does, to the file's own URL
  // (its hash and name); the model file streams from A through B, then B
  // has it for ranges.
  auto url = v["downloadUrl"].get<std::string>();
  auto redirect = http_get(http["b"], url.substr(url.find("/api/")));
  BOOST_REQUIRE_EQUAL(redirect.status, 307);
  auto location = redirect.header("location");
  BOOST_TEST(location == "http://" + http["b"] + "/api/files/" + lower(beta["files"][0]["hashes"]["SHA256"]) +
                             "/beta.safetensors?version=" + std::to_string(v["id"].get<std::uint64_t>()));
  auto target = location.substr(location.find("/api/"));
  auto whole = download(url.substr(url.find("/api/")));
  BOOST_REQUIRE_EQUAL(whole.status, 200);
  auto expected = seedbank::testing::slurp(beta_file.string());
  BOOST_REQUIRE_MESSAGE(whole.body.size() == expected.size(),
                        "streamed " << whole.body.size() << " of " << expected.size() << " bytes; B's log:\n"
                                    << nb->err() << "\nB's status: " << sb("b", {"status", "--json"}).out
                                    << "\nA's log:\n"
                                    << na->err() << "\nB's BitTorrent log:\n"
                                    << bt_log("b") << "\nA's BitTorrent log:\n"
                                    << bt_log("a"));
  BOOST_TEST(whole.header("content-length") == std::to_string(expected.size()));
  BOOST_TEST(sha256_hex(whole.body) == lower(beta["files"][0]["hashes"]["SHA256"]));
  BOOST_TEST(whole.header("etag") == "\"" + lower(beta["files"][0]["hashes"]["SHA256"]) + "\"");
  BOOST_TEST(whole.header("content-disposition") == "attachment; filename=\"beta.safetensors\"");
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {  // the model file and the image
                              auto s = sb("b", {"status", "--json"});
                              if (s.exit_code != 0) return false;
                              auto status = json::parse(s.out);
                              for (const auto& t : status["torrents"])
                                if (t["releaseId"] == beta["releaseId"]) return t["filesStored"] == 2;
                              return false;
                            },
                            std::chrono::seconds(30)),
                        sb("b", {"status", "--json"}).out);
  auto part = http_get(http["b"], target, {{"Range", "bytes=1000-1999"}});
  BOOST_REQUIRE_EQUAL(part.status, 206);
  BOOST_TEST(part.header("content-range") == "bytes 1000-1999/" + std::to_string(expected.size()));
  BOOST_TEST(part.body == expected.substr(1000, 1000));
  auto tail = http_get(http["b"], target, {{"Range", "bytes=-10"}});
  BOOST_TEST(tail.body == expected.substr(expected.size() - 10));
  BOOST_TEST(http_get(http["b"], target, {{"Range", "bytes=99999999-"}}).status == 416);
  auto head = http_request(http["b"], "HEAD", target);
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.header("content-length") == std::to_string(expected.size()));
  BOOST_TEST(head.body.empty());
  auto cached = http_get(http["b"], target, {{"If-None-Match", whole.header("etag")}});
  BOOST_TEST(cached.status == 304);
  // Now that B seeds the file, it counts as a second seeder of beta... on A,
  // once B tells it; B itself counts A and itself.
  BOOST_TEST(eventually([&] { return version_of(beta)["stats"]["downloadCount"] == 2; }, std::chrono::seconds(30)));
}

BOOST_AUTO_TEST_CASE(images_page_by_cursor_and_downloads_follow_civitai_rules) {
  // The image feed one image a page, by following nextPage, is the feed in
  // one page: every image once, in the same order, newest first.
  auto key = [](const json& i) {
    return i["hash"].get<std::string>() + " " + i["modelVersionId"].dump() + " " + i["postId"].dump();
  };
  std::vector<std::string> paged, whole;
  std::string target = "/api/v1/images?limit=1";
  for (int pages = 0; pages < 10; ++pages) {
    auto page = get_json(target);
    for (const auto& i : page["items"]) paged.push_back(key(i));
    if (!page["metadata"].contains("nextCursor")) break;
    auto next = page["metadata"]["nextPage"].get<std::string>();
    target = next.substr(next.find("/api/"));
  }
  auto all = get_json("/api/v1/images?limit=100");
  for (const auto& i : all["items"]) whole.push_back(key(i));
  BOOST_TEST(paged == whole);
  BOOST_TEST(std::set<std::string>(whole.begin(), whole.end()).size() ==
             5u);  // alpha v1.0: 2, v2.0: 1, beta: 1, a post
  BOOST_TEST(all["items"][0]["createdAt"].get<std::string>() >= all["items"][4]["createdAt"].get<std::string>());
  BOOST_TEST(all["items"][4]["caption"] == "from last month");  // the oldest
  // period: the post made 30 days ago is not among this week's images.
  auto week = get_json("/api/v1/images?limit=100&period=Week");
  BOOST_TEST(week["items"].size() == 4u);
  for (const auto& i : week["items"]) BOOST_TEST(i["postId"].is_null());

  auto v = version_of(alpha1);
  auto url = v["downloadUrl"].get<std::string>();
  auto target_of = [](const std::string& u) { return u.substr(u.find("/api/")); };
  // The primary file's URL is the version's, so "?token=" can be appended.
  BOOST_TEST(v["files"][0]["downloadUrl"] == url);
  // Not on B: a HEAD does not fetch, a page of another site may not make B
  // download, a tool may (following the redirect, with a token or not).
  auto redirect = http_request(http["b"], "HEAD", target_of(url));
  BOOST_REQUIRE_EQUAL(redirect.status, 307);
  auto file = target_of(redirect.header("location"));
  BOOST_TEST(http_request(http["b"], "HEAD", file).status == 503);
  BOOST_TEST(http_get(http["b"], file, {{"Sec-Fetch-Site", "cross-site"}}).status == 403);
  BOOST_TEST(http_get(http["b"], file.substr(0, file.rfind('/')) + "/other-name.safetensors").status == 404);
  auto got = download(target_of(url) + "?token=abc");
  BOOST_REQUIRE_EQUAL(got.status, 200);
  BOOST_TEST(sha256_hex(got.body) == lower(alpha1["files"][0]["hashes"]["SHA256"]),
             "streamed " << got.body.size() << " bytes; B's log:\n"
                         << nb->err() << "\nB's status: " << sb("b", {"status", "--json"}).out << "\nA's log:\n"
                         << na->err() << "\nB's BitTorrent log:\n"
                         << bt_log("b") << "\nA's BitTorrent log:\n"
                         << bt_log("a"));
  // format/size/fp are preferences, as on Civitai: no exact match still
  // gets the model file; an unknown type matches nothing.
  BOOST_TEST(http_get(http["b"], target_of(url) + "?type=Model&format=PickleTensor&size=pruned&fp=fp32").status == 307);
  BOOST_TEST(http_get(http["b"], target_of(url) + "?type=Config").status == 404);
}

// No other site may frame the gallery (clickjacking: one click on a
// framed page made the node sign a rating), guess a type, or learn the
// node's address from a link: on pages, assets, API answers, errors, and
// the errors the server writes itself.
BOOST_AUTO_TEST_CASE(every_response_refuses_framing_and_sniffing) {
  std::vector<std::pair<std::string, seedbank::testing::HttpReply>> replies;
  for (const char* target : {"/", "/models/1", "/static/app.js", "/static/style.css", "/api/v1/models",
                             "/api/v1/nothing", "/api/images/nothex", "/api/seedbank/me"})
    replies.emplace_back(target, http_get(http["b"], target));
  replies.emplace_back("HEAD /", http_request(http["b"], "HEAD", "/"));
  replies.emplace_back("malformed",
                       seedbank::testing::parse_reply(seedbank::testing::http_exchange(http["b"], "HELLO\r\n\r\n")));
  replies.emplace_back("too large", seedbank::testing::parse_reply(seedbank::testing::http_exchange(
                                        http["b"], "POST /api/seedbank/ratings HTTP/1.1\r\nHost: " + http["b"] +
                                                       "\r\nContent-Length: 99999999\r\n\r\n")));
  for (const auto& [what, r] : replies) {
    BOOST_TEST_CONTEXT(what << " (" << r.status << ")") {
      BOOST_TEST(r.status != 0);
      BOOST_TEST(r.header("x-frame-options") == "DENY");
      BOOST_TEST(r.header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
      BOOST_TEST(r.header("content-security-policy").find("default-src 'self'") != std::string::npos);
      BOOST_TEST(r.header("x-content-type-options") == "nosniff");
      BOOST_TEST(r.header("referrer-policy") == "no-referrer");
    }
  }
}

BOOST_AUTO_TEST_CASE(the_gallery_pages_are_served_from_the_binary) {
  for (const char* path : {"/", "/models/123", "/user/someone", "/images/", "/me", "/tags", "/tag/anime",
                           "/collections", "/collections/123"}) {
    auto r = http_get(http["b"], path);
    BOOST_TEST_CONTEXT(path) {
      BOOST_TEST(r.status == 200);
      BOOST_TEST(r.header("content-type").rfind("text/html", 0) == 0u);
      BOOST_TEST(r.body.find("<script type=\"module\" src=\"/static/js/app.js\">") != std::string::npos);
    }
  }
  // The modules, each as JavaScript (a module script of another type does
  // not run), and every module one imports is served too.
  std::vector<std::string> modules{"/static/js/app.js"};
  std::set<std::string> seen;
  for (std::size_t i = 0; i < modules.size(); ++i) {
    auto r = http_get(http["b"], modules[i]);
    BOOST_TEST_CONTEXT(modules[i]) {
      BOOST_TEST(r.status == 200);
      BOOST_TEST(r.header("content-type").rfind("text/javascript", 0) == 0u);
    }
    std::regex import_re(R"(from '(\.{1,2}/[^']+)')");
    for (auto it = std::sregex_iterator(r.body.begin(), r.body.end(), import_re); it != std::sregex_iterator(); ++it) {
      auto target = (fs::path(modules[i]).parent_path() / (*it)[1].str()).lexically_normal().string();
      if (seen.insert(target).second) modules.push_back(target);
    }
  }
  BOOST_TEST(modules.size() > 8u);
  BOOST_TEST(http_get(http["b"], "/static/style.css").status == 200);
}

// `node --web-dir DIR` serves the gallery from DIR, each file as it is on
// disk now, and nothing outside DIR.
BOOST_AUTO_TEST_CASE(the_gallery_can_be_served_from_a_folder_while_it_is_worked_on) {
  auto web = dir / "web";
  fs::create_directories(web / "js");
  std::ofstream(web / "index.html") << "<!doctype html><title>dev</title>";
  std::ofstream(web / "js" / "app.js") << "export const one = 1;\n";
  std::ofstream(dir / "secret.txt") << "not for the web";
  fs::create_symlink(dir / "secret.txt", web / "js" / "leak.js");
  std::string gossip;
  auto node = start("c", {}, &gossip, {"--web-dir", web.string()});
  BOOST_REQUIRE(http.count("c"));
  BOOST_TEST(http_get(http["c"], "/models/5").body == "<!doctype html><title>dev</title>");
  auto js = http_get(http["c"], "/static/js/app.js");
  BOOST_TEST(js.body == "export const one = 1;\n");
  BOOST_TEST(js.header("content-type").rfind("text/javascript", 0) == 0u);
  std::ofstream(web / "js" / "app.js") << "export const one = 2;\n";  // an edit shows on the next request
  BOOST_TEST(http_get(http["c"], "/static/js/app.js").body == "export const one = 2;\n");
  for (const char* outside : {"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/js/leak.js",
                              "/static/js/missing.js", "/static/js"}) {
    auto r = http_get(http["c"], outside);
    BOOST_TEST_CONTEXT(outside) {
      BOOST_TEST(r.status == 404);
      BOOST_TEST(r.body.find("not for the web") == std::string::npos);
    }
  }
  // A folder that is not there is refused before the node starts.
  auto bad = sb("d", {"node", "--web-dir", (dir / "nowhere").string(), "--http", "off"});
  BOOST_TEST(bad.exit_code != 0);
  BOOST_TEST(bad.err.find("nowhere") != std::string::npos, bad.err);
}

// The gallery in a real browser: Debian's Chromium driven by playwright-core
// (tests/browser/gallery_test.mjs; ./test.sh installs both) loads B's home
// grid, filters by type, opens a model page and checks names, images and
// hashes, and edits the page of a model B's own key published.
// Screenshots stay in <build>/test-output/gallery/.
// The creator dashboard on A, whose key published Alpha (two versions) and
// Beta: each release with what this node seeds of it, and a comment from
// someone else awaiting a reply until the creator answers it.
BOOST_AUTO_TEST_CASE(the_creator_dashboard_lists_releases_and_comments_awaiting_a_reply) {
  auto dashboard = [&] {
    auto r = http_get(http["a"], "/api/seedbank/dashboard");
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    return json::parse(r.body);
  };
  auto row = [](const json& d, const json& published) {
    for (const auto& r : d["releases"])
      if (r["releaseId"] == published["releaseId"]) return r;
    return json();
  };
  json d = dashboard();
  BOOST_TEST(d["releases"].size() == 3u);
  BOOST_TEST(d["totals"]["releases"] == 3);
  BOOST_TEST(d["releases"][0]["releaseId"] == beta["releaseId"]);  // newest first
  BOOST_TEST(row(d, alpha1)["stats"]["rating"] == 5.0);
  BOOST_TEST(row(d, alpha1)["stats"]["ratingCount"] == 1);
  // This node holds every file of what it published: it seeds them all.
  BOOST_REQUIRE(eventually([&] {
    d = dashboard();
    return d["totals"]["seededHere"] == 3;
  }));
  BOOST_TEST(row(d, beta)["thisNode"]["allStored"] == true);
  BOOST_TEST(row(d, beta)["thisNode"]["files"] == 2);  // the model and its sample image

  // Someone else comments on Alpha v2: it awaits a reply.
  auto other = dir / "reader.key";
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen", "--out", other.string()}).exit_code, 0);
  auto asked = sb("a", {"comment", alpha2["releaseId"], "--text", "Which <b>weight</b> works best?", "--key",
                        other.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(asked.exit_code == 0, asked.err);
  const std::string question = json::parse(asked.out)["recordId"];
  BOOST_REQUIRE(eventually([&] {
    d = dashboard();
    return d["totals"]["awaitingReply"] == 1;
  }));
  BOOST_TEST_REQUIRE(d["awaitingReply"].size() == 1u);
  BOOST_TEST(d["awaitingReply"][0]["id"] == question);
  BOOST_TEST(d["awaitingReply"][0]["text"] == "Which <b>weight</b> works best?");  // as written: the gallery escapes it
  BOOST_TEST(d["awaitingReply"][0]["modelVersionId"] == row(d, alpha2)["modelVersionId"]);
  BOOST_TEST(row(d, alpha2)["awaitingReply"] == 1);
  BOOST_TEST(row(d, alpha2)["stats"]["commentCount"] == 1);
  // The creator's own comment awaits nothing; their reply answers the question.
  BOOST_REQUIRE_EQUAL(sb("a", {"comment", beta["releaseId"], "--text", "Notes on Beta"}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(sb("a", {"comment", alpha2["releaseId"], "--reply", question, "--text", "0.7"}).exit_code, 0);
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          d = dashboard();
                          return d["totals"]["awaitingReply"] == 0;
                        }),
                        d.dump());
  BOOST_TEST(d["totals"]["comments"] == 3);  // the question, its reply, the notes
  BOOST_TEST(d["awaitingReply"].empty());
  // What a node seeds is its own: another site's page cannot read it.
  BOOST_TEST(http_get(http["a"], "/api/seedbank/dashboard", {{"Sec-Fetch-Site", "cross-site"}}).status == 403u);
  // B has no key of its own yet: nothing to show.
  auto none = http_get(http["b"], "/api/seedbank/dashboard");
  BOOST_REQUIRE_EQUAL(none.status, 200u);
  BOOST_TEST(json::parse(none.body)["identity"].is_null());
}

BOOST_AUTO_TEST_CASE(trends_count_what_the_network_published_by_type_base_model_tag_and_prompt) {
  // B learned every record over gossip: its trends are the network's.
  auto named = [](const json& list, const char* key, const std::string& name) {
    for (const auto& item : list)
      if (item[key] == name) return item["total"].get<std::uint64_t>();
    return std::uint64_t{0};
  };
  // Two weeks: the fixture's releases are from now, which may be just
  // after a Monday 00:00 UTC.
  json t = get_json("/api/seedbank/trends?weeks=2");
  BOOST_TEST(t["weeks"].size() == 2u);
  BOOST_TEST(t["releases"]["byType"].size() == 2u);
  BOOST_TEST(named(t["releases"]["byType"], "name", "LORA") == 2u);
  BOOST_TEST(named(t["releases"]["byType"], "name", "Checkpoint") == 1u);
  BOOST_TEST(named(t["releases"]["byBaseModel"], "name", "SD 1.5") == 2u);
  BOOST_TEST(named(t["releases"]["byBaseModel"], "name", "SDXL 1.0") == 1u);
  BOOST_TEST(t["releases"]["byType"][0]["share"] == 0.667);
  BOOST_TEST(named(t["tags"], "name", "anime") == 2u);
  BOOST_TEST(named(t["tags"], "name", "photo") == 1u);
  // Prompts of the sample images: alpha1's PNG and JPEG, alpha2's PNG
  // (SD 1.5), beta's WebP (SDXL 1.0). The JPEG and WebP say "a red fox 狐
  // in the snow, café lights 🦊"; the PNG "masterpiece, best quality, a red
  // fox in a snowy forest, (detailed fur:1.2), soft light".
  BOOST_TEST(named(t["prompts"]["terms"], "term", "fox") == 4u);
  BOOST_TEST(named(t["prompts"]["terms"], "term", "masterpiece") == 2u);
  BOOST_TEST(named(t["prompts"]["terms"], "term", "detailed fur") == 2u);
  BOOST_TEST(named(t["prompts"]["terms"], "term", "café lights 🦊") == 2u);
  BOOST_TEST(named(t["prompts"]["terms"], "term", "in") == 0u);  // common words are no terms
  BOOST_TEST(named(t["prompts"]["terms"], "term", "snow") == 2u);
  BOOST_TEST(t["complete"] == true);
  BOOST_TEST(named(t["prompts"]["samplers"], "name", "Euler a") == 2u);
  BOOST_TEST(named(t["prompts"]["samplers"], "name", "DPM++ 2M") == 2u);
  BOOST_TEST(named(t["prompts"]["steps"], "steps", "28") == 2u);
  json sdxl = get_json("/api/seedbank/trends?weeks=2&baseModel=SDXL%201.0");
  BOOST_TEST(named(sdxl["prompts"]["terms"], "term", "fox") == 1u);
  BOOST_TEST(named(sdxl["prompts"]["terms"], "term", "masterpiece") == 0u);
  BOOST_TEST((sdxl["prompts"]["baseModels"] == json{"SD 1.5", "SDXL 1.0"}));
  // The post about Beta from 30 days ago is in a 12-week view, under Beta's type.
  json twelve = get_json("/api/seedbank/trends");
  BOOST_TEST(twelve["weeks"].size() == 12u);
  BOOST_TEST(named(twelve["posts"]["byType"], "name", "Checkpoint") == 1u);
  // Rising models over 7 days: ratings made now, a model's versions summed.
  auto rising = twelve["risingModels"]["days7"];
  BOOST_TEST_REQUIRE(rising.size() == 2u);
  BOOST_TEST(rising[0]["name"] == "Alpha LoRA");
  BOOST_TEST(rising[0]["ratings"] == 2);
  BOOST_TEST(rising[1]["name"] == "Beta Checkpoint");
  // Two likes of Beta made on A reach B's trends within seconds.
  namespace sp = seedbank::protocol;
  sp::SubjectDraft about_beta{*sp::from_hex_fixed<32>(beta["releaseId"].get<std::string>()), std::nullopt,
                              std::nullopt};
  auto like = [&] {
    return seedbank::testing::sign_social(sp::SecretKey::generate(),
                                          sp::ReactionDraft{about_beta, sp::ReactionKind::like},
                                          seedbank::testing::now_ms(), 16);
  };
  import("a", {like(), like()});
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          rising = get_json("/api/seedbank/trends")["risingModels"]["days7"];
                          return rising.size() == 2u && rising[0]["name"] == "Beta Checkpoint";
                        }),
                        rising.dump());
  BOOST_TEST(rising[0]["reactions"] == 2);
  // The same numbers as CSV, one row per series, week and name.
  auto csv = http_get(http["b"], "/api/seedbank/trends?weeks=2&format=csv");
  BOOST_REQUIRE_EQUAL(csv.status, 200u);
  BOOST_TEST(csv.header("content-type").rfind("text/csv", 0) == 0u);
  BOOST_TEST(csv.body.rfind("series,week,name,count\n", 0) == 0u);
  std::uint64_t lora = 0;
  std::regex row("releases by type,\\d{4}-\\d{2}-\\d{2},LORA,(\\d+)\n");
  for (auto it = std::sregex_iterator(csv.body.begin(), csv.body.end(), row); it != std::sregex_iterator(); ++it)
    lora += std::stoull((*it)[1]);
  BOOST_TEST(lora == 2u);
  // Bad input says what is wrong.
  auto bad = http_get(http["b"], "/api/seedbank/trends?weeks=0");
  BOOST_TEST(bad.status == 400u);
  BOOST_TEST(bad.body.find("weeks must be a number from 1 to 104") != std::string::npos);
  BOOST_TEST(http_get(http["b"], "/api/seedbank/trends?format=xml").status == 400u);
  auto unknown = http_get(http["b"], "/api/seedbank/trends?baseModel=Nothing%20Like%20It");
  BOOST_TEST(unknown.status == 404u);  // no prompts of it: not counted (nor cached) for nothing
  BOOST_TEST(unknown.body.find("prompts.baseModels lists those with some") != std::string::npos);

  // Growth compares the last 4 complete weeks with the 4 before: two VAEs
  // for Pony from 8 and 9 days ago, one from 36 days ago, counted on A.
  auto vae = [&](std::uint64_t n, std::uint64_t days_ago) {
    return seedbank::testing::sign_release(
        sp::SecretKey::generate(), seedbank::testing::sample_release(n, seedbank::schema::ModelType::VAE, "Pony"),
        seedbank::testing::now_ms() - days_ago * 86400000);
  };
  import("a", {vae(901, 8), vae(902, 9), vae(903, 36)});
  json pony;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          auto r = http_get(http["a"], "/api/seedbank/trends");
                          if (r.status != 200) return false;
                          const json got = json::parse(r.body);  // bound: a range-for over a temporary dangles
                          for (const auto& s : got["releases"]["byBaseModel"])
                            if (s["name"] == "Pony") pony = s;
                          return pony.is_object() && pony["total"] == 3;
                        }),
                        pony.dump());
  BOOST_TEST(pony["recent"] == 2);
  BOOST_TEST(pony["before"] == 1);
  BOOST_TEST(pony["growth"] == 1.0);
  BOOST_TEST(named(twelve["releases"]["byType"], "name", "LORA") == 2u);  // from before the import
}

// The gallery's publish form over HTTP, as a browser-less client: a model
// sent in chunks (one sent again, one that would leave a gap), a sample
// image, refusals that say what is wrong and publish nothing, then a job
// whose release is the one `seedbank publish` makes of the same files,
// which another node receives; and a new version of it.
BOOST_AUTO_TEST_CASE(publishing_from_the_gallery_uploads_in_chunks_and_signs_what_the_cli_would) {
  BOOST_REQUIRE_EQUAL(sb("b", {"keygen"}).exit_code, 0);
  auto post = [&](const std::string& target, const std::string& body,
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto r = http_request(http["b"], "POST", target, body, headers);
    return std::pair{r.status, json::parse(r.body, nullptr, false)};
  };
  auto read = [](const fs::path& f) {
    std::ifstream in(f, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto model_path = seedbank::testing::write_safetensors(dir / "delta.safetensors", 5 * 1024 * 1024 + 3, 5);
  const std::string model = read(model_path);
  const std::string image = read(images / "a1111.png");
  auto create = [&](const std::string& name, std::size_t size) {
    auto [status, j] = post("/api/seedbank/uploads", json{{"name", name}, {"size", size}}.dump());
    BOOST_REQUIRE_MESSAGE(status == 200, j.dump());
    return j["id"].get<std::string>();
  };
  auto chunk = [&](const std::string& id, std::size_t offset, const std::string& bytes) {
    return post("/api/seedbank/uploads/" + id + "?offset=" + std::to_string(offset), bytes);
  };

  // Chunks in order; one sent again (its answer lost) is taken; a gap is not.
  const std::size_t mib = 1 << 20;
  auto up = create("delta.safetensors", model.size());
  BOOST_TEST(chunk(up, 0, model.substr(0, 2 * mib)).second["received"] == 2 * mib);
  auto [gap, gap_body] = chunk(up, 3 * mib, model.substr(3 * mib, mib));
  BOOST_TEST(gap == 409);
  BOOST_TEST(gap_body["received"] == 2 * mib);
  BOOST_TEST(gap_body["error"].get<std::string>().find("send from 2097152") != std::string::npos, gap_body.dump());
  BOOST_TEST(chunk(up, mib, model.substr(mib, 2 * mib)).second["received"] == 3 * mib);
  auto [past, past_body] = chunk(up, 3 * mib, model.substr(3 * mib) + "extra");
  BOOST_TEST(past == 400);
  BOOST_TEST(past_body["error"].get<std::string>().find("goes past its end") != std::string::npos, past_body.dump());
  auto [done, done_body] = chunk(up, 3 * mib, model.substr(3 * mib));
  BOOST_TEST(done == 200);
  BOOST_TEST(done_body["complete"] == true);
  auto img = create("a1111.png", image.size());
  BOOST_TEST(chunk(img, 0, image).second["complete"] == true);

  // Refusals: another site's page, a file too large for the disk, a name
  // with a path in it, an image that is not one, a model that is not what
  // its name says, a version of someone else's model.
  auto [foreign, foreign_body] = post("/api/seedbank/uploads", json{{"name", "x.safetensors"}, {"size", 10}}.dump(),
                                      {{"Origin", "http://evil.example"}});
  BOOST_TEST(foreign == 403);
  BOOST_TEST(post("/api/seedbank/uploads/" + up + "?offset=0", "x", {{"Sec-Fetch-Site", "cross-site"}}).first == 403);
  BOOST_TEST(http_get(http["b"], "/api/seedbank/uploads", {{"Sec-Fetch-Site", "cross-site"}}).status == 403);
  auto [huge, huge_body] =
      post("/api/seedbank/uploads", json{{"name", "huge.safetensors"}, {"size", 1ull << 49}}.dump());
  BOOST_TEST(huge == 507);
  BOOST_TEST(huge_body["error"].get<std::string>().find("does not fit on this node's disk") != std::string::npos);
  BOOST_TEST(post("/api/seedbank/uploads", json{{"name", "../up.safetensors"}, {"size", 10}}.dump()).first == 400);
  auto fake = create("fake.png", 12);
  BOOST_REQUIRE(chunk(fake, 0, "not an image").second["complete"] == true);
  auto lie = create("lie.safetensors", image.size());
  BOOST_REQUIRE(chunk(lie, 0, image).second["complete"] == true);
  json form = {{"files", json::array({{{"upload", up}}})},
               {"images", json::array({{{"upload", img}}})},
               {"name", "Delta Web"},
               {"version", "v1.0"},
               {"type", "LORA"},
               {"baseModel", "SD 1.5"},
               {"tags", json::array({"web"})},
               {"description", "from the form"}};
  auto with = [&](const char* key, json value) {
    json f = form;
    f[key] = std::move(value);
    return f.dump();
  };
  auto [not_image, not_image_body] = post("/api/seedbank/releases", with("images", json::array({{{"upload", fake}}})));
  BOOST_TEST(not_image == 400);
  const std::string not_image_error = not_image_body["error"];
  BOOST_TEST(not_image_error.find("fake.png") != std::string::npos, not_image_error);
  BOOST_TEST(not_image_error.find("uploads") == std::string::npos, not_image_error);  // no path of the node's
  auto [mislabeled, mislabeled_body] = post("/api/seedbank/releases", with("files", json::array({{{"upload", lie}}})));
  BOOST_TEST(mislabeled == 400);
  BOOST_TEST(mislabeled_body["error"].get<std::string>().find("lie.safetensors") != std::string::npos);
  BOOST_TEST(post("/api/seedbank/releases", with("files", json::array({{{"path", "relative.safetensors"}}}))).first ==
             400);
  BOOST_TEST(post("/api/seedbank/releases", with("supersedes", version_of(alpha1)["id"])).first == 403);
  BOOST_TEST(post("/api/seedbank/releases", form.dump(), {{"Origin", "http://evil.example"}}).first == 403);
  auto unfinished = create("unfinished.safetensors", 100);
  auto [early, early_body] = post("/api/seedbank/releases", with("files", json::array({{{"upload", unfinished}}})));
  BOOST_TEST(early == 400);
  BOOST_TEST(early_body["error"].get<std::string>().find("finish the upload") != std::string::npos, early_body.dump());
  auto [dry, dry_body] = post("/api/seedbank/releases", with("dryRun", true));
  BOOST_REQUIRE_MESSAGE(dry == 200, dry_body.dump());
  BOOST_TEST(dry_body["name"] == "Delta Web");
  BOOST_TEST(dry_body["files"][1]["meta"]["sampler"] == "Euler a");  // read from the image, for the form to show
  BOOST_TEST(sb("b", {"releases", "--mine", "--json"}).out.find("Delta") == std::string::npos);  // nothing yet

  // Published by a job, the uploads gone into the store.
  auto wait_job = [&](const json& started) {
    json state;
    BOOST_REQUIRE(eventually(
        [&] {
          state = json::parse(http_get(http["b"], started["url"].get<std::string>()).body, nullptr, false);
          return state.is_object() && (state["state"] == "done" || state["state"] == "failed");
        },
        std::chrono::seconds(60)));
    BOOST_REQUIRE_MESSAGE(state["state"] == "done", state.dump());
    return state["result"];
  };
  auto [started_status, started] = post("/api/seedbank/releases", form.dump());
  BOOST_REQUIRE_MESSAGE(started_status == 202, started.dump());
  auto published = wait_job(started);
  BOOST_TEST(published["alreadyPublished"] == false);
  auto left = json::parse(http_get(http["b"], "/api/seedbank/uploads").body);
  std::set<std::string> left_names;
  for (const auto& u : left["items"]) left_names.insert(u["name"].get<std::string>());
  BOOST_TEST(left_names == (std::set<std::string>{"fake.png", "lie.safetensors", "unfinished.safetensors"}),
             left.dump());
  BOOST_TEST(http_request(http["b"], "DELETE", "/api/seedbank/uploads/" + fake).status == 200);
  BOOST_TEST(http_get(http["b"], "/api/seedbank/uploads/" + fake).status == 404);

  // The command, with the same files and fields and the same key, signs
  // the same release into another data dir (only the time differs), and
  // on B finds that very release already published.
  auto cli = sb("c", {"publish", model_path.string(), "--image", (images / "a1111.png").string(), "--name", "Delta Web",
                      "--version", "v1.0", "--type", "LORA", "--base-model", "SD 1.5", "--tag", "web", "--description",
                      "from the form", "--key", (dir / "b" / "identity.key").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(cli.exit_code == 0, cli.err);
  auto cli_json = json::parse(cli.out);
  BOOST_TEST(cli_json["alreadyPublished"] == false);
  for (const char* key : {"creator", "model", "version", "type", "baseModel", "infoHashV2", "magnet", "warnings"})
    BOOST_TEST(cli_json[key] == published[key], key << ": " << cli.out);
  BOOST_REQUIRE_EQUAL(cli_json["files"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i)
    for (const char* key : {"name", "kind", "size", "hashes"})
      BOOST_TEST(cli_json["files"][i][key] == published["files"][i][key], key << ": " << cli.out);
  auto on_c = sb("c", {"releases", "--json"});
  auto on_b = sb("b", {"releases", "--mine", "--json"});
  BOOST_REQUIRE(on_c.exit_code == 0 && on_b.exit_code == 0);
  auto listed_c = json::parse(on_c.out)[0], listed_b = json::parse(on_b.out)[0];
  for (const char* key : {"model", "version", "type", "baseModel", "creator", "files", "images", "tags"})
    BOOST_TEST(listed_c[key] == listed_b[key], key << ": " << on_c.out << " vs " << on_b.out);
  auto again = sb("b", {"publish", model_path.string(), "--image", (images / "a1111.png").string(), "--name",
                        "Delta Web", "--version", "v1.0", "--type", "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(json::parse(again.out)["alreadyPublished"] == true);
  BOOST_TEST(json::parse(again.out)["releaseId"] == published["releaseId"]);
  // Another node has it, as signed.
  BOOST_REQUIRE(eventually([&] { return has("a", published["releaseId"]); }));
  auto on_a = json::parse(http_get(http["a"], "/api/v1/model-versions/" + published["modelVersionId"].dump()).body);
  BOOST_TEST(on_a["description"] == "from the form");
  BOOST_TEST(on_a["baseModel"] == "SD 1.5");

  // A new version: a file named by its path on this machine.
  auto v2_path = seedbank::testing::write_safetensors(dir / "delta_v2.safetensors", 200 * 1024, 6);
  json v2 = {{"files", json::array({{{"path", v2_path.string()}}})},
             {"name", "Delta Web"},
             {"version", "v2.0"},
             {"type", "LORA"},
             {"supersedes", published["modelVersionId"]}};
  auto [v2_status, v2_started] = post("/api/seedbank/releases", v2.dump());
  BOOST_REQUIRE_MESSAGE(v2_status == 202, v2_started.dump());
  auto second = wait_job(v2_started);
  BOOST_TEST(second["supersedes"] == published["releaseId"]);
  BOOST_TEST(fs::hard_link_count(v2_path) == 1u);  // a file on this machine is copied, never linked or moved
  // Only model files by path, and none of the node's own.
  auto [key_file, key_body] =
      post("/api/seedbank/releases",
           json{{"files", json::array({{{"path", (dir / "b" / "identity.key").string()}}})}, {"type", "Other"}}.dump());
  BOOST_TEST(key_file == 403, key_body.dump());
  std::ofstream(dir / "notes.txt") << "a private note";
  auto [notes, notes_body] =
      post("/api/seedbank/releases",
           json{{"files", json::array({{{"path", (dir / "notes.txt").string()}}})}, {"type", "Other"}, {"dryRun", true}}
               .dump());
  BOOST_TEST(notes == 400);
  BOOST_TEST(notes_body["error"].get<std::string>().find("not a model file") != std::string::npos, notes_body.dump());
  // A link elsewhere to the node's key, named like a model, is the key.
  fs::create_symlink(dir / "b" / "identity.key", dir / "innocent.bin");
  auto [linked, linked_body] =
      post("/api/seedbank/releases", json{{"files", json::array({{{"path", (dir / "innocent.bin").string()}}})},
                                          {"type", "Other"},
                                          {"allowUnsafe", true}}
                                         .dump());
  BOOST_TEST(linked == 403, linked_body.dump());
  // Another user of this machine may upload, never name a file by path.
  if (::geteuid() == 0) {
    // Everything the child needs is made before the fork: it only
    // changes user, sends and reads (no allocation in a forked copy of a
    // process with threads).
    const std::string body = json{{"files", json::array({{{"path", v2_path.string()}}})}, {"dryRun", true}}.dump();
    const std::string raw = "POST /api/seedbank/releases HTTP/1.1\r\nHost: " + http["b"] +
                            "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                            body;
    const sockaddr_in to = seedbank::testing::ipv4_address(http["b"]);
    int answer[2];
    BOOST_REQUIRE_EQUAL(::pipe(answer), 0);
    pid_t child = ::fork();
    if (child == 0) {
      char reply[64] = {0};
      int fd = -1;
      if (::setgid(65534) == 0 && ::setuid(65534) == 0 && (fd = ::socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
          ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0 &&
          ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size()))
        (void)!::recv(fd, reply, sizeof reply - 1, MSG_WAITALL);
      (void)!::write(answer[1], reply, 12);  // "HTTP/1.1 403"
      ::_exit(0);
    }
    char reply[13] = {0};
    BOOST_REQUIRE_EQUAL(::read(answer[0], reply, 12), 12);
    const std::string status(reply + 9, 3);
    ::waitpid(child, nullptr, 0);
    ::close(answer[0]);
    ::close(answer[1]);
    BOOST_TEST(status == "403", reply);
    // The same request from the node's own user is answered.
    BOOST_TEST(post("/api/seedbank/releases",
                    json{{"files", json::array({{{"path", v2_path.string()}}})}, {"dryRun", true}}.dump())
                   .first == 200);
  }
  auto model_page = get_json("/api/v1/models/" + published["modelId"].dump());
  BOOST_TEST(model_page["modelVersions"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_gallery_works_in_a_real_browser) {
  std::string node_js;
  for (const char* candidate : {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"})
    if (fs::exists(candidate)) node_js = candidate;
  auto browser_dir = fs::path(SEEDBANK_SOURCE_DIR) / "tests" / "browser";
  BOOST_REQUIRE_MESSAGE(!node_js.empty() && fs::exists("/usr/bin/chromium") &&
                            fs::exists(browser_dir / "node_modules" / "playwright-core"),
                        "the browser test needs Node.js, Debian's chromium and playwright-core: run ./test.sh (it "
                        "installs them) or `apt-get install chromium nodejs npm && (cd tests/browser && npm ci)`");
  // The gallery's forms sign with B's identity key (favourite, share an
  // image), which also publishes a model whose page the browser edits.
  BOOST_REQUIRE_EQUAL(sb("b", {"keygen"}).exit_code, 0);
  auto gamma_file = seedbank::testing::write_safetensors(dir / "gamma.safetensors", 200 * 1024, 4);
  auto gamma = sb("b", {"publish", gamma_file.string(), "--name", "Gamma Own Style", "--type", "LORA", "--base-model",
                        "SD 1.5", "--tag", "own", "--description", "first notes", "--image",
                        (images / "a1111.png").string(), "--image", (images / "a1111.jpg").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(gamma.exit_code == 0, gamma.err);
  auto first_image = [&](const json& published) { return version_of(published)["images"][0]["hash"]; };
  // Someone's image made with Beta and Alpha v2, whose generation data
  // names them by the hashes A1111 writes (a checkpoint's AutoV2, a
  // safetensors LoRA's AutoV3 in 12 digits).
  const std::string beta_autov2 = beta["files"][0]["hashes"]["AutoV2"];
  std::string alpha_short = alpha2["files"][0]["hashes"]["AutoV3"].get<std::string>().substr(0, 12);
  for (auto& c : alpha_short) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto made_with = png_with_parameters(images / "a1111.png", dir / "made-with.png",
                                       "a lighthouse <lora:alpha:0.7>\nNegative prompt: fog\nSteps: 20, Sampler: Euler "
                                       "a, Seed: 5, Model hash: " +
                                           beta_autov2 + ", Model: beta, Lora hashes: \"alpha: " + alpha_short + "\"");
  auto poster = dir / "made-with.key";
  BOOST_REQUIRE_EQUAL(sb("b", {"keygen", "--out", poster.string()}).exit_code, 0);
  auto made = sb("b", {"post-image", made_with.string(), "--release", alpha2["releaseId"], "--key", poster.string(),
                       "--caption", "Made with two models", "--json"});
  BOOST_REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  json expect = {
      {"filterType", "LORA"},
      {"own", {{"name", "Gamma Own Style"}}},
      {"resources",
       {{"sha256", json::parse(made.out)["sha256"]}, {"models", json::array({"Beta Checkpoint", "Alpha LoRA"})}}},
      {"models", json::array({{{"name", "Alpha LoRA"},
                               {"type", "LORA"},
                               {"sha256", alpha2["files"][0]["hashes"]["SHA256"]},
                               {"autoV2", alpha2["files"][0]["hashes"]["AutoV2"]},
                               {"imageHash", first_image(alpha2)}},
                              {{"name", "Beta Checkpoint"},
                               {"type", "Checkpoint"},
                               {"sha256", beta["files"][0]["hashes"]["SHA256"]},
                               {"autoV2", beta["files"][0]["hashes"]["AutoV2"]},
                               {"imageHash", first_image(beta)}}})}};
  // Published from the gallery: a model of three chunks, cut and resumed,
  // and a second version named by its path here.
  auto epsilon = seedbank::testing::write_safetensors(dir / "epsilon.safetensors", 40 * 1024 * 1024 + 11, 8);
  auto epsilon2 = seedbank::testing::write_safetensors(dir / "epsilon_v2.safetensors", 300 * 1024, 9);
  expect["publish"] = {{"name", "Epsilon From The Web"},
                       {"model", epsilon.string()},
                       {"version2", epsilon2.string()},
                       {"images", json::array({(images / "a1111.png").string(), (images / "a1111.jpg").string()})}};
  auto expect_file = dir / "expect.json";
  std::ofstream(expect_file) << expect.dump(2);
  auto out = fs::path(SEEDBANK_TEST_OUTPUT_DIR) / "gallery";
  fs::create_directories(out);
  Process browser({node_js, (browser_dir / "gallery_test.mjs").string(), "--base", "http://" + http["b"], "--expect",
                   expect_file.string(), "--out", out.string()},
                  (dir / "browser").string());
  int code = browser.wait(std::chrono::seconds(240));
  BOOST_TEST_MESSAGE(browser.err());
  BOOST_REQUIRE_MESSAGE(code == 0, "gallery_test.mjs exited " << code << ":\n" << browser.err() << browser.out());
  BOOST_TEST(fs::exists(out / "home.png"));
  BOOST_TEST(fs::exists(out / "model.png"));
  BOOST_TEST(fs::exists(out / "me.png"));
  BOOST_TEST(fs::exists(out / "model-shared.png"));
  BOOST_TEST(fs::exists(out / "tags.png"));
  BOOST_TEST(fs::exists(out / "edit-page.png"));
  BOOST_TEST(fs::exists(out / "publish.png"));

  // What the browser published is what `seedbank publish` makes of the same
  // files and names (the command finds it already published), and node A
  // has both versions, the second one's notes as edited.
  json web;
  std::ifstream(out / "published.json") >> web;
  BOOST_TEST(web["abortedChunks"].get<int>() >= 1);
  auto cli = sb("b", {"publish", epsilon.string(), "--image", (images / "a1111.png").string(), "--image",
                      (images / "a1111.jpg").string(), "--name", "Epsilon From The Web", "--version", "v1.0", "--type",
                      "LORA", "--json"});
  BOOST_REQUIRE_MESSAGE(cli.exit_code == 0, cli.err);
  BOOST_TEST(json::parse(cli.out)["alreadyPublished"] == true);
  BOOST_TEST(json::parse(cli.out)["releaseId"] == web["first"]["releaseId"]);
  BOOST_REQUIRE(eventually(
      [&] {
        auto r = http_get(http["a"], "/api/v1/models/" + web["modelId"].dump());
        if (r.status != 200) return false;
        auto versions = json::parse(r.body)["modelVersions"];
        return versions.size() == 2 && versions[0]["description"] == "Second version, edited in the browser";
      },
      std::chrono::seconds(60)));
}

BOOST_AUTO_TEST_SUITE_END()
