#include "http/api_impl.h"

#include "node_services.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <memory>

#include "files.h"
#include "http/file_source.h"
#include "http/thumbnail.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

namespace {

const unsigned kThumbnailWidths[] = {160, 320, 450, 640, 1024};

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

// ---- files ----

// Starts an images-only fetch of `release` on the node thread, at most
// every kImageFetchInterval per release; does not wait.
void Api::Impl::fetch_images(const HttpRequest& request, const p::Record& release) {
  if (!node || node->fetched_lately(release.id())) return;
  if (may_fetch(request)) return;  // refused: the image stays 503
  node->fetch_release_images(release.id());
}

// Asks gossip for the image a post or profile names, at most every
// kImageFetchInterval per record; does not wait.
void Api::Impl::fetch_post_image(const HttpRequest& request, const p::Record& post, const p::Sha256Digest& sha) {
  if (!node || !node->has_gossip() || request.method == "HEAD") return;
  if (node->fetched_lately(post.id())) return;
  node->fetch_image(sha, post.id());
}

bool Api::Impl::shows_image(const p::Sha256Digest& sha) const {
  constexpr std::size_t kMaxMatches = 256;  // releases naming one hash (a sample image many versions share)
  constexpr std::size_t kMaxOwners = 64;
  bool in_refused_release = false;
  if (auto matches = index.find_by_hash("sha256:" + p::to_hex(sha), kMaxMatches))
    for (const auto& m : *matches) {
      if (m.file == indexer::kReleaseLevel) continue;
      auto rec = index.get(m.release);
      if (!rec) continue;
      if (!(m.file & indexer::kImageFlag)) {
        in_refused_release = true;  // a model file is never an image to serve
        continue;
      }
      if (!config.refuses_image(*rec, sha, index)) return true;
      in_refused_release = true;
    }
  // A post or avatar may name any hash: it cannot bring back what a
  // retraction, a deny-list or the policy took down.
  if (in_refused_release) return false;
  for (const auto& id : index.records_naming_image(sha, kMaxOwners))
    if (auto rec = index.get(id); rec && !config.refuses_image(*rec, sha, index)) return true;
  return false;
}

HttpResponse Api::Impl::image(const HttpRequest& request, const HttpTarget& t, const std::string& hex) {
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
      auto r =
          error_response(503, "image " + p::to_hex(*sha) + " is being fetched from peers; try again in a few seconds");
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
  // Checked on every request, so a retraction or deny-list stops serving as
  // soon as it is stored.
  if (!shows_image(*sha)) return error_response(404, "no image " + p::to_hex(*sha) + " is known to this node");
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
  std::string mime;
  if (head.rfind("\x89PNG", 0) == 0)
    mime = "image/png";
  else if (head.rfind("\xff\xd8", 0) == 0)
    mime = "image/jpeg";
  else if (head.size() > 12 && head.compare(8, 4, "WEBP") == 0)
    mime = "image/webp";
  else  // images only, whatever a record claims
    return error_response(404, "no image " + p::to_hex(*sha) + " is known to this node");
  if (*width) {
    unsigned w = kThumbnailWidths[std::size(kThumbnailWidths) - 1];
    for (unsigned candidate : kThumbnailWidths)
      if (candidate >= **width) {
        w = candidate;
        break;
      }
    auto thumb = thumbnail(*sha, path, size, w);
    if (thumb.later) {  // the original now; the thumbnail once it is made
      HttpResponse r;
      r.content_type = mime;
      r.source = std::make_shared<FileSource>(path, size);
      r.headers.emplace_back("Cache-Control", "no-store");
      return r;
    }
    if (thumb.jpeg) {
      HttpResponse r;
      r.content_type = "image/jpeg";
      r.body = std::move(*thumb.jpeg);
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

// A cached thumbnail (<data dir>/thumbs/<sha>-<width>.jpg), made once, on
// the thumbnail thread.
Api::Impl::Thumbnail Api::Impl::thumbnail(const p::Sha256Digest& sha, const std::filesystem::path& path,
                                          std::uint64_t size, unsigned width) {
  auto cached = data_dir / "thumbs" / (p::to_hex(sha) + "-" + std::to_string(width) + ".jpg");
  auto read_cached = [&]() -> std::optional<std::string> {
    std::ifstream in(cached, std::ios::binary);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  if (auto jpeg = read_cached()) return {std::move(jpeg), false};
  if (size > p::kMaxImageFileBytes) return {};
  std::unique_lock lock(thumb_mutex);
  if (!thumb_pending.count(cached)) {
    if (thumb_queue.size() >= kMaxThumbJobs) return {std::nullopt, true};
    thumb_queue.push_back({path, cached, size, width});
    thumb_pending.insert(cached);
    thumb_cv.notify_all();
  }
  // One HTTP thread may wait a little for its thumbnail; the others answer
  // with the original at once.
  if (thumb_waiters > 0) return {std::nullopt, true};
  ++thumb_waiters;
  bool done = thumb_cv.wait_for(lock, std::chrono::seconds(2), [&] { return !thumb_pending.count(cached); });
  --thumb_waiters;
  lock.unlock();
  if (!done) return {std::nullopt, true};
  return {read_cached(), false};  // none: it does not decode (or is too large): the original
}

void Api::Impl::make_thumbnails(const std::stop_token& stop) {
  std::unique_lock lock(thumb_mutex);
  while (thumb_cv.wait(lock, stop, [&] { return !thumb_queue.empty(); }) && !stop.stop_requested()) {
    auto job = std::move(thumb_queue.front());
    thumb_queue.pop_front();
    lock.unlock();
    try {
      std::string bytes(job.size, '\0');
      std::ifstream in(job.source, std::ios::binary);
      if (in.read(bytes.data(), static_cast<std::streamsize>(job.size)))
        if (auto thumb = make_thumbnail(p::as_bytes(bytes), job.width)) {
          std::error_code ec;
          std::filesystem::create_directories(job.cached.parent_path(), ec);
          (void)write_file_atomically(job.cached, *thumb);  // a cache: failing to keep it costs only time
        }
    } catch (const std::exception&) {  // out of memory: the original is served instead
    }
    lock.lock();
    thumb_pending.erase(job.cached);
    thumb_cv.notify_all();
  }
}

HttpResponse Api::Impl::download(const HttpRequest& request, const HttpTarget& t, const std::string& id_text) {
  auto id = parse_number(id_text);
  if (!id) return error_response(400, "model version id '" + id_text.substr(0, 100) + "' is not a number");
  auto rec = listed_release(*id);
  if (!rec) return error_response(404, "No model version with id " + std::to_string(*id));
  auto r = rec->body().getPayload().getRelease();
  auto files = r.getFiles();
  if (files.size() == 0) return error_response(404, "model version " + std::to_string(*id) + " has no files");
  auto chosen = choose_file(r, t);
  if (!chosen) return error_response(404, "model version " + std::to_string(*id) + " has no file matching the request");
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
std::optional<unsigned> Api::Impl::choose_file(schema::Release::Reader r, const HttpTarget& t) {
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
std::optional<HttpResponse> Api::Impl::may_fetch(const HttpRequest& request) {
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

}  // namespace seedbank::node
