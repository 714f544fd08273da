#include "seedbank/protocol/community_draft.h"

#include <algorithm>
#include <cctype>

namespace seedbank::protocol {

namespace sc = seedbank::schema;

namespace {

capnp::Data::Reader as_data(ByteView b) { return capnp::Data::Reader(b.data(), b.size()); }

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

void fill(const RatingDraft& d, sc::RecordBody::Builder body) {
  auto r = body.initPayload().initRating();
  r.setRelease(as_data(d.release));
  r.setStars(static_cast<std::uint8_t>(d.stars));
  r.setReview(d.review);
}

void fill(const RetractionDraft& d, sc::RecordBody::Builder body) {
  auto r = body.initPayload().initRetraction();
  r.setRelease(as_data(d.release));
  r.setReason(d.reason);
}

void fill(const ProfileDraft& d, sc::RecordBody::Builder body) {
  auto r = body.initPayload().initProfile();
  r.setDisplayName(d.display_name);
  r.setBio(d.bio);
  if (d.avatar) r.setAvatar(as_data(*d.avatar));
  auto links = r.initLinks(static_cast<unsigned>(d.links.size()));
  for (unsigned i = 0; i < d.links.size(); ++i) links.set(i, d.links[i]);
}

void fill(const ImagePostDraft& d, sc::RecordBody::Builder body) {
  auto r = body.initPayload().initImagePost();
  r.setRelease(as_data(d.release));
  fill_sample_image(d.image, r.initImage());
  r.setCaption(d.caption);
}

void fill(const KeyRotationDraft& d, sc::RecordBody::Builder body) {
  auto r = body.initPayload().initKeyRotation();
  r.setNewKey(as_data(d.new_key.bytes));
  r.setNewKeySignature(as_data(d.new_key_signature));
  r.setRevokeOld(d.revoke_old);
  r.setReason(d.reason);
  r.setKeepListed(d.keep_listed);
  auto list = r.initKeep(static_cast<unsigned>(d.keep.size()));
  for (unsigned i = 0; i < d.keep.size(); ++i) list.set(i, as_data(d.keep[i]));
}

void fill(const DenyListDraft& d, sc::RecordBody::Builder body) {
  auto list = body.initPayload().initDenyList();
  list.setName(d.name);
  auto out = list.initEntries(static_cast<unsigned>(d.entries.size()));
  for (unsigned i = 0; i < d.entries.size(); ++i) {
    const auto& entry = d.entries[i];
    auto target = out[i].initTarget();
    switch (entry.target) {
      case DenyEntryDraft::Target::release:
        target.setRelease(as_data(entry.bytes));
        break;
      case DenyEntryDraft::Target::content_hash:
        target.setContentHash(as_data(entry.bytes));
        break;
      case DenyEntryDraft::Target::creator:
        target.setCreator(as_data(entry.bytes));
        break;
      case DenyEntryDraft::Target::nsfw_level: {
        auto level = target.initNsfwLevel();
        level.setSha256(as_data(entry.bytes));
        level.setLevel(entry.level);
        break;
      }
    }
    out[i].setReason(entry.reason);
  }
}

void fill_subject(const SubjectDraft& d, sc::Subject::Builder s) {
  s.setRelease(as_data(d.release));
  if (d.image) s.setImage(as_data(*d.image));
  if (d.post) s.setPost(as_data(*d.post));
}

void fill(const ReactionDraft& d, sc::RecordBody::Builder body) {
  auto r = body.initPayload().initReaction();
  fill_subject(d.subject, r.initSubject());
  r.setKind(static_cast<sc::ReactionKind>(d.kind));
}

void fill(const CommentDraft& d, sc::RecordBody::Builder body) {
  auto c = body.initPayload().initComment();
  fill_subject(d.subject, c.initSubject());
  if (d.parent) c.setParent(as_data(*d.parent));
  c.setText(d.deleted ? std::string() : d.text);
  if (d.edits) c.setEdits(as_data(*d.edits));
  c.setDeleted(d.deleted);
}

void fill(const ReleaseUpdateDraft& d, sc::RecordBody::Builder body) {
  auto u = body.initPayload().initReleaseUpdate();
  u.setRelease(as_data(d.release));
  u.setModelDescription(d.model_description);
  u.setDescription(d.description);
  auto tags = u.initTags(static_cast<unsigned>(d.tags.size()));
  for (unsigned i = 0; i < d.tags.size(); ++i) tags.set(i, d.tags[i]);
  auto words = u.initTriggerWords(static_cast<unsigned>(d.trigger_words.size()));
  for (unsigned i = 0; i < d.trigger_words.size(); ++i) words.set(i, d.trigger_words[i]);
  auto images = u.initImages(static_cast<unsigned>(d.images.size()));
  for (unsigned i = 0; i < d.images.size(); ++i) fill_sample_image(d.images[i], images[i]);
  u.setNsfw(d.nsfw);
}

void fill(const CollectionDraft& d, sc::RecordBody::Builder body) {
  auto c = body.initPayload().initCollection();
  c.setSlug(d.slug);
  c.setDeleted(d.deleted);
  if (d.deleted) return;  // a deletion holds no name and no items
  c.setName(d.name);
  c.setDescription(d.description);
  auto items = c.initItems(static_cast<unsigned>(d.items.size()));
  for (unsigned i = 0; i < d.items.size(); ++i) {
    fill_subject(d.items[i].subject, items[i].initSubject());
    items[i].setNote(d.items[i].note);
  }
}

}  // namespace

CollectionDraft collection_draft_of(const Record& collection) {
  auto c = collection.body().getPayload().getCollection();
  CollectionDraft d;
  d.slug = c.getSlug().cStr();
  d.name = c.getName().cStr();
  d.description = c.getDescription().cStr();
  for (auto item : c.getItems()) d.items.push_back({read_subject(item.getSubject()), item.getNote().cStr()});
  d.deleted = c.getDeleted();
  return d;
}

std::string collection_slug_of(std::string_view name) {
  std::string slug = slugify(name);  // a model's slug, within a collection slug's 64 bytes
  if (slug.size() > 64) slug.resize(64);
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "collection" : slug;
}

ReleaseUpdateDraft update_draft_of(const Record& shown) {
  auto r = shown.body().getPayload().getRelease();
  ReleaseUpdateDraft d;
  d.release = shown.id();
  d.model_description = r.getModelDescription().cStr();
  d.description = r.getDescription().cStr();
  for (auto t : r.getTags()) d.tags.emplace_back(t.cStr());
  for (auto w : r.getTriggerWords()) d.trigger_words.emplace_back(w.cStr());
  for (auto img : r.getImages()) {
    ReleaseImage out;
    out.name = img.getName().cStr();
    if (img.getSha256().size() == 32) std::copy_n(img.getSha256().begin(), 32, out.sha256.begin());
    out.size = img.getSize();
    out.width = img.getWidth();
    out.height = img.getHeight();
    out.mime_type = img.getMimeType().cStr();
    out.nsfw = img.getNsfw();
    out.nsfw_level = img.getNsfwLevel();
    if (img.hasGeneration()) out.generation = read_generation(img.getGeneration());
    d.images.push_back(std::move(out));
  }
  d.nsfw = r.getNsfw();
  return d;
}

SubjectDraft read_subject(sc::Subject::Reader s) {
  SubjectDraft out;
  std::copy_n(s.getRelease().begin(), std::min<std::size_t>(32, s.getRelease().size()), out.release.begin());
  if (s.getImage().size() == 32) std::copy_n(s.getImage().begin(), 32, out.image.emplace().begin());
  if (s.getPost().size() == 32) std::copy_n(s.getPost().begin(), 32, out.post.emplace().begin());
  return out;
}

bool keeps_place(sc::Comment::Reader comment, sc::Comment::Reader edit) {
  auto same = [](capnp::Data::Reader x, capnp::Data::Reader y) {
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin());
  };
  return same(comment.getParent(), edit.getParent()) &&
         read_subject(comment.getSubject()) == read_subject(edit.getSubject());
}

std::optional<ReactionKind> parse_reaction(std::string_view name) {
  std::string lower(name);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::size_t i = 0; i < std::size(kReactionNames); ++i)
    if (lower == kReactionNames[i]) return static_cast<ReactionKind>(i);
  return std::nullopt;
}

KeyRotationDraft key_rotation_draft(const PublicKey& old_key, const SecretKey& new_key, std::uint64_t created_at_ms) {
  KeyRotationDraft draft;
  draft.new_key = new_key.public_key();
  draft.new_key_signature = new_key.sign(rotation_message(old_key, new_key.public_key(), created_at_ms));
  return draft;
}

std::string_view draft_kind(const CommunityDraft& draft) {
  return std::visit(
      Overloaded{[](const RatingDraft&) { return "rating"; }, [](const RetractionDraft&) { return "retraction"; },
                 [](const ProfileDraft&) { return "profile"; }, [](const ImagePostDraft&) { return "imagePost"; },
                 [](const KeyRotationDraft&) { return "keyRotation"; }, [](const DenyListDraft&) { return "denyList"; },
                 [](const ReactionDraft&) { return "reaction"; }, [](const CommentDraft&) { return "comment"; },
                 [](const ReleaseUpdateDraft&) { return "releaseUpdate"; },
                 [](const CollectionDraft&) { return "collection"; }},
      draft);
}

Status check_draft(const CommunityDraft& draft) {
  if (auto* rating = std::get_if<RatingDraft>(&draft); rating && (rating->stars < 1 || rating->stars > 5))
    return make_error(ErrorCode::invalid_argument, "stars must be 1 to 5");
  if (auto* profile = std::get_if<ProfileDraft>(&draft); profile && profile->display_name.empty())
    return make_error(ErrorCode::invalid_argument, "a profile needs a display name to show");
  if (auto* list = std::get_if<DenyListDraft>(&draft))
    for (const auto& e : list->entries)
      if (e.target == DenyEntryDraft::Target::nsfw_level && e.level != kPG && e.level != kPG13 && e.level != kR &&
          e.level != kX && e.level != kXXX)
        return make_error(ErrorCode::invalid_argument, "an image's level is PG, PG-13, R, X or XXX (1, 2, 4, 8, 16)");
  if (auto* rotation = std::get_if<KeyRotationDraft>(&draft); rotation && rotation->keep.size() > kMaxKeptRecords)
    return make_error(ErrorCode::limit, "a revocation can list at most " + std::to_string(kMaxKeptRecords) +
                                            " records, not " + std::to_string(rotation->keep.size()));
  if (auto* c = std::get_if<CommentDraft>(&draft)) {
    if (c->deleted && !c->edits) return make_error(ErrorCode::invalid_argument, "say which of your comments to delete");
    if (!c->deleted && c->text.find_first_not_of(" \t\r\n") == std::string::npos)
      return make_error(ErrorCode::invalid_argument, "a comment needs some text");
    if (c->text.size() > 8 * 1024)
      return make_error(ErrorCode::limit,
                        "a comment holds at most 8 KiB of text, not " + std::to_string(c->text.size()) + " bytes");
  }
  if (auto* u = std::get_if<ReleaseUpdateDraft>(&draft)) {
    std::vector<Sha256Digest> seen;
    for (const auto& img : u->images) {
      if (std::find(seen.begin(), seen.end(), img.sha256) != seen.end())
        return make_error(ErrorCode::invalid_argument, "an image is listed twice: " + to_hex(img.sha256));
      seen.push_back(img.sha256);
    }
  }
  if (auto* c = std::get_if<CollectionDraft>(&draft)) {
    if (!valid_collection_slug(c->slug))
      return make_error(ErrorCode::invalid_argument,
                        "'" + c->slug.substr(0, 100) +
                            "' is not a collection slug: give 1 to 64 characters of a-z, 0-9 and - (say, my-loras)");
    if (!c->deleted && c->name.find_first_not_of(" \t\r\n") == std::string::npos)
      return make_error(ErrorCode::invalid_argument, "a collection needs a name to show");
    if (!c->deleted && c->name.size() > 100)
      return make_error(ErrorCode::limit,
                        "a collection's name is at most 100 bytes, not " + std::to_string(c->name.size()));
    if (c->items.size() > 1000)
      return make_error(ErrorCode::limit,
                        "a collection holds at most 1000 items, not " + std::to_string(c->items.size()));
    for (std::size_t i = 0; i < c->items.size(); ++i) {
      const auto& s = c->items[i].subject;
      if (s.image && s.post)
        return make_error(ErrorCode::invalid_argument,
                          "an item names either an image of a release or a post, not both");
      for (std::size_t j = 0; j < i; ++j)
        if (c->items[j].subject == s) return make_error(ErrorCode::invalid_argument, "an item is listed twice");
    }
  }
  const SubjectDraft* subject = nullptr;
  if (const auto* r = std::get_if<ReactionDraft>(&draft)) subject = &r->subject;
  if (const auto* c = std::get_if<CommentDraft>(&draft)) subject = &c->subject;
  if (subject && subject->image && subject->post)
    return make_error(ErrorCode::invalid_argument, "name either an image of the release or a post, not both");
  return {};
}

void fill_draft(const CommunityDraft& draft, sc::RecordBody::Builder body) {
  std::visit([&](const auto& d) { fill(d, body); }, draft);
}

Result<Bytes> sign_draft(const SecretKey& key, std::string_view network, std::uint64_t created_at_ms,
                         const CommunityDraft& draft, std::uint32_t work_bits) {
  if (auto st = check_draft(draft); !st) return st.error();
  return sign_record(
      key, network, created_at_ms, [&](sc::RecordBody::Builder body) { fill_draft(draft, body); }, work_bits);
}

}  // namespace seedbank::protocol
