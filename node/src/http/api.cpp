#include "http/api.h"

#include "node_services.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <variant>

#include "civitai.h"
#include "community.h"
#include "files.h"
#include "http/file_source.h"
#include "http/thumbnail.h"
#include "http/web_assets.h"
#include "json_out.h"
#include "seedbank/protocol/http_target.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

namespace p = seedbank::protocol;
namespace sc = seedbank::schema;
using json = nlohmann::ordered_json;
using p::HttpTarget;

namespace {

constexpr std::size_t kDefaultLimit = 100;                  // Civitai's default page size
constexpr std::size_t kMaxPageWalk = 10000;                 // items a `page` parameter may skip
constexpr auto kRankingLifetime = std::chrono::seconds(5);  // "Most Downloaded" order is reused this long
const unsigned kThumbnailWidths[] = {160, 320, 450, 640, 1024};

HttpResponse json_response(unsigned status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

HttpResponse text_json(unsigned status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

HttpResponse error_response(unsigned status, const std::string& message) {
  return json_response(status, json{{"error", message}});
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

// The scheme and host clients used to reach us, for absolute URLs (tools
// download `url` and `downloadUrl` as given). Relative when the Host header
// is missing or not a plain host[:port].
std::string base_url_of(const HttpRequest& request) {
  const std::string& host = request.host;
  if (host.empty() || host.size() > 255) return "";
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr(".-:[]_", c)) return "";
  return "http://" + host;
}

// Content-Disposition for a file name: an ASCII fallback and the UTF-8 name
// (RFC 6266), so non-ASCII names survive clients that read headers as Latin-1.
std::string content_disposition(const std::string& name) {
  std::string ascii;
  bool plain = true;
  for (unsigned char c : name) {
    bool ok = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    plain = plain && ok;
    ascii.push_back(ok ? static_cast<char>(c) : '_');
  }
  std::string out = "attachment; filename=\"" + ascii + "\"";
  if (!plain) out += "; filename*=UTF-8''" + p::percent_encode(name);
  return out;
}

}  // namespace

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

  std::string base_for(const HttpRequest& request) {
    auto base = base_url_of(request);
    if (!base.empty()) return base;
    std::lock_guard lock(mutex);
    return listen_address.empty() ? std::string() : "http://" + listen_address;
  }

  CivitaiLinks links_for(const HttpRequest& request) {
    CivitaiLinks links;
    links.base_url = base_for(request);
    links.hidden = [this](const p::Record& rec) { return config.refuses(rec, index).has_value(); };
    if (node && node->has_gossip()) {
      NodeServices* services = node;
      links.seeders = [services](const p::Sha256Digest& ih) { return services->seeder_count(ih); };
    }
    return links;
  }

  // ---- routing ----

  // A node on loopback answers only requests naming a loopback host: a web
  // page whose name an attacker points at 127.0.0.1 (DNS rebinding) gets
  // nothing.
  std::optional<HttpResponse> check_host(const HttpRequest& request) {
    {
      std::lock_guard lock(mutex);
      if (!loopback_only) return std::nullopt;
    }
    if (request.host.empty() || names_this_machine(request.host)) return std::nullopt;
    return error_response(421, "this node serves 127.0.0.1 only, not '" + request.host.substr(0, 100) +
                                   "'; to serve other names run it with --http 0.0.0.0:PORT");
  }

  HttpResponse handle(const HttpRequest& request) {
    if (request.method == "OPTIONS") {
      HttpResponse r;
      r.status = 204;
      r.content_type.clear();
      r.headers = {{"Access-Control-Allow-Origin", "*"},
                   {"Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS"},
                   {"Access-Control-Allow-Headers", "Content-Type, Range, Authorization"},
                   {"Access-Control-Max-Age", "86400"}};
      return r;
    }
    if (auto refused = check_host(request)) return *refused;
    auto target = p::parse_target(request.target);
    if (!target) return error_response(400, target.error().message);
    const HttpTarget& t = *target;
    const bool get = request.method == "GET" || request.method == "HEAD";
    const bool post = request.method == "POST";
    if (!get && !post) return error_response(405, "method " + request.method + " is not supported here");

    if (t.path == "/api/v1/model-versions/by-hash" && post) return by_hash_list(request);
    if (post) {
      if (t.path == "/api/seedbank/ratings") return rate(request);
      if (t.path == kUploadTarget) return upload_image(request);
      if (t.path == "/api/seedbank/posts") return post_image(request);
      if (t.path == "/api/seedbank/profile") return set_profile(request);
      if (t.path == "/api/seedbank/retractions") return retract(request);
      if (t.path == "/api/seedbank/favorites") return set_local(request, false);
      if (t.path == "/api/seedbank/follows") return set_local(request, true);
      return error_response(405, "POST is not for " + t.path.substr(0, 200) + "; see docs/http-api.md");
    }
    if (t.path == "/api/seedbank/me") return me(request);
    if (t.path == "/api/v1/models") return list_models(request, t);
    if (auto seg = t.segments_after("/api/v1/models"); seg && seg->size() == 1) return one_model(request, (*seg)[0]);
    if (auto seg = t.segments_after("/api/v1/model-versions/by-hash"); seg && seg->size() == 1)
      return by_hash(request, (*seg)[0]);
    if (auto seg = t.segments_after("/api/v1/model-versions"); seg && seg->size() == 1)
      return one_version(request, (*seg)[0]);
    if (t.path == "/api/v1/images") return list_images(request, t);
    if (t.path == "/api/v1/tags") return list_tags(request, t);
    if (t.path == "/api/v1/creators") return list_creators(request, t);
    if (t.path == "/api/seedbank/reviews") return reviews(request, t);
    if (auto seg = t.segments_after("/api/images"); seg && seg->size() == 1) return image(request, t, (*seg)[0]);
    if (auto seg = t.segments_after("/api/download/models"); seg && seg->size() == 1)
      return download(request, t, (*seg)[0]);
    if (t.path.rfind("/api/", 0) == 0 || t.path == "/api")
      return error_response(404, "no API route " + t.path + "; see docs/http-api.md");
    return page(t);
  }

  HttpResponse page(const HttpTarget& t) {
    std::string path = t.path;
    if (path == "/" || path.rfind("/models/", 0) == 0 || path.rfind("/user/", 0) == 0 || path == "/images" ||
        path == "/me")
      path = "/index.html";
    for (std::size_t i = 0; i < kWebAssetCount; ++i) {
      if (path != kWebAssets[i].path) continue;
      HttpResponse r;
      r.content_type = kWebAssets[i].content_type;
      r.body.assign(reinterpret_cast<const char*>(kWebAssets[i].data), kWebAssets[i].size);
      r.headers.emplace_back("Cache-Control", "no-cache");
      return r;
    }
    HttpResponse r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "Not found: " + t.path + "\n";
    return r;
  }

  // ---- models ----

  struct ListRequest {
    indexer::ReleaseQuery query;
    std::size_t limit = kDefaultLimit;
    bool most_downloaded = false;
    bool nobody = false;  // a username no key uses: nothing matches
  };

  p::Result<ListRequest> read_list_request(const HttpTarget& t) {
    ListRequest out;
    auto& q = out.query;
    q.models_only = true;
    auto limit = p::integer_param(t, "limit", 0, 100);
    if (!limit) return limit.error();
    if (*limit && **limit > 0) out.limit = **limit;
    if (auto v = t.get("query")) q.text = v->substr(0, 200);
    if (auto v = t.get("tag")) q.tag = v->substr(0, 200);
    if (auto v = t.get("username"); v && !v->empty()) {
      if (auto key = p::PublicKey::from_text(*v)) {
        q.creator = *key;
      } else {
        q.any_creator = index.keys_named(*v);
        out.nobody = q.any_creator.empty();
      }
    }
    for (const auto& name : t.all("types")) {
      auto type = p::parse_model_type(name);
      if (!type) {
        std::string names;
        for (auto n : p::model_type_names()) names += (names.empty() ? "" : ", ") + std::string(n);
        return p::make_error(p::ErrorCode::invalid_argument,
                             "types: '" + name.substr(0, 100) + "' is not a model type; use one of " + names);
      }
      q.any_type.push_back(static_cast<std::uint16_t>(*type));
    }
    for (const auto& base : t.all("baseModels")) q.any_base_model.push_back(base.substr(0, 100));
    if (auto sort = t.get("sort")) {
      if (*sort == "Highest Rated" || *sort == "Most Liked" || *sort == "Most Discussed") {
        q.sort = indexer::SortOrder::highest_rated;
      } else if (*sort == "Most Downloaded" || *sort == "Most Collected") {
        out.most_downloaded = true;
      } else if (*sort != "Newest") {
        return p::make_error(p::ErrorCode::invalid_argument,
                             "sort: '" + sort->substr(0, 100) +
                                 "' is not a sort; use Highest Rated, Most Downloaded, Most Liked, Most Discussed, "
                                 "Most Collected or Newest");
      }
    }
    if (auto period = t.get("period")) {
      std::uint64_t day = 86400000ull, span = 0;
      if (*period == "Day")
        span = day;
      else if (*period == "Week")
        span = 7 * day;
      else if (*period == "Month")
        span = 30 * day;
      else if (*period == "Year")
        span = 365 * day;
      else if (*period != "AllTime")
        return p::make_error(
            p::ErrorCode::invalid_argument,
            "period: '" + period->substr(0, 100) + "' is not a period; use AllTime, Year, Month, Week or Day");
      auto now = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
      if (span) q.created_after_ms = now > span ? now - span : 0;
    }
    auto nsfw = p::bool_param(t, "nsfw");
    if (!nsfw) return nsfw.error();
    if (*nsfw && !**nsfw) q.hide_nsfw = true;
    // The node's own policy narrows every listing.
    q.deny_curators = config.deny_curators;
    if (!config.nsfw) q.hide_nsfw = true;
    if (!config.types.empty()) {
      if (q.any_type.empty()) {
        q.any_type = config.types;
      } else {
        std::erase_if(q.any_type, [&](std::uint16_t t) {
          return std::find(config.types.begin(), config.types.end(), t) == config.types.end();
        });
        out.nobody = out.nobody || q.any_type.empty();
      }
    }
    return out;
  }

  // One page of model heads (newest, highest rated, or most downloaded).
  p::Result<std::pair<std::vector<p::Record>, std::string>> model_page(const ListRequest& l, std::string cursor) {
    std::vector<p::Record> heads;
    if (l.nobody) return std::pair{std::move(heads), std::string()};
    if (!l.most_downloaded) {
      auto q = l.query;
      q.limit = l.limit;
      q.cursor = cursor;
      auto page = index.query_releases(q);
      if (!page) return page.error();
      return std::pair{std::move(page->items), page->next_cursor};
    }
    // Most downloaded: models by how many nodes seed their versions, then
    // every other model, newest first. Cursors: "d<offset>" in the ranking,
    // "n<index cursor>" after it.
    auto ranking = current_ranking();
    std::set<indexer::ModelKey> ranked;
    for (const auto& r : ranking) ranked.insert(r.model);
    std::size_t offset = 0;
    if (cursor.empty() || cursor[0] == 'd') {
      if (cursor.size() > 1) {
        auto n = parse_number(std::string_view(cursor).substr(1));
        if (!n)
          return p::make_error(p::ErrorCode::invalid_argument, "cursor '" + cursor + "' is not one this node returned");
        offset = *n;
      }
      for (; offset < ranking.size() && heads.size() < l.limit; ++offset) {
        auto m = index.model(ranking[offset].model);
        if (!m || !m->head) continue;
        auto head = index.get(*m->head);
        if (head && index.matches(*head, l.query)) heads.push_back(std::move(*head));
      }
      if (heads.size() == l.limit) return std::pair{std::move(heads), "d" + std::to_string(offset)};
      cursor = "n";
    }
    if (cursor[0] != 'n')
      return p::make_error(p::ErrorCode::invalid_argument, "cursor '" + cursor + "' is not one this node returned");
    std::string rest = cursor.substr(1);
    for (int rounds = 0; rounds < 20 && heads.size() < l.limit; ++rounds) {
      auto q = l.query;
      q.limit = l.limit - heads.size();  // so the page's cursor ends at the last one taken
      q.cursor = rest;
      auto page = index.query_releases(q);
      if (!page) return page.error();
      for (auto& rec : page->items) {
        auto key = indexer::model_key(rec.author(), rec.body().getPayload().getRelease().getModelSlug().cStr());
        if (!ranked.count(key)) heads.push_back(std::move(rec));
      }
      rest = page->next_cursor;
      if (rest.empty()) return std::pair{std::move(heads), std::string()};
    }
    return std::pair{std::move(heads), "n" + rest};
  }

  std::vector<Ranked> current_ranking() {
    std::lock_guard lock(mutex);
    auto now = std::chrono::steady_clock::now();
    if (now - ranking_time < kRankingLifetime && ranking_time != std::chrono::steady_clock::time_point{})
      return ranking;
    ranking_time = now;
    ranking.clear();
    if (!node || !node->has_gossip()) return ranking;
    std::map<indexer::ModelKey, std::uint64_t> per_model;
    for (const auto& [ih, count] : node->most_seeded(5000)) {
      auto matches = index.find_by_hash("urn:btmh:1220" + p::to_hex(ih), 4);
      if (!matches || matches->empty()) continue;
      auto rec = index.get((*matches)[0].release);
      if (!rec || rec->kind() != p::RecordKind::release) continue;
      per_model[indexer::model_key(rec->author(), rec->body().getPayload().getRelease().getModelSlug().cStr())] +=
          count;
    }
    for (const auto& [key, count] : per_model) ranking.push_back({key, count});
    std::stable_sort(ranking.begin(), ranking.end(), [](auto& a, auto& b) { return a.seeders > b.seeders; });
    return ranking;
  }

  void write_model_of(JsonOut& out, const p::Record& head, const CivitaiLinks& links) {
    auto key = indexer::model_key(head.author(), head.body().getPayload().getRelease().getModelSlug().cStr());
    auto m = index.model(key);
    if (!m) {  // cannot happen for an indexed release; show the one version
      m.emplace();
      m->key = key;
      m->head = head.id();
      m->versions = {head.id()};
    }
    write_model(out, *m, head, index, links);
  }

  HttpResponse list_models(const HttpRequest& request, const HttpTarget& t) {
    auto l = read_list_request(t);
    if (!l) return error_response(400, l.error().message);
    std::string cursor = t.get("cursor").value_or("");
    auto page_number = p::integer_param(t, "page", 1, 1000000);
    if (!page_number) return error_response(400, page_number.error().message);
    if (*page_number && cursor.empty()) {
      // Pages are walked from the first (cursors are the fast way).
      if ((**page_number - 1) * l->limit > kMaxPageWalk)
        return error_response(400, "page: at most " + std::to_string(kMaxPageWalk) +
                                       " items can be skipped with page; use cursor (metadata.nextCursor)");
      for (std::uint64_t i = 1; i < **page_number; ++i) {
        auto skipped = model_page(*l, cursor);
        if (!skipped) return error_response(400, skipped.error().message);
        cursor = skipped->second;
        if (cursor.empty()) break;
      }
      if (cursor.empty() && **page_number > 1)
        return json_response(200, json{{"items", json::array()},
                                       {"metadata", {{"currentPage", **page_number}, {"pageSize", l->limit}}}});
    }
    auto result = model_page(*l, cursor);
    if (!result) return error_response(400, result.error().message);
    auto links = links_for(request);
    JsonOut out;
    out.begin_object().key("items").begin_array();
    for (const auto& head : result->first) write_model_of(out, head, links);
    out.end_array();
    json metadata = {{"pageSize", l->limit}};
    if (*page_number) metadata["currentPage"] = **page_number;
    if (!result->second.empty()) {
      metadata["nextCursor"] = result->second;
      std::string next = links.base_url + "/api/v1/models?";
      for (const auto& [k, v] : t.params)
        if (k != "cursor" && k != "page") next += p::percent_encode(k) + "=" + p::percent_encode(v) + "&";
      metadata["nextPage"] = next + "cursor=" + p::percent_encode(result->second);
    }
    out.key("metadata").raw(metadata.dump()).end_object();
    return text_json(200, out.take());
  }

  HttpResponse one_model(const HttpRequest& request, const std::string& id_text) {
    auto id = parse_number(id_text);
    if (!id) return error_response(400, "model id '" + id_text.substr(0, 100) + "' is not a number");
    auto key = index.model_by_number(*id);
    auto m = key ? index.model(*key) : std::nullopt;
    if (!m || !m->head) return error_response(404, "No model with id " + std::to_string(*id));
    // The newest version this node shows: a denied newest version leaves
    // the model to the one before it.
    std::optional<p::Record> head;
    for (const auto& v : m->versions)
      if (auto rec = index.get(v); rec && !config.refuses(*rec, index)) {
        head = std::move(rec).value();
        break;
      }
    if (!head) return error_response(404, "No model with id " + std::to_string(*id));
    JsonOut out;
    write_model(out, *m, *head, index, links_for(request));
    return text_json(200, out.take());
  }

  std::optional<p::Record> listed_release(std::uint64_t number) {
    auto id = index.release_by_number(number);
    if (!id) return std::nullopt;
    auto rec = index.get(*id);
    if (!rec || rec->kind() != p::RecordKind::release || config.refuses(*rec, index)) return std::nullopt;
    return std::move(rec).value();
  }

  HttpResponse one_version(const HttpRequest& request, const std::string& id_text) {
    auto id = parse_number(id_text);
    if (!id) return error_response(400, "model version id '" + id_text.substr(0, 100) + "' is not a number");
    auto rec = listed_release(*id);
    if (!rec) return error_response(404, "No model version with id " + std::to_string(*id));
    JsonOut out;
    write_model_version(out, *rec, index, links_for(request), false);
    return text_json(200, out.take());
  }

  // The release a hash names: a model file's hash first, then a
  // release-level one (info-hash, release id); never a sample image's.
  std::optional<p::Record> release_for_hash(const std::string& hash) {
    auto matches = index.find_by_hash(hash, 16);
    if (!matches) return std::nullopt;
    std::optional<p::Record> fallback;
    for (const auto& m : *matches) {
      if (m.file != indexer::kReleaseLevel && (m.file & indexer::kImageFlag)) continue;
      auto rec = index.get(m.release);
      if (!rec || rec->kind() != p::RecordKind::release || config.refuses(*rec, index)) continue;
      if (m.file != indexer::kReleaseLevel) return std::move(rec).value();
      if (!fallback) fallback = std::move(rec).value();
    }
    return fallback;
  }

  HttpResponse by_hash(const HttpRequest& request, const std::string& hash) {
    auto rec = release_for_hash(hash);
    if (!rec) return error_response(404, "Model not found");
    JsonOut out;
    write_model_version(out, *rec, index, links_for(request), false);
    return text_json(200, out.take());
  }

  HttpResponse by_hash_list(const HttpRequest& request) {
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_array())
      return error_response(400, "the body must be a JSON array of hashes, e.g. [\"<sha256>\", ...]");
    if (body.size() > 10000) return error_response(400, "at most 10000 hashes per request");
    auto links = links_for(request);
    JsonOut out;
    out.begin_array();
    std::set<p::RecordId> seen;
    for (const auto& h : body) {
      if (!h.is_string()) return error_response(400, "the body must be a JSON array of strings");
      auto rec = release_for_hash(h.get<std::string>());
      if (rec && seen.insert(rec->id()).second) write_model_version(out, *rec, index, links, false);
    }
    out.end_array();
    return text_json(200, out.take());
  }

  // ---- images, tags, creators, reviews ----

  HttpResponse list_images(const HttpRequest& request, const HttpTarget& t) {
    auto limit = p::integer_param(t, "limit", 0, 200);
    if (!limit) return error_response(400, limit.error().message);
    const std::size_t want = *limit && **limit ? **limit : kDefaultLimit;
    auto nsfw = p::bool_param(t, "nsfw");
    if (!nsfw) return error_response(400, nsfw.error().message);
    const bool hide_nsfw = *nsfw && !**nsfw;
    // Cursor: "<release page cursor>.<images to skip in that page>" (the
    // cursor part is empty for the first page, and for one version or model).
    std::uint64_t skip = 0;
    std::string release_cursor;
    if (auto c = t.get("cursor"); c && !c->empty()) {
      auto dot = c->rfind('.');
      auto n = dot == std::string::npos ? std::nullopt : parse_number(std::string_view(*c).substr(dot + 1));
      if (!n) return error_response(400, "cursor '" + c->substr(0, 100) + "' is not one this node returned");
      skip = *n;
      release_cursor = c->substr(0, dot);
    }
    // The releases whose images are listed.
    std::vector<p::Record> releases;
    bool whole_list = false;  // releases come from a listing, page by page
    indexer::ReleaseQuery q;
    q.limit = 20;
    if (auto v = t.get("modelVersionId")) {
      auto n = parse_number(*v);
      if (!n) return error_response(400, "modelVersionId '" + v->substr(0, 100) + "' is not a number");
      if (auto rec = listed_release(*n)) releases.push_back(std::move(*rec));
    } else if (auto v = t.get("modelId")) {
      auto n = parse_number(*v);
      if (!n) return error_response(400, "modelId '" + v->substr(0, 100) + "' is not a number");
      auto key = index.model_by_number(*n);
      if (auto m = key ? index.model(*key) : std::nullopt)
        for (const auto& id : m->versions)
          if (auto rec = index.get(id); rec && !config.refuses(*rec, index)) releases.push_back(std::move(*rec));
    } else {
      if (auto v = t.get("username"); v && !v->empty()) {
        if (auto key = p::PublicKey::from_text(*v))
          q.creator = *key;
        else if (q.any_creator = index.keys_named(*v); q.any_creator.empty())
          return json_response(200, json{{"items", json::array()}, {"metadata", json::object()}});
      }
      q.deny_curators = config.deny_curators;
      q.hide_nsfw = !config.nsfw || hide_nsfw;
      q.any_type = config.types;
      whole_list = true;
    }
    auto links = links_for(request);
    json items = json::array();
    std::uint64_t position = 0;
    // One image: of a release (`by` is the release) or of a user's post
    // about it (`by` is the post).
    auto emit_image = [&](const p::Record& by, sc::SampleImage::Reader img, const p::Record& release,
                          std::optional<std::uint64_t> post_id) {
      if (items.size() >= want) return;
      if (position++ < skip) return;
      if (img.getNsfw() && (hide_nsfw || !config.nsfw)) return;
      auto r = release.body().getPayload().getRelease();
      std::string sha = p::to_hex(p::ByteView(img.getSha256().begin(), img.getSha256().size()));
      auto meta = nlohmann::ordered_json::parse([&] {
        JsonOut m;
        write_generation_meta(m, p::read_generation(img.getGeneration()));
        return m.take();
      }());
      items.push_back(
          {{"id", civitai_id(digest_of(img.getSha256()))},
           {"url", links.base_url + "/api/images/" + sha},
           {"hash", sha},
           {"width", img.getWidth()},
           {"height", img.getHeight()},
           {"nsfw", img.getNsfw()},
           {"nsfwLevel", img.getNsfw() ? "X" : "None"},
           {"createdAt", iso8601(by.created_at())},
           {"postId", post_id ? json(*post_id) : json(nullptr)},
           {"stats", {{"cryCount", 0}, {"laughCount", 0}, {"likeCount", 0}, {"heartCount", 0}, {"commentCount", 0}}},
           {"meta", meta.empty() ? json(nullptr) : json(meta)},
           {"username", username_of(index, by.author())},
           {"baseModel", r.getBaseModel().cStr()},
           {"modelVersionId", civitai_id(release.id())},
           {"seedbank", {{"releaseId", p::to_hex(release.id())}, {"name", img.getName().cStr()}, {"sha256", sha}}}});
    };
    auto emit = [&](const p::Record& rec) {
      for (auto img : rec.body().getPayload().getRelease().getImages()) emit_image(rec, img, rec, std::nullopt);
    };
    // Users' posts about a release. Their images travel over gossip: one
    // not here yet is fetched, and answers 503 until it arrives.
    auto emit_posts = [&](const p::Record& release) {
      for (const auto& id : index.posts_of(release.id(), 200)) {
        auto post = index.get(id);
        if (!post || post->kind() != p::RecordKind::image_post) continue;
        auto img = post->body().getPayload().getImagePost().getImage();
        if (img.getSha256().size() != 32) continue;
        auto sha = digest_of(img.getSha256());
        // The node's policy applies to posts as to releases.
        if (config.refuses_image(*post, sha, index)) continue;
        if (img.getNsfw() && hide_nsfw) continue;
        if (!store.contains(sha)) {
          if (!node || !node->has_gossip()) continue;
          fetch_post_image(request, *post, sha);
        }
        emit_image(*post, img, release, civitai_id(post->id()));
      }
    };
    std::string next_cursor;
    if (!whole_list) {
      for (const auto& rec : releases) emit(rec);
      for (const auto& rec : releases) emit_posts(rec);
      if (items.size() == want) next_cursor = "." + std::to_string(position);
    } else {
      // Newest releases a page at a time; the cursor says where in which
      // page the next image is, so no page is walked twice.
      for (int rounds = 0;; ++rounds) {
        if (rounds == 50) {  // many releases without images: go on next time
          next_cursor = release_cursor + "." + std::to_string(skip);
          break;
        }
        q.cursor = release_cursor;
        auto page = index.query_releases(q);
        if (!page) return error_response(400, "cursor: " + page.error().message);
        position = 0;
        for (const auto& rec : page->items) emit(rec);
        if (items.size() == want) {
          next_cursor = release_cursor + "." + std::to_string(position);
          break;
        }
        if (page->next_cursor.empty()) break;
        release_cursor = page->next_cursor;
        skip = 0;
      }
    }
    json metadata = json::object();
    if (!next_cursor.empty()) {
      metadata["nextCursor"] = next_cursor;
      std::string next = links.base_url + "/api/v1/images?";
      for (const auto& [k, v] : t.params)
        if (k != "cursor") next += p::percent_encode(k) + "=" + p::percent_encode(v) + "&";
      metadata["nextPage"] = next + "cursor=" + p::percent_encode(next_cursor);
    }
    return json_response(200, json{{"items", items}, {"metadata", metadata}});
  }

  HttpResponse list_tags(const HttpRequest& request, const HttpTarget& t) {
    auto limit = p::integer_param(t, "limit", 0, 200);
    if (!limit) return error_response(400, limit.error().message);
    const std::size_t want = *limit && **limit ? **limit : 20;
    auto page_number = p::integer_param(t, "page", 1, 1000000);
    if (!page_number) return error_response(400, page_number.error().message);
    std::string prefix = t.get("query").value_or("").substr(0, 200);
    std::string after = t.get("cursor").value_or("");
    std::uint64_t page = page_number->value_or(1);
    if (!after.empty()) page = 1;
    if ((page - 1) * want > kMaxPageWalk) return error_response(400, "page: too far; use cursor (metadata.nextCursor)");
    std::vector<indexer::TagCount> tags;
    for (std::uint64_t i = 0; i < page; ++i) {
      tags = index.tags(prefix, after, want);
      if (tags.size() < want) {
        if (i + 1 < page) tags.clear();
        break;
      }
      if (i + 1 < page) after = tags.back().name;
    }
    auto base = base_for(request);
    json items = json::array();
    for (const auto& tag : tags)
      items.push_back({{"name", tag.name},
                       {"modelCount", tag.models},
                       {"link", base + "/api/v1/models?tag=" + p::percent_encode(tag.name)}});
    json metadata = {{"currentPage", page}, {"pageSize", want}};
    if (tags.size() == want) {
      metadata["nextCursor"] = tags.back().name;
      metadata["nextPage"] = base + "/api/v1/tags?limit=" + std::to_string(want) +
                             (prefix.empty() ? "" : "&query=" + p::percent_encode(prefix)) +
                             "&cursor=" + p::percent_encode(tags.back().name);
    }
    return json_response(200, json{{"items", items}, {"metadata", metadata}});
  }

  HttpResponse list_creators(const HttpRequest& request, const HttpTarget& t) {
    auto limit = p::integer_param(t, "limit", 0, 200);
    if (!limit) return error_response(400, limit.error().message);
    const std::size_t want = *limit && **limit ? **limit : 20;
    auto links = links_for(request);
    std::vector<p::PublicKey> keys;
    std::string next_cursor;
    if (auto query = t.get("query"); query && !query->empty()) {
      if (auto key = p::PublicKey::from_text(*query)) keys.push_back(*key);
      for (const auto& k : index.keys_named(*query, true, want))
        if (std::find(keys.begin(), keys.end(), k) == keys.end() && keys.size() < want) keys.push_back(k);
    } else {
      std::optional<p::PublicKey> after;
      if (auto c = t.get("cursor"); c && !c->empty()) {
        after = p::PublicKey::from_text(*c);
        if (!after) return error_response(400, "cursor '" + c->substr(0, 100) + "' is not one this node returned");
      }
      auto page_number = p::integer_param(t, "page", 1, 1000000);
      if (!page_number) return error_response(400, page_number.error().message);
      std::uint64_t page = after ? 1 : page_number->value_or(1);
      if ((page - 1) * want > kMaxPageWalk)
        return error_response(400, "page: too far; use cursor (metadata.nextCursor)");
      std::vector<indexer::CreatorCount> found;
      for (std::uint64_t i = 0; i < page; ++i) {
        found = index.creators(after, want);
        if (found.size() < want) {
          if (i + 1 < page) found.clear();
          break;
        }
        after = found.back().key;
      }
      for (const auto& c : found) keys.push_back(c.key);
      if (found.size() == want) next_cursor = found.back().key.to_text();
    }
    JsonOut out;
    out.begin_object().key("items").begin_array();
    for (const auto& key : keys) write_creator(out, key, index, links, index.model_count(key));
    out.end_array();
    json metadata = {{"pageSize", want}};
    if (!next_cursor.empty()) {
      metadata["nextCursor"] = next_cursor;
      metadata["nextPage"] =
          links.base_url + "/api/v1/creators?limit=" + std::to_string(want) + "&cursor=" + next_cursor;
    }
    out.key("metadata").raw(metadata.dump()).end_object();
    return text_json(200, out.take());
  }

  HttpResponse reviews(const HttpRequest&, const HttpTarget& t) {
    auto v = t.get("modelVersionId");
    auto n = v ? parse_number(*v) : std::nullopt;
    if (!n) return error_response(400, "modelVersionId: give a model version id");
    auto rec = listed_release(*n);
    if (!rec) return error_response(404, "No model version with id " + std::to_string(*n));
    json items = json::array();
    for (const auto& id : index.ratings_of(rec->id(), 500)) {
      auto rating = index.get(id);
      if (!rating || rating->kind() != p::RecordKind::rating) continue;
      auto r = rating->body().getPayload().getRating();
      items.push_back({{"username", username_of(index, rating->author())},
                       {"creator", rating->author().to_text()},
                       {"stars", r.getStars()},
                       {"review", r.getReview().cStr()},
                       {"createdAt", iso8601(rating->created_at())}});
    }
    auto agg = index.rating(rec->id());
    return json_response(200, json{{"items", items}, {"ratingCount", agg.count}, {"rating", agg.mean()}});
  }

  // ---- acts in the name of this node's user ----
  //
  // The gallery's forms: the node signs with its identity key
  // (<data dir>/identity.key), as the matching `seedbank` command does. Only
  // for the node's own pages and local tools: requests another site's page
  // makes are refused (Sec-Fetch-Site, Origin).

  std::optional<HttpResponse> foreign(const HttpRequest& request, const std::string& what) {
    // Only from this machine, by a name of this machine (not a DNS name
    // rebound to it), whatever address the node listens on.
    if (!is_loopback_ip(request.remote))
      return error_response(403, "only the node's own machine can " + what +
                                     "; open the gallery there (http://127.0.0.1:PORT/) or use the seedbank command");
    if (!names_this_machine(request.host))
      return error_response(403, "to " + what +
                                     ", name this machine in the address (127.0.0.1, localhost or [::1]), "
                                     "not '" +
                                     request.host.substr(0, 100) + "'");
    if (request.sec_fetch_site == "cross-site" || request.sec_fetch_site == "same-site")
      return error_response(403, "another web site cannot " + what);
    if (!request.origin.empty() && request.origin != "http://" + request.host)
      return error_response(403, "origin " + request.origin.substr(0, 100) + " cannot " + what);
    return std::nullopt;
  }

  // The body of a request from the node's own user (see foreign(), with
  // `what` it is for) as a JSON object, or the 403 or 400 to answer.
  std::variant<json, HttpResponse> own_json_body(const HttpRequest& request, const std::string& what,
                                                 const char* shape) {
    if (auto r = foreign(request, what)) return *r;
    auto body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return error_response(400, std::string("the body must be ") + shape);
    return body;
  }

  std::variant<p::SecretKey, HttpResponse> identity() {
    auto key = p::load_secret_key(data_dir / "identity.key");
    if (!key)
      return error_response(409, "this node has no identity key to sign with; run `seedbank keygen` on its data dir");
    return std::move(key).value();
  }

  // Signs and stores a record, has gossip announce it now, and answers
  // `fields` plus its recordId.
  HttpResponse sign(const p::SecretKey& key, const p::CommunityDraft& draft, json fields) {
    auto out = sign_and_ingest(index, key, draft);
    if (!out) return error_response(400, out.error().message);
    if (node) node->announce({out->id});  // now, not at the next scan
    fields["recordId"] = p::to_hex(out->id);
    fields["author"] = key.public_key().to_text();
    return json_response(200, fields);
  }

  // A listed release from a body's "modelVersionId", or the answer to give.
  std::variant<p::Record, HttpResponse> body_release(const json& body) {
    if (!body.contains("modelVersionId") || !body["modelVersionId"].is_number_unsigned())
      return error_response(400, "modelVersionId: give a model version id (a number)");
    auto rec = listed_release(body["modelVersionId"].get<std::uint64_t>());
    if (!rec) return error_response(404, "No model version with id " + body["modelVersionId"].dump());
    return std::move(*rec);
  }

  // A SHA-256 in a body field, of an image in this node's store.
  std::variant<p::Sha256Digest, HttpResponse> body_image(const json& body, const char* field) {
    auto v = body.contains(field) && body[field].is_string() ? p::from_hex_fixed<32>(body[field].get<std::string>())
                                                             : std::nullopt;
    if (!v)
      return error_response(400, std::string(field) + ": give the sha256 that POST /api/seedbank/images returned");
    if (!store.contains(*v))
      return error_response(404, std::string(field) + ": this node has no image " + p::to_hex(*v) +
                                     "; upload it with POST /api/seedbank/images first");
    return *v;
  }

  // A text field cut to at most `max` bytes, never inside a character.
  std::string text_field(const json& body, const char* field, std::size_t max = 16000) {
    if (!body.contains(field) || !body[field].is_string()) return "";
    std::string text = body[field].get<std::string>();
    if (text.size() <= max) return text;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // text[n] starts what is cut
    text.resize(n);
    return text;
  }

  // POST /api/seedbank/ratings {modelVersionId, stars, review}
  HttpResponse rate(const HttpRequest& request) {
    auto body = own_json_body(request, "rate with this node's key",
                              "{\"modelVersionId\": N, \"stars\": 1-5, \"review\": \"...\"}");
    if (auto* r = std::get_if<HttpResponse>(&body)) return *r;
    auto& b = std::get<json>(body);
    if (!b.contains("stars") || !b["stars"].is_number_unsigned() || b["stars"].get<std::uint64_t>() < 1 ||
        b["stars"].get<std::uint64_t>() > 5)
      return error_response(400, "stars must be 1 to 5");
    auto stars = b["stars"].get<std::uint64_t>();
    auto rec = body_release(b);
    if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
    auto key = identity();
    if (auto* r = std::get_if<HttpResponse>(&key)) return *r;
    p::RatingDraft draft{std::get<p::Record>(rec).id(), static_cast<unsigned>(stars), text_field(b, "review")};
    return sign(std::get<p::SecretKey>(key), draft, {{"stars", stars}});
  }

  // POST /api/seedbank/images: the body is an image (PNG, JPEG, WebP) to
  // share; it is stored, not yet published. Answers its sha256, size and
  // generation parameters.
  HttpResponse upload_image(const HttpRequest& request) {
    if (auto r = foreign(request, "store images on this node")) return *r;
    if (request.body.empty()) return error_response(400, "the body must be the image file (PNG, JPEG or WebP)");
    auto tmp = temp_path_beside(store.root() / "tmp" / "upload");
    if (auto st = write_file_atomically(tmp, request.body); !st) return error_response(500, st.error().message);
    auto img = store_image(store, tmp);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    if (!img) {
      // The message names the temporary file; the user knows it as the upload.
      std::string message = img.error().message;
      for (auto at = message.find(tmp.string()); at != std::string::npos; at = message.find(tmp.string()))
        message.replace(at, tmp.string().size(), "the uploaded file");
      return error_response(img.error().code == p::ErrorCode::io ? 500 : 400, message);
    }
    std::string m;
    if (img->generation) {
      JsonOut meta;
      write_generation_meta(meta, *img->generation);
      m = meta.take();
    }
    return json_response(200, json{{"sha256", p::to_hex(img->sha256)},
                                   {"size", img->size},
                                   {"width", img->width},
                                   {"height", img->height},
                                   {"mimeType", img->mime_type},
                                   {"meta", m.empty() ? json(nullptr) : json::parse(m)}});
  }

  // POST /api/seedbank/posts {modelVersionId, image, caption, nsfw}
  HttpResponse post_image(const HttpRequest& request) {
    auto body = own_json_body(request, "post images with this node's key",
                              "{\"modelVersionId\": N, \"image\": \"<sha256>\", \"caption\": \"...\"}");
    if (auto* r = std::get_if<HttpResponse>(&body)) return *r;
    auto& b = std::get<json>(body);
    auto rec = body_release(b);
    if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
    auto sha = body_image(b, "image");
    if (auto* r = std::get_if<HttpResponse>(&sha)) return *r;
    auto key = identity();
    if (auto* r = std::get_if<HttpResponse>(&key)) return *r;
    auto img = read_image(store.path_of(std::get<p::Sha256Digest>(sha)));
    if (!img) return error_response(400, "the image: " + img.error().message);
    img->name = p::to_hex(img->sha256).substr(0, 16) + (img->mime_type == "image/png"    ? ".png"
                                                        : img->mime_type == "image/webp" ? ".webp"
                                                                                         : ".jpg");
    img->nsfw = b.contains("nsfw") && b["nsfw"].is_boolean() && b["nsfw"].get<bool>();
    p::ImagePostDraft draft{std::get<p::Record>(rec).id(), std::move(img).value(), text_field(b, "caption")};
    auto answer = sign(std::get<p::SecretKey>(key), draft, {{"sha256", p::to_hex(draft.image.sha256)}});
    if (answer.status == 200) {
      auto j = json::parse(answer.body);
      j["postId"] = civitai_id(*p::from_hex_fixed<32>(j["recordId"].get<std::string>()));
      answer = json_response(200, j);
    }
    return answer;
  }

  // POST /api/seedbank/profile {displayName, bio, links, avatar}
  HttpResponse set_profile(const HttpRequest& request) {
    auto body =
        own_json_body(request, "change this node's profile",
                      "{\"displayName\": \"...\", \"bio\": \"...\", \"links\": [...], \"avatar\": \"<sha256>\"}");
    if (auto* r = std::get_if<HttpResponse>(&body)) return *r;
    auto& b = std::get<json>(body);
    p::ProfileDraft draft;
    draft.display_name = text_field(b, "displayName");  // its limit is the record's, with its message
    if (draft.display_name.empty()) return error_response(400, "displayName: give a name to show");
    if (b.contains("links")) {
      if (!b["links"].is_array() || b["links"].size() > 20)
        return error_response(400, "links: give a list of at most 20 URLs");
      for (const auto& l : b["links"])
        if (l.is_string() && !l.get<std::string>().empty()) draft.links.push_back(l.get<std::string>().substr(0, 2000));
    }
    if (b.contains("avatar") && !b["avatar"].is_null()) {
      auto sha = body_image(b, "avatar");
      if (auto* r = std::get_if<HttpResponse>(&sha)) return *r;
      draft.avatar = std::get<p::Sha256Digest>(sha);
    }
    auto key = identity();
    if (auto* r = std::get_if<HttpResponse>(&key)) return *r;
    draft.bio = text_field(b, "bio");
    return sign(std::get<p::SecretKey>(key), draft, {{"displayName", draft.display_name}});
  }

  // POST /api/seedbank/retractions {modelVersionId, reason}: the node's
  // identity must be the release's author.
  HttpResponse retract(const HttpRequest& request) {
    auto body =
        own_json_body(request, "retract releases with this node's key", "{\"modelVersionId\": N, \"reason\": \"...\"}");
    if (auto* r = std::get_if<HttpResponse>(&body)) return *r;
    auto& b = std::get<json>(body);
    auto rec = body_release(b);
    if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
    auto key = identity();
    if (auto* r = std::get_if<HttpResponse>(&key)) return *r;
    const auto& release = std::get<p::Record>(rec);
    const auto& k = std::get<p::SecretKey>(key);
    if (release.author() != k.public_key())
      return error_response(403, "this version was signed by " + release.author().to_text() +
                                     "; only its author can retract it, and this node's key is " +
                                     k.public_key().to_text());
    return sign(k, p::RetractionDraft{release.id(), text_field(b, "reason")}, {{"releaseId", p::to_hex(release.id())}});
  }

  // ---- favourites and follows (this node's own, never gossiped) ----

  json favorites_json(const LocalLists& lists) {
    json out = json::array();
    for (const auto& hex : lists.favorites)
      if (auto id = p::from_hex_fixed<32>(hex))
        out.push_back({{"releaseId", hex}, {"modelVersionId", civitai_id(*id)}});
    return out;
  }

  // GET /api/seedbank/me
  HttpResponse me(const HttpRequest& request) {
    if (auto r = foreign(request, "read this node's favourites")) return *r;
    std::lock_guard lock(local_mutex);
    auto lists = read_local_lists(local_lists_path(data_dir));
    if (!lists) return error_response(500, lists.error().message);
    json identity_key = nullptr, username = nullptr;
    if (auto key = p::load_secret_key(data_dir / "identity.key")) {
      identity_key = key->public_key().to_text();
      username = username_of(index, key->public_key());
    }
    return json_response(200, json{{"identity", identity_key},
                                   {"username", username},
                                   {"favorites", favorites_json(*lists)},
                                   {"follows", lists->follows},
                                   {"limits", {{"imageBytes", p::util::kMaxImageBytes}}}});
  }

  // POST /api/seedbank/favorites {modelVersionId, favorite} and
  // /api/seedbank/follows {creator, follow}
  HttpResponse set_local(const HttpRequest& request, bool follows) {
    auto body = own_json_body(request, "change this node's favourites",
                              follows ? "{\"creator\": \"sbpk1...\", \"follow\": true|false}"
                                      : "{\"modelVersionId\": N, \"favorite\": true|false}");
    if (auto* r = std::get_if<HttpResponse>(&body)) return *r;
    auto& b = std::get<json>(body);
    const char* flag = follows ? "follow" : "favorite";
    if (!b.contains(flag) || !b[flag].is_boolean())
      return error_response(400, std::string(flag) + ": give true or false");
    std::string value;
    if (follows) {
      auto key = p::PublicKey::from_text(text_field(b, "creator", 200));
      if (!key) return error_response(400, "creator: give a creator key (sbpk1...)");
      value = key->to_text();
    } else {
      auto rec = body_release(b);
      if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
      value = p::to_hex(std::get<p::Record>(rec).id());
    }
    std::lock_guard lock(local_mutex);
    auto path = local_lists_path(data_dir);
    auto lists = read_local_lists(path);
    if (!lists) return error_response(500, lists.error().message);
    if (set_listed(follows ? lists->follows : lists->favorites, value, b[flag].get<bool>()))
      if (auto st = write_local_lists(path, *lists); !st) return error_response(500, st.error().message);
    if (follows) return json_response(200, json{{"follows", lists->follows}});
    return json_response(200, json{{"favorites", favorites_json(*lists)}});
  }

  // ---- files ----

  // Starts an images-only fetch of `release` on the node thread, at most
  // every kImageFetchInterval per release; does not wait.
  void fetch_images(const HttpRequest& request, const p::Record& release) {
    if (!node || node->fetched_lately(release.id())) return;
    if (may_fetch(request)) return;  // refused: the image stays 503
    node->fetch_release_images(release.id());
  }

  // Asks gossip for the image a post or profile names, at most every
  // kImageFetchInterval per record; does not wait.
  void fetch_post_image(const HttpRequest& request, const p::Record& post, const p::Sha256Digest& sha) {
    if (!node || !node->has_gossip() || request.method == "HEAD") return;
    if (node->fetched_lately(post.id())) return;
    node->fetch_image(sha, post.id());
  }

  HttpResponse image(const HttpRequest& request, const HttpTarget& t, const std::string& hex) {
    auto sha = p::from_hex_fixed<32>(hex);
    if (!sha) return error_response(400, "image '" + hex.substr(0, 100) + "' is not a SHA-256 (64 hex digits)");
    auto width = p::integer_param(t, "width", 1, 100000);
    if (!width) return error_response(400, width.error().message);
    if (index.is_denied(*sha, config.deny_curators))
      return error_response(404, "no image " + p::to_hex(*sha) + " is known to this node");
    if (!store.contains(*sha)) {
      // A post's image or an avatar: gossip is fetching it, or fetches it
      // now from the record that names it.
      bool fetching = node && node->fetching_image(*sha);
      if (node && node->has_gossip() && !fetching)
        if (auto owner = node->image_owner(*sha))
          if (auto rec = index.get(*owner); rec && !config.refuses_image(*rec, *sha, index)) {
            fetch_post_image(request, *rec, *sha);
            fetching = true;
          }
      if (fetching) {
        auto r = error_response(
            503, "image " + p::to_hex(*sha) + " is being fetched from peers; try again in a few seconds");
        r.headers.emplace_back("Retry-After", "2");
        return r;
      }
      auto matches = index.find_by_hash("sha256:" + p::to_hex(*sha), 16);
      if (matches)
        for (const auto& m : *matches) {
          if (m.file == indexer::kReleaseLevel || !(m.file & indexer::kImageFlag)) continue;
          auto rec = index.get(m.release);
          if (!rec || config.refuses(*rec, index)) continue;
          fetch_images(request, *rec);
          auto r = error_response(
              503, "image " + p::to_hex(*sha) + " is being fetched from peers; try again in a few seconds");
          r.headers.emplace_back("Retry-After", "2");
          return r;
        }
      return error_response(404, "no image " + p::to_hex(*sha) + " is known to this node");
    }
    auto path = store.path_of(*sha);
    std::string etag = "\"" + p::to_hex(*sha) + "\"";
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return error_response(500, path.string() + ": " + ec.message());
    // The type from the bytes themselves: the store holds content, not names.
    std::string head(std::min<std::uintmax_t>(size, 64 * 1024), '\0');
    {
      std::ifstream in(path, std::ios::binary);
      in.read(head.data(), static_cast<std::streamsize>(head.size()));
    }
    std::string mime = "application/octet-stream";
    if (head.rfind("\x89PNG", 0) == 0)
      mime = "image/png";
    else if (head.rfind("\xff\xd8", 0) == 0)
      mime = "image/jpeg";
    else if (head.size() > 12 && head.compare(8, 4, "WEBP") == 0)
      mime = "image/webp";
    if (*width && mime != "application/octet-stream") {
      unsigned w = kThumbnailWidths[std::size(kThumbnailWidths) - 1];
      for (unsigned candidate : kThumbnailWidths)
        if (candidate >= **width) {
          w = candidate;
          break;
        }
      auto thumb = thumbnail(*sha, path, size, w);
      if (thumb) {
        HttpResponse r;
        r.content_type = "image/jpeg";
        r.body = std::move(*thumb);
        r.etag = "\"" + p::to_hex(*sha) + "-" + std::to_string(w) + "\"";
        r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
        return r;
      }
      // Not decodable here: the original is still a valid answer.
    }
    HttpResponse r;
    r.content_type = mime;
    r.etag = etag;
    r.source = std::make_shared<FileSource>(path, size);
    r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
    return r;
  }

  // A cached thumbnail (<data dir>/thumbs/<sha>-<width>.jpg), made once.
  std::optional<std::string> thumbnail(const p::Sha256Digest& sha, const std::filesystem::path& path,
                                       std::uint64_t size, unsigned width) {
    auto cached = data_dir / "thumbs" / (p::to_hex(sha) + "-" + std::to_string(width) + ".jpg");
    {
      std::ifstream in(cached, std::ios::binary);
      if (in) return std::string(std::istreambuf_iterator<char>(in), {});
    }
    if (size > p::kMaxImageFileBytes) return std::nullopt;
    std::string bytes(size, '\0');
    {
      std::ifstream in(path, std::ios::binary);
      if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) return std::nullopt;
    }
    // Decoding takes up to a few hundred MB for a large image: two at a
    // time, whatever the number of HTTP threads.
    {
      std::unique_lock lock(thumb_mutex);
      thumb_cv.wait(lock, [&] { return thumbs_running < 2; });
      ++thumbs_running;
    }
    auto thumb = make_thumbnail(p::as_bytes(bytes), width);
    {
      std::lock_guard lock(thumb_mutex);
      --thumbs_running;
    }
    thumb_cv.notify_one();
    if (!thumb) return std::nullopt;
    std::error_code ec;
    std::filesystem::create_directories(cached.parent_path(), ec);
    (void)write_file_atomically(cached, *thumb);  // a cache: failing to keep it costs only time
    return std::move(thumb).value();
  }

  HttpResponse download(const HttpRequest& request, const HttpTarget& t, const std::string& id_text) {
    auto id = parse_number(id_text);
    if (!id) return error_response(400, "model version id '" + id_text.substr(0, 100) + "' is not a number");
    auto rec = listed_release(*id);
    if (!rec) return error_response(404, "No model version with id " + std::to_string(*id));
    auto r = rec->body().getPayload().getRelease();
    auto files = r.getFiles();
    if (files.size() == 0) return error_response(404, "model version " + std::to_string(*id) + " has no files");
    auto chosen = choose_file(r, t);
    if (!chosen)
      return error_response(404, "model version " + std::to_string(*id) + " has no file matching the request");
    auto f = files[*chosen];
    auto sha = digest_of(f.getHashes().getSha256());
    HttpResponse res;
    res.content_type = "application/octet-stream";
    res.etag = "\"" + p::to_hex(sha) + "\"";
    res.headers.emplace_back("Content-Disposition", content_disposition(f.getName().cStr()));
    res.headers.emplace_back("Access-Control-Allow-Origin", "*");
    if (store.contains(sha)) {
      res.source = std::make_shared<FileSource>(store.path_of(sha), f.getSize());
      return res;
    }
    // Not here yet: fetch this file over BitTorrent (in piece order) and
    // stream it as its pieces pass their checks.
    if (!node) return error_response(503, "this node does not run BitTorrent; the file is not here");
    if (auto refused = may_fetch(request)) return *refused;
    res.source = node->stream_file(rec->id(), f.getName().cStr(), f.getSize());
    return res;
  }

  // The file a download asks for: ?fileId= (leading digits, so a tool's
  // appended "?token=..." does no harm) or ?file= (a name); else, as
  // Civitai does, `type` filters and format/size/fp are preferences
  // weighed 100/10/1, the primary file winning ties.
  static std::optional<unsigned> choose_file(schema::Release::Reader r, const HttpTarget& t) {
    auto files = r.getFiles();
    auto sha_of = [](schema::ModelFile::Reader f) { return digest_of(f.getHashes().getSha256()); };
    if (auto file_id = t.get("fileId")) {
      std::string digits;
      for (char c : *file_id) {
        if (!std::isdigit(static_cast<unsigned char>(c))) break;
        digits.push_back(c);
      }
      for (unsigned i = 0; i < files.size(); ++i)
        if (digits == std::to_string(civitai_id(sha_of(files[i])))) return i;
      return std::nullopt;
    }
    if (auto name = t.get("file")) {
      for (unsigned i = 0; i < files.size(); ++i)
        if (*name == files[i].getName().cStr()) return i;
      return std::nullopt;
    }
    auto type = t.get("type"), format = t.get("format"), size = t.get("size"), fp = t.get("fp");
    bool any_primary = false;
    for (auto f : files) any_primary = any_primary || f.getPrimary();
    std::optional<unsigned> best;
    int best_score = -1;
    for (unsigned i = 0; i < files.size(); ++i) {
      auto f = files[i];
      if (type && *type != civitai_file_type(f.getRole())) continue;
      int score = 0;
      if (format && *format == civitai_format(f.getFormat())) score += 100;
      if (size && *size == (f.getRole() == schema::FileRole::PRUNED_MODEL ? "pruned" : "full")) score += 10;
      if (fp && *fp == civitai_precision(f.getPrecision())) score += 1;
      score = score * 2 + ((f.getPrimary() || (!any_primary && i == 0)) ? 1 : 0);
      if (score > best_score) {
        best_score = score;
        best = i;
      }
    }
    return best;
  }

  // Whether this request may make the node fetch from peers: not a HEAD,
  // not from another web site's page (a browser says so in Sec-Fetch-Site;
  // tools send none), and within the node's fetch budget for HTTP clients. nullopt:
  // it may; otherwise the answer to give.
  std::optional<HttpResponse> may_fetch(const HttpRequest& request) {
    if (request.method == "HEAD") return error_response(503, "not on this node yet; a GET fetches it from peers");
    if (request.sec_fetch_site == "cross-site" || request.sec_fetch_site == "same-site")
      return error_response(403,
                            "another web site cannot make this node download; open the link from the node's own "
                            "gallery or a tool");
    if (!node) return error_response(503, "this node does not run BitTorrent or gossip; nothing can be fetched");
    if (auto st = node->take_fetch_budget(); !st) {
      auto r = error_response(503, st.error().message);
      r.headers.emplace_back("Retry-After", "10");
      return r;
    }
    return std::nullopt;
  }
};

Api::Api(indexer::Index& index, ContentStore& store, std::filesystem::path data_dir, NodeServices* node,
         NodeConfig config)
    : impl_(std::make_unique<Impl>(index, store, std::move(data_dir), node, std::move(config))) {}
Api::~Api() = default;

HttpResponse Api::handle(const HttpRequest& request) { return impl_->handle(request); }

void Api::set_listen_address(const std::string& address) {
  std::lock_guard lock(impl_->mutex);
  impl_->listen_address = address;
  impl_->loopback_only = address.rfind("127.", 0) == 0 || address.rfind("[::1]", 0) == 0;
}

}  // namespace seedbank::node
