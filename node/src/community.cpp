#include "community.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "files.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/node/gossip.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/image_meta.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

p::Result<p::ReleaseImage> read_image(const std::filesystem::path& path) {
  auto info = p::read_image_file(path.string());
  if (!info) return info.error();
  auto digests = p::hash_file(path);
  if (!digests) return digests.error();
  if (digests->size > kMaxBlobBytes)
    return p::make_error(p::ErrorCode::limit,
                         path.string() + ": " + std::to_string(digests->size) +
                             " bytes; images and videos shared this way travel between nodes up to " +
                             std::to_string(kMaxBlobBytes >> 20) + " MiB; " +
                             (p::is_video_type(info->mime_type) ? "shorten the video or lower its size or bitrate"
                                                                : "scale it down or save it as JPEG or WebP"));
  p::ReleaseImage img;
  img.name = path.filename().string();
  img.sha256 = digests->sha256;
  img.size = digests->size;
  img.width = info->width;
  img.height = info->height;
  img.mime_type = info->mime_type;
  img.generation = p::generation_params_from_image(*info);
  return img;
}

p::Result<p::ReleaseImage> store_image(ContentStore& store, const std::filesystem::path& path) {
  auto img = read_image(path);
  if (!img) return img;
  if (auto stored = store.add(path, img->sha256, ContentStore::AddMode::copy); !stored) return stored.error();
  return img;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

p::Result<indexer::IngestOutcome> sign_and_ingest(indexer::Index& index, const p::SecretKey& key,
                                                  const p::CommunityDraft& draft, std::uint64_t created_at_ms) {
  const std::uint64_t t = created_at_ms ? created_at_ms : now_ms();
  auto bytes = p::sign_draft(key, index.network(), t, draft);
  if (!bytes) return bytes.error();
  auto out = index.ingest(*bytes, indexer::Durability::local);
  if (out.status == indexer::IngestStatus::rejected) return out.error;
  if (out.status == indexer::IngestStatus::superseded && !created_at_ms) {
    // The key's current record for the same target is as new (two acts
    // within a millisecond, or a clock set back): sign again just after it,
    // so what the user did now is what counts.
    auto rec = index.get(out.id);
    auto target = rec ? indexer::replacement_target(*rec) : std::nullopt;
    auto current = target ? index.current(rec->kind(), key.public_key(), *target) : std::nullopt;
    auto winner = current ? index.get(*current) : p::Result<p::Record>(p::make_error(p::ErrorCode::not_found, ""));
    if (winner && winner->created_at() >= t) return sign_and_ingest(index, key, draft, winner->created_at() + 1);
  }
  return out;
}

p::Result<p::ReleaseUpdateDraft> update_draft(const indexer::Index& index, const p::Record& release,
                                              const p::PublicKey& signer, const UpdateRequest& request) {
  if (release.kind() != p::RecordKind::release)
    return p::make_error(p::ErrorCode::invalid_argument, "only a release's page can be updated");
  if (release.author() != signer)
    return p::make_error(p::ErrorCode::refused, "this release was signed by " + release.author().to_text() +
                                                    "; only that key can change its page (you sign with " +
                                                    signer.to_text() + ")");
  auto now = p::update_draft_of(index.shown(release));
  auto draft = now;
  // Lists as given, without blanks or repeats (tags: whatever their case).
  auto clean = [](const std::vector<std::string>& in, bool fold) {
    std::vector<std::string> out, seen;
    for (const auto& v : in) {
      auto b = v.find_first_not_of(" \t\r\n"), e = v.find_last_not_of(" \t\r\n");
      if (b == std::string::npos) continue;
      std::string item = v.substr(b, e - b + 1);
      std::string key = item;
      if (fold)
        for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      out.push_back(std::move(item));
    }
    return out;
  };
  if (request.model_description) draft.model_description = *request.model_description;
  if (request.description) draft.description = *request.description;
  if (request.tags) draft.tags = clean(*request.tags, true);
  if (request.trigger_words) draft.trigger_words = clean(*request.trigger_words, false);
  if (request.nsfw) draft.nsfw = *request.nsfw;
  auto own = p::update_draft_of(release).images;  // every image the release carries
  auto find = [](std::vector<p::ReleaseImage>& list, const p::Sha256Digest& sha) {
    return std::find_if(list.begin(), list.end(), [&](const p::ReleaseImage& i) { return i.sha256 == sha; });
  };
  auto unknown = [](const p::Sha256Digest& sha) {
    return p::make_error(p::ErrorCode::invalid_argument,
                         "the release has no sample image " + p::to_hex(sha) +
                             "; an update shows or hides the release's own images (`seedbank update <release>` "
                             "lists them)");
  };
  for (const auto& sha : request.shown_images) {
    auto it = find(own, sha);
    if (it == own.end()) return unknown(sha);
    if (find(draft.images, sha) == draft.images.end()) draft.images.push_back(*it);
  }
  for (const auto& sha : request.hidden_images) {
    if (find(own, sha) == own.end()) return unknown(sha);
    if (auto it = find(draft.images, sha); it != draft.images.end()) draft.images.erase(it);
  }
  for (const auto& [sha, level] : request.image_levels) {
    if (find(own, sha) == own.end()) return unknown(sha);
    auto it = find(draft.images, sha);
    if (it == draft.images.end())
      return p::make_error(p::ErrorCode::invalid_argument,
                           "image " + p::to_hex(sha) + " is hidden; show it again to set its level");
    it->nsfw_level = level;
    it->nsfw = level >= p::kR;
  }
  // Levels as shown (an image without one goes by its NSFW flag).
  auto level = [](const p::ReleaseImage& i) -> std::uint8_t {
    return i.nsfw_level ? i.nsfw_level : static_cast<std::uint8_t>(i.nsfw ? p::kR : p::kPG);
  };
  auto same_images = [&] {
    if (draft.images.size() != now.images.size()) return false;
    for (std::size_t i = 0; i < draft.images.size(); ++i)
      if (draft.images[i].sha256 != now.images[i].sha256 || level(draft.images[i]) != level(now.images[i]))
        return false;
    return true;
  };
  // An image's generation data stays the release's: the update need not
  // carry it (ComfyUI workflows alone can fill a record).
  for (auto& img : draft.images) img.generation.reset();
  if (draft.model_description == now.model_description && draft.description == now.description &&
      draft.tags == now.tags && draft.trigger_words == now.trigger_words && draft.nsfw == now.nsfw && same_images())
    return p::make_error(p::ErrorCode::invalid_argument, "this changes nothing on the release's page");
  return draft;
}

p::Result<LocalLists> read_local_lists(const std::filesystem::path& path) {
  LocalLists lists;
  std::ifstream in(path, std::ios::binary);
  if (!in) return lists;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return p::make_error(p::ErrorCode::malformed, path.string() + ": not a JSON object; fix or remove it");
  auto read = [&](const char* name, std::vector<std::string>& out) {
    if (j.contains(name) && j[name].is_array())
      for (const auto& v : j[name])
        if (v.is_string()) set_listed(out, v.get<std::string>(), true);
  };
  read("favorites", lists.favorites);
  read("follows", lists.follows);
  return lists;
}

p::Status write_local_lists(const std::filesystem::path& path, const LocalLists& lists) {
  if (auto st = prepare_data_dir(path.parent_path()); !st) return st;
  nlohmann::ordered_json j = {{"favorites", lists.favorites}, {"follows", lists.follows}};
  return write_file_atomically(path, j.dump(2) + "\n");
}

bool set_listed(std::vector<std::string>& list, const std::string& value, bool listed) {
  auto it = std::find(list.begin(), list.end(), value);
  if (listed == (it != list.end())) return false;
  if (listed)
    list.push_back(value);
  else
    list.erase(it);
  return true;
}

namespace {

std::optional<p::Record> load(const indexer::Index& index, const p::RecordId& id) {
  auto rec = index.get(id);
  if (!rec) return std::nullopt;
  return std::move(rec).value();
}

}  // namespace

p::Result<p::CommentDraft> comment_draft(const indexer::Index& index, const NodeConfig& config,
                                         const p::PublicKey& author, const CommentRequest& request) {
  p::CommentDraft draft;
  draft.text = request.deleted ? std::string() : request.text;
  draft.deleted = request.deleted;
  if (request.edits) {
    // An edit keeps its comment's place: subject and parent come from it.
    auto original = load(index, *request.edits);
    if (!original || original->kind() != p::RecordKind::comment)
      return p::make_error(p::ErrorCode::not_found, "no comment " + p::to_hex(*request.edits) + " is known here");
    if (original->author() != author)
      return p::make_error(p::ErrorCode::refused, "only the comment's author can edit or delete it; it is " +
                                                      original->author().to_text() + "'s");
    auto c = original->body().getPayload().getComment();
    if (c.getEdits().size())
      return p::make_error(p::ErrorCode::invalid_argument,
                           "name the comment as first written (its id), not an edit of it");
    draft.edits = original->id();
    draft.subject = p::read_subject(c.getSubject());
    if (auto why = config.refuses_subject(draft.subject, index))
      return p::make_error(p::ErrorCode::refused, "this node does not show what the comment is about: " + *why);
    if (c.getParent().size() == 32) std::copy_n(c.getParent().begin(), 32, draft.parent.emplace().begin());
  } else {
    if (request.deleted)
      return p::make_error(p::ErrorCode::invalid_argument, "say which of your comments to delete (its id)");
    if (!request.subject)
      return p::make_error(p::ErrorCode::invalid_argument, "say what the comment is about (a release)");
    draft.subject = *request.subject;
    if (auto why = config.refuses_subject(draft.subject, index))
      return p::make_error(p::ErrorCode::refused, "this node does not show what the comment is about: " + *why);
    if (request.parent) {
      auto parent = load(index, *request.parent);
      if (!parent || parent->kind() != p::RecordKind::comment)
        return p::make_error(p::ErrorCode::not_found, "no comment " + p::to_hex(*request.parent) + " is known here");
      auto pc = parent->body().getPayload().getComment();
      if (pc.getParent().size() || pc.getEdits().size())
        return p::make_error(p::ErrorCode::invalid_argument,
                             "replies go under a top-level comment as first written (its id), one level deep");
      if (p::read_subject(pc.getSubject()) != draft.subject)
        return p::make_error(p::ErrorCode::invalid_argument, "the comment replied to is about something else");
      if (hidden_comment(index, config, *parent))
        return p::make_error(p::ErrorCode::not_found, "the comment replied to is not shown here");
      auto edit = current_edit(index, config, *parent);
      if (edit && edit->body().getPayload().getComment().getDeleted())
        return p::make_error(p::ErrorCode::invalid_argument, "the comment replied to was deleted by its author");
      draft.parent = parent->id();
    }
  }
  if (auto st = p::check_draft(draft); !st) return st.error();
  return draft;
}

std::string comment_cursor(const indexer::FeedEntry& position) {
  p::Bytes key;
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<std::uint8_t>(position.created_at >> (8 * i)));
  key.insert(key.end(), position.id.begin(), position.id.end());
  return p::to_hex(key);
}

std::optional<indexer::FeedEntry> parse_comment_cursor(std::string_view text) {
  auto bytes = p::from_hex(text);
  if (!bytes || bytes->size() != 40) return std::nullopt;
  indexer::FeedEntry out;
  for (std::size_t i = 0; i < 8; ++i) out.created_at = (out.created_at << 8) | (*bytes)[i];
  std::copy(bytes->begin() + 8, bytes->end(), out.id.begin());
  return out;
}

bool hidden_comment(const indexer::Index& index, const NodeConfig& config, const p::Record& original) {
  return original.kind() != p::RecordKind::comment || config.refuses_comment(original, index).has_value();
}

std::optional<p::Record> current_edit(const indexer::Index& index, const NodeConfig& config,
                                      const p::Record& original) {
  auto current = index.current(p::RecordKind::comment, original.author(), original.id());
  if (!current || *current == original.id()) return std::nullopt;
  auto edit = load(index, *current);
  if (!edit || edit->kind() != p::RecordKind::comment || config.refuses_comment(*edit, index)) return std::nullopt;
  auto a = original.body().getPayload().getComment(), e = edit->body().getPayload().getComment();
  if (!p::keeps_place(a, e)) return std::nullopt;  // an edit must keep the comment's place
  return edit;
}

namespace {

// Records one page may look at (comments, replies and their edits): a
// stranger's thousands of deleted or hidden comments cost a page no more.
constexpr std::size_t kMaxCommentScan = 1000;

// The view of a comment, or nullopt when hidden; counts what it read.
std::optional<CommentView> view_of(const indexer::Index& index, const NodeConfig& config, const p::RecordId& id,
                                   std::size_t& scanned) {
  ++scanned;
  auto original = load(index, id);
  if (!original || hidden_comment(index, config, *original)) return std::nullopt;
  CommentView view{std::move(*original), std::nullopt, {}, false};
  view.edit = current_edit(index, config, view.original);
  return view;
}

}  // namespace

std::vector<CommentView> replies_page(const indexer::Index& index, const NodeConfig& config,
                                      const indexer::Subject& subject, const p::RecordId& parent,
                                      std::optional<indexer::FeedEntry>& after, std::size_t limit) {
  std::vector<CommentView> out;
  std::size_t scanned = 0;
  while (out.size() < limit) {
    if (scanned >= kMaxCommentScan) return out;  // `after` goes on from here
    const std::size_t need = std::min(limit - out.size(), kMaxCommentScan - scanned);
    auto entries = index.replies_of(subject, parent, after, need);
    for (const auto& e : entries) {
      after = e;
      if (auto v = view_of(index, config, e.id, scanned); v && !v->deleted()) out.push_back(std::move(*v));
    }
    if (entries.size() < need) {
      after.reset();  // the end of the list
      break;
    }
  }
  return out;
}

std::vector<CommentView> comment_page(const indexer::Index& index, const NodeConfig& config,
                                      const indexer::Subject& subject, std::optional<indexer::FeedEntry>& before,
                                      std::size_t limit) {
  std::vector<CommentView> out;
  std::size_t scanned = 0;
  while (out.size() < limit) {
    if (scanned >= kMaxCommentScan) return out;  // `before` goes on from here
    const std::size_t need = std::min(limit - out.size(), kMaxCommentScan - scanned);
    auto entries = index.comments_of(subject, before, need);
    for (const auto& e : entries) {
      before = e;
      auto view = view_of(index, config, e.id, scanned);
      if (!view) continue;
      // Its first replies (the rest by replies_page); a deleted comment
      // stays as a placeholder only while a reply shows.
      const std::size_t budget = std::min(kInlineReplies * 4, kMaxCommentScan - std::min(scanned, kMaxCommentScan));
      auto replies = index.replies_of(subject, view->original.id(), std::nullopt, budget + 1);
      std::size_t i = 0;
      for (; i < replies.size() && i < budget && view->replies.size() < kInlineReplies; ++i)
        if (auto r = view_of(index, config, replies[i].id, scanned); r && !r->deleted())
          view->replies.push_back(std::move(*r));
      view->more_replies = i < replies.size();
      if (view->deleted() && view->replies.empty()) continue;
      out.push_back(std::move(*view));
    }
    if (entries.size() < need) {
      before.reset();  // the end of the list
      break;
    }
  }
  return out;
}

}  // namespace seedbank::node
