// Api::Impl, shared by the files that implement the HTTP API (api.cpp,
// api_listings.cpp, api_forms.cpp, api_files.cpp), and the helpers they
// share. Private to src/http; no Beast or libtorrent here.
#pragma once

#include "http/api.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "civitai.h"
#include "community.h"
#include "json_out.h"
#include "seedbank/protocol/http_target.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/release.h"

namespace seedbank::node {

namespace p = seedbank::protocol;
namespace sc = seedbank::schema;
using json = nlohmann::ordered_json;
using p::HttpTarget;

constexpr std::size_t kDefaultLimit = 100;   // Civitai's default page size
constexpr std::size_t kMaxPageWalk = 10000;  // items a `page` parameter may skip

inline HttpResponse json_response(unsigned status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

inline HttpResponse text_json(unsigned status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

inline HttpResponse error_response(unsigned status, const std::string& message) {
  return json_response(status, json{{"error", message}});
}

inline std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

struct Api::Impl {
  indexer::Index& index;
  ContentStore& store;
  std::filesystem::path data_dir;
  NodeServices* node;  // null: no network (BitTorrent and gossip off)
  const NodeConfig config;

  std::mutex mutex;        // guards what follows
  std::mutex local_mutex;  // local.json: one change at a time
  std::mutex thumb_mutex;
  std::condition_variable thumb_cv;
  int thumbs_running = 0;      // started for HTTP clients, last minute
  std::string listen_address;  // fallback for URLs without a Host
  bool loopback_only = false;  // then Host must name this machine
  struct Ranked {
    indexer::ModelKey model;
    std::uint64_t seeders;
  };
  std::vector<Ranked> ranking;
  std::chrono::steady_clock::time_point ranking_time{};

  Impl(indexer::Index& i, ContentStore& s, std::filesystem::path d, NodeServices* n, NodeConfig c)
      : index(i), store(s), data_dir(std::move(d)), node(n), config(std::move(c)) {}

  struct ListRequest {
    indexer::ReleaseQuery query;
    std::size_t limit = kDefaultLimit;
    bool most_downloaded = false;
    bool nobody = false;  // a username no key uses: nothing matches
  };

  // ---- api.cpp: construction, routing, host checks, pages, models and versions ----

  std::string base_for(const HttpRequest& request);
  CivitaiLinks links_for(const HttpRequest& request);
  std::optional<HttpResponse> check_host(const HttpRequest& request);
  HttpResponse handle(const HttpRequest& request);
  HttpResponse page(const HttpTarget& t);
  p::Result<ListRequest> read_list_request(const HttpTarget& t);
  p::Result<std::pair<std::vector<p::Record>, std::string>> model_page(const ListRequest& l, std::string cursor);
  std::vector<Ranked> current_ranking();
  void write_model_of(JsonOut& out, const p::Record& head, const CivitaiLinks& links);
  HttpResponse list_models(const HttpRequest& request, const HttpTarget& t);
  HttpResponse one_model(const HttpRequest& request, const std::string& id_text);
  std::optional<p::Record> listed_release(std::uint64_t number);
  HttpResponse one_version(const HttpRequest& request, const std::string& id_text);
  std::optional<p::Record> release_for_hash(const std::string& hash);
  HttpResponse by_hash(const HttpRequest& request, const std::string& hash);
  HttpResponse by_hash_list(const HttpRequest& request);

  // ---- api_listings.cpp: images, tags, creators, reviews ----

  HttpResponse list_images(const HttpRequest& request, const HttpTarget& t);
  HttpResponse list_tags(const HttpRequest& request, const HttpTarget& t);
  HttpResponse list_creators(const HttpRequest& request, const HttpTarget& t);
  HttpResponse reviews(const HttpRequest&, const HttpTarget& t);

  // ---- api_forms.cpp: the gallery's forms and this node's own lists ----

  std::optional<HttpResponse> foreign(const HttpRequest& request, const std::string& what);
  std::optional<HttpResponse> own_json_body(const HttpRequest& request, const std::string& what, const char* shape,
                                            json* body);
  std::variant<p::SecretKey, HttpResponse> identity();
  // A form the node signs with its own key: the JSON body (see
  // own_json_body), the listed release its "modelVersionId" names (when
  // `names_release`) and the identity key, each checked in that order.
  struct SigningForm {
    json body;
    std::optional<p::Record> release;
    std::optional<p::SecretKey> key;
  };
  std::variant<SigningForm, HttpResponse> signing_form(const HttpRequest& request, const std::string& what,
                                                       const char* shape, bool names_release);
  HttpResponse sign(const p::SecretKey& key, const p::CommunityDraft& draft, json fields);
  std::variant<p::Record, HttpResponse> body_release(const json& body);
  std::variant<p::Sha256Digest, HttpResponse> body_image(const json& body, const char* field);
  std::string text_field(const json& body, const char* field, std::size_t max = 16000);
  HttpResponse rate(const HttpRequest& request);
  HttpResponse upload_image(const HttpRequest& request);
  HttpResponse post_image(const HttpRequest& request);
  HttpResponse set_profile(const HttpRequest& request);
  HttpResponse retract(const HttpRequest& request);
  json favorites_json(const LocalLists& lists);
  HttpResponse me(const HttpRequest& request);
  HttpResponse set_local(const HttpRequest& request, bool follows);

  // ---- api_files.cpp: images, thumbnails and downloads, and fetching them ----

  void fetch_images(const HttpRequest& request, const p::Record& release);
  void fetch_post_image(const HttpRequest& request, const p::Record& post, const p::Sha256Digest& sha);
  HttpResponse image(const HttpRequest& request, const HttpTarget& t, const std::string& hex);
  std::optional<std::string> thumbnail(const p::Sha256Digest& sha, const std::filesystem::path& path,
                                       std::uint64_t size, unsigned width);
  HttpResponse download(const HttpRequest& request, const HttpTarget& t, const std::string& id_text);
  static std::optional<unsigned> choose_file(schema::Release::Reader r, const HttpTarget& t);
  std::optional<HttpResponse> may_fetch(const HttpRequest& request);
};

}  // namespace seedbank::node
