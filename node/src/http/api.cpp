#include "http/api_impl.h"

#include "node_services.h"
#include "one_file.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "http/web_assets.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

namespace {

constexpr auto kRankingLifetime = std::chrono::seconds(5);  // "Most Downloaded" order is reused this long

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

}  // namespace

std::string Api::Impl::base_for(const HttpRequest& request) {
  auto base = base_url_of(request);
  if (!base.empty()) return base;
  std::lock_guard lock(mutex);
  return listen_address.empty() ? std::string() : "http://" + listen_address;
}

CivitaiLinks Api::Impl::links_for(const HttpRequest& request) {
  CivitaiLinks links;
  links.base_url = base_for(request);
  links.hidden = [this](const p::Record& rec) { return config.refuses(rec, index).has_value(); };
  links.image_level = [this](schema::SampleImage::Reader img, schema::Release::Reader r) {
    return config.image_level(img, r, index);
  };
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
std::optional<HttpResponse> Api::Impl::check_host(const HttpRequest& request) {
  {
    std::lock_guard lock(mutex);
    if (!loopback_only) return std::nullopt;
  }
  if (request.host.empty() || names_this_machine(request.host)) return std::nullopt;
  return error_response(421, "this node serves 127.0.0.1 only, not '" + request.host.substr(0, 100) +
                                 "'; to serve other names run it with --http 0.0.0.0:PORT");
}

HttpResponse Api::Impl::handle(const HttpRequest& request) {
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
  if (auto seg = t.segments_after("/api/seedbank/uploads"); seg && seg->size() <= 1) {
    if (seg->empty() && post && !t.path.ends_with("/")) return create_upload(request);
    if (get || post || request.method == "DELETE") return upload(request, t, seg->empty() ? "" : (*seg)[0]);
  }
  if (!get && !post) return error_response(405, "method " + request.method + " is not supported here");

  if (t.path == "/api/v1/model-versions/by-hash" && post) return by_hash_list(request);
  if (t.path == "/api/v1/model-versions/by-hash/ids" && post) return by_hash_ids(request);
  if (post) {
    if (t.path == "/api/seedbank/ratings") return rate(request);
    if (t.path == kUploadTarget) return upload_image(request);
    if (t.path == "/api/seedbank/posts") return post_image(request);
    if (t.path == "/api/seedbank/profile") return set_profile(request);
    if (t.path == "/api/seedbank/retractions") return retract(request);
    if (t.path == "/api/seedbank/updates") return update_release(request);
    if (t.path == "/api/seedbank/favorites") return set_local(request, false);
    if (t.path == "/api/seedbank/follows") return set_local(request, true);
    if (t.path == "/api/seedbank/reactions") return react(request);
    if (t.path == "/api/seedbank/comments") return comment(request);
    if (t.path == "/api/seedbank/collections") return set_collection(request);
    if (t.path == "/api/seedbank/releases") return publish_release(request);
    return error_response(405, "POST is not for " + t.path.substr(0, 200) + "; see docs/http-api.md");
  }
  if (t.path == "/api/seedbank/me") return me(request);
  if (t.path == "/api/seedbank/dashboard") return dashboard(request);
  if (t.path == "/api/seedbank/trends") return trends(request, t);
  if (auto seg = t.segments_after("/api/seedbank/releases/jobs"); seg && seg->size() == 1)
    return publish_job(request, (*seg)[0]);
  if (t.path == "/api/v1/models") return list_models(request, t);
  if (auto seg = t.segments_after("/api/v1/models"); seg && seg->size() == 1) return one_model(request, (*seg)[0]);
  if (auto seg = t.segments_after("/api/v1/model-versions/by-hash"); seg && seg->size() == 1)
    return by_hash(request, (*seg)[0]);
  if (auto seg = t.segments_after("/api/v1/model-versions/mini"); seg && seg->size() == 1)
    return mini_version(request, (*seg)[0]);
  if (auto seg = t.segments_after("/api/v1/model-versions"); seg && seg->size() == 1)
    return one_version(request, (*seg)[0]);
  if (t.path == "/api/v1/enums") return enums();
  if (t.path == "/api/v1/images") return list_images(request, t);
  if (t.path == "/api/v1/tags") return list_tags(request, t);
  if (t.path == "/api/v1/creators") return list_creators(request, t);
  if (t.path == "/api/v1/collections") return list_collections(request, t);
  if (auto seg = t.segments_after("/api/v1/collections"); seg && seg->size() == 1)
    return one_collection(request, (*seg)[0]);
  if (t.path == "/api/seedbank/reviews") return reviews(request, t);
  if (t.path == "/api/seedbank/reactions") return reactions(request, t);
  if (t.path == "/api/seedbank/comments") return comments(request, t);
  if (auto seg = t.segments_after("/api/images"); seg && seg->size() == 1) return image(request, t, (*seg)[0]);
  if (auto seg = t.segments_after("/api/files"); seg && seg->size() == 2) return file(request, t, (*seg)[0], (*seg)[1]);
  if (auto seg = t.segments_after("/api/seedbank/torrents"); seg && seg->size() == 1) return torrent(t, (*seg)[0]);
  if (auto seg = t.segments_after("/api/download/models"); seg && seg->size() == 1)
    return download(request, t, (*seg)[0]);
  if (t.path.rfind("/api/", 0) == 0 || t.path == "/api")
    return error_response(404, "no API route " + t.path + "; see docs/http-api.md");
  return page(t);
}

namespace {

// The Content-Type of a gallery file, by its name (a module script of
// another type does not run).
const char* web_content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

HttpResponse Api::Impl::page(const HttpTarget& t) {
  std::string path = t.path;
  if (path == "/" || path.rfind("/models/", 0) == 0 || path.rfind("/user/", 0) == 0 || path == "/images" ||
      path == "/images/" || path == "/me" || path == "/tags" || path == "/tags/" || path.rfind("/tag/", 0) == 0 ||
      path == "/collections" || path.rfind("/collections/", 0) == 0 || path == "/trends" || path == "/trends/")
    path = "/index.html";
  std::filesystem::path dir;
  {
    std::lock_guard lock(mutex);
    dir = web_dir;
  }
  if (!dir.empty()) return page_from_disk(dir, path, t);
  for (std::size_t i = 0; i < kWebAssetCount; ++i) {
    if (path != kWebAssets[i].path) continue;
    HttpResponse r;
    r.content_type = web_content_type(path);
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

// The gallery from `dir` (--web-dir): /index.html is dir/index.html and
// /static/<path> is dir/<path>. Nothing outside dir: no "..", no link
// leading out of it.
HttpResponse Api::Impl::page_from_disk(const std::filesystem::path& dir, const std::string& path, const HttpTarget& t) {
  auto not_found = [&](const std::string& why) {
    HttpResponse r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "Not found: " + t.path.substr(0, 200) + " (" + why + ")\n";
    return r;
  };
  std::string rel;
  if (path == "/index.html")
    rel = "index.html";
  else if (path.rfind("/static/", 0) == 0)
    rel = path.substr(8);
  else
    return not_found("not a gallery file");
  std::filesystem::path relative(rel);
  for (const auto& part : relative)
    if (part == ".." || part == "." || part.empty()) return not_found("no '..' or '.' in gallery paths");
  if (rel.empty() || relative.is_absolute() || rel.find('\\') != std::string::npos ||
      rel.find('\0') != std::string::npos)
    return not_found("not a gallery file");
  std::error_code ec;
  auto root = std::filesystem::canonical(dir, ec);
  if (ec) return not_found("the --web-dir folder is not readable");
  auto file = std::filesystem::canonical(root / relative, ec);
  if (ec) return not_found("no such file in --web-dir");
  auto [end, _] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (end != root.end() || !std::filesystem::is_regular_file(file, ec))
    return not_found("outside --web-dir or not a file");
  constexpr std::uintmax_t kMaxWebFile = 16u << 20;
  auto size = std::filesystem::file_size(file, ec);
  if (ec || size > kMaxWebFile) return not_found("unreadable or over 16 MiB");
  std::ifstream in(file, std::ios::binary);
  HttpResponse r;
  r.body.resize(size);
  if (!in.read(r.body.data(), static_cast<std::streamsize>(size))) return not_found("could not be read");
  r.content_type = web_content_type(file.filename().string());
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// ---- models ----

p::Result<Api::Impl::ListRequest> Api::Impl::read_list_request(const HttpTarget& t) {
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
    } else if (*sort == "Relevance") {
      q.sort = indexer::SortOrder::relevance;
    } else if (*sort != "Newest") {
      return p::make_error(p::ErrorCode::invalid_argument,
                           "sort: '" + sort->substr(0, 100) +
                               "' is not a sort; use Highest Rated, Most Downloaded, Most Liked, Most Discussed, "
                               "Most Collected, Relevance or Newest");
    }
  } else if (!q.text.empty()) {
    q.sort = indexer::SortOrder::relevance;  // a search: best matches first
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
p::Result<std::pair<std::vector<p::Record>, std::string>> Api::Impl::model_page(const ListRequest& l,
                                                                                std::string cursor) {
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

std::vector<Api::Impl::Ranked> Api::Impl::current_ranking() {
  std::lock_guard lock(mutex);
  auto now = std::chrono::steady_clock::now();
  if (now - ranking_time < kRankingLifetime && ranking_time != std::chrono::steady_clock::time_point{}) return ranking;
  ranking_time = now;
  ranking.clear();
  if (!node || !node->has_gossip()) return ranking;
  std::map<indexer::ModelKey, std::uint64_t> per_model;
  for (const auto& [ih, count] : node->most_seeded(5000)) {
    auto matches = index.find_by_hash("urn:btmh:1220" + p::to_hex(ih), 4);
    if (!matches || matches->empty()) continue;
    auto rec = index.get((*matches)[0].release);
    if (!rec || rec->kind() != p::RecordKind::release) continue;
    per_model[indexer::model_key(rec->author(), rec->body().getPayload().getRelease().getModelSlug().cStr())] += count;
  }
  for (const auto& [key, count] : per_model) ranking.push_back({key, count});
  std::stable_sort(ranking.begin(), ranking.end(), [](auto& a, auto& b) { return a.seeders > b.seeders; });
  return ranking;
}

void Api::Impl::write_model_of(JsonOut& out, const p::Record& head, const CivitaiLinks& links) {
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

HttpResponse Api::Impl::list_models(const HttpRequest& request, const HttpTarget& t) {
  auto l = read_list_request(t);
  if (!l) return error_response(400, l.error().message);
  if (!t.all("ids").empty()) return models_by_id(request, t, *l);
  if (auto c = t.get("collectionId")) return collection_models(request, t, *l, *c);
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
      return json_response(
          200, json{{"items", json::array()}, {"metadata", {{"currentPage", **page_number}, {"pageSize", l->limit}}}});
  }
  auto result = model_page(*l, cursor);
  if (!result) return error_response(400, result.error().message);
  auto links = links_for(request);
  JsonOut out;
  out.begin_object().key("items").begin_array();
  for (const auto& head : result->first) write_model_of(out, head, links);
  out.end_array();
  prefetch_listed(request, result->first);
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

// /api/v1/models?ids=1,2&ids=3: those models (in the order asked, each
// once) that pass the other filters, a page at a time ("cursor" is an
// offset into the ids).
HttpResponse Api::Impl::models_by_id(const HttpRequest& request, const HttpTarget& t, const ListRequest& l) {
  constexpr std::size_t kMaxIds = 1000;
  auto ids = t.all("ids");
  if (ids.size() > kMaxIds)
    return error_response(400, "ids: at most " + std::to_string(kMaxIds) + " ids in one request");
  std::vector<std::uint64_t> numbers;
  for (const auto& v : ids) {
    auto n = parse_number(v);
    if (!n) return error_response(400, "ids: '" + v.substr(0, 100) + "' is not a model id");
    if (std::find(numbers.begin(), numbers.end(), *n) == numbers.end()) numbers.push_back(*n);
  }
  return models_in_order(request, t, l, numbers);
}

HttpResponse Api::Impl::models_in_order(const HttpRequest& request, const HttpTarget& t, const ListRequest& l,
                                        const std::vector<std::uint64_t>& numbers) {
  std::size_t offset = 0;
  if (auto c = t.get("cursor"); c && !c->empty()) {
    auto n = parse_number(*c);
    if (!n || *n > numbers.size())
      return error_response(400, "cursor '" + c->substr(0, 100) + "' is not one this node returned");
    offset = static_cast<std::size_t>(*n);
  }
  auto links = links_for(request);
  JsonOut out;
  out.begin_object().key("items").begin_array();
  std::size_t shown = 0, next = numbers.size();
  std::vector<p::Record> heads;
  for (std::size_t i = std::min(offset, numbers.size()); i < numbers.size(); ++i) {
    if (shown == l.limit) {
      next = i;
      break;
    }
    auto key = index.model_by_number(numbers[i]);
    auto m = key ? index.model(*key) : std::nullopt;
    if (!m || !m->head || l.nobody) continue;
    auto head = index.get(*m->head);
    if (!head || config.refuses(*head, index) || !index.matches(*head, l.query)) continue;
    write_model_of(out, *head, links);
    ++shown;
    if (heads.size() < kListedPrefetch) heads.push_back(std::move(head).value());
  }
  out.end_array();
  prefetch_listed(request, heads);
  json metadata = {{"pageSize", l.limit}};
  if (next < numbers.size()) {
    metadata["nextCursor"] = std::to_string(next);
    std::string url = links.base_url + "/api/v1/models?";
    for (const auto& [k, v] : t.params)
      if (k != "cursor") url += p::percent_encode(k) + "=" + p::percent_encode(v) + "&";
    metadata["nextPage"] = url + "cursor=" + std::to_string(next);
  }
  out.key("metadata").raw(metadata.dump()).end_object();
  return text_json(200, out.take());
}

HttpResponse Api::Impl::one_model(const HttpRequest& request, const std::string& id_text) {
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
  prefetch_images(request, *head);
  JsonOut out;
  write_model(out, *m, *head, index, links_for(request));
  return text_json(200, out.take());
}

// A lookup of one version is often followed at once by requests for its
// previews: the images it lacks start coming now (rate-limited as every
// fetch for HTTP clients).
void Api::Impl::prefetch_images(const HttpRequest& request, const p::Record& release, FetchFor why) {
  for (auto img : release.body().getPayload().getRelease().getImages())
    if (img.getSha256().size() == 32 && !store.contains(digest_of(img.getSha256()))) {
      fetch_images(request, release, why);
      return;
    }
}

void Api::Impl::prefetch_listed(const HttpRequest& request, const std::vector<p::Record>& heads) {
  for (std::size_t i = 0; i < heads.size() && i < kListedPrefetch; ++i)  // the first row or two a client shows
    prefetch_images(request, heads[i], FetchFor::listing);
}

std::optional<p::Record> Api::Impl::listed_release(std::uint64_t number) {
  auto id = index.release_by_number(number);
  if (!id) return std::nullopt;
  auto rec = index.get(*id);
  if (!rec || rec->kind() != p::RecordKind::release || config.refuses(*rec, index)) return std::nullopt;
  return std::move(rec).value();
}

HttpResponse Api::Impl::one_version(const HttpRequest& request, const std::string& id_text) {
  auto id = parse_number(id_text);
  if (!id) return error_response(400, "model version id '" + id_text.substr(0, 100) + "' is not a number");
  auto rec = listed_release(*id);
  if (!rec) return error_response(404, "No model version with id " + std::to_string(*id));
  prefetch_images(request, *rec);
  JsonOut out;
  write_model_version(out, *rec, index, links_for(request), false);
  return text_json(200, out.take());
}

// The release a hash names: a model file's hash first, then a
// release-level one (info-hash, release id); never a sample image's.
// Identical bytes are one file: of the releases naming the first model
// file matched, the one that speaks for it (one_file.h: a creator's own
// before mirrors, then followed keys, then the first this node stored).
std::optional<p::Record> Api::Impl::release_for_hash(const std::string& hash) {
  auto matches = index.find_by_hash(hash, 16);
  if (!matches) return std::nullopt;
  std::optional<p::Record> fallback;
  for (const auto& m : *matches) {
    if (m.file != indexer::kReleaseLevel && (m.file & indexer::kImageFlag)) continue;
    auto rec = index.get(m.release);
    if (!rec || rec->kind() != p::RecordKind::release || config.refuses(*rec, index)) continue;
    if (m.file != indexer::kReleaseLevel && m.file < rec->body().getPayload().getRelease().getFiles().size()) {
      auto sha = p::util::digest_of(rec->body().getPayload().getRelease().getFiles()[m.file].getHashes().getSha256());
      auto claims =
          claims_on(sha, index, data_dir, [&](const p::Record& r) { return config.refuses(r, index).has_value(); });
      return claims.empty() ? std::move(rec).value() : std::move(claims.front());
    }
    if (!fallback) fallback = std::move(rec).value();
  }
  return fallback;
}

HttpResponse Api::Impl::by_hash(const HttpRequest& request, const std::string& hash) {
  auto rec = release_for_hash(hash);
  if (!rec) return error_response(404, "Model not found");
  prefetch_images(request, *rec);
  JsonOut out;
  write_model_version(out, *rec, index, links_for(request), false);
  return text_json(200, out.take());
}

HttpResponse Api::Impl::by_hash_list(const HttpRequest& request) {
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

void Api::set_web_dir(std::filesystem::path dir) {
  std::lock_guard lock(impl_->mutex);
  impl_->web_dir = std::move(dir);
}

// POST /api/v1/model-versions/by-hash/ids: which version each hash names,
// as [{modelVersionId, hash}], for up to 10,000 hashes; unknown ones are
// left out.
HttpResponse Api::Impl::by_hash_ids(const HttpRequest& request) {
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_array())
    return error_response(400, "the body must be a JSON array of hashes, e.g. [\"<sha256>\", ...]");
  if (body.size() > 10000) return error_response(400, "at most 10000 hashes per request");
  json out = json::array();
  for (const auto& h : body) {
    if (!h.is_string()) return error_response(400, "the body must be a JSON array of strings");
    if (auto rec = release_for_hash(h.get<std::string>()))
      out.push_back({{"modelVersionId", civitai_id(rec->id())}, {"hash", h.get<std::string>()}});
  }
  return json_response(200, out);
}

// GET /api/v1/model-versions/mini/:id: what a downloader needs of a
// version, small: its primary file's name, size, hashes and URLs.
HttpResponse Api::Impl::mini_version(const HttpRequest& request, const std::string& id_text) {
  auto id = parse_number(id_text);
  if (!id) return error_response(400, "model version id '" + id_text.substr(0, 100) + "' is not a number");
  auto rec = listed_release(*id);
  if (!rec) return error_response(404, "No model version with id " + std::to_string(*id));
  auto full = nlohmann::ordered_json::parse([&] {
    JsonOut o;
    write_model_version(o, *rec, index, links_for(request), false);
    return o.take();
  }());
  nlohmann::ordered_json primary = full["files"].empty() ? nlohmann::ordered_json::object() : full["files"][0];
  for (const auto& f : full["files"])
    if (f.value("primary", false)) primary = f;
  json urls = json::array();
  if (primary.contains("downloadUrl")) urls.push_back(primary["downloadUrl"]);
  auto r = rec->body().getPayload().getRelease();
  return json_response(
      200, json{{"id", full["id"]},
                {"name", full["name"]},
                {"air", full["air"]},
                {"baseModel", full["baseModel"]},
                {"baseModelType", full["baseModelType"]},
                {"modelId", full["modelId"]},
                {"modelName", r.getModelName().cStr()},
                {"modelType", std::string(p::model_type_name(r.getType()))},
                {"nsfwLevel", full["nsfwLevel"]},
                {"availability", full["availability"]},
                {"fileName", primary.value("name", "")},
                {"fileSizeKB", primary.value("sizeKB", 0.0)},
                {"hashes", primary.contains("hashes") ? json(primary["hashes"]) : json::object()},
                {"downloadUrls", urls},
                {"format", primary.contains("metadata") ? primary["metadata"].value("format", "") : std::string()},
                {"requireAuth", false},
                {"checkPermission", false},
                {"earlyAccessEndsAt", nullptr},
                {"freeTrialLimit", nullptr},
                {"canGenerate", false},
                {"minor", false}});
}

// GET /api/v1/enums: the names this node uses, as Civitai lists them.
HttpResponse Api::Impl::enums() {
  json types = json::array();
  for (auto n : p::model_type_names()) types.push_back(std::string(n));
  json bases = json::array();
  for (auto n : p::known_base_models()) bases.push_back(std::string(n));
  return json_response(
      200, json{{"ModelType", types},
                {"BaseModel", bases},
                {"ActiveBaseModel", bases},
                {"ModelFileType", {"Model", "Pruned Model", "Training Data", "Config", "Archive", "VAE", "Other"}},
                {"ModelFileFormat", {"SafeTensor", "PickleTensor", "GGUF", "Diffusers", "ONNX", "Other"}},
                {"ModelSort",
                 {"Highest Rated", "Most Downloaded", "Most Liked", "Most Discussed", "Most Collected", "Newest",
                  "Relevance"}},
                {"MetricTimeframe", {"AllTime", "Year", "Month", "Week", "Day"}},
                {"NsfwLevel", {"None", "Soft", "Mature", "X"}},
                {"BrowsingLevel", {{"PG", 1}, {"PG13", 2}, {"R", 4}, {"X", 8}, {"XXX", 16}}}});
}

// GET /api/seedbank/torrents/<release id>.torrent[?v1Compat=true]: the
// release's .torrent file for other BitTorrent clients, as `seedbank
// torrent` writes it.
HttpResponse Api::Impl::torrent(const HttpTarget& t, const std::string& name) {
  std::string hex = name.size() > 8 && name.ends_with(".torrent") ? name.substr(0, name.size() - 8) : name;
  auto id = p::from_hex_fixed<32>(hex);
  if (!id) return error_response(400, "'" + name.substr(0, 100) + "' is not a release id (64 hex digits) + .torrent");
  auto compat = p::bool_param(t, "v1Compat");
  if (!compat) return error_response(400, compat.error().message);
  auto rec = index.get(*id);
  if (!rec || rec->kind() != p::RecordKind::release || config.refuses(*rec, index))
    return error_response(404, "no release " + hex + " is shown by this node");
  auto r = rec->body().getPayload().getRelease();
  auto bytes = torrent_file_for_clients(r, compat->value_or(false));
  if (!bytes) return error_response(404, bytes.error().message);
  HttpResponse res;
  res.content_type = "application/x-bittorrent";
  res.body.assign(bytes->begin(), bytes->end());
  std::string file = p::slugify(r.getModelName().cStr()) + "-" + p::slugify(r.getVersionName().cStr()) +
                     (compat->value_or(false) ? "-v1" : "") + ".torrent";
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + "\"");
  return res;
}

}  // namespace seedbank::node
