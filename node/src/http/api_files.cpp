#include "http/api_impl.h"

#include "node_services.h"

#include <unistd.h>

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

// Content-Disposition for a file name, in the one form every client reads:
// attachment; filename="<name>", UTF-8 as is (Civitai's own form; tools
// split the header at '=' and strip the quotes, and a filename* parameter
// after it ends up in the name). Quotes, backslashes and control
// characters become '_'.
std::string content_disposition(const std::string& name) {
  std::string shown;
  for (unsigned char c : name)
    shown.push_back(c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '_' : static_cast<char>(c));
  return "attachment; filename=\"" + shown + "\"";
}

}  // namespace

// ---- files ----

// Starts an images-only fetch of `release` on the node thread, at most
// every kImageFetchInterval per release; does not wait. Whether one is
// under way (false: no network, or refused by may_fetch).
bool Api::Impl::fetch_images(const HttpRequest& request, const p::Record& release, FetchFor why) {
  if (!node) return false;
  if (node->fetched_lately(release.id())) return true;  // under way
  if (may_fetch(request, why)) return false;            // refused: the image stays 503
  node->fetch_release_images(release.id());
  return true;
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

// An image this node shows but does not have yet. While it is fetched
// (with its release's images over BitTorrent, or over gossip for a post)
// the answer is held, up to kImageWait, and sent once the image is stored
// and checked: clients that fetch a preview right after a lookup, and
// never retry, get it. Not here by then (no peer has it), for HEAD, and
// when no fetch may start: 503 with Retry-After.
HttpResponse Api::Impl::image_on_its_way(const HttpRequest& request, const p::Sha256Digest& sha) {
  auto later = [&] {
    auto r =
        error_response(503, "image " + p::to_hex(sha) + " is being fetched from peers; try again in a few seconds");
    r.headers.emplace_back("Retry-After", "2");
    return r;
  };
  auto wait_for = [&](sc::SampleImage::Reader img) {
    HttpResponse r;
    r.content_type.clear();  // from the bytes once they are here (ArrivingFile), never from the record
    r.etag = "\"" + p::to_hex(sha) + "\"";
    r.source = std::make_shared<ArrivingFile>(store, sha, img.getSize(), std::chrono::steady_clock::now() + kImageWait);
    r.headers.emplace_back("Cache-Control", "no-store");  // a thumbnail asked for gets the original this once
    return r;
  };
  // Another site's page may not make the node fetch (as for downloads).
  const bool head =
      request.method == "HEAD" || request.sec_fetch_site == "cross-site" || request.sec_fetch_site == "same-site";
  // A release's sample image: fetched with the release's other images.
  if (auto matches = index.find_by_hash("sha256:" + p::to_hex(sha), 64))
    for (const auto& m : *matches) {
      if (m.file == indexer::kReleaseLevel || !(m.file & indexer::kImageFlag)) continue;
      auto rec = index.get(m.release);
      if (!rec || config.refuses_image(*rec, sha, index)) continue;
      auto r = rec->body().getPayload().getRelease();
      unsigned at = m.file & ~indexer::kImageFlag;
      if (at >= r.getImages().size()) continue;
      if (head || !fetch_images(request, *rec)) return later();
      return wait_for(r.getImages()[at]);
    }
  // A post's image (which says its size), or an avatar: gossip fetches it.
  for (const auto& id : index.records_naming_image(sha, 16)) {
    auto rec = index.get(id);
    if (!rec || config.refuses_image(*rec, sha, index)) continue;
    if (!node || !node->has_gossip() || head) return later();
    if (!node->fetching_image(sha)) fetch_post_image(request, *rec, sha);
    if (rec->kind() != p::RecordKind::image_post) return later();
    return wait_for(rec->body().getPayload().getImagePost().getImage());
  }
  return error_response(404, "no image " + p::to_hex(sha) + " is known to this node");
}

HttpResponse Api::Impl::image(const HttpRequest& request, const HttpTarget& t, const std::string& hex) {
  auto sha = p::from_hex_fixed<32>(hex);
  if (!sha) return error_response(400, "image '" + hex.substr(0, 100) + "' is not a SHA-256 (64 hex digits)");
  auto width = p::integer_param(t, "width", 1, 100000);
  if (!width) return error_response(400, width.error().message);
  if (index.is_denied(*sha, config.deny_curators))
    return error_response(404, "no image " + p::to_hex(*sha) + " is known to this node");
  if (!store.contains(*sha)) return image_on_its_way(request, *sha);
  // Checked on every request, so a retraction or deny-list stops serving as
  // soon as it is stored.
  if (!shows_image(*sha)) return error_response(404, "no image " + p::to_hex(*sha) + " is known to this node");
  auto path = store.path_of(*sha);
  std::string etag = "\"" + p::to_hex(*sha) + "\"";
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return error_response(500, path.string() + ": " + ec.message());
  // The type from the bytes themselves: the store holds content, not names;
  // images only, whatever a record claims.
  std::string mime = image_type_of(path);
  if (mime.empty()) return error_response(404, "no image " + p::to_hex(*sha) + " is known to this node");
  if (*width && !p::is_video_type(mime)) {  // a video is its own preview: no thumbnail is made of it
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

// /api/download/models/:versionId, as Civitai answers it: a redirect
// (307) to the chosen file's own URL, /api/files/<sha256>/<name>, which
// serves the bytes. Clients that insist on a redirect get one; the others
// follow it.
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
  HttpResponse res;
  res.status = 307;
  res.content_type.clear();
  res.headers.emplace_back("Location", links_for(request).base_url +
                                           file_path(digest_of(f.getHashes().getSha256()), f.getName().cStr()) +
                                           "?version=" + std::to_string(*id));
  res.headers.emplace_back("Access-Control-Allow-Origin", "*");
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

std::string Api::Impl::file_path(const p::Sha256Digest& sha, const std::string& name) {
  return "/api/files/" + p::to_hex(sha) + "/" + p::percent_encode(name);
}

// /api/files/<sha256>/<name>: a file of a release this node shows, by its
// hash and one of the names a release gives it, with Range, ETag,
// Content-Length and Content-Disposition. Not here yet: fetched over
// BitTorrent and streamed as its pieces pass their checks.
HttpResponse Api::Impl::file(const HttpRequest& request, const HttpTarget& t, const std::string& hex,
                             const std::string& name) {
  auto sha = p::from_hex_fixed<32>(hex);
  if (!sha) return error_response(400, "file '" + hex.substr(0, 100) + "' is not a SHA-256 (64 hex digits)");
  // ?version=<modelVersionId> (the download redirect sets it): that
  // release's file. Another release may name the same hash and name with a
  // torrent of its own, and a file not here yet streams from the chosen one.
  std::optional<p::RecordId> version;
  if (auto v = t.get("version"); v && !v->empty()) {
    auto n = parse_number(*v);
    auto rec = n ? listed_release(*n) : std::nullopt;
    if (!rec) return error_response(404, "No model version with id " + v->substr(0, 100));
    version = rec->id();
  }
  auto not_here = [&] {
    return error_response(404, "no file " + p::to_hex(*sha) + " named '" + name.substr(0, 200) +
                                   "' is served by this node (unknown, retracted or left out by its policy)");
  };
  if (index.is_denied(*sha, config.deny_curators)) return not_here();
  std::vector<p::Record> releases;  // those that name this file so, and that this node shows
  std::uint64_t size = 0;
  bool image = false;
  if (auto matches = index.find_by_hash("sha256:" + p::to_hex(*sha), 256))
    for (const auto& m : *matches) {
      if (m.file == indexer::kReleaseLevel || (version && m.release != *version)) continue;
      auto rec = index.get(m.release);
      if (!rec || rec->kind() != p::RecordKind::release) continue;
      auto r = rec->body().getPayload().getRelease();
      unsigned at = m.file & ~indexer::kImageFlag;
      if (m.file & indexer::kImageFlag) {
        if (at >= r.getImages().size() || name != r.getImages()[at].getName().cStr()) continue;
        if (config.refuses_image(*rec, *sha, index)) continue;
        size = r.getImages()[at].getSize();
        image = true;
      } else {
        if (at >= r.getFiles().size() || name != r.getFiles()[at].getName().cStr()) continue;
        if (config.refuses(*rec, index)) continue;
        size = r.getFiles()[at].getSize();
      }
      releases.push_back(std::move(rec).value());
    }
  if (releases.empty()) return not_here();
  HttpResponse res;
  res.content_type = "application/octet-stream";  // whatever a record says it is: an attachment, never a page
  res.etag = "\"" + p::to_hex(*sha) + "\"";
  res.headers.emplace_back("Content-Disposition", content_disposition(name));
  res.headers.emplace_back("Access-Control-Allow-Origin", "*");
  // Checked bytes, the same whichever release names them: the store's
  // copy, or a file shared in place that is still the one hashed.
  if (auto where = store.locate(*sha)) {
    auto fd = store.open_located(*sha);
    if (!fd) return error_response(fd.error().code == p::ErrorCode::conflict ? 404 : 500, fd.error().message);
    auto size = file_identity(*fd, where->path);
    if (!size) {
      ::close(*fd);
      return error_response(500, size.error().message);
    }
    res.source = std::make_shared<FileSource>(
        *fd, where->path, size->size, where->in_place ? std::optional<FileIdentity>(where->identity) : std::nullopt);
    return res;
  }
  if (releases.size() > 1)
    return error_response(409, "several releases name file " + p::to_hex(*sha) + " '" + name.substr(0, 200) +
                                   "'; add ?version=<modelVersionId> (the download URL does)");
  if (!node) return error_response(503, "this node does not run BitTorrent; the file is not here");
  if (auto refused = may_fetch(request)) return *refused;
  if (image) {  // with the release's other images; a GET later gets it
    node->fetch_release_images(releases[0].id());
    auto r = error_response(503, "the file is being fetched from peers; try again in a few seconds");
    r.headers.emplace_back("Retry-After", "2");
    return r;
  }
  res.source = node->stream_file(releases[0].id(), name, size);
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
std::optional<HttpResponse> Api::Impl::may_fetch(const HttpRequest& request, FetchFor why) {
  if (request.method == "HEAD") return error_response(503, "not on this node yet; a GET fetches it from peers");
  if (request.sec_fetch_site == "cross-site" || request.sec_fetch_site == "same-site")
    return error_response(403,
                          "another web site cannot make this node download; open the link from the node's own "
                          "gallery or a tool");
  if (!node) return error_response(503, "this node does not run BitTorrent or gossip; nothing can be fetched");
  if (auto st = node->take_fetch_budget(why); !st) {
    auto r = error_response(503, st.error().message);
    r.headers.emplace_back("Retry-After", "10");
    return r;
  }
  return std::nullopt;
}

}  // namespace seedbank::node
