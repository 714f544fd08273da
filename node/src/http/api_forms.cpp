#include "http/api_impl.h"

#include "node_services.h"

#include "files.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

// ---- acts in the name of this node's user ----
//
// The gallery's forms: the node signs with its identity key
// (<data dir>/identity.key), as the matching `seedbank` command does. Only
// for the node's own pages and local tools: requests another site's page
// makes are refused (Sec-Fetch-Site, Origin).

std::optional<HttpResponse> Api::Impl::foreign(const HttpRequest& request, const std::string& what) {
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

// Reads the body of a request from the node's own user (see foreign(),
// with `what` it is for) as a JSON object into `body`; or the 403 or 400
// to answer.
std::optional<HttpResponse> Api::Impl::own_json_body(const HttpRequest& request, const std::string& what,
                                                     const char* shape, json* body) {
  if (auto r = foreign(request, what)) return r;
  *body = json::parse(request.body, nullptr, false);
  if (body->is_discarded() || !body->is_object()) return error_response(400, std::string("the body must be ") + shape);
  // Records hold no NUL, and text cut at one would be signed as less than
  // the user wrote: the whole request is refused instead.
  auto has_nul = [](const json& v) {
    return v.is_string() && v.get_ref<const std::string&>().find('\0') != std::string::npos;
  };
  for (auto it = body->begin(); it != body->end(); ++it) {
    bool nul = has_nul(it.value());
    if (it.value().is_array())
      for (const auto& e : it.value()) nul = nul || has_nul(e);
    if (nul)
      return error_response(400, it.key().substr(0, 100) + ": the text contains a NUL character (\\u0000); remove it");
  }
  return std::nullopt;
}

std::variant<p::SecretKey, HttpResponse> Api::Impl::identity() {
  auto key = p::load_secret_key(data_dir / "identity.key");
  if (!key)
    return error_response(409, "this node has no identity key to sign with; run `seedbank keygen` on its data dir");
  return std::move(key).value();
}

// Signs and stores a record, has gossip announce it now, and answers
// `fields` plus its recordId.
HttpResponse Api::Impl::sign(const p::SecretKey& key, const p::CommunityDraft& draft, json fields,
                             std::uint64_t created_at_ms) {
  auto out = sign_and_ingest(index, key, draft, created_at_ms);
  if (!out) return error_response(400, out.error().message);
  if (node) node->announce({out->id});  // now, not at the next scan
  fields["recordId"] = p::to_hex(out->id);
  fields["author"] = key.public_key().to_text();
  return json_response(200, fields);
}

std::variant<Api::Impl::SigningForm, HttpResponse> Api::Impl::signing_form(const HttpRequest& request,
                                                                           const std::string& what, const char* shape,
                                                                           bool names_release) {
  SigningForm form;
  if (auto r = own_json_body(request, what, shape, &form.body)) return *r;
  if (names_release) {
    auto rec = body_release(form.body);
    if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
    form.release = std::move(std::get<p::Record>(rec));
  }
  auto key = identity();
  if (auto* r = std::get_if<HttpResponse>(&key)) return *r;
  form.key = std::move(std::get<p::SecretKey>(key));
  return form;
}

// A listed release from a body's "modelVersionId", or the answer to give.
std::variant<p::Record, HttpResponse> Api::Impl::body_release(const json& body) {
  if (!body.contains("modelVersionId") || !body["modelVersionId"].is_number_unsigned())
    return error_response(400, "modelVersionId: give a model version id (a number)");
  auto rec = listed_release(body["modelVersionId"].get<std::uint64_t>());
  if (!rec) return error_response(404, "No model version with id " + body["modelVersionId"].dump());
  return std::move(*rec);
}

// A SHA-256 in a body field, of an image in this node's store.
std::variant<p::Sha256Digest, HttpResponse> Api::Impl::body_image(const json& body, const char* field) {
  auto v = body.contains(field) && body[field].is_string() ? p::from_hex_fixed<32>(body[field].get<std::string>())
                                                           : std::nullopt;
  if (!v) return error_response(400, std::string(field) + ": give the sha256 that POST /api/seedbank/images returned");
  if (!store.contains(*v))
    return error_response(404, std::string(field) + ": this node has no image " + p::to_hex(*v) +
                                   "; upload it with POST /api/seedbank/images first");
  return *v;
}

// A text field cut to at most `max` bytes, never inside a character.
std::string Api::Impl::text_field(const json& body, const char* field, std::size_t max) {
  if (!body.contains(field) || !body[field].is_string()) return "";
  std::string text = body[field].get<std::string>();
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // text[n] starts what is cut
  text.resize(n);
  return text;
}

// POST /api/seedbank/ratings {modelVersionId, stars, review}
HttpResponse Api::Impl::rate(const HttpRequest& request) {
  auto form = signing_form(request, "rate with this node's key",
                           "{\"modelVersionId\": N, \"stars\": 1-5, \"review\": \"...\"}", true);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  if (!b.contains("stars") || !b["stars"].is_number_unsigned() || b["stars"].get<std::uint64_t>() < 1 ||
      b["stars"].get<std::uint64_t>() > 5)
    return error_response(400, "stars must be 1 to 5");
  auto stars = b["stars"].get<std::uint64_t>();
  // Ratings are what others think of a release (a rotated key is the same creator).
  if (current_identity(index, release->author()) == current_identity(index, key->public_key()))
    return error_response(403, "this node's key published this release; a creator cannot rate their own release");
  p::RatingDraft draft{release->id(), static_cast<unsigned>(stars), text_field(b, "review")};
  return sign(*key, draft, {{"stars", stars}});
}

// POST /api/seedbank/images: the body is an image (PNG, JPEG, WebP) or a
// short video (MP4, WebM) to share; it is stored, not yet published. Answers its sha256, size and
// generation parameters.
HttpResponse Api::Impl::upload_image(const HttpRequest& request) {
  if (auto r = foreign(request, "store images on this node")) return *r;
  if (request.body.empty())
    return error_response(400, "the body must be the image file (PNG, JPEG or WebP) or video file (MP4 or WebM)");
  auto held = HeldTemp::beside(store.root() / "tmp" / "upload");  // removed when this returns
  if (!held) return error_response(500, held.error().message);
  if (auto st = held->write_all(request.body); !st) return error_response(500, st.error().message);
  const auto& tmp = held->path();
  auto img = store_image(store, tmp);
  if (!img) {
    // The message names the temporary file; the user knows it as the upload.
    std::string message = img.error().message;
    replace_all(message, tmp.string(), "the uploaded file");
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

// POST /api/seedbank/posts {modelVersionId, image, caption, nsfw, nsfwLevel}
HttpResponse Api::Impl::post_image(const HttpRequest& request) {
  auto form = signing_form(request, "post images with this node's key",
                           "{\"modelVersionId\": N, \"image\": \"<sha256>\", \"caption\": \"...\"}", true);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  auto sha = body_image(b, "image");
  if (auto* r = std::get_if<HttpResponse>(&sha)) return *r;
  auto img = read_image(store.path_of(std::get<p::Sha256Digest>(sha)));
  if (!img) return error_response(400, "the image: " + img.error().message);
  img->name = p::to_hex(img->sha256).substr(0, 16) + (img->mime_type == "image/png"    ? ".png"
                                                      : img->mime_type == "image/webp" ? ".webp"
                                                      : img->mime_type == "video/mp4"  ? ".mp4"
                                                      : img->mime_type == "video/webm" ? ".webm"
                                                                                       : ".jpg");
  img->nsfw = b.contains("nsfw") && b["nsfw"].is_boolean() && b["nsfw"].get<bool>();
  if (b.contains("nsfwLevel") && !b["nsfwLevel"].is_null()) {
    auto level = json_nsfw_level(b["nsfwLevel"]);
    if (!level) return error_response(400, "nsfwLevel: give 1, 2, 4, 8 or 16 (PG, PG-13, R, X, XXX)");
    img->nsfw_level = *level;
  }
  p::ImagePostDraft draft{release->id(), std::move(img).value(), text_field(b, "caption")};
  auto answer = sign(*key, draft, {{"sha256", p::to_hex(draft.image.sha256)}});
  if (answer.status == 200) {
    auto j = json::parse(answer.body);
    const auto id = *p::from_hex_fixed<32>(j["recordId"].get<std::string>());
    j["postId"] = civitai_id(id);
    j["imageId"] = civitai_image_id(id, draft.image.sha256);
    answer = json_response(200, j);
  }
  return answer;
}

// POST /api/seedbank/profile {displayName, bio, links, avatar}
HttpResponse Api::Impl::set_profile(const HttpRequest& request) {
  auto form =
      signing_form(request, "change this node's profile",
                   "{\"displayName\": \"...\", \"bio\": \"...\", \"links\": [...], \"avatar\": \"<sha256>\"}", false);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
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
    auto avatar = read_image(store.path_of(std::get<p::Sha256Digest>(sha)));
    if (!avatar) return error_response(400, "avatar: " + avatar.error().message);
    if (p::is_video_type(avatar->mime_type))
      return error_response(400, "avatar: a video cannot be an avatar; choose a PNG, JPEG or WebP image");
    draft.avatar = std::get<p::Sha256Digest>(sha);
  }
  draft.bio = text_field(b, "bio");
  return sign(*key, draft, {{"displayName", draft.display_name}});
}

// POST /api/seedbank/retractions {modelVersionId, reason}: the node's
// identity must be the release's author.
HttpResponse Api::Impl::retract(const HttpRequest& request) {
  auto form = signing_form(request, "retract releases with this node's key",
                           "{\"modelVersionId\": N, \"reason\": \"...\"}", true);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  if (release->author() != key->public_key())
    return error_response(403, "this version was signed by " + release->author().to_text() +
                                   "; only its author can retract it, and this node's key is " +
                                   key->public_key().to_text());
  return sign(*key, p::RetractionDraft{release->id(), text_field(b, "reason")},
              {{"releaseId", p::to_hex(release->id())}});
}

// POST /api/seedbank/updates {modelVersionId, and what changes:
// modelDescription, description, tags, trainedWords, nsfw, imageLevels
// {sha256: level}, hideImages [sha256], showImages [sha256]}. What is left
// out stays as shown. The node's key must be the release's author.
HttpResponse Api::Impl::update_release(const HttpRequest& request) {
  auto form = signing_form(request, "update releases with this node's key",
                           "{\"modelVersionId\": N, \"modelDescription\": \"...\", \"tags\": [...], ...}", true);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  const json& body = b;  // for the lambdas: clang does not let them capture a structured binding
  UpdateRequest ask;
  auto text = [&](const char* field, std::optional<std::string>& to) -> std::optional<HttpResponse> {
    if (!body.contains(field) || body[field].is_null()) return std::nullopt;
    if (!body[field].is_string()) return error_response(400, std::string(field) + ": give text (Markdown)");
    to = body[field].get<std::string>();
    return std::nullopt;
  };
  auto list = [&](const char* field, std::optional<std::vector<std::string>>& to) -> std::optional<HttpResponse> {
    if (!body.contains(field) || body[field].is_null()) return std::nullopt;
    if (!body[field].is_array() || body[field].size() > 200)
      return error_response(400, std::string(field) + ": give a list of at most 200 strings");
    to.emplace();
    for (const auto& v : body[field]) {
      if (!v.is_string()) return error_response(400, std::string(field) + ": give a list of strings");
      auto s = v.get<std::string>();
      if (!s.empty() && std::find(to->begin(), to->end(), s) == to->end()) to->push_back(std::move(s));
    }
    return std::nullopt;
  };
  auto hashes = [&](const char* field, std::vector<p::Sha256Digest>& to) -> std::optional<HttpResponse> {
    if (!body.contains(field) || body[field].is_null()) return std::nullopt;
    if (!body[field].is_array() || body[field].size() > 256)
      return error_response(400, std::string(field) + ": give a list of SHA-256 hashes");
    for (const auto& v : body[field]) {
      auto sha = v.is_string() ? p::from_hex_fixed<32>(v.get<std::string>()) : std::nullopt;
      if (!sha) return error_response(400, std::string(field) + ": give SHA-256 hashes (64 hex digits)");
      to.push_back(*sha);
    }
    return std::nullopt;
  };
  for (auto r : {text("modelDescription", ask.model_description), text("description", ask.description),
                 list("tags", ask.tags), list("trainedWords", ask.trigger_words),
                 hashes("hideImages", ask.hidden_images), hashes("showImages", ask.shown_images)})
    if (r) return *r;
  if (b.contains("nsfw") && !b["nsfw"].is_null()) {
    if (!b["nsfw"].is_boolean()) return error_response(400, "nsfw: give true or false");
    ask.nsfw = b["nsfw"].get<bool>();
  }
  if (b.contains("imageLevels") && !b["imageLevels"].is_null()) {
    if (!b["imageLevels"].is_object() || b["imageLevels"].size() > 256)
      return error_response(400, "imageLevels: give {\"<sha256>\": level}");
    for (const auto& [hex, v] : b["imageLevels"].items()) {
      auto sha = p::from_hex_fixed<32>(hex);
      auto level = json_nsfw_level(v);
      if (!sha || !level)
        return error_response(400, "imageLevels: give {\"<sha256>\": level}, level 1, 2, 4, 8 or 16 (PG to XXX)");
      ask.image_levels.emplace_back(*sha, *level);
    }
  }
  auto draft = update_draft(index, *release, key->public_key(), ask);
  if (!draft) return error_response(draft.error().code == p::ErrorCode::refused ? 403 : 400, draft.error().message);
  return sign(*key, *draft, {{"releaseId", p::to_hex(release->id())}});
}

// ---- favourites and follows (this node's own, never gossiped) ----

json Api::Impl::favorites_json(const LocalLists& lists) {
  json out = json::array();
  for (const auto& hex : lists.favorites)
    if (auto id = p::from_hex_fixed<32>(hex)) out.push_back({{"releaseId", hex}, {"modelVersionId", civitai_id(*id)}});
  return out;
}

// GET /api/seedbank/me
HttpResponse Api::Impl::me(const HttpRequest& request) {
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
HttpResponse Api::Impl::set_local(const HttpRequest& request, bool follows) {
  json b;
  if (auto r = own_json_body(request, "change this node's favourites",
                             follows ? "{\"creator\": \"sbpk1...\", \"follow\": true|false}"
                                     : "{\"modelVersionId\": N, \"favorite\": true|false}",
                             &b))
    return *r;
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

}  // namespace seedbank::node
