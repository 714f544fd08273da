#include "seedbank/protocol/record.h"

#include <openssl/evp.h>

#include <capnp/serialize.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "seedbank/protocol/text.h"
#include "sha.h"

namespace seedbank::protocol {
namespace {

namespace sc = seedbank::schema;
using Payload = sc::RecordBody::Payload;

// ---- limits (docs/protocol.md lists them) ----
constexpr std::size_t kMaxNetwork = 64;
constexpr std::size_t kMaxName = 256;
constexpr std::size_t kMaxBaseModel = 64;
constexpr std::size_t kMaxDescription = 100 * 1024;
constexpr std::size_t kMaxTags = 64, kMaxTag = 64;
constexpr std::size_t kMaxTriggerWords = 128, kMaxTriggerWord = 1024;
constexpr std::size_t kMaxFiles = 256, kMaxImages = 256;
constexpr std::size_t kMaxTrackers = 32, kMaxUrl = 512;
constexpr std::size_t kMaxPrompt = 64 * 1024;
constexpr std::size_t kMaxSettings = 128, kMaxSettingKey = 128, kMaxSettingValue = 16 * 1024;
constexpr std::size_t kMaxComfyJson = 1024 * 1024;
constexpr std::size_t kMaxShortText = 512;
constexpr std::size_t kMaxReview = 16 * 1024;
constexpr std::size_t kMaxReason = 4 * 1024;
constexpr std::size_t kMaxDenyEntries = 100000;
constexpr std::size_t kMaxComment = 8 * 1024;
constexpr std::size_t kMaxCollectionItems = 1000, kMaxCollectionSlug = 64;

Error invalid(const std::string& field, const std::string& problem) {
  return make_error(ErrorCode::malformed, field + ": " + problem);
}

Status check_text(capnp::Text::Reader text, std::size_t max, const std::string& field, bool required = false) {
  std::string_view s(text.cStr(), text.size());
  if (required && s.empty()) return invalid(field, "must not be empty");
  if (s.size() > max)
    return invalid(field, std::to_string(s.size()) + " bytes exceeds the limit of " + std::to_string(max));
  if (s.find('\0') != std::string_view::npos) return invalid(field, "contains a NUL character");
  if (!valid_utf8(s)) return invalid(field, "is not valid UTF-8");
  return {};
}

Status check_data(capnp::Data::Reader data, std::initializer_list<std::size_t> sizes, const std::string& field) {
  if (std::find(sizes.begin(), sizes.end(), data.size()) != sizes.end()) return {};
  std::string allowed;
  for (auto s : sizes) allowed += (allowed.empty() ? "" : " or ") + std::to_string(s);
  return invalid(field, "is " + std::to_string(data.size()) + " bytes, expected " + allowed);
}

Status check_text_list(capnp::List<capnp::Text>::Reader list, std::size_t max_items, std::size_t max_each,
                       const std::string& field) {
  if (list.size() > max_items)
    return invalid(field, std::to_string(list.size()) + " entries exceeds the limit of " + std::to_string(max_items));
  for (unsigned i = 0; i < list.size(); ++i)
    if (auto st = check_text(list[i], max_each, field + "[" + std::to_string(i) + "]", true); !st) return st;
  return {};
}

#define SB_TRY(expr)                         \
  do {                                       \
    if (auto _st = (expr); !_st) return _st; \
  } while (0)

Status check_generation(sc::GenerationParams::Reader g, const std::string& field) {
  SB_TRY(check_text(g.getPrompt(), kMaxPrompt, field + ".prompt"));
  SB_TRY(check_text(g.getNegativePrompt(), kMaxPrompt, field + ".negativePrompt"));
  SB_TRY(check_text(g.getSampler(), kMaxShortText, field + ".sampler"));
  SB_TRY(check_text(g.getModelHash(), kMaxShortText, field + ".modelHash"));
  SB_TRY(check_text(g.getModelName(), kMaxShortText, field + ".modelName"));
  SB_TRY(check_text(g.getComfyPrompt(), kMaxComfyJson, field + ".comfyPrompt"));
  SB_TRY(check_text(g.getComfyWorkflow(), kMaxComfyJson, field + ".comfyWorkflow"));
  SB_TRY(check_text(g.getRaw(), 2 * kMaxPrompt, field + ".raw"));
  auto settings = g.getSettings();
  if (settings.size() > kMaxSettings) return invalid(field + ".settings", "too many entries");
  for (unsigned i = 0; i < settings.size(); ++i) {
    std::string f = field + ".settings[" + std::to_string(i) + "]";
    SB_TRY(check_text(settings[i].getKey(), kMaxSettingKey, f + ".key", true));
    SB_TRY(check_text(settings[i].getValue(), kMaxSettingValue, f + ".value"));
  }
  if (!std::isfinite(g.getCfgScale())) return invalid(field + ".cfgScale", "is not a finite number");
  return {};
}

Status check_image(sc::SampleImage::Reader image, const std::string& field) {
  if (auto st = validate_file_name(std::string_view(image.getName().cStr(), image.getName().size())); !st)
    return invalid(field + ".name", st.error().message);
  SB_TRY(check_text(image.getName(), kMaxName, field + ".name", true));
  SB_TRY(check_data(image.getSha256(), {32}, field + ".sha256"));
  SB_TRY(check_text(image.getMimeType(), 64, field + ".mimeType"));
  return check_generation(image.getGeneration(), field + ".generation");
}

Status check_release(sc::Release::Reader r) {
  SB_TRY(check_text(r.getModelName(), kMaxName, "release.modelName", true));
  // Enum values (type, file role, format, precision, commercial uses) are
  // not range-checked: a newer schema may add values, and views show one
  // they do not know as "Other" (docs/protocol.md, "Forward compatibility").
  SB_TRY(check_text(r.getModelSlug(), kMaxName, "release.modelSlug"));
  for (char c : std::string_view(r.getModelSlug().cStr(), r.getModelSlug().size()))
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return invalid("release.modelSlug", "may contain only a-z, 0-9 and '-'");
  SB_TRY(check_text(r.getVersionName(), kMaxName, "release.versionName"));
  SB_TRY(check_text(r.getBaseModel(), kMaxBaseModel, "release.baseModel"));
  SB_TRY(check_text(r.getDescription(), kMaxDescription, "release.description"));
  SB_TRY(check_text(r.getModelDescription(), kMaxDescription, "release.modelDescription"));
  SB_TRY(check_text_list(r.getTags(), kMaxTags, kMaxTag, "release.tags"));
  SB_TRY(check_text_list(r.getTriggerWords(), kMaxTriggerWords, kMaxTriggerWord, "release.triggerWords"));
  SB_TRY(check_text(r.getLicense().getName(), kMaxName, "release.license.name"));
  if (r.getLicense().getAllowCommercialUse().size() > 8)
    return invalid("release.license.allowCommercialUse", "too many entries");

  auto files = r.getFiles();
  if (files.size() == 0) return invalid("release.files", "a release needs at least one file");
  if (files.size() > kMaxFiles) return invalid("release.files", "more than " + std::to_string(kMaxFiles) + " files");
  std::vector<std::string_view> names;
  for (unsigned i = 0; i < files.size(); ++i) {
    auto f = files[i];
    std::string field = "release.files[" + std::to_string(i) + "]";
    std::string_view name(f.getName().cStr(), f.getName().size());
    if (auto st = validate_file_name(name); !st) return invalid(field + ".name", st.error().message);
    SB_TRY(check_text(f.getName(), kMaxName, field + ".name", true));
    names.push_back(name);
    auto h = f.getHashes();
    SB_TRY(check_data(h.getSha256(), {32}, field + ".hashes.sha256"));
    SB_TRY(check_data(h.getAutoV1(), {32}, field + ".hashes.autoV1"));
    SB_TRY(check_data(h.getAutoV3(), {0, 32}, field + ".hashes.autoV3"));
    SB_TRY(check_data(h.getPiecesRoot(), {f.getSize() == 0 ? 0u : 32u}, field + ".hashes.piecesRoot"));
  }
  auto images = r.getImages();
  if (images.size() > kMaxImages) return invalid("release.images", "more than " + std::to_string(kMaxImages));
  for (unsigned i = 0; i < images.size(); ++i) {
    SB_TRY(check_image(images[i], "release.images[" + std::to_string(i) + "]"));
    names.emplace_back(images[i].getName().cStr(), images[i].getName().size());
  }
  // Unique even on case-insensitive filesystems (Windows, macOS).
  std::vector<std::string> folded;
  for (auto n : names) {
    std::string f(n);
    for (auto& c : f) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    folded.push_back(std::move(f));
  }
  std::sort(folded.begin(), folded.end());
  if (auto dup = std::adjacent_find(folded.begin(), folded.end()); dup != folded.end())
    return invalid("release", "two files are named '" + *dup + "' (ignoring case); names must be unique in a release");

  auto t = r.getTorrent();
  SB_TRY(check_data(t.getInfoHashV2(), {32}, "release.torrent.infoHashV2"));
  SB_TRY(check_data(t.getInfoHashV1(), {0, 20}, "release.torrent.infoHashV1"));
  if (t.getInfo().size() == 0) return invalid("release.torrent.info", "must hold the bencoded info dictionary");
  // The info-hashes are defined by the info dictionary: a record may not
  // claim another torrent's identity.
  ByteView info(t.getInfo().begin(), t.getInfo().size());
  auto v2 = detail::sha256(info);
  if (!std::equal(v2.begin(), v2.end(), t.getInfoHashV2().begin()))
    return invalid("release.torrent.infoHashV2", "is not the SHA-256 of the info dictionary");
  if (t.getInfoHashV1().size() == 20) {
    auto v1 = detail::sha1(info);
    if (!std::equal(v1.begin(), v1.end(), t.getInfoHashV1().begin()))
      return invalid("release.torrent.infoHashV1", "is not the SHA-1 of the info dictionary");
  }
  SB_TRY(check_text_list(t.getTrackers(), kMaxTrackers, kMaxUrl, "release.torrent.trackers"));
  SB_TRY(check_data(r.getSupersedes(), {0, 32}, "release.supersedes"));
  if (r.hasOrigin()) {
    // A mirror names where its files came from, and the hashes recorded
    // there are the files' own: a mirror of other bytes is not a mirror.
    auto o = r.getOrigin();
    SB_TRY(check_text(o.getSite(), 32, "release.origin.site", true));
    SB_TRY(check_text(o.getCreator(), kMaxName, "release.origin.creator"));
    SB_TRY(check_text(o.getUrl(), kMaxUrl, "release.origin.url"));
    std::string_view url(o.getUrl().cStr(), o.getUrl().size());
    if (!url.empty() && !url.starts_with("https://") && !url.starts_with("http://"))
      return invalid("release.origin.url", "must be an http(s) URL");
    auto sha = o.getSha256();
    if (sha.size() != 0 && sha.size() != files.size())
      return invalid("release.origin.sha256", "must list one SHA-256 per file, or none");
    for (unsigned i = 0; i < sha.size(); ++i) {
      SB_TRY(check_data(sha[i], {32}, "release.origin.sha256[" + std::to_string(i) + "]"));
      auto own = files[i].getHashes().getSha256();
      if (!std::equal(own.begin(), own.end(), sha[i].begin()))
        return invalid("release.origin.sha256[" + std::to_string(i) + "]",
                       "is not the SHA-256 of files[" + std::to_string(i) + "]");
    }
  }
  return {};
}

// A reaction's or comment's subject: a release, or one of its sample
// images, or an image post about it.
Status check_subject(sc::Subject::Reader s, const std::string& field) {
  SB_TRY(check_data(s.getRelease(), {32}, field + ".release"));
  SB_TRY(check_data(s.getImage(), {0, 32}, field + ".image"));
  SB_TRY(check_data(s.getPost(), {0, 32}, field + ".post"));
  if (s.getImage().size() && s.getPost().size()) return invalid(field, "names an image and a post: name one");
  return {};
}

}  // namespace

bool valid_collection_slug(std::string_view slug) {
  if (slug.empty() || slug.size() > kMaxCollectionSlug) return false;
  return std::all_of(slug.begin(), slug.end(),
                     [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'; });
}

namespace {

// The envelope: what every node checks whatever the record's kind.
Status check_envelope(sc::RecordBody::Reader body) {
  SB_TRY(check_data(body.getAuthor(), {32}, "author"));
  SB_TRY(check_text(body.getNetwork(), kMaxNetwork, "network", true));
  if (body.getCreatedAt() == 0) return invalid("createdAt", "must be set (milliseconds since 1970)");
  return {};
}

// The rules of the record's kind, as this node knows them.
Status check_payload(sc::RecordBody::Reader body) {
  auto p = body.getPayload();
  switch (p.which()) {
    case Payload::RELEASE:
      return check_release(p.getRelease());
    case Payload::RATING: {
      auto r = p.getRating();
      SB_TRY(check_data(r.getRelease(), {32}, "rating.release"));
      if (r.getStars() < 1 || r.getStars() > 5)
        return invalid("rating.stars", std::to_string(r.getStars()) + " is outside 1..5");
      return check_text(r.getReview(), kMaxReview, "rating.review");
    }
    case Payload::PROFILE: {
      auto r = p.getProfile();
      SB_TRY(check_text(r.getDisplayName(), 100, "profile.displayName", true));
      SB_TRY(check_text(r.getBio(), 8 * 1024, "profile.bio"));
      SB_TRY(check_data(r.getAvatar(), {0, 32}, "profile.avatar"));
      return check_text_list(r.getLinks(), 16, kMaxUrl, "profile.links");
    }
    case Payload::IMAGE_POST: {
      auto r = p.getImagePost();
      SB_TRY(check_data(r.getRelease(), {32}, "imagePost.release"));
      SB_TRY(check_image(r.getImage(), "imagePost.image"));
      return check_text(r.getCaption(), 8 * 1024, "imagePost.caption");
    }
    case Payload::RETRACTION: {
      auto r = p.getRetraction();
      SB_TRY(check_data(r.getRelease(), {32}, "retraction.release"));
      return check_text(r.getReason(), kMaxReason, "retraction.reason");
    }
    case Payload::KEY_ROTATION: {
      auto r = p.getKeyRotation();
      SB_TRY(check_data(r.getNewKey(), {32}, "keyRotation.newKey"));
      SB_TRY(check_data(r.getNewKeySignature(), {64}, "keyRotation.newKeySignature"));
      SB_TRY(check_text(r.getReason(), kMaxReason, "keyRotation.reason"));
      auto keep = r.getKeep();
      if ((keep.size() || r.getKeepListed()) && !r.getRevokeOld())
        return invalid("keyRotation.keep", "is only for a rotation that revokes the old key");
      if (keep.size() > kMaxKeptRecords) return invalid("keyRotation.keep", "lists too many records");
      for (unsigned i = 0; i < keep.size(); ++i) {
        SB_TRY(check_data(keep[i], {32}, "keyRotation.keep"));
        if (i && std::memcmp(keep[i - 1].begin(), keep[i].begin(), 32) >= 0)
          return invalid("keyRotation.keep", "must list record ids once each, in ascending order");
      }
      auto old_key = *PublicKey::from_bytes(ByteView(body.getAuthor().begin(), 32));
      auto new_key = *PublicKey::from_bytes(ByteView(r.getNewKey().begin(), 32));
      if (old_key == new_key) return invalid("keyRotation.newKey", "is the same as the old key");
      if (!verify_signature(new_key, rotation_message(old_key, new_key, body.getCreatedAt()),
                            ByteView(r.getNewKeySignature().begin(), 64)))
        return make_error(ErrorCode::bad_signature,
                          "keyRotation.newKeySignature: the new key did not sign this rotation");
      return {};
    }
    case Payload::DENY_LIST: {
      auto r = p.getDenyList();
      SB_TRY(check_text(r.getName(), 128, "denyList.name", true));
      auto entries = r.getEntries();
      if (entries.size() > kMaxDenyEntries) return invalid("denyList.entries", "too many entries");
      for (unsigned i = 0; i < entries.size(); ++i) {
        auto e = entries[i];
        std::string field = "denyList.entries[" + std::to_string(i) + "]";
        auto target = e.getTarget();
        switch (target.which()) {
          case sc::DenyEntry::Target::RELEASE:
            SB_TRY(check_data(target.getRelease(), {32}, field + ".release"));
            break;
          case sc::DenyEntry::Target::CONTENT_HASH:
            SB_TRY(check_data(target.getContentHash(), {32}, field + ".contentHash"));
            break;
          case sc::DenyEntry::Target::CREATOR:
            SB_TRY(check_data(target.getCreator(), {32}, field + ".creator"));
            break;
          case sc::DenyEntry::Target::NSFW_LEVEL:
            SB_TRY(check_data(target.getNsfwLevel().getSha256(), {32}, field + ".nsfwLevel.sha256"));
            // A level this version does not know is kept, and not applied.
            if (target.getNsfwLevel().getLevel() == 0) return invalid(field + ".nsfwLevel.level", "must be set");
            break;
          default:
            break;  // a target kind from a newer schema: kept, never applied
        }
        SB_TRY(check_text(e.getReason(), 1024, field + ".reason"));
      }
      return {};
    }
    case Payload::REACTION:
      return check_subject(p.getReaction().getSubject(), "reaction.subject");
    case Payload::COMMENT: {
      auto c = p.getComment();
      SB_TRY(check_subject(c.getSubject(), "comment.subject"));
      SB_TRY(check_data(c.getParent(), {0, 32}, "comment.parent"));
      SB_TRY(check_data(c.getEdits(), {0, 32}, "comment.edits"));
      if (c.getDeleted() && c.getEdits().size() == 0)
        return invalid("comment.deleted", "needs `edits`: the comment it withdraws");
      if (c.getDeleted() && c.getText().size()) return invalid("comment.text", "must be empty in a deletion");
      return check_text(c.getText(), kMaxComment, "comment.text", !c.getDeleted());
    }
    case Payload::RELEASE_UPDATE: {
      auto u = p.getReleaseUpdate();
      SB_TRY(check_data(u.getRelease(), {32}, "releaseUpdate.release"));
      SB_TRY(check_text(u.getModelDescription(), kMaxDescription, "releaseUpdate.modelDescription"));
      SB_TRY(check_text(u.getDescription(), kMaxDescription, "releaseUpdate.description"));
      SB_TRY(check_text_list(u.getTags(), kMaxTags, kMaxTag, "releaseUpdate.tags"));
      SB_TRY(check_text_list(u.getTriggerWords(), kMaxTriggerWords, kMaxTriggerWord, "releaseUpdate.triggerWords"));
      auto images = u.getImages();
      if (images.size() > kMaxImages) return invalid("releaseUpdate.images", "more than " + std::to_string(kMaxImages));
      for (unsigned i = 0; i < images.size(); ++i)
        SB_TRY(check_image(images[i], "releaseUpdate.images[" + std::to_string(i) + "]"));
      return {};
    }
    case Payload::COLLECTION: {
      auto c = p.getCollection();
      std::string_view slug(c.getSlug().cStr(), c.getSlug().size());
      if (!valid_collection_slug(slug))
        return invalid("collection.slug",
                       "must be 1 to " + std::to_string(kMaxCollectionSlug) + " characters of a-z, 0-9 and -");
      SB_TRY(check_text(c.getName(), 100, "collection.name", !c.getDeleted()));
      SB_TRY(check_text(c.getDescription(), 16 * 1024, "collection.description"));
      auto items = c.getItems();
      if (c.getDeleted() && (items.size() || c.getName().size() || c.getDescription().size()))
        return invalid("collection.deleted", "a deletion holds no name, description or items");
      if (items.size() > kMaxCollectionItems)
        return invalid("collection.items", std::to_string(items.size()) + " entries exceeds the limit of " +
                                               std::to_string(kMaxCollectionItems));
      std::vector<std::string> subjects;  // each listed once: release ++ ('r' | 'i' ++ image | 'p' ++ post)
      for (unsigned i = 0; i < items.size(); ++i) {
        std::string field = "collection.items[" + std::to_string(i) + "]";
        auto s = items[i].getSubject();
        SB_TRY(check_subject(s, field + ".subject"));
        SB_TRY(check_text(items[i].getNote(), kMaxShortText, field + ".note"));
        std::string key(reinterpret_cast<const char*>(s.getRelease().begin()), s.getRelease().size());
        key.push_back(s.getImage().size() ? 'i' : s.getPost().size() ? 'p' : 'r');
        key.append(reinterpret_cast<const char*>(s.getImage().begin()), s.getImage().size());
        key.append(reinterpret_cast<const char*>(s.getPost().begin()), s.getPost().size());
        subjects.push_back(std::move(key));
      }
      std::sort(subjects.begin(), subjects.end());
      if (std::adjacent_find(subjects.begin(), subjects.end()) != subjects.end())
        return invalid("collection.items", "lists an item twice");
      return {};
    }
  }
  // A kind from a newer schema: its envelope (checked above, plus size,
  // canonical form and traversal limits in verify_record) is all this
  // version can check. It is kept and relayed, never read.
  return {};
}

Status check_body(sc::RecordBody::Reader body) {
  SB_TRY(check_envelope(body));
  return check_payload(body);
}

// domain ++ rest (built with memcpy: GCC 12 misreports range inserts here).
Bytes prefixed(std::string_view domain, ByteView rest) {
  Bytes out(domain.size() + rest.size());
  std::memcpy(out.data(), domain.data(), domain.size());
  if (!rest.empty()) std::memcpy(out.data() + domain.size(), rest.data(), rest.size());
  return out;
}

// Each kind this version knows: its payload union member and its name.
struct KindNames {
  Payload::Which which;
  RecordKind kind;
  std::string_view name;
};
constexpr KindNames kKindNames[] = {
    {Payload::RELEASE, RecordKind::release, "release"},
    {Payload::RATING, RecordKind::rating, "rating"},
    {Payload::PROFILE, RecordKind::profile, "profile"},
    {Payload::IMAGE_POST, RecordKind::image_post, "image-post"},
    {Payload::RETRACTION, RecordKind::retraction, "retraction"},
    {Payload::KEY_ROTATION, RecordKind::key_rotation, "key-rotation"},
    {Payload::DENY_LIST, RecordKind::deny_list, "deny-list"},
    {Payload::REACTION, RecordKind::reaction, "reaction"},
    {Payload::COMMENT, RecordKind::comment, "comment"},
    {Payload::RELEASE_UPDATE, RecordKind::release_update, "release-update"},
    {Payload::COLLECTION, RecordKind::collection, "collection"},
};

RecordKind kind_of(Payload::Which which) {
  for (const auto& k : kKindNames)
    if (k.which == which) return k.kind;
  return RecordKind::unknown;  // a kind from a newer schema
}

Bytes signing_message(sc::RecordBody::Reader body) {
  auto words = capnp::canonicalize(body);
  auto bytes = words.asBytes();
  return prefixed(kRecordDomain, ByteView(bytes.begin(), bytes.size()));
}

}  // namespace

struct Record::Impl {
  kj::Array<capnp::word> words;
  kj::ArrayPtr<const capnp::word> segment;
  std::unique_ptr<capnp::SegmentArrayMessageReader> message;
  RecordId id{};
  RecordKind kind = RecordKind::unknown;
  std::uint16_t payload_tag = 0;
};

std::string_view to_string(RecordKind kind) {
  for (const auto& k : kKindNames)
    if (k.kind == kind) return k.name;
  return "unknown";
}

RecordKind record_kind_of(std::uint16_t payload_tag) { return kind_of(static_cast<Payload::Which>(payload_tag)); }

Record::Record(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Record::Record(Record&&) noexcept = default;
Record& Record::operator=(Record&&) noexcept = default;
Record::~Record() = default;

const RecordId& Record::id() const { return impl_->id; }
RecordKind Record::kind() const { return impl_->kind; }
std::uint16_t Record::payload_tag() const { return impl_->payload_tag; }
PublicKey Record::author() const { return *PublicKey::from_bytes(ByteView(body().getAuthor().begin(), 32)); }
std::uint64_t Record::created_at() const { return body().getCreatedAt(); }
std::string Record::network() const { return body().getNetwork(); }
ByteView Record::bytes() const { return impl_->words.asBytes(); }
schema::SignedRecord::Reader Record::reader() const { return impl_->message->getRoot<schema::SignedRecord>(); }

RecordId record_id_of(ByteView canonical_bytes) { return detail::sha256(canonical_bytes); }

Status validate_file_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorCode::invalid_argument, "file name is empty");
  if (name.size() > 255) return make_error(ErrorCode::invalid_argument, "file name is longer than 255 bytes");
  if (name == "." || name == "..")
    return make_error(ErrorCode::invalid_argument, std::string("'").append(name).append("' is not a file name"));
  for (char c : name) {
    if (c == '/' || c == '\\')
      return make_error(ErrorCode::invalid_argument,
                        "'" + std::string(name) + "' contains a path separator; give a plain file name");
    if (std::string_view(":*?\"<>|").find(c) != std::string_view::npos)
      return make_error(ErrorCode::invalid_argument, "'" + std::string(name) + "' contains '" + std::string(1, c) +
                                                         "', which Windows cannot store in a file name");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return make_error(ErrorCode::invalid_argument, "file name contains a control character");
  }
  if (!valid_utf8(name)) return make_error(ErrorCode::invalid_argument, "file name is not valid UTF-8");
  if (name.back() == '.' || name.back() == ' ')
    return make_error(ErrorCode::invalid_argument,
                      "'" + std::string(name) + "' ends with a dot or space, which Windows cannot store");
  std::string stem(name.substr(0, name.find('.')));
  for (auto& ch : stem) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  static const std::array<std::string_view, 6> kReserved = {"CON", "PRN", "AUX", "NUL", "COM", "LPT"};
  for (auto r : kReserved) {
    bool numbered = r == "COM" || r == "LPT";
    if ((!numbered && stem == r) ||
        (numbered && stem.size() == 4 && stem.compare(0, 3, r) == 0 && stem[3] >= '0' && stem[3] <= '9'))
      return make_error(ErrorCode::invalid_argument,
                        "'" + std::string(name) + "' is a reserved device name on Windows; rename the file");
  }
  return {};
}

Bytes rotation_message(const PublicKey& old_key, const PublicKey& new_key, std::uint64_t created_at_ms) {
  std::uint8_t tail[72];
  std::memcpy(tail, old_key.bytes.data(), 32);
  std::memcpy(tail + 32, new_key.bytes.data(), 32);
  for (int i = 0; i < 8; ++i) tail[64 + i] = static_cast<std::uint8_t>(created_at_ms >> (8 * i));
  return prefixed(kRotationDomain, ByteView(tail, sizeof tail));
}

Status validate_body(schema::RecordBody::Reader body) {
  try {
    return check_body(body);
  } catch (const kj::Exception& e) {
    return make_error(ErrorCode::malformed, std::string("record structure is invalid: ") + e.getDescription().cStr());
  }
}

namespace {

// Copies bytes into aligned words and opens a reader over them. The
// Record's own reader has no traversal limit: it only ever reads bytes that
// verify_record proved canonical (no shared or cyclic pointers, so no
// amplification) or that this node stored after such a proof.
Result<std::unique_ptr<Record::Impl>> parse(ByteView bytes, std::size_t max_bytes) {
  if (bytes.size() > max_bytes)
    return make_error(ErrorCode::limit, "record is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                                            std::to_string(max_bytes));
  if (bytes.size() < 8 || bytes.size() % 8 != 0)
    return make_error(ErrorCode::malformed,
                      "record is " + std::to_string(bytes.size()) + " bytes, not a whole number of 8-byte words");
  auto impl = std::make_unique<Record::Impl>();
  impl->words = kj::heapArray<capnp::word>(bytes.size() / 8);
  std::memcpy(impl->words.begin(), bytes.data(), bytes.size());
  impl->segment = impl->words.asPtr();
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::numeric_limits<std::uint64_t>::max();
  options.nestingLimit = 64;
  impl->message = std::make_unique<capnp::SegmentArrayMessageReader>(kj::arrayPtr(&impl->segment, 1), options);
  return impl;
}

}  // namespace

Result<Record> verify_record(ByteView bytes, std::string_view network, const RecordLimits& limits) {
  auto parsed = parse(bytes, limits.max_record_bytes);
  if (!parsed) return parsed.error();
  auto impl = std::move(parsed).value();
  try {
    // Checks run on a reader with explicit limits; every check together
    // reads each word a few times at most.
    capnp::ReaderOptions options;
    options.traversalLimitInWords = bytes.size() / 8 * 8 + 1024;
    options.nestingLimit = static_cast<int>(limits.nesting_limit);
    capnp::SegmentArrayMessageReader checked(kj::arrayPtr(&impl->segment, 1), options);
    if (!checked.isCanonical())
      return make_error(ErrorCode::malformed,
                        "record is not in canonical Cap'n Proto form; it was re-encoded or "
                        "tampered with");
    auto root = checked.getRoot<schema::SignedRecord>();
    // isCanonical() does not look at bits the reader masks off (the top bit
    // of an inline-composite list's element count), so two byte strings
    // could pass with one signature and two ids. Canonical means exactly the
    // bytes canonicalize() writes.
    auto canonical_words = capnp::canonicalize(root);
    auto canonical = canonical_words.asBytes();
    if (canonical.size() != bytes.size() || !std::equal(canonical.begin(), canonical.end(), bytes.begin()))
      return make_error(ErrorCode::malformed,
                        "record is not in canonical Cap'n Proto form; it was re-encoded or "
                        "tampered with");
    auto body = root.getBody();
    if (auto st = check_envelope(body); !st) return st.error();
    // A payload that breaks its kind's rules is judged after the signature:
    // signed, it may come from an honest relay that does not know the kind
    // (forward compatibility), so it is refused, never taken as malformed.
    Status payload = [&]() -> Status {
      try {
        return check_payload(body);
      } catch (const kj::Exception& e) {
        return make_error(ErrorCode::malformed, std::string("payload is invalid: ") + e.getDescription().cStr());
      }
    }();
    if (std::string_view(body.getNetwork().cStr(), body.getNetwork().size()) != network)
      return make_error(ErrorCode::conflict, "record belongs to network '" + std::string(body.getNetwork().cStr()) +
                                                 "', this node is on '" + std::string(network) + "'");
    if (limits.now_ms && body.getCreatedAt() > limits.now_ms + limits.max_future_ms)
      return make_error(ErrorCode::invalid_argument, "record is stamped " +
                                                         std::to_string((body.getCreatedAt() - limits.now_ms) / 1000) +
                                                         " s in the future; the author's clock is wrong");
    auto sig = root.getSignature();
    if (sig.size() != 64)
      return make_error(ErrorCode::bad_signature, "signature is " + std::to_string(sig.size()) + " bytes, not 64");
    auto author = *PublicKey::from_bytes(ByteView(body.getAuthor().begin(), 32));
    if (!verify_signature(author, signing_message(body), ByteView(sig.begin(), sig.size())))
      return make_error(ErrorCode::bad_signature,
                        "signature does not verify: the record was altered or not signed by its author key");
    if (!payload)
      return make_error(ErrorCode::refused, payload.error().message +
                                                " (its author signed it; this node does not take a record that breaks "
                                                "the rules of its kind)");
    impl->payload_tag = static_cast<std::uint16_t>(body.getPayload().which());
    impl->kind = kind_of(body.getPayload().which());
  } catch (const kj::Exception& e) {
    return make_error(ErrorCode::malformed, std::string("record structure is invalid: ") + e.getDescription().cStr());
  }
  impl->id = record_id_of(bytes);
  return Record(std::move(impl));
}

Result<Record> load_stored_record(ByteView bytes, const RecordId* id) {
  auto parsed = parse(bytes, std::numeric_limits<std::size_t>::max());
  if (!parsed) return parsed.error();
  auto impl = std::move(parsed).value();
  try {
    auto which = impl->message->getRoot<schema::SignedRecord>().getBody().getPayload().which();
    impl->payload_tag = static_cast<std::uint16_t>(which);
    impl->kind = kind_of(which);
  } catch (const kj::Exception& e) {
    return make_error(ErrorCode::malformed, std::string("stored record is damaged: ") + e.getDescription().cStr());
  }
  impl->id = id ? *id : record_id_of(bytes);
  return Record(std::move(impl));
}

std::uint32_t work_bits(const PublicKey& author, std::uint64_t created_at_ms, std::uint64_t nonce) {
  std::uint8_t in[17 + 32 + 16];
  std::memcpy(in, "seedbank/work/v1", 16);
  in[16] = 0;
  std::memcpy(in + 17, author.bytes.data(), 32);
  for (int i = 0; i < 8; ++i) {
    in[49 + i] = static_cast<std::uint8_t>(created_at_ms >> (8 * i));
    in[57 + i] = static_cast<std::uint8_t>(nonce >> (8 * i));
  }
  Sha256Digest d{};
  unsigned n = 0;
  EVP_Digest(in, sizeof in, d.data(), &n, EVP_sha256(), nullptr);
  std::uint32_t bits = 0;
  for (auto byte : d) {
    if (byte == 0) {
      bits += 8;
      continue;
    }
    bits += static_cast<std::uint32_t>(__builtin_clz(byte) - 24);
    break;
  }
  return bits;
}

std::uint64_t find_work_nonce(const PublicKey& author, std::uint64_t created_at_ms, std::uint32_t bits) {
  std::uint64_t nonce = 0;
  while (work_bits(author, created_at_ms, nonce) < bits) ++nonce;
  return nonce;
}

std::uint32_t work_bits(const Record& record) {
  return work_bits(record.author(), record.created_at(), record.body().getWorkNonce());
}

Result<Bytes> sign_record(const SecretKey& key, std::string_view network, std::uint64_t created_at_ms,
                          const BodyFiller& fill, std::uint32_t work) {
  try {
    capnp::MallocMessageBuilder builder;
    auto body = builder.initRoot<schema::RecordBody>();
    body.setAuthor(capnp::Data::Reader(key.public_key().bytes.data(), 32));
    body.setCreatedAt(created_at_ms);
    body.setNetwork(std::string(network));
    fill(body);
    if (work) body.setWorkNonce(find_work_nonce(key.public_key(), created_at_ms, work));
    if (auto st = check_body(body.asReader()); !st) return st.error();
    auto signature = key.sign(signing_message(body.asReader()));

    capnp::MallocMessageBuilder out;
    auto root = out.initRoot<schema::SignedRecord>();
    root.setBody(body.asReader());
    root.setSignature(capnp::Data::Reader(signature.data(), signature.size()));
    auto words = capnp::canonicalize(root.asReader());
    auto bytes = words.asBytes();
    return Bytes(bytes.begin(), bytes.end());
  } catch (const kj::Exception& e) {
    return make_error(ErrorCode::invalid_argument, std::string("cannot build record: ") + e.getDescription().cStr());
  }
}

}  // namespace seedbank::protocol
