#include "http/api_impl.h"

#include "node_services.h"

#include <algorithm>

#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

// ---- collections (schema Collection) ----
//
// GET /api/v1/collections and /api/v1/collections/:id answer as Civitai's
// do (id, name, description, type, nsfwLevel, read, isPublic, itemCount,
// coverImageUrl, user, tags), with Seedbank's own fields under "seedbank".
// The items are listed by /api/v1/models?collectionId= and
// /api/v1/images?collectionId=, and in the detail's seedbank.items.

namespace {

constexpr std::size_t kCoverItems = 50;           // items a listing looks at for the cover and nsfwLevel
constexpr std::size_t kMaxCollectionScan = 1000;  // collections one page of a query may look at
constexpr std::size_t kMaxNamedKeys = 20;         // keys a display name may stand for in `username`

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::variant<p::Record, HttpResponse> Api::Impl::collection_by_id(const std::string& id_text) {
  auto n = parse_number(id_text);
  if (!n) return error_response(400, "collection id '" + id_text.substr(0, 100) + "' is not a number");
  auto id = index.collection_by_number(*n);
  auto rec = id ? index.get(*id) : p::Result<p::Record>(p::make_error(p::ErrorCode::not_found, ""));
  if (!rec || refuses_collection(index, config, *rec))
    return error_response(404, "No collection with id " + std::to_string(*n));
  return std::move(rec).value();
}

json Api::Impl::collection_json(const p::Record& rec, const CivitaiLinks& links, std::uint8_t levels, bool items) {
  auto c = rec.body().getPayload().getCollection();
  // A listing looks at the first items only; the detail at all of them.
  bool models = false, images = false;
  std::uint8_t nsfw_level = 0;
  json cover = nullptr;
  json list = json::array();
  auto shown = for_each_shown_item(index, config, rec, items ? kMaxShownItems : kCoverItems, [&](const ShownItem& s) {
    auto r = s.release.body().getPayload().getRelease();
    std::optional<schema::SampleImage::Reader> img;
    if (s.image)
      img = r.getImages()[*s.image];
    else if (s.post)
      img = s.post->body().getPayload().getImagePost().getImage();
    else if (r.getImages().size())
      img = r.getImages()[0];  // a model's preview
    (s.is_image() ? images : models) = true;
    std::uint8_t level = img ? config.image_level(*img, r, index) : static_cast<std::uint8_t>(p::kPG);
    std::string sha = img ? p::to_hex(digest_of(img->getSha256())) : std::string();
    if (img) nsfw_level |= level;
    const bool may_show = (level & levels) && (level < p::kR || config.nsfw);
    // A cover is a still (Civitai's clients draw it as an image).
    if (img && cover.is_null() && may_show && !p::is_video_type(img->getMimeType().cStr()))
      cover = links.base_url + "/api/images/" + sha + "?width=450";
    if (!items) return true;
    json item = {{"type", s.is_image() ? "image" : "model"},
                 {"note", s.item.note},
                 {"modelId", civitai_model_id(s.release.author(), r.getModelSlug().cStr())},
                 {"modelVersionId", civitai_id(s.release.id())},
                 {"modelName", r.getModelName().cStr()},
                 {"versionName", r.getVersionName().cStr()},
                 {"releaseId", p::to_hex(s.release.id())}};
    if (s.is_image()) {
      item["imageId"] = civitai_image_id(s.post ? s.post->id() : s.release.id(), digest_of(img->getSha256()));
      item["postId"] = s.post ? json(civitai_id(s.post->id())) : json(nullptr);
      item["post"] = s.post ? json(p::to_hex(s.post->id())) : json(nullptr);
      item["hash"] = sha;
      item["url"] = may_show ? json(links.base_url + "/api/images/" + sha) : json(nullptr);
      item["nsfwLevel"] = level;
    }
    list.push_back(std::move(item));
    return true;
  });
  json out = {{"id", collection_number(rec)},
              {"name", c.getName().cStr()},
              {"description", c.getDescription().size() ? json(c.getDescription().cStr()) : json(nullptr)},
              {"type", models == images ? json(nullptr) : json(models ? "Model" : "Image")},
              {"nsfwLevel", nsfw_level ? json(nsfw_level) : json(nullptr)},
              {"read", "Public"},
              {"isPublic", true},
              {"itemCount", items ? shown : c.getItems().size()},
              {"coverImageUrl", cover},
              {"user", {{"id", civitai_id(rec.author().bytes)}, {"username", username_of(index, rec.author())}}},
              {"tags", json::array()}};
  json sb = {{"recordId", p::to_hex(rec.id())},
             {"key", p::to_hex(indexer::collection_key(rec.author(), c.getSlug().cStr()))},
             {"slug", c.getSlug().cStr()},
             {"author", rec.author().to_text()},
             {"updatedAt", iso8601(rec.created_at())}};
  if (items) sb["items"] = std::move(list);
  out["seedbank"] = std::move(sb);
  return out;
}

// GET /api/v1/collections?limit=&cursor=&query=&username=&nsfw=
HttpResponse Api::Impl::list_collections(const HttpRequest& request, const HttpTarget& t) {
  auto limit_param = p::integer_param(t, "limit", 1, 100);
  if (!limit_param) return error_response(400, limit_param.error().message);
  const std::size_t limit = limit_param->value_or(kDefaultLimit);
  std::optional<indexer::FeedEntry> after;
  if (auto c = t.get("cursor"); c && !c->empty()) {
    after = parse_comment_cursor(*c);
    if (!after) return error_response(400, "cursor '" + c->substr(0, 100) + "' is not one this node returned");
  }
  // nsfw=false: covers above PG-13 are left out (the collection is listed).
  std::uint8_t levels = p::kAllNsfwLevels;
  if (auto v = t.get("nsfw"); v && !v->empty()) {
    auto l = lower(*v);
    if (l == "false" || l == "0")
      levels = p::kPG | p::kPG13;
    else if (l != "true" && l != "1")
      return error_response(400, "nsfw '" + v->substr(0, 100) + "' is not true or false");
  }
  if (auto q = t.get("query"); q && q->size() > 100)
    return error_response(400, "query: at most 100 characters, not " + std::to_string(q->size()));
  const std::string query = lower(t.get("query").value_or(""));
  // Candidates, newest first: a creator's (username: a key or a display
  // name), or everyone's.
  std::vector<indexer::FeedEntry> candidates;
  bool at_end = true;
  if (auto u = t.get("username"); u && !u->empty()) {
    std::vector<p::PublicKey> keys;
    if (auto key = p::PublicKey::from_text(*u))
      keys.push_back(*key);
    else
      keys = index.keys_named(*u, false, kMaxNamedKeys);
    for (const auto& key : keys)
      for (const auto& id : index.collections_by(key, kMaxAuthorCollections))
        if (auto rec = index.get(id)) candidates.push_back({rec->created_at(), id});
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id); });
    if (after)
      std::erase_if(candidates, [&](const auto& e) {
        return std::tie(e.created_at, e.id) >= std::tie(after->created_at, after->id);
      });
  } else {
    candidates = index.collections(after, kMaxCollectionScan);
    at_end = candidates.size() < kMaxCollectionScan;
  }
  auto links = links_for(request);
  json items = json::array();
  std::optional<indexer::FeedEntry> last;
  bool more = !at_end;
  for (const auto& e : candidates) {
    if (items.size() == limit) {
      more = true;
      break;
    }
    last = e;
    auto rec = index.get(e.id);
    if (!rec || refuses_collection(index, config, *rec)) continue;
    if (!query.empty() &&
        lower(rec->body().getPayload().getCollection().getName().cStr()).find(query) == std::string::npos)
      continue;
    items.push_back(collection_json(*rec, links, levels, false));
  }
  json metadata = json::object();
  if (more && last) {
    auto next = comment_cursor(*last);
    metadata["nextCursor"] = next;
    std::string url = links.base_url + "/api/v1/collections?";
    for (const auto& [k, v] : t.params)
      if (k != "cursor") url += p::percent_encode(k) + "=" + p::percent_encode(v) + "&";
    metadata["nextPage"] = url + "cursor=" + next;
  }
  return json_response(200, json{{"items", items}, {"metadata", metadata}});
}

// GET /api/v1/collections/:id: the collection with its items as this node
// shows them (seedbank.items).
HttpResponse Api::Impl::one_collection(const HttpRequest& request, const std::string& id_text) {
  auto rec = collection_by_id(id_text);
  if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
  return json_response(200, collection_json(std::get<p::Record>(rec), links_for(request), p::kAllNsfwLevels, true));
}

// GET /api/v1/models?collectionId=N: the models of the collection's
// releases (each once, in its order), with the other filters.
HttpResponse Api::Impl::collection_models(const HttpRequest& request, const HttpTarget& t, const ListRequest& l,
                                          const std::string& id_text) {
  auto rec = collection_by_id(id_text);
  if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
  std::vector<std::uint64_t> numbers;
  for_each_shown_item(index, config, std::get<p::Record>(rec), kMaxShownItems, [&](const ShownItem& s) {
    if (s.is_image()) return true;
    auto n = civitai_model_id(s.release.author(), s.release.body().getPayload().getRelease().getModelSlug().cStr());
    if (std::find(numbers.begin(), numbers.end(), n) == numbers.end()) numbers.push_back(n);
    return true;
  });
  return models_in_order(request, t, l, numbers);
}

// POST /api/seedbank/collections {slug, name, description, items, add,
// remove, deleted, fromFavorites, create}: changes (or creates) one of this node's
// user's collections; what is left out stays. An item is
// {"modelVersionId": N} or {"releaseId": "<hex>"}, with "image":
// "<sha256>" (one of its sample images) or "post": "<record id>" (an image
// post about it), and "note".
HttpResponse Api::Impl::set_collection(const HttpRequest& request) {
  auto form = signing_form(request, "change this node's collections",
                           "{\"slug\": \"...\", \"name\": \"...\", \"add\": [{\"modelVersionId\": N}], ...}", false);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  const json& body = b;  // for the lambdas: clang does not let them capture a structured binding
  CollectionRequest ask;
  ask.slug = text_field(body, "slug", 200);
  if (body.contains("name") && !body["name"].is_null()) {
    if (!body["name"].is_string()) return error_response(400, "name: give text");
    ask.name = body["name"].get<std::string>();
  }
  if (body.contains("description") && !body["description"].is_null()) {
    if (!body["description"].is_string()) return error_response(400, "description: give text (Markdown)");
    ask.description = body["description"].get<std::string>();
  }
  // create: a new collection, never one that exists (its slug made from
  // the name, with -2, -3, ... when taken).
  const bool create = body.contains("create") && body["create"].is_boolean() && body["create"].get<bool>();
  if (ask.slug.empty() && ask.name) ask.slug = p::collection_slug_of(*ask.name);
  if (ask.slug.empty()) return error_response(400, "slug: say which collection (or give a name to make one)");
  auto item_of = [&](const json& v) -> std::variant<p::CollectionItemDraft, HttpResponse> {
    if (!v.is_object()) return error_response(400, "an item is {\"modelVersionId\": N} or {\"releaseId\": \"<hex>\"}");
    p::CollectionItemDraft item;
    if (v.contains("releaseId")) {
      auto id = v["releaseId"].is_string() ? p::from_hex_fixed<32>(v["releaseId"].get<std::string>()) : std::nullopt;
      if (!id) return error_response(400, "releaseId: give a release's record id (64 hex digits)");
      item.subject.release = *id;
    } else {
      auto rec = body_release(v);
      if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
      item.subject.release = std::get<p::Record>(rec).id();
    }
    for (auto [field, to] : {std::pair{"image", &item.subject.image}, std::pair{"post", &item.subject.post}}) {
      if (!v.contains(field) || v[field].is_null()) continue;
      auto h = v[field].is_string() ? p::from_hex_fixed<32>(v[field].get<std::string>()) : std::nullopt;
      if (!h) return error_response(400, std::string(field) + ": give 64 hex digits");
      *to = *h;
    }
    if (v.contains("note") && v["note"].is_string()) item.note = v["note"].get<std::string>();
    if (item.note.find('\0') != std::string::npos)
      return error_response(400, "note: the text contains a NUL character (\\u0000); remove it");
    return item;
  };
  auto items_of = [&](const char* field, std::vector<p::CollectionItemDraft>& to) -> std::optional<HttpResponse> {
    if (!body.contains(field) || body[field].is_null()) return std::nullopt;
    if (!body[field].is_array() || body[field].size() > 1000)
      return error_response(400, std::string(field) + ": give a list of at most 1000 items");
    for (const auto& v : body[field]) {
      auto item = item_of(v);
      if (auto* r = std::get_if<HttpResponse>(&item)) return *r;
      to.push_back(std::get<p::CollectionItemDraft>(item));
    }
    return std::nullopt;
  };
  if (body.contains("items") && !body["items"].is_null())
    if (auto r = items_of("items", ask.items.emplace())) return *r;
  if (auto r = items_of("add", ask.add)) return *r;
  std::vector<p::CollectionItemDraft> removed;
  if (auto r = items_of("remove", removed)) return *r;
  for (const auto& i : removed) ask.remove.push_back(i.subject);
  if (body.contains("fromFavorites") && body["fromFavorites"].is_boolean() && body["fromFavorites"].get<bool>()) {
    std::lock_guard lock(local_mutex);
    auto lists = read_local_lists(local_lists_path(data_dir));
    if (!lists) return error_response(500, lists.error().message);
    std::size_t shown = 0;
    for (const auto& hex : lists->favorites)
      if (auto id = p::from_hex_fixed<32>(hex);
          id && !config.refuses_subject({*id, std::nullopt, std::nullopt}, index)) {
        ask.add.push_back({{*id, std::nullopt, std::nullopt}, ""});
        ++shown;
      }
    if (!shown)
      return error_response(400, "this node has no favourites it shows to publish; favourite some models first");
  }
  ask.deleted = body.contains("deleted") && body["deleted"].is_boolean() && body["deleted"].get<bool>();
  // The gallery's changes are applied one at a time, each to the version
  // the previous one signed.
  std::lock_guard lock(collection_mutex);
  if (create) {
    const p::PublicKey author = key->public_key();  // clang does not let lambdas capture a structured binding
    // A slug that had a collection (a deletion too) is taken: its number
    // would lead old links to the new one.
    auto taken = [&](const std::string& slug) {
      return index.current(p::RecordKind::collection, author, p::record_id_of(p::as_bytes(slug))).has_value();
    };
    std::string base = ask.slug.substr(0, 60);
    while (!base.empty() && base.back() == '-') base.pop_back();
    for (int n = 2; taken(ask.slug) && n < 1000; ++n) ask.slug = base + "-" + std::to_string(n);
    if (taken(ask.slug)) return error_response(409, "no free slug left for '" + base + "'; give one");
    ask.create = true;
  }
  auto change = collection_change(index, config, key->public_key(), ask);
  if (!change)
    return error_response(change.error().code == p::ErrorCode::refused     ? 403
                          : change.error().code == p::ErrorCode::not_found ? 404
                          : change.error().code == p::ErrorCode::conflict  ? 409
                                                                           : 400,
                          change.error().message);
  const auto& d = change->draft;
  // The command line may have changed it meanwhile (another process): say
  // so rather than lose that change.
  if (auto now = index.current(p::RecordKind::collection, key->public_key(), p::record_id_of(p::as_bytes(d.slug)));
      now && index.get(*now) && index.get(*now)->created_at() >= change->not_before_ms)
    return error_response(409, "'" + d.slug + "' changed meanwhile; load it again and repeat your change");
  return sign(*key, d,
              {{"collectionId", indexer::numeric_id(indexer::collection_key(key->public_key(), d.slug))},
               {"slug", d.slug},
               {"itemCount", d.items.size()},
               {"deleted", d.deleted}},
              std::max(now_ms(), change->not_before_ms));
}

}  // namespace seedbank::node
