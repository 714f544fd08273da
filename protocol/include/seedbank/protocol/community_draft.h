// Community records from plain structs, as ReleaseDraft is for releases:
// one draft per kind, filled in by the command line and by the HTTP API
// alike, checked and signed here. Pure: no index, no store, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/record.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

// One key's stars for a release; a newer one of the same key replaces it.
struct RatingDraft {
  RecordId release{};
  unsigned stars = 0;  // 1 to 5
  std::string review;  // Markdown
};

// The author's withdrawal of a release. Only the release's author may sign
// it; the callers check that, since they name the key differently.
struct RetractionDraft {
  RecordId release{};
  std::string reason;
};

struct ProfileDraft {
  std::string display_name;  // not empty
  std::string bio;           // Markdown
  std::vector<std::string> links;
  std::optional<Sha256Digest> avatar;  // an image in the signer's store
};

// An image made with a release, with its generation parameters.
struct ImagePostDraft {
  RecordId release{};
  ReleaseImage image;
  std::string caption;
};

// Moves an identity to `new_key`. `new_key_signature` is the new key's
// signature of rotation_message(old, new, createdAt): make the draft with
// key_rotation_draft(), which signs it, and sign the record at the same time.
struct KeyRotationDraft {
  PublicKey new_key;
  Signature new_key_signature{};
  bool revoke_old = false;
  std::string reason;
  bool keep_listed = false;    // revoking: only `keep` of the old key's records still count
  std::vector<RecordId> keep;  // sorted; at most kMaxKeptRecords
};
KeyRotationDraft key_rotation_draft(const PublicKey& old_key, const SecretKey& new_key, std::uint64_t created_at_ms);

struct DenyEntryDraft {
  // nsfw_level: no denial; the image `bytes` (SHA-256) shows at `level` at
  // least on nodes following the curator.
  enum class Target { release, content_hash, creator, nsfw_level };
  Target target = Target::release;
  std::array<std::uint8_t, 32> bytes{};  // record id, SHA-256 or public key
  std::string reason;
  std::uint8_t level = 0;  // nsfw_level: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX
};
struct DenyListDraft {
  std::string name;  // a newer list of the same author and name replaces it
  std::vector<DenyEntryDraft> entries;
};

// What a reaction or comment is about (schema Subject): a release, one of
// its sample images (image set) or an image post about it (post set).
struct SubjectDraft {
  RecordId release{};
  std::optional<Sha256Digest> image;
  std::optional<RecordId> post;
  bool operator==(const SubjectDraft&) const = default;
};

// A record's Subject as a draft (its sizes as validate_body checks them).
SubjectDraft read_subject(schema::Subject::Reader subject);
// Whether `edit` keeps its comment's place: the same subject and parent. A
// node shows an edit elsewhere as no edit at all.
bool keeps_place(schema::Comment::Reader comment, schema::Comment::Reader edit);

// Civitai's reactions; `none` withdraws the key's reaction to the subject.
enum class ReactionKind : std::uint8_t { none = 0, like = 1, heart = 2, laugh = 3, cry = 4 };
inline constexpr std::string_view kReactionNames[] = {"none", "like", "heart", "laugh", "cry"};
std::optional<ReactionKind> parse_reaction(std::string_view name);  // "like", "Heart", ...

// One key's reaction to a subject; a newer one of the same key replaces it.
struct ReactionDraft {
  SubjectDraft subject;
  ReactionKind kind = ReactionKind::like;
};

// A comment (Markdown), a reply to a top-level comment (parent), or the
// author's edit or deletion of their own comment (edits, deleted).
struct CommentDraft {
  SubjectDraft subject;
  std::optional<RecordId> parent;
  std::string text;
  std::optional<RecordId> edits;
  bool deleted = false;
};

// What a release's page shows, as its author changes it: the whole new
// state of these fields (update_draft_of starts from the current one).
// Only the release's author may sign it; the callers check that.
struct ReleaseUpdateDraft {
  RecordId release{};
  std::string model_description;  // Markdown
  std::string description;        // Markdown: the version's notes
  std::vector<std::string> tags;
  std::vector<std::string> trigger_words;
  std::vector<ReleaseImage> images;  // the release's own, by SHA-256, in the order to show
  bool nsfw = false;
};
// The draft that changes nothing: the fields as `shown` (a release, or
// apply_update's result) has them.
ReleaseUpdateDraft update_draft_of(const Record& shown);

// A user's collection of releases and images, in order: the whole new
// state (a newer one of the same author and slug replaces it), or, with
// `deleted`, its withdrawal.
struct CollectionItemDraft {
  SubjectDraft subject;  // a release, one of its sample images, or a post about it
  std::string note;
  bool operator==(const CollectionItemDraft&) const = default;
};
struct CollectionDraft {
  std::string slug;  // valid_collection_slug
  std::string name;
  std::string description;  // Markdown
  std::vector<CollectionItemDraft> items;
  bool deleted = false;
};
// The draft that changes nothing: a collection record's fields.
CollectionDraft collection_draft_of(const Record& collection);
// A slug made from a name ("My LoRAs!" -> "my-loras"); "collection" when
// nothing of the name is left.
std::string collection_slug_of(std::string_view name);

using CommunityDraft = std::variant<RatingDraft, RetractionDraft, ProfileDraft, ImagePostDraft, KeyRotationDraft,
                                    DenyListDraft, ReactionDraft, CommentDraft, ReleaseUpdateDraft, CollectionDraft>;

// The kind as the command line and the API print it: "rating",
// "retraction", "profile", "imagePost", "keyRotation", "denyList",
// "reaction", "comment", "releaseUpdate", "collection".
std::string_view draft_kind(const CommunityDraft& draft);

// What a record's own limits (validate_body) do not say, with a message for
// the user: stars out of 1-5, an empty display name, too many kept records.
// Error: invalid_argument.
Status check_draft(const CommunityDraft& draft);

// Writes the draft into a body's payload.
void fill_draft(const CommunityDraft& draft, schema::RecordBody::Builder body);

// check_draft, then sign_record with fill_draft.
Result<Bytes> sign_draft(const SecretKey& key, std::string_view network, std::uint64_t created_at_ms,
                         const CommunityDraft& draft, std::uint32_t work_bits = kDefaultWorkBits);

}  // namespace seedbank::protocol
