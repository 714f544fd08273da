// Api::Impl, shared by the files that implement the HTTP API (api.cpp,
// api_listings.cpp, api_forms.cpp, api_files.cpp), and the helpers they
// share. Private to src/http; no Beast or libtorrent here.
#pragma once

#include "http/api.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "civitai.h"
#include "collections.h"
#include "community.h"
#include "http/uploads.h"
#include "json_out.h"
#include "node_services.h"
#include "seedbank/node/publish.h"
#include "seedbank/protocol/http_target.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/release.h"

namespace seedbank::node {

namespace p = seedbank::protocol;
namespace sc = seedbank::schema;
using json = nlohmann::ordered_json;
using p::HttpTarget;

constexpr std::size_t kDefaultLimit = 100;             // Civitai's default page size
constexpr auto kImageWait = std::chrono::seconds(15);  // an image on its way: how long a request waits for it
constexpr std::size_t kMaxPageWalk = 10000;            // items a `page` parameter may skip
constexpr std::size_t kListedPrefetch = 8;             // models of a listing whose previews start coming

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

// Every `from` in `text` replaced by `to` (which is not searched again).
inline void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// An image's browsing level in a form: 1, 2, 4, 8, 16 or their names
// ("PG" ... "XXX"); nullopt for anything else.
inline std::optional<std::uint8_t> json_nsfw_level(const json& v) {
  if (v.is_number_unsigned()) return p::parse_nsfw_level(std::to_string(v.get<std::uint64_t>()));
  if (v.is_string()) return p::parse_nsfw_level(v.get<std::string>());
  return std::nullopt;
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

  std::mutex mutex;             // guards what follows
  std::mutex local_mutex;       // local.json: one change at a time
  std::mutex collection_mutex;  // this node's user's collections: one change at a time
  // Thumbnails are decoded on a thread of their own, one at a time (a large
  // image takes seconds and a hundred MB): HTTP threads never decode, and
  // at most one waits for a thumbnail, so listings are never stuck behind
  // images. What follows is guarded by thumb_mutex.
  struct ThumbJob {
    std::filesystem::path source, cached;
    std::uint64_t size = 0;
    unsigned width = 0;
  };
  static constexpr std::size_t kMaxThumbJobs = 256;
  std::mutex thumb_mutex;
  std::condition_variable_any thumb_cv;
  std::deque<ThumbJob> thumb_queue;
  std::set<std::filesystem::path> thumb_pending;  // cached paths of jobs queued or running
  int thumb_waiters = 0;
  std::string listen_address;     // fallback for URLs without a Host
  bool loopback_only = false;     // then Host must name this machine
  std::filesystem::path web_dir;  // set_web_dir; empty: the compiled-in gallery
  struct Ranked {
    indexer::ModelKey model;
    std::uint64_t seeders;
  };
  std::vector<Ranked> ranking;
  std::chrono::steady_clock::time_point ranking_time{};
  // Answers of /api/seedbank/trends by query, each kept kTrendsFresh while
  // records arrive and kTrendsUnchanged while none does (api_trends.cpp).
  static constexpr auto kTrendsFresh = std::chrono::seconds(2);
  static constexpr auto kTrendsUnchanged = std::chrono::seconds(60);
  struct TrendsAnswer {
    std::uint64_t records = 0;  // IndexStats::records when made
    std::chrono::steady_clock::time_point at;
    HttpResponse response;
  };
  std::mutex trends_mutex;        // guards trends_cache
  std::mutex trends_count_mutex;  // one answer counted at a time
  std::map<std::string, TrendsAnswer> trends_cache;

  // The gallery's uploads and publish jobs (api_publish.cpp): one job at a
  // time, the last kMaxPublishJobs remembered. publish_mutex guards the jobs.
  Uploads uploads;
  struct PublishJob {
    std::string id;
    std::uint64_t done = 0, total = 0;  // bytes hashed
    bool finished = false;
    json result;        // when finished without an error
    std::string error;  // when finished with one
    unsigned status = 0;
  };
  std::mutex publish_mutex;
  std::vector<std::shared_ptr<PublishJob>> publish_jobs;
  bool publish_running = false;
  std::string publish_current;

  Impl(indexer::Index& i, ContentStore& s, std::filesystem::path d, NodeServices* n, NodeConfig c)
      : index(i),
        store(s),
        data_dir(std::move(d)),
        node(n),
        config(std::move(c)),
        uploads(store.root() / "tmp" / "uploads") {
    thumb_worker = std::jthread([this](const std::stop_token& stop) { make_thumbnails(stop); });
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    thumb_worker.request_stop();
    thumb_worker.join();
  }

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
  HttpResponse page_from_disk(const std::filesystem::path& dir, const std::string& path, const HttpTarget& t);
  p::Result<ListRequest> read_list_request(const HttpTarget& t);
  p::Result<std::pair<std::vector<p::Record>, std::string>> model_page(const ListRequest& l, std::string cursor);
  std::vector<Ranked> current_ranking();
  void write_model_of(JsonOut& out, const p::Record& head, const CivitaiLinks& links);
  HttpResponse list_models(const HttpRequest& request, const HttpTarget& t);
  HttpResponse models_by_id(const HttpRequest& request, const HttpTarget& t, const ListRequest& l);
  // Those models (model ids, in that order) that pass the other filters, a
  // page at a time ("cursor" is an offset into `numbers`).
  HttpResponse models_in_order(const HttpRequest& request, const HttpTarget& t, const ListRequest& l,
                               const std::vector<std::uint64_t>& numbers);
  HttpResponse by_hash_ids(const HttpRequest& request);
  HttpResponse mini_version(const HttpRequest& request, const std::string& id_text);
  HttpResponse enums();
  HttpResponse torrent(const HttpTarget& t, const std::string& name);
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
  // created_at_ms: 0 for now.
  HttpResponse sign(const p::SecretKey& key, const p::CommunityDraft& draft, json fields,
                    std::uint64_t created_at_ms = 0);
  std::variant<p::Record, HttpResponse> body_release(const json& body);
  std::variant<p::Sha256Digest, HttpResponse> body_image(const json& body, const char* field);
  std::string text_field(const json& body, const char* field, std::size_t max = 16000);
  HttpResponse rate(const HttpRequest& request);
  HttpResponse upload_image(const HttpRequest& request);
  HttpResponse post_image(const HttpRequest& request);
  HttpResponse set_profile(const HttpRequest& request);
  HttpResponse retract(const HttpRequest& request);
  HttpResponse update_release(const HttpRequest& request);
  json favorites_json(const LocalLists& lists);
  HttpResponse me(const HttpRequest& request);
  HttpResponse dashboard(const HttpRequest& request);

  // ---- api_publish.cpp: publishing from the gallery ----

  HttpResponse create_upload(const HttpRequest& request);
  // `id` empty: the list.
  HttpResponse upload(const HttpRequest& request, const HttpTarget& t, const std::string& id);
  // `used`: the uploads it names; `by_path`: the files it names by path.
  std::optional<HttpResponse> read_publish_body(const HttpRequest& request, const json& body, const p::SecretKey& key,
                                                PublishRequest* req, std::vector<UploadInfo>* used,
                                                std::vector<std::filesystem::path>* by_path);
  static std::string upload_message(std::string message, const std::vector<UploadInfo>& used);
  HttpResponse publish_release(const HttpRequest& request);
  HttpResponse publish_job(const HttpRequest& request, const std::string& id);

  // ---- api_trends.cpp ----

  HttpResponse trends(const HttpRequest& request, const HttpTarget& t);
  HttpResponse set_local(const HttpRequest& request, bool follows);

  // ---- api_social.cpp: reactions and comments ----

  using FieldReader = std::function<std::optional<std::string>(const char*)>;
  // The subject named by a request's fields, shown by this node; or the
  // 400 or 404 to answer.
  std::variant<indexer::Subject, HttpResponse> read_subject(const FieldReader& field);
  // This node's user's key, for requests from the node's own machine.
  std::optional<p::PublicKey> local_identity(const HttpRequest& request);
  HttpResponse reactions(const HttpRequest& request, const HttpTarget& t);
  HttpResponse react(const HttpRequest& request);
  json comment_json(const CommentView& view, const std::optional<p::PublicKey>& me);
  HttpResponse comments(const HttpRequest& request, const HttpTarget& t);
  HttpResponse comment(const HttpRequest& request);

  // ---- api_collections.cpp: collections (schema Collection) ----

  // The collection a numeric id names, if this node shows it; or the 400
  // or 404 to answer.
  std::variant<p::Record, HttpResponse> collection_by_id(const std::string& id_text);
  json collection_json(const p::Record& collection, const CivitaiLinks& links, std::uint8_t levels, bool items);
  HttpResponse list_collections(const HttpRequest& request, const HttpTarget& t);
  HttpResponse one_collection(const HttpRequest& request, const std::string& id_text);
  HttpResponse collection_models(const HttpRequest& request, const HttpTarget& t, const ListRequest& l,
                                 const std::string& id_text);
  HttpResponse set_collection(const HttpRequest& request);

  // ---- api_files.cpp: images, thumbnails and downloads, and fetching them ----

  bool fetch_images(const HttpRequest& request, const p::Record& release, FetchFor why = FetchFor::request);
  HttpResponse image_on_its_way(const HttpRequest& request, const p::Sha256Digest& sha);
  void prefetch_images(const HttpRequest& request, const p::Record& release, FetchFor why = FetchFor::request);
  // The images of the first few models of a listing that this node lacks
  // start coming (clients show them next), within the listings' budget.
  void prefetch_listed(const HttpRequest& request, const std::vector<p::Record>& heads);
  void fetch_post_image(const HttpRequest& request, const p::Record& post, const p::Sha256Digest& sha);
  HttpResponse image(const HttpRequest& request, const HttpTarget& t, const std::string& hex);
  // Whether a record this node shows names `sha` as an image: a release's
  // sample image, an image post or a current avatar, none of them refused
  // (retracted, denied, voided, left out by policy). Nothing else in the
  // store (model files, unpublished uploads) is served as an image.
  bool shows_image(const p::Sha256Digest& sha) const;
  struct Thumbnail {
    std::optional<std::string> jpeg;  // none: serve the original
    bool later = false;               // not made yet: the original, not to be cached
  };
  Thumbnail thumbnail(const p::Sha256Digest& sha, const std::filesystem::path& path, std::uint64_t size,
                      unsigned width);
  void make_thumbnails(const std::stop_token& stop);
  HttpResponse download(const HttpRequest& request, const HttpTarget& t, const std::string& id_text);
  HttpResponse file(const HttpRequest& request, const HttpTarget& t, const std::string& hex, const std::string& name);
  static std::string file_path(const p::Sha256Digest& sha, const std::string& name);
  static std::optional<unsigned> choose_file(schema::Release::Reader r, const HttpTarget& t);
  std::optional<HttpResponse> may_fetch(const HttpRequest& request, FetchFor why = FetchFor::request);

  std::jthread publish_thread;  // the publish job running, if any: joined before the rest goes
  std::jthread thumb_worker;    // last: stopped before the rest goes
};

}  // namespace seedbank::node
