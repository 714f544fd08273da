// The Civitai API as a client uses it, against node C of a line A <- B <- C
// (A publishes, C only learns the records): a lookup by hash followed at
// once by each preview, bulk lookups by id, the image filters, the download
// redirect with Range, and the sidecars `resolve` writes. Field types are
// checked against fixtures written from Civitai's API reference.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "support/http_client.h"
#include "support/model_files.h"
#include "support/net.h"
#include "support/process.h"

namespace fs = std::filesystem;
using nlohmann::json;
using seedbank::testing::http_get;
using seedbank::testing::http_request;
using seedbank::testing::lower;
using seedbank::testing::sha256_hex;

namespace {

std::string type_of(const json& v) {
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

// Every path of `fixture` ("files[].hashes.SHA256") has its type in `doc`.
void check_types(const json& doc, const std::string& fixture_name) {
  std::ifstream in(fs::path(SEEDBANK_FIXTURES_DIR) / "civitai" / fixture_name);
  auto fixture = json::parse(in);
  for (const auto& [path, want] : fixture.items()) {
    if (path[0] == '_') continue;
    // Walk the path; "[]" fans out over an array's items.
    std::vector<const json*> at{&doc};
    std::string rest = path;
    while (!rest.empty()) {
      auto dot = rest.find('.');
      std::string part = rest.substr(0, dot);
      rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
      bool each = part.size() > 2 && part.ends_with("[]");
      if (each) part.resize(part.size() - 2);
      std::vector<const json*> next;
      for (const json* j : at) {
        BOOST_TEST_REQUIRE(j->contains(part), fixture_name << ": " << path << " is missing in " << j->dump());
        const json& v = (*j)[part];
        if (each) {
          BOOST_TEST_REQUIRE(v.is_array(), fixture_name << ": " << path);
          BOOST_TEST_REQUIRE(!v.empty(), fixture_name << ": " << path << " has no items to check");
          for (const auto& item : v) next.push_back(&item);
        } else {
          next.push_back(&v);
        }
      }
      at = std::move(next);
    }
    for (const json* j : at) BOOST_TEST(type_of(*j) == want.get<std::string>(), fixture_name << ": " << path);
  }
}

struct Client : seedbank::testing::NodeLine {
  fs::path images = fs::path(SEEDBANK_FIXTURES_DIR) / "images";
  fs::path model_file;

  Client() {
    model_file = seedbank::testing::write_safetensors(dir / "lamp.safetensors", 700 * 1024, 11);
    publish_on_a(model_file, {"--name", "Lamp", "--type", "LORA", "--base-model", "SD 1.5", "--trigger", "lamp style",
                              "--image", (images / "a1111.png").string(), "--image", (images / "a1111.webp").string()});
    start_line({}, {});
    BOOST_REQUIRE(eventually([&] { return has("c", release["releaseId"]); }));
  }
  std::string sha() const { return release["files"][0]["hashes"]["SHA256"]; }
  json get(const std::string& target) {
    auto r = http_get(http["c"], target);
    BOOST_TEST_REQUIRE(r.status == 200u, target << ": " << r.status << " " << r.body);
    return json::parse(r.body);
  }
  static std::string path_of(const std::string& url) { return url.substr(url.find("/api/")); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(civitai_client_test, Client)

BOOST_AUTO_TEST_CASE(a_lookup_then_its_previews_then_the_download) {
  auto version = get("/api/v1/model-versions/by-hash/" + sha());
  check_types(version, "model-version-types.json");
  BOOST_TEST(version["model"]["name"] == "Lamp");
  // Each preview at once, as clients do: one request each, no retry.
  BOOST_REQUIRE_EQUAL(version["images"].size(), 2u);
  for (const auto& img : version["images"]) {
    BOOST_TEST(img["nsfwLevel"] == 1);  // PG: published without a level or --nsfw
    std::string url = img["url"];
    BOOST_TEST(url.rfind("http://" + http["c"] + "/api/images/", 0) == 0u, url);
    auto bytes = http_get(http["c"], path_of(url));
    BOOST_TEST(bytes.status == 200u, url << ": " << bytes.status << " " << bytes.body.substr(0, 200));
    BOOST_TEST(sha256_hex(bytes.body) == img["hash"].get<std::string>(), url << ": " << bytes.body.size() << " bytes");
  }
  // The download redirects (307) to the file's own URL; that serves Range.
  auto redirect = http_get(http["c"], path_of(version["downloadUrl"]));
  BOOST_REQUIRE_EQUAL(redirect.status, 307u);
  std::string location = redirect.header("location");
  BOOST_TEST(location == "http://" + http["c"] + "/api/files/" + lower(sha()) +
                             "/lamp.safetensors?version=" + std::to_string(version["id"].get<std::uint64_t>()));
  auto whole = seedbank::testing::http_download(http["c"], path_of(version["downloadUrl"]), 240);
  BOOST_REQUIRE_EQUAL(whole.status, 200u);
  BOOST_TEST(sha256_hex(whole.body) == lower(sha()));
  BOOST_TEST(whole.header("content-disposition") == "attachment; filename=\"lamp.safetensors\"");
  auto part = http_get(http["c"], path_of(location), {{"Range", "bytes=100-199"}});
  BOOST_TEST(part.status == 206u);
  BOOST_TEST(part.body == whole.body.substr(100, 100));
}

BOOST_AUTO_TEST_CASE(a_listing_starts_its_previews_coming_and_carries_both_magnets) {
  // HEAD never makes the node fetch: the images are not on C before the listing.
  std::vector<std::string> previews;
  for (const char* name : {"a1111.png", "a1111.webp"}) {
    std::ifstream in(images / name, std::ios::binary);
    previews.push_back(sha256_hex(std::string(std::istreambuf_iterator<char>(in), {})));
  }
  for (const auto& hex : previews) BOOST_TEST(http_request(http["c"], "HEAD", "/api/images/" + hex).status == 503u);
  auto listing = get("/api/v1/models?limit=10");
  BOOST_REQUIRE_EQUAL(listing["items"].size(), 1u);
  const auto& listed = listing["items"][0]["modelVersions"][0];
  // The listing alone brings the previews: HEAD turns 200 without a GET.
  for (const auto& hex : previews)
    BOOST_TEST(eventually([&] { return http_request(http["c"], "HEAD", "/api/images/" + hex).status == 200u; }),
               hex << " never arrived after the listing");
  // Listed versions carry the v1-compat magnet too, the same as a lookup's.
  auto one = get("/api/v1/model-versions/" + std::to_string(listed["id"].get<std::uint64_t>()));
  BOOST_TEST(listed["seedbank"]["magnetV1Compat"].get<std::string>().rfind("magnet:?xt=urn:btih:", 0) == 0u);
  BOOST_TEST(listed["seedbank"]["magnetV1Compat"] == one["seedbank"]["magnetV1Compat"]);
}

BOOST_AUTO_TEST_CASE(ids_images_filters_and_levels_give_exactly_what_was_asked) {
  auto version = get("/api/v1/model-versions/by-hash/" + sha());
  std::uint64_t model_id = version["modelId"], version_id = version["id"];
  // Both forms of ids, a repeat and an id nobody has: the one model, once.
  for (const std::string& q : {"ids=" + std::to_string(model_id) + ",12345",
                               "ids=" + std::to_string(model_id) + "&ids=12345&ids=" + std::to_string(model_id)}) {
    auto page = get("/api/v1/models?" + q);
    BOOST_TEST_REQUIRE(page["items"].size() == 1u, q);
    BOOST_TEST(page["items"][0]["id"] == model_id);
  }
  BOOST_TEST(get("/api/v1/models?ids=12345")["items"].empty());

  // Someone's post about it, rated R.
  auto key = dir / "poster.key";
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen", "--out", key.string()}).exit_code, 0);
  auto post = sb("a", {"post-image", (images / "a1111.jpg").string(), "--release", release["releaseId"], "--key",
                       key.string(), "--nsfw-level", "R", "--json"});
  BOOST_REQUIRE_MESSAGE(post.exit_code == 0, post.err);
  std::string post_sha = json::parse(post.out)["sha256"];
  auto images_of = [&](const std::string& extra) {
    std::set<std::string> out;
    auto page = get("/api/v1/images?modelVersionId=" + std::to_string(version_id) + extra);
    for (const auto& i : page["items"]) out.insert(i["hash"].get<std::string>());
    return out;
  };
  std::string png = version["images"][0]["hash"], webp = version["images"][1]["hash"];
  BOOST_REQUIRE(eventually([&] { return images_of("").count(post_sha) == 1; }, std::chrono::seconds(30)));
  auto items = get("/api/v1/images?modelVersionId=" + std::to_string(version_id))["items"];
  for (const auto& item : items) check_types(item, "image-types.json");
  json post_item;
  for (const auto& item : items)
    if (item["hash"] == post_sha) post_item = item;
  BOOST_TEST(post_item["nsfwLevel"] == "Mature");
  BOOST_TEST(post_item["browsingLevel"] == 4);
  BOOST_TEST(post_item["nsfw"] == true);
  BOOST_TEST(post_item["type"] == "image");

  using Set = std::set<std::string>;
  BOOST_TEST((images_of("&nsfw=None") == Set{png, webp}));
  BOOST_TEST((images_of("&nsfw=false") == Set{png, webp}));
  BOOST_TEST((images_of("&nsfw=Soft") == Set{png, webp}));
  BOOST_TEST((images_of("&nsfw=Mature") == Set{png, webp, post_sha}));
  BOOST_TEST((images_of("&nsfw=X") == Set{png, webp, post_sha}));
  BOOST_TEST((images_of("&nsfw=true") == Set{png, webp, post_sha}));
  BOOST_TEST((images_of("&browsingLevel=4") == Set{post_sha}));
  BOOST_TEST((images_of("&browsingLevel=1") == Set{png, webp}));
  BOOST_TEST((images_of("&browsingLevel=24").empty()));                    // X and XXX: none here
  BOOST_TEST((images_of("&browsingLevel=4&nsfw=None") == Set{post_sha}));  // browsingLevel wins
  BOOST_TEST(http_get(http["c"], "/api/v1/images?nsfw=Maybe").status == 400u);
  BOOST_TEST(http_get(http["c"], "/api/v1/images?browsingLevel=64").status == 400u);
  BOOST_TEST(images_of("&type=video").empty());

  // imageId and postId name one image each. An image's id comes from the
  // record showing it: a post of the sample image's bytes is its own item.
  auto again = sb("a", {"post-image", (images / "a1111.webp").string(), "--release", release["releaseId"], "--key",
                        key.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  const std::string again_id = json::parse(again.out)["recordId"];
  json sample_item, again_item;
  BOOST_REQUIRE(eventually(
      [&] {
        auto page = get("/api/v1/images?modelVersionId=" + std::to_string(version_id));
        for (const auto& item : page["items"])
          if (item["hash"] == webp) (item["postId"].is_null() ? sample_item : again_item) = item;
        return !again_item.is_null();
      },
      std::chrono::seconds(30)));
  BOOST_TEST(again_item["seedbank"]["post"] == again_id);
  BOOST_TEST(json::parse(again.out)["imageId"] == again_item["id"]);  // what post-image said it would be
  BOOST_TEST(json::parse(again.out)["postId"] == again_item["postId"]);
  BOOST_TEST(sample_item["id"] == version["images"][1]["id"]);  // as the version lists it
  BOOST_TEST(again_item["id"] != sample_item["id"]);
  for (const auto& [item, post] :
       {std::pair{sample_item, json(nullptr)}, std::pair{again_item, again_item["postId"]}}) {
    auto by_image = get("/api/v1/images?imageId=" + std::to_string(item["id"].get<std::uint64_t>()));
    BOOST_TEST_REQUIRE(by_image["items"].size() == 1u, by_image.dump());
    BOOST_TEST(by_image["items"][0]["hash"] == webp);
    BOOST_TEST(by_image["items"][0]["postId"] == post);
    BOOST_TEST(by_image["items"][0]["id"] == item["id"]);
  }
  auto by_post = get("/api/v1/images?postId=" + std::to_string(post_item["postId"].get<std::uint64_t>()));
  BOOST_TEST_REQUIRE(by_post["items"].size() == 1u, by_post.dump());
  BOOST_TEST(by_post["items"][0]["hash"] == post_sha);
  BOOST_TEST(by_post["items"][0]["id"] == post_item["id"]);
  BOOST_TEST(get("/api/v1/images?imageId=1")["items"].empty());

  // Endpoints clients call besides these.
  auto ids = http_request(http["c"], "POST", "/api/v1/model-versions/by-hash/ids",
                          json::array({sha(), lower(sha()), std::string(64, '0')}).dump());
  BOOST_REQUIRE_EQUAL(ids.status, 200u);
  auto answered = json::parse(ids.body);
  BOOST_TEST_REQUIRE(answered.size() == 2u, ids.body);
  BOOST_TEST(answered[0]["modelVersionId"] == version_id);
  auto mini = get("/api/v1/model-versions/mini/" + std::to_string(version_id));
  BOOST_TEST(mini["fileName"] == "lamp.safetensors");
  BOOST_TEST(mini["hashes"]["SHA256"] == sha());
  BOOST_TEST(mini["downloadUrls"][0] == version["downloadUrl"]);
  auto enums = get("/api/v1/enums");
  BOOST_TEST(enums["ModelType"].size() > 10u);
  BOOST_TEST(enums.contains("BaseModel"));
  // A token, as query or header, is accepted and changes nothing.
  auto with_token =
      http_get(http["c"], "/api/v1/model-versions/by-hash/" + sha() + "?token=abc", {{"Authorization", "Bearer abc"}});
  BOOST_TEST(with_token.status == 200u);
}

// A short video made with the model, posted on A: C lists it as Civitai
// lists videos, with the generation data ComfyUI stored in it, and serves
// the video itself (ranges too) when asked for a preview.
BOOST_AUTO_TEST_CASE(a_short_video_post_is_listed_and_served_as_a_video) {
  const fs::path videos = fs::path(SEEDBANK_FIXTURES_DIR) / "videos";
  auto key = dir / "filmer.key";
  BOOST_REQUIRE_EQUAL(sb("a", {"keygen", "--out", key.string()}).exit_code, 0);
  auto post = sb("a", {"post-image", (videos / "vhs.webm").string(), "--release", release["releaseId"], "--key",
                       key.string(), "--caption", "boat loop", "--json"});
  BOOST_REQUIRE_MESSAGE(post.exit_code == 0, post.err);
  const std::string sha = json::parse(post.out)["sha256"];
  const std::string version =
      "/api/v1/images?modelVersionId=" + get("/api/v1/model-versions/by-hash/" + this->sha())["id"].dump();
  json item;
  BOOST_REQUIRE(eventually(
      [&] {
        auto page = get(version + "&type=video");
        if (page["items"].size() != 1u) return false;
        item = page["items"][0];
        return true;
      },
      std::chrono::seconds(30)));
  check_types(item, "image-types.json");
  BOOST_TEST(item["hash"] == sha);
  BOOST_TEST(item["type"] == "video");
  BOOST_TEST(item["width"] == 64);
  BOOST_TEST(item["height"] == 48);
  BOOST_TEST(item["caption"] == "boat loop");
  BOOST_TEST(item["meta"]["prompt"] == "a paper boat drifting");
  BOOST_TEST(item["meta"]["seed"] == 42);
  // type=image lists the stills only; no type, both.
  for (const auto& i : get(version + "&type=image")["items"]) BOOST_TEST(i["type"] == "image");
  BOOST_TEST(get(version + "&type=image")["items"].size() == 2u);
  BOOST_TEST(get(version)["items"].size() == 3u);
  // The video itself, by its bytes' type; a preview of it is the video.
  std::ifstream in(videos / "vhs.webm", std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  seedbank::testing::HttpReply served;
  BOOST_REQUIRE(
      eventually([&] { return (served = http_get(http["c"], "/api/images/" + sha + "?width=450")).status == 200; },
                 std::chrono::seconds(30)));
  BOOST_TEST(served.header("content-type") == "video/webm");
  BOOST_TEST((served.body == bytes));
  auto part = seedbank::testing::http_request(http["c"], "GET", "/api/images/" + sha, "", {{"Range", "bytes=100-199"}});
  BOOST_TEST(part.status == 206);
  BOOST_TEST((part.body == bytes.substr(100, 100)));

  // A video over what travels between nodes (16 MiB) is refused, saying
  // so: here the MP4 fixture with 17 MiB of padding (a "free" box).
  std::ifstream mp4_in(videos / "vhs.mp4", std::ios::binary);
  std::string big(std::istreambuf_iterator<char>(mp4_in), {});
  const std::uint32_t pad = 17u << 20;
  big += std::string{static_cast<char>(pad >> 24), static_cast<char>(pad >> 16), static_cast<char>(pad >> 8),
                     static_cast<char>(pad)} +
         "free" + std::string(pad - 8, '\0');
  std::ofstream(dir / "long.mp4", std::ios::binary) << big;
  auto refused =
      sb("a", {"post-image", (dir / "long.mp4").string(), "--release", release["releaseId"], "--key", key.string()});
  BOOST_TEST(refused.exit_code != 0);
  BOOST_TEST(refused.err.find("shorten the video") != std::string::npos, refused.err);
  // Nor is a video an avatar.
  auto avatar =
      sb("a", {"profile", "--name", "Filmer", "--avatar", (videos / "vhs.webm").string(), "--key", key.string()});
  BOOST_TEST(avatar.exit_code != 0);
  BOOST_TEST(avatar.err.find("a video cannot be an avatar") != std::string::npos, avatar.err);
}

BOOST_AUTO_TEST_CASE(the_sidecar_resolve_writes_holds_urls_that_fetch_the_right_bytes) {
  auto models = dir / "webui-models";
  auto r = sb("c", {"resolve", sha(), "--layout", "a1111", "--models-dir", models.string(), "--timeout", "120"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::ifstream in(models / "Lora" / "lamp.civitai.info");
  BOOST_REQUIRE(in);
  auto info = json::parse(in);
  check_types(info, "model-version-types.json");
  BOOST_TEST(info["seedbank"]["magnet"].get<std::string>().rfind("magnet:?", 0) == 0u);
  BOOST_TEST(info["seedbank"]["magnetV1Compat"].get<std::string>().rfind("magnet:?xt=urn:btih:", 0) == 0u);
  for (const auto& img : info["images"]) {
    std::string url = img["url"];
    BOOST_TEST_REQUIRE(url.rfind("http://" + http["c"] + "/api/images/", 0) == 0u, url);
    auto bytes = http_get(http["c"], path_of(url));
    BOOST_TEST(bytes.status == 200u, url);
    BOOST_TEST(sha256_hex(bytes.body) == img["hash"].get<std::string>());
  }
  std::string download = info["downloadUrl"];
  BOOST_TEST_REQUIRE(download.rfind("http://" + http["c"] + "/api/download/models/", 0) == 0u, download);
  auto file = seedbank::testing::http_download(http["c"], path_of(download), 120);
  BOOST_TEST(file.status == 200u);
  BOOST_TEST(sha256_hex(file.body) == lower(sha()));
  // Read back by publish --from-civitai as before: the fields come from it.
  BOOST_REQUIRE_EQUAL(sb("c", {"keygen"}).exit_code, 0);
  auto again = sb("c", {"publish", (models / "Lora" / "lamp.safetensors").string(), "--from-civitai",
                        (models / "Lora" / "lamp.civitai.info").string(), "--json"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(json::parse(again.out)["model"] == "Lamp");
  BOOST_TEST(json::parse(again.out)["type"] == "LORA");
}

BOOST_AUTO_TEST_SUITE_END()
