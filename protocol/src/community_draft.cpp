#include "seedbank/protocol/community_draft.h"

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

}  // namespace

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
                 [](const ReactionDraft&) { return "reaction"; }, [](const CommentDraft&) { return "comment"; }},
      draft);
}

Status check_draft(const CommunityDraft& draft) {
  if (auto* rating = std::get_if<RatingDraft>(&draft); rating && (rating->stars < 1 || rating->stars > 5))
    return make_error(ErrorCode::invalid_argument, "stars must be 1 to 5");
  if (auto* profile = std::get_if<ProfileDraft>(&draft); profile && profile->display_name.empty())
    return make_error(ErrorCode::invalid_argument, "a profile needs a display name to show");
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
