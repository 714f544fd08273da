// The local index of verified records (LMDB).
//
// One Index owns one LMDB environment under a folder. Every record is
// verified before it is stored; the record and all the indexes derived from
// it are written in one write transaction, so a crash leaves either all of
// them or none. A record of a kind this version does not know
// (RecordKind::unknown) is stored, kept in for_each_by_time, counted for
// Admission and returned by get(), but feeds no view; a newer seedbank
// indexes it when it opens the folder. Thread-safe: any number of concurrent readers, writes are
// serialized. Reads see the last committed state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/record.h"
#include "seedbank/protocol/result.h"

namespace seedbank::indexer {

using protocol::Bytes;
using protocol::ByteView;
using protocol::PublicKey;
using protocol::Record;
using protocol::RecordId;
using protocol::Result;
using protocol::Status;

struct IndexOptions {
  std::filesystem::path dir;             // created (0700) when missing
  std::string network = "main";          // records of other networks are refused
  std::uint64_t map_size = 64ull << 30;  // upper bound of the file; disk is used as needed
  // Asked when a write finds the map full: the size limit now (a raised
  // indexSize, say). Larger than the map, the map grows to it (waiting for
  // open transactions to end) and the write goes on; unset, or not
  // larger: the write fails saying the index is full.
  std::function<std::uint64_t()> size_limit;
  unsigned verify_threads = 2;  // signature checks in batch ingest
  protocol::Log log;            // failures that lose nothing but are worth telling
  // Trend counters a write transaction sums in memory before it writes
  // them out (records can be made to change many).
  std::size_t max_trend_changes = 100000;
};

// How one record fared on ingest.
enum class IngestStatus {
  added,       // new, and now the current record for its key
  duplicate,   // already stored: nothing changed
  superseded,  // stored, but a newer record of the same author and target wins
  rejected,    // failed verification: not stored (see error)
};

// How hard a commit tries to survive power loss. Every commit is atomic and
// survives a crash of the process (kill -9) either way.
enum class Durability {
  // Records from peers: one fsync per commit; an OS crash or power loss may
  // undo the last commit, which set reconciliation then fetches again.
  replicated,
  // Records made on this node (publish, rate): fully synced before returning,
  // since no peer may have them yet.
  local,
};

// Spam resistance for records from peers: what ingest_batch asks before
// storing a verified record. Refusals are outcomes with error code refused.
struct Admission {
  // A record whose author has nothing stored here must carry a work stamp
  // of at least this many bits (protocol::work_bits); 0: no stamp needed.
  std::uint32_t new_key_work_bits = 0;
  // At most this many records per author dated within the last hour (by
  // createdAt); 0: no limit. Records dated earlier (a history being synced,
  // or back-dated to dodge this) are counted by when they arrive, with
  // kLateFactor times the room.
  std::uint32_t per_author_per_hour = 0;
  // Reactions and comments, the cheapest records to spam: each must carry
  // at least this many bits of work (0: none), and an author may have at
  // most social_per_hour of them per hour, counted as above (0: no limit).
  std::uint32_t social_work_bits = 0;
  std::uint32_t social_per_hour = 0;
};
inline constexpr std::uint64_t kLateFactor = 10;

struct IngestOutcome {
  IngestStatus status = IngestStatus::rejected;
  RecordId id{};
  protocol::Error error;  // set when rejected
};

// The hash types an alias can be. Stable: stored in keys.
enum class HashType : std::uint8_t {
  sha256 = 'S',  // file SHA-256 (AutoV2 is its 10-hex prefix)
  autov1 = '1',
  autov3 = '3',
  crc32 = 'C',
  pieces_root = 'P',  // BitTorrent v2 per-file merkle root
  btih_v1 = 'b',      // BitTorrent v1 info-hash (SHA-1)
  btih_v2 = 'B',      // BitTorrent v2 info-hash (SHA-256)
  release_id = 'R',   // a Seedbank release record id
};
std::string_view to_string(HashType type);  // "SHA256", "AutoV1", ...

inline constexpr std::uint16_t kReleaseLevel = 0xffff;  // match is the release, not one file
inline constexpr std::uint16_t kImageFlag = 0x8000;     // file index names a sample image

struct HashMatch {
  std::string matched_as;  // "SHA256", "AutoV2", "AutoV1", "AutoV3", "CRC32", "BTIHv1", "BTIHv2", ...
  HashType type = HashType::sha256;
  Bytes hash;  // the full stored hash that matched
  RecordId release{};
  std::uint16_t file = kReleaseLevel;  // index into files, or kImageFlag|index into images
};

// relevance: with `text`, how well the words find a release (model name,
// tags, trigger words, creator, version name, description, in that order
// of weight; whole words before prefixes), then newest.
enum class SortOrder { newest, highest_rated, relevance };

struct ReleaseQuery {
  std::optional<std::uint16_t> type;  // schema::ModelType value
  std::string base_model;             // exact, case-insensitive
  std::string tag;                    // exact, case-insensitive
  // Every word (at most 8) must start a word of the model or version name,
  // a tag, a trigger word, the description's first words, or the
  // creator's display name, or be the creator's key.
  std::string text;
  std::optional<PublicKey> creator;
  std::vector<PublicKey> any_creator;       // author is one of these (a profile name several keys use)
  std::vector<std::uint16_t> any_type;      // type is one of these
  std::vector<std::string> any_base_model;  // base model is one of these (case-insensitive)
  std::uint64_t created_after_ms = 0;       // a period: only releases made since
  bool hide_nsfw = false;
  // Leave out what a current deny-list of any of these curators names (the
  // release, its creator, or one of its files' or images' SHA-256).
  std::vector<PublicKey> deny_curators;
  // One item per model (author and slug): its newest version that is not
  // retracted; "highest rated" then ranks models by all their versions' ratings.
  bool models_only = false;
  SortOrder sort = SortOrder::newest;
  std::size_t limit = 20;  // 1..100
  std::string cursor;      // from a previous page's next_cursor
  bool include_retracted = false;
};

struct ReleasePage {
  std::vector<Record> items;
  std::string next_cursor;  // empty on the last page
};

struct RatingAggregate {
  std::uint32_t count = 0;        // current ratings, one per author
  std::uint64_t sum = 0;          // of stars
  std::uint32_t thumbs_up = 0;    // of them 4 or 5 stars
  std::uint32_t thumbs_down = 0;  // 1 or 2 stars
  std::uint32_t reviews = 0;      // with a review text
  double mean() const { return count ? static_cast<double>(sum) / count : 0.0; }
};

// An author's current key rotation (see KeyRotation in record.capnp).
struct Rotation {
  PublicKey new_key;
  bool revoked = false;      // the old key is compromised
  bool keep_listed = false;  // with revoked: only the records its keep list names count
  std::uint64_t at_ms = 0;   // the rotation's createdAt
  RecordId record{};
};

// A model groups the versions (releases) one author publishes under one
// slug: SHA-256 of "seedbank/model/v1\0" ++ author ++ slug.
using ModelKey = protocol::Sha256Digest;
ModelKey model_key(const PublicKey& author, std::string_view slug);
// A collection is named by its author and slug: SHA-256 of
// "seedbank/collection/v1\0" ++ author ++ slug; its number is numeric_id of it.
using CollectionKey = protocol::Sha256Digest;
CollectionKey collection_key(const PublicKey& author, std::string_view slug);
// Civitai's ids are integers; ours are the first 53 bits of a SHA-256 (a
// record id, a model key, a file's hash): stable, within JavaScript's safe
// integer range, never 0.
std::uint64_t numeric_id(const protocol::Sha256Digest& digest);

struct ModelInfo {
  ModelKey key{};
  std::optional<RecordId> head;    // newest version that is not retracted
  std::vector<RecordId> versions;  // newest first, retracted ones included (at most 100)
  std::uint32_t version_count = 0;
  RatingAggregate rating;  // over every version not retracted
};

struct TagCount {
  std::string name;  // as first written
  std::uint64_t models = 0;
};

struct CreatorCount {
  PublicKey key;
  std::uint64_t models = 0;
};

struct IndexStats {
  std::uint64_t records = 0;
  std::uint64_t by_kind[protocol::kRecordKinds] = {};  // by RecordKind; [0]: kinds this version does not know
};

// Where the index's bytes go: LMDB pages times the page size. The parts
// add up to `used`.
struct IndexSpace {
  std::uint64_t limit = 0;  // the map's size: the most the file may grow to
  std::uint64_t used = 0;   // pages written so far (data.mdb holds at least these)
  // By RecordKind: the kind's share of the records table (in proportion to
  // the signed bytes of its records) plus the views only that kind feeds.
  std::uint64_t by_kind[protocol::kRecordKinds] = {};
  std::uint64_t record_bytes[protocol::kRecordKinds] = {};  // the signed bytes of its records alone
  std::uint64_t shared = 0;  // views several kinds feed (time order, current records, counters, trends)
  std::uint64_t free = 0;    // pages free for reuse, and LMDB's own
};

// What a reaction or comment is about (schema Subject).
using Subject = protocol::SubjectDraft;
// The index's key for a subject: release ++ 'R', ++ 'I' ++ image SHA-256,
// or ++ 'P' ++ post id.
Bytes subject_key(const Subject& subject);

// Reactions (current ones, one per author) and comments (not deleted;
// replies to a top-level comment about the same subject included) on one
// subject. Deny-lists and revocations made later do not lower them.
struct SocialCounts {
  std::uint32_t like = 0, heart = 0, laugh = 0, cry = 0;
  std::uint32_t comments = 0;
  std::uint32_t reactions() const { return like + heart + laugh + cry; }
};

// A release as its author's update shows it (Index::updated).
struct UpdatedRelease {
  Record shown;
  RecordId update{};
  std::uint64_t updated_at = 0;  // the update's createdAt
};

// A subject in the order of its reactions or comments (Index::most_social).
struct RankedSubject {
  std::uint32_t count = 0;
  Subject subject;
  Bytes position;  // where a next call goes on from
};

// One record of the image feed (Index::image_feed).
struct FeedEntry {
  std::uint64_t created_at = 0;
  RecordId id{};
  bool operator==(const FeedEntry&) const = default;
};

// The series Index::trend counts as records arrive. Weekly series count
// per week since 1970 (trend_week); daily ones
// per day. Values are text, except where said.
enum class TrendSeries : char {
  releases_by_type = 'R',  // value: the Civitai type name ("LORA")
  releases_by_base = 'B',  // value: the base model as written ("SDXL 1.0"), "" when none
  posts_by_type = 'P',     // image posts by their release's type; "" when the release is not here
  posts_by_base = 'Q',     // ... and base model
  release_tags = 'T',      // value: a release's tag, lowercased
  // Generation data of sample images (under their release's week) and
  // image posts: value base model ++ '\0' ++ term (ASCII-lowercased phrases of
  // up to four words without A1111's weights, or a sentence's words).
  prompt_terms = 'W',
  all_prompt_terms = 'w',  // the same summed over base models; value: the term
  prompts = 'C',           // value: base model; images with a prompt
  prompt_words = 'L',      // value: base model; the words of those prompts, summed
  samplers = 'S',          // value: sampler name as written
  steps = 'N',             // value: step count in decimal, "150+" above 150
  reactions = 'r',         // daily; value: the 32-byte release id; current reactions on it or its images and posts
  ratings = 'g',           // daily; value: the 32-byte release id; current ratings of it
};

// Weeks since 1970 starting on Monday (1970-01-01 was a Thursday), days
// since 1970, and the first day of a week.
constexpr std::uint64_t kTrendDayMs = 86400000;
constexpr std::uint32_t trend_week(std::uint64_t ms) { return static_cast<std::uint32_t>((ms / kTrendDayMs + 3) / 7); }
constexpr std::uint32_t trend_day(std::uint64_t ms) { return static_cast<std::uint32_t>(ms / kTrendDayMs); }
constexpr std::int64_t trend_week_first_day(std::uint32_t week) { return static_cast<std::int64_t>(week) * 7 - 3; }

struct TrendCount {
  std::uint32_t period = 0;  // week or day since 1970
  std::string value;
  std::uint64_t count = 0;
};

class Index {
 public:
  static Result<std::unique_ptr<Index>> open(const IndexOptions& options);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  const std::string& network() const;

  // Verifies then stores one record (untrusted bytes).
  IngestOutcome ingest(ByteView bytes, Durability durability = Durability::replicated);
  // Verifies on verify_threads threads while this thread writes what is
  // verified, committing every 4,000 records (verification goes on during
  // each commit). Outcomes are in input order; returns once everything
  // stored is committed. A storage failure (disk full) stops the batch: the
  // groups committed before it stay stored, the rest are rejected with the
  // error. A full map is grown first when size_limit allows more, and the
  // rest of the batch stored then.
  std::vector<IngestOutcome> ingest_batch(std::span<const Bytes> records,
                                          Durability durability = Durability::replicated,
                                          const Admission& admission = {});

  bool contains(const RecordId& id) const;
  // Error not_found when absent.
  Result<Record> get(const RecordId& id) const;
  // A release as its author's current update shows it (protocol::
  // apply_update), with the update's id and time; nullopt when no update
  // applies (none, another key's, or one a revocation voided). For views
  // only: get() gives the signed record.
  std::optional<UpdatedRelease> updated(const Record& release) const;
  // The same as a record: updated()'s, or a copy of `release`.
  Record shown(const Record& release) const;
  // The update a release is shown with, if any.
  std::optional<RecordId> update_of(const Record& release) const;

  // Any hash people use (SHA256, AutoV2, AutoV1, AutoV3, CRC32, pieces root,
  // BitTorrent v1/v2 info-hash, release id), any case, or a hex prefix of at
  // least 8 digits. Also "sha256:<hex>", "urn:btih:<hex>" and
  // "urn:btmh:1220<hex>". Every match, deduplicated; error invalid_argument
  // when the text is no hash at all.
  Result<std::vector<HashMatch>> find_by_hash(std::string_view text, std::size_t limit = 100) const;

  // Whether one release passes every filter of `query` (cursor, limit and
  // sort aside).
  bool matches(const Record& release, const ReleaseQuery& query) const;
  // Releases matching every given filter, newest or highest rated first.
  Result<ReleasePage> query_releases(const ReleaseQuery& query) const;

  RatingAggregate rating(const RecordId& release) const;
  // The author's current record of `kind` for `target` (a release id for
  // ratings and retractions, empty for profiles), if any.
  std::optional<RecordId> current(protocol::RecordKind kind, const PublicKey& author, ByteView target = {}) const;
  bool is_retracted(const RecordId& release) const;
  // When this index stored a release (its own clock, ms since 1970); none
  // for releases stored by a seedbank older than this field.
  std::optional<std::uint64_t> arrived_ms(const RecordId& release) const;
  // Whether a current deny-list of one of `curators` names the release,
  // its creator, or the SHA-256 of one of its files or images.
  bool is_denied(const Record& release, const std::vector<PublicKey>& curators) const;
  // Whether a current deny-list of one of `curators` names this content
  // hash, or (when given) this creator.
  bool is_denied(const protocol::Sha256Digest& content, const std::vector<PublicKey>& curators,
                 const std::optional<PublicKey>& creator = std::nullopt) const;
  // The highest level the current lists of `curators` rate this image at
  // (schema CuratedLevel); 0 when none does.
  std::uint8_t curated_level(const protocol::Sha256Digest& image, const std::vector<PublicKey>& curators) const;
  // The author's current rotation to a new key, if any. Releases a revoking
  // rotation's old key signed after it are never listed (matches() is false).
  std::optional<Rotation> rotation(const PublicKey& author) const;
  // Whether its author's revoking rotation voids `rec`: signed after it, or
  // not in its keep list (KeyRotation.keep). Such records are kept (they
  // replicate) but never listed, served or counted.
  bool voided(const Record& rec) const;
  // Ids of the records `author` signed dated up to `until_ms`, oldest first.
  std::vector<RecordId> records_by(const PublicKey& author, std::uint64_t until_ms) const;

  IndexStats stats() const;
  // Reads one LMDB statistic per table: cheap, but not for every request.
  IndexSpace space() const;

  // ---- models, numeric ids, tags, creators (the HTTP API's views) ----
  std::optional<ModelInfo> model(const ModelKey& key) const;
  std::optional<ModelKey> model_by_number(std::uint64_t id) const;
  std::optional<RecordId> release_by_number(std::uint64_t id) const;
  // Tags by name (case-insensitive), from the first after `after`, only
  // those starting with `prefix`; counts are listed models (those with a
  // head) whose head has the tag. Tags no listed model has are left out.
  std::vector<TagCount> tags(std::string_view prefix, std::string_view after, std::size_t limit) const;
  // The most used tags (by listed models), most first, then by name. Reads
  // every tag: for an index page, not per item.
  std::vector<TagCount> top_tags(std::size_t limit) const;
  // Creators of listed models by key, from the first after `after` (empty:
  // the start).
  std::vector<CreatorCount> creators(const std::optional<PublicKey>& after, std::size_t limit) const;
  std::uint64_t model_count(const PublicKey& creator) const;
  // Keys whose current profile's display name is `name` (case-insensitive),
  // or starts with it when `prefix` is set.
  std::vector<PublicKey> keys_named(std::string_view name, bool prefix = false, std::size_t limit = 100) const;
  // Current ratings of a release (one per author), newest author key order.
  std::vector<RecordId> ratings_of(const RecordId& release, std::size_t limit) const;
  // Image posts about a release, newest first.
  std::vector<RecordId> posts_of(const RecordId& release, std::size_t limit) const;
  // The image feed, newest first: releases with sample images and image
  // posts, from `from` (inclusive: an entry a previous call returned) or
  // the newest, none created before `since_ms`; when `authors` are given,
  // only theirs. Retractions, deny-lists and policy are the caller's.
  std::vector<FeedEntry> image_feed(const std::optional<FeedEntry>& from, std::uint64_t since_ms,
                                    std::span<const PublicKey> authors, std::size_t limit) const;
  // Reactions and comments on a subject.
  SocialCounts social(const Subject& subject) const;
  // Images (a release's sample image or a post) with reactions (or, with
  // `comments`, comments), most first
  // (ties: by subject key, descending), from the one after `after` (a
  // `position` this returned) or the first.
  std::vector<RankedSubject> most_social(bool comments, const std::optional<Bytes>& after, std::size_t limit) const;
  // Top-level comments on a subject as first written (edits are found with
  // current(comment, author, id)), newest first, from the one before
  // `before` (exclusive) or the newest.
  std::vector<FeedEntry> comments_of(const Subject& subject, const std::optional<FeedEntry>& before,
                                     std::size_t limit) const;
  // Replies about `subject` to a top-level comment, as first written,
  // oldest first, from the one after `after` (exclusive) or the first.
  std::vector<FeedEntry> replies_of(const Subject& subject, const RecordId& comment,
                                    const std::optional<FeedEntry>& after, std::size_t limit) const;
  // Image posts and current profiles (avatars) that name this image's
  // SHA-256, or any image whose SHA-256 starts with `sha256` when fewer
  // than 32 bytes are given. Release sample images are found by
  // find_by_hash.
  std::vector<RecordId> records_naming_image(ByteView sha256, std::size_t limit) const;
  // ---- collections (schema Collection), one per author and slug ----
  // Current collections (deletions left out) by their current record's
  // createdAt, newest first, from the one after `after` (a previous
  // call's last entry) or the newest. Revocations are the caller's
  // (voided()).
  std::vector<FeedEntry> collections(const std::optional<FeedEntry>& after, std::size_t limit) const;
  // An author's current collections (deletions left out), in the order of
  // their slugs' SHA-256.
  std::vector<RecordId> collections_by(const PublicKey& author, std::size_t limit) const;
  // The current record of the collection numeric_id(collection_key(...))
  // names: possibly a deletion.
  std::optional<RecordId> collection_by_number(std::uint64_t id) const;

  // Ids of stored records that start with `prefix` (at most 32 bytes).
  std::vector<RecordId> ids_with_prefix(ByteView prefix, std::size_t limit) const;

  // ---- trends, counted as records arrive (not per request) ----
  // The counters of `series` for periods `from` to `to` (inclusive), whose
  // value starts with `value_prefix`, in (period, value) order; at most
  // `limit`. Every release counts (until retracted); image posts,
  // reactions and ratings as far as this index holds them. Deny-lists are
  // not applied (they are each viewer's choice); like SocialCounts, a
  // reaction or rating a revocation voids counts unless it arrived after
  // the revocation, and a revocation does not lower what it voids later.
  std::vector<TrendCount> trend(TrendSeries series, std::uint32_t from, std::uint32_t to,
                                std::string_view value_prefix = {}, std::size_t limit = 1000000) const;
  // The same without copies: `visit(period, value, count)` for each, until
  // it returns false; the value is valid during the call only.
  void each_trend(TrendSeries series, std::uint32_t from, std::uint32_t to, std::string_view value_prefix,
                  const std::function<bool(std::uint32_t, std::string_view, std::uint64_t)>& visit) const;

  // Record ids ordered by (createdAt, id), for set reconciliation: calls
  // `visit` from `after` on until it returns false.
  void for_each_by_time(std::uint64_t from_ms, const std::function<bool(std::uint64_t, const RecordId&)>& visit) const;

 private:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  // ingest_batch without the growth; *full_at: the map's size when a write
  // found it full.
  std::vector<IngestOutcome> ingest_once(std::span<const Bytes> records, Durability durability,
                                         const Admission& admission, std::optional<std::uint64_t>* full_at);
  std::unique_ptr<Impl> impl_;
};

// The key under which a record replaces an older one of the same author
// (rating: the release; profile: nothing; deny list: its name; reaction:
// its subject_key; comment: the comment it edits, or its own id; release
// update: the release; collection: the SHA-256 of its slug). nullopt
// for kinds that are never replaced (release, image post).
std::optional<Bytes> replacement_target(const Record& record);

}  // namespace seedbank::indexer
