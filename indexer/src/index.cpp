#include "seedbank/indexer/index.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "key_codec.h"
#include "lmdb_txn.h"
#include "seedbank/protocol/util.h"
#include "trends.h"

namespace seedbank::indexer {
namespace {

namespace sc = seedbank::schema;
using keys::append;
using keys::get_be;
using keys::put_be;
using protocol::ErrorCode;
using protocol::make_error;
using protocol::RecordKind;

// 2 added models, numeric ids, tags, creators, names and rel_ratings; an
// index of format 1 is upgraded in place when opened (see migrate_from_1).
// 3 added `opaque` and may hold records of kinds from a newer schema, which
// a format 2 seedbank would misread; a format 2 index needs no change.
// Later kinds need no new format: see reindex_opaque.
// 4 added `image_refs` (which posts and profiles name an image), built from
// the stored records when an older index is opened (build_image_refs).
// 5 added `image_feed` and `author_feed` (releases with sample images and
// image posts, newest first), built the same way (build_image_feed).
// Reactions and comments (format 5 too) need no new format: an older index
// has none, and their tables start empty.
// 6 added `trends` (counters per week and day), built from the stored
// records when an older index is opened (build_trends).
constexpr std::string_view kSchemaVersion = "6";
constexpr std::size_t kMaxQueryScan = 100000;  // candidates one page may examine
constexpr std::size_t kCommitGroup = 4000;     // records per write transaction in a large batch
constexpr std::uint64_t kHourMs = 3600 * 1000;
constexpr std::size_t kMaxWaitingReplies = 1000;  // replies that came before their comment, counted when it arrives
// How long a resize of the map waits for open transactions to end (every
// one in this file is short; a caller's slow visit callback is not).
constexpr std::chrono::milliseconds kQuiesceWait{10000};

// Every named database; docs/architecture.md describes each key.
struct Dbs {
  MDB_dbi meta, records, by_time, hashes, rel_time, rel_creator, rel_type, rel_base, rel_tag, rel_word, rel_rating, agg,
      current, posts, models, rel_model, model_rating, ids, tags, creators, names, rel_ratings, denied, author_time,
      author_hour, rotations, opaque, image_refs, arrived, image_feed, author_feed, social, comments, replies, terms,
      name_words, social_rank, collections, trends;
};

// image_refs: <image sha256> ++ <record id> -> (empty), for every image post
// and every current profile's avatar.
Bytes image_ref_key(capnp::Data::Reader sha256, const RecordId& record) {
  Bytes k(sha256.begin(), sha256.end());
  append(k, ByteView(record));
  return k;
}

// What `models` holds per model key.
struct ModelEntry {
  RecordId head{};  // all zero: every version is retracted
  std::uint64_t head_t = 0;
  RatingAggregate agg;
  std::uint32_t versions = 0;
  bool has_head() const { return head != RecordId{}; }
};

Bytes encode_model(const ModelEntry& m) {
  Bytes v(m.head.begin(), m.head.end());
  put_be(v, m.head_t, 8);
  put_be(v, m.agg.count, 4);
  put_be(v, m.agg.sum, 8);
  put_be(v, m.versions, 4);
  put_be(v, m.agg.thumbs_up, 4);
  put_be(v, m.agg.thumbs_down, 4);
  put_be(v, m.agg.reviews, 4);
  return v;
}

std::optional<ModelEntry> decode_model(std::optional<ByteView> v) {
  if (!v || v->size() != 68) return std::nullopt;
  ModelEntry m;
  std::memcpy(m.head.data(), v->data(), 32);
  m.head_t = get_be(*v, 32, 8);
  m.agg.count = static_cast<std::uint32_t>(get_be(*v, 40, 4));
  m.agg.sum = get_be(*v, 44, 8);
  m.versions = static_cast<std::uint32_t>(get_be(*v, 52, 4));
  m.agg.thumbs_up = static_cast<std::uint32_t>(get_be(*v, 56, 4));
  m.agg.thumbs_down = static_cast<std::uint32_t>(get_be(*v, 60, 4));
  m.agg.reviews = static_cast<std::uint32_t>(get_be(*v, 64, 4));
  return m;
}

// The smallest key greater than every key starting with `prefix`; empty
// when there is none (all 0xff).
Bytes prefix_successor(Bytes prefix) {
  while (!prefix.empty()) {
    if (prefix.back() != 0xff) {
      ++prefix.back();
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

Bytes number_key(char kind, std::uint64_t n) {
  Bytes k{static_cast<std::uint8_t>(kind)};
  put_be(k, n, 8);
  return k;
}

Bytes time_id(std::uint64_t t, const RecordId& id) {
  Bytes k;
  put_be(k, t, 8);
  append(k, id);
  return k;
}

Bytes id_bytes(const RecordId& id) { return Bytes(id.begin(), id.end()); }

ByteView data_view(capnp::Data::Reader d) { return ByteView(d.begin(), d.size()); }
std::string_view text_view(capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); }

RecordId to_id(ByteView b) {
  RecordId id{};
  std::memcpy(id.data(), b.data(), 32);
  return id;
}

// Sort score for "highest rated": a Bayesian mean (three phantom 3-star
// votes), so one 5-star rating does not outrank a hundred 4.9s; unrated last.
Bytes rating_key(const RatingAggregate& agg, std::uint64_t t, const RecordId& id) {
  Bytes k;
  double score = agg.count ? (static_cast<double>(agg.sum) + 9.0) / (agg.count + 3.0) : 0.0;
  put_be(k, static_cast<std::uint64_t>(std::llround(score * 1e6)), 4);
  put_be(k, agg.count, 4);
  put_be(k, t, 8);
  append(k, id);
  return k;
}

Bytes hash_key(HashType type, ByteView hash) {
  Bytes k{static_cast<std::uint8_t>(type)};
  append(k, hash);
  return k;
}

Bytes hash_value(const RecordId& release, std::uint16_t file) {
  Bytes v = id_bytes(release);
  put_be(v, file, 2);
  return v;
}

Bytes current_key(RecordKind kind, const PublicKey& author, ByteView target) {
  Bytes k{static_cast<std::uint8_t>(kind)};
  append(k, author.bytes);
  append(k, target);
  return k;
}

struct CurrentEntry {
  RecordId id;
  std::uint64_t t;
};

std::optional<CurrentEntry> parse_current(std::optional<ByteView> v) {
  if (!v || v->size() != 40) return std::nullopt;
  return CurrentEntry{to_id(*v), get_be(*v, 32, 8)};
}

// social values: like, heart, laugh, cry and comments, u32be each.
SocialCounts decode_social(std::optional<ByteView> v) {
  SocialCounts c;
  if (!v || v->size() < 20) return c;
  c.like = static_cast<std::uint32_t>(get_be(*v, 0, 4));
  c.heart = static_cast<std::uint32_t>(get_be(*v, 4, 4));
  c.laugh = static_cast<std::uint32_t>(get_be(*v, 8, 4));
  c.cry = static_cast<std::uint32_t>(get_be(*v, 12, 4));
  c.comments = static_cast<std::uint32_t>(get_be(*v, 16, 4));
  return c;
}

Bytes encode_social(const SocialCounts& c) {
  Bytes v;
  for (auto n : {c.like, c.heart, c.laugh, c.cry, c.comments}) put_be(v, n, 4);
  return v;
}

// social_rank: 'R' (reactions) or 'C' (comments) ++ count u32be ++ subject
// key, for every subject with a count above 0: walked backwards, the most
// reacted or commented first.
Bytes social_rank_key(char by, std::uint32_t count, ByteView subject) {
  Bytes k{static_cast<std::uint8_t>(by)};
  put_be(k, count, 4);
  append(k, subject);
  return k;
}

// Images (a release's or a post's) are ranked; releases are not (the
// images feed is what ranks, and releases have their own orders).
bool ranked_subject(ByteView subject_key) { return subject_key.size() == 65; }

// A subject key back into its parts (nullopt: not one).
std::optional<Subject> parse_subject_key(ByteView k) {
  if (k.size() != 33 && k.size() != 65) return std::nullopt;
  Subject s{to_id(k.first(32)), std::nullopt, std::nullopt};
  if (k.size() == 33) return k[32] == 'R' ? std::optional<Subject>(s) : std::nullopt;
  if (k[32] == 'I')
    s.image = to_id(k.subspan(33));
  else if (k[32] == 'P')
    s.post = to_id(k.subspan(33));
  else
    return std::nullopt;
  return s;
}

// The counter of a reaction kind (none, or one from a newer schema: none).
std::uint32_t* reaction_counter(SocialCounts& c, sc::ReactionKind kind) {
  switch (kind) {
    case sc::ReactionKind::LIKE:
      return &c.like;
    case sc::ReactionKind::HEART:
      return &c.heart;
    case sc::ReactionKind::LAUGH:
      return &c.laugh;
    case sc::ReactionKind::CRY:
      return &c.cry;
    default:
      return nullptr;
  }
}

// ---- search ----
// terms: word ++ 0x00 ++ release id -> fields u8 ++ createdAt u64be, for
// every word a release is found by; name_words: word ++ 0x00 ++ author, for
// the words of every current profile's display name. A query word matches
// the words it starts; a whole word counts twice.
enum : std::uint8_t { kFieldName = 1, kFieldVersion = 2, kFieldTag = 4, kFieldTrigger = 8, kFieldDescription = 16 };
constexpr std::uint32_t kCreatorWeight = 6;
constexpr std::size_t kDescriptionBytes = 1024, kDescriptionWords = 64;  // of a description, what is searched
constexpr std::size_t kMaxQueryWords = 8;
// A word finding more releases than this is common: the page then walks its
// sort order and checks each release (matches are dense), unless a rarer
// word gathers the candidates.
constexpr std::size_t kMaxSearchGather = 20000;

std::uint32_t field_weight(std::uint8_t fields) {
  if (fields & kFieldName) return 8;
  if (fields & kFieldTag) return 5;
  if (fields & kFieldTrigger) return 4;
  if (fields & kFieldVersion) return 3;
  return fields & kFieldDescription ? 1 : 0;
}

// The words a release is found by, each with the fields it is in.
std::map<std::string, std::uint8_t> release_terms(sc::Release::Reader r) {
  std::map<std::string, std::uint8_t> out;
  auto add = [&](std::string_view text, std::size_t max_words, std::uint8_t field) {
    for (auto& w : keys::words(text, max_words)) out[w] |= field;
  };
  add(text_view(r.getModelName()), 16, kFieldName);
  add(text_view(r.getVersionName()), 16, kFieldVersion);
  for (auto tag : r.getTags()) add(text_view(tag), 8, kFieldTag);
  auto triggers = r.getTriggerWords();
  for (unsigned i = 0; i < triggers.size() && i < 32; ++i) add(text_view(triggers[i]), 8, kFieldTrigger);
  for (auto text : {r.getDescription(), r.getModelDescription()})
    for (auto& w : keys::first_words(text_view(text).substr(0, kDescriptionBytes), kDescriptionWords, 3))
      out[w] |= kFieldDescription;
  return out;
}

Bytes term_key(std::string_view word, ByteView id) {
  Bytes k;
  append(k, word);
  k.push_back(0);
  append(k, id);
  return k;
}

// A query's words: creator keys (sbpk1..., whole, in lowercase) and the
// words of the rest, at most kMaxQueryWords.
std::vector<std::string> search_words(std::string_view text) {
  std::vector<std::string> out;
  std::string rest;
  std::size_t i = 0;
  while (i < text.size()) {
    auto end = text.find_first_of(" \t\r\n", i);
    if (end == std::string_view::npos) end = text.size();
    auto token = text.substr(i, end - i);
    if (auto key = PublicKey::from_text(token))
      out.push_back(key->to_text());
    else
      rest.append(token).push_back(' ');
    i = end + 1;
  }
  // The words as typed, so that a long query keeps its first ones.
  for (auto& w : keys::first_words(rest, kMaxQueryWords, 1)) out.push_back(std::move(w));
  if (out.size() > kMaxQueryWords) out.resize(kMaxQueryWords);
  return out;
}

struct IdHash {
  std::size_t operator()(const RecordId& id) const {
    std::size_t h = 0;
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};

}  // namespace

std::string_view to_string(HashType type) {
  static constexpr std::pair<HashType, std::string_view> kNames[] = {
      {HashType::sha256, "SHA256"},  {HashType::autov1, "AutoV1"},          {HashType::autov3, "AutoV3"},
      {HashType::crc32, "CRC32"},    {HashType::pieces_root, "PiecesRoot"}, {HashType::btih_v1, "BTIHv1"},
      {HashType::btih_v2, "BTIHv2"}, {HashType::release_id, "ReleaseId"}};
  for (const auto& [t, name] : kNames)
    if (t == type) return name;
  return "?";
}

namespace {

// SHA-256 of domain ++ 0x00 ++ author ++ slug: a name of an author's
// thing that stays the same across its records.
protocol::Sha256Digest author_slug_key(std::string_view domain, const PublicKey& author, std::string_view slug) {
  Bytes input;
  append(input, domain);
  input.push_back(0);
  append(input, author.bytes);
  append(input, slug);
  return protocol::record_id_of(input);
}

}  // namespace

ModelKey model_key(const PublicKey& author, std::string_view slug) {
  return author_slug_key("seedbank/model/v1", author, slug);
}

CollectionKey collection_key(const PublicKey& author, std::string_view slug) {
  return author_slug_key("seedbank/collection/v1", author, slug);
}

std::uint64_t numeric_id(const protocol::Sha256Digest& d) {
  std::uint64_t v = 0;
  for (int i = 0; i < 7; ++i) v = (v << 8) | d[static_cast<std::size_t>(i)];
  v >>= 3;  // 53 bits
  return v ? v : 1;
}

std::optional<Bytes> replacement_target(const Record& record) {
  auto p = record.body().getPayload();
  switch (record.kind()) {
    case RecordKind::rating: {
      auto b = data_view(p.getRating().getRelease());
      return Bytes(b.begin(), b.end());
    }
    case RecordKind::retraction: {
      auto b = data_view(p.getRetraction().getRelease());
      return Bytes(b.begin(), b.end());
    }
    case RecordKind::profile:
    case RecordKind::key_rotation:
      return Bytes{};
    case RecordKind::deny_list: {
      auto name = text_view(p.getDenyList().getName());
      auto h = protocol::record_id_of(protocol::as_bytes(name));  // SHA-256 of the list name
      return Bytes(h.begin(), h.end());
    }
    case RecordKind::reaction:
      return subject_key(protocol::read_subject(p.getReaction().getSubject()));
    case RecordKind::release_update: {
      auto b = data_view(p.getReleaseUpdate().getRelease());
      return Bytes(b.begin(), b.end());
    }
    case RecordKind::comment: {
      auto edits = data_view(p.getComment().getEdits());
      if (edits.size() == 32) return Bytes(edits.begin(), edits.end());
      return id_bytes(record.id());
    }
    case RecordKind::collection: {
      auto h =
          protocol::record_id_of(protocol::as_bytes(text_view(p.getCollection().getSlug())));  // SHA-256 of the slug
      return Bytes(h.begin(), h.end());
    }
    case RecordKind::release:
    case RecordKind::image_post:
    case RecordKind::unknown:  // kept opaque: replaces nothing
      return std::nullopt;
  }
  return std::nullopt;
}

Bytes subject_key(const Subject& subject) {
  Bytes k = id_bytes(subject.release);
  if (subject.post) {
    k.push_back('P');
    append(k, ByteView(*subject.post));
  } else if (subject.image) {
    k.push_back('I');
    append(k, ByteView(*subject.image));
  } else {
    k.push_back('R');
  }
  return k;
}

struct Index::Impl {
  IndexOptions options;
  MDB_env* env = nullptr;
  Dbs db{};
  std::mutex write_mutex;
  mutable lmdb::Gate gate;
  // The size limit: options.map_size, or what grow() raised it to.
  mutable std::atomic<std::uint64_t> limit{0};
  mutable std::atomic<bool> unusable{false};  // a failed resize left no map
  // The map's size, as set at open and by resize() (readable without a
  // transaction, unlike map_size()).
  mutable std::atomic<std::uint64_t> mapped{0};
  // Meta `bytes` may follow count/<kind>: bytes/<kind> were in step when
  // this process opened the index (or counted them then). Set at open,
  // read under write_mutex.
  bool bytes_in_step = false;
  // Trend counters changed by the open write transaction (under
  // write_mutex), written by flush_trends before it commits.
  trends::Changes trend_changes;

  ~Impl() {
    if (env) mdb_env_close(env);
  }

  Result<lmdb::Txn> begin(bool write) const {
    if (unusable)
      return make_error(ErrorCode::io,
                        "index: its map could not be set up again after a resize failed (out of address space?); "
                        "restart seedbank");
    int rc = 0;
    lmdb::Txn txn(env, &gate, write, &rc);
    // Another process (a command on this data dir given a larger size)
    // grew the map past ours: adopt its size, then begin again.
    if (rc == MDB_MAP_RESIZED && adopt_size()) txn = lmdb::Txn(env, &gate, write, &rc);
    if (rc) return lmdb::lmdb_error(write ? "begin write" : "begin read", rc);
    return txn;
  }

  // The map's size now (LMDB's, which may be above the size asked for).
  // Reads the environment's meta pages: call it with a transaction open,
  // or inside a quiesce; elsewhere read `mapped`.
  std::uint64_t map_size() const {
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    return info.me_mapsize;
  }

  // Resizes the map to `size` (LMDB raises a size below the data to the
  // data's) when `wanted(current size)` says so, with no transaction open.
  // False when nothing changed. A failed resize leaves LMDB without a map
  // (it cannot map the old size again): the index then refuses every
  // transaction, saying to restart.
  bool resize(std::size_t size, const std::function<bool(std::uint64_t)>& wanted = {}) const {
    int rc = -1;
    bool skipped = false;
    const bool quiet = gate.quiesce(kQuiesceWait, [&] {
      if (unusable) return;
      if (wanted && !wanted(map_size())) {
        skipped = true;
        return;
      }
      rc = mdb_env_set_mapsize(env, size);
      if (rc)
        unusable = true;
      else
        mapped = map_size();
    });
    if (!quiet) {
      options.log.warn(
          "index: could not resize the map now (a transaction was open: this thread's, or one that stayed open for " +
          std::to_string(kQuiesceWait.count() / 1000) + " s); trying again at the next write");
      return false;
    }
    if (rc && !skipped && !unusable.load()) options.log.warn(lmdb::lmdb_error("resize the map", rc).message);
    if (rc && unusable) options.log.error(lmdb::lmdb_error("resize the map", rc).message + "; restart seedbank");
    return rc == 0;
  }
  // Another process wrote past our map: map what it wrote, and no more
  // than our own limit beyond it (LMDB raises a size below the data to the
  // data's; its own choice, the largest size any process ever used, could
  // be far above this node's limit).
  bool adopt_size() const { return resize(static_cast<std::size_t>(limit.load())); }

  // A write found the map full when it was `full_at` bytes: grow it to the
  // limit options.size_limit gives now (a raised indexSize), when that is
  // larger. True when the map is now larger than `full_at` (also when
  // another writer grew it meanwhile): the write may be tried again.
  bool grow(std::uint64_t full_at) const {
    if (unusable || !options.size_limit) return false;
    if (mapped.load() > full_at) return true;  // grown meanwhile
    const std::uint64_t want = options.size_limit();
    if (want > std::numeric_limits<std::size_t>::max()) return false;
    std::uint64_t before = 0;
    bool meanwhile = false;
    const bool grown = resize(static_cast<std::size_t>(want), [&](std::uint64_t now) {
      before = now;
      meanwhile = now > full_at;
      return !meanwhile && want > now;
    });
    if (meanwhile) return true;
    if (!grown) return false;
    limit = want;
    options.log.info("index: size limit raised from " + std::to_string(before) + " to " + std::to_string(want) +
                     " bytes (the data dir's indexSize); storing again");
    return true;
  }

  // ---- ingest ----

  Result<IngestStatus> apply(lmdb::Txn& txn, const Record& rec, std::uint64_t arrival_ms) {
    if (txn.get(db.records, rec.id())) return IngestStatus::duplicate;
    // Every record, of a known kind or not, is stored, in the reconciliation
    // order, and counted per author for Admission.
    if (auto st = txn.put(db.records, rec.id(), rec.bytes()); !st) return st.error();
    if (auto st = txn.put(db.by_time, time_id(rec.created_at(), rec.id()), {}); !st) return st.error();
    if (auto st = txn.put(db.author_time, author_time_key(rec), {}); !st) return st.error();
    if (auto st = bump(txn, db.author_hour, hour_bucket(rec, arrival_ms), {}); !st) return st.error();
    if (is_social(rec)) {
      bool late = is_late(rec, arrival_ms);
      Bytes k = social_hour_key(rec.author(), (late ? arrival_ms : rec.created_at()) / kHourMs, late);
      if (auto st = bump(txn, db.author_hour, k, {}); !st) return st.error();
    }
    if (rec.kind() == RecordKind::unknown) {
      // A kind from a newer schema: kept and relayed, never read, until a
      // seedbank that knows the kind opens this index (reindex_opaque).
      Bytes tag;
      put_be(tag, rec.payload_tag(), 2);
      if (auto st = txn.put(db.opaque, rec.id(), tag); !st) return st.error();
      return IngestStatus::added;
    }
    if (rec.kind() == RecordKind::release) {
      // When this node first had it: between releases of identical bytes,
      // the one seen first wins (createdAt is the author's to choose).
      Bytes when;
      put_be(when, arrival_ms, 8);
      if (auto st = txn.put(db.arrived, rec.id(), when); !st) return st.error();
    }
    return derive(txn, rec);
  }

  // The views a stored record of a known kind feeds.
  Result<IngestStatus> derive(lmdb::Txn& txn, const Record& rec) {
    auto thread = comment_thread(txn, rec);
    auto status = derive_views(txn, rec);
    if (!status) return status;
    if (thread)
      if (auto st = count_comment(txn, *thread); !st) return st.error();
    return status;
  }

  // Comments are counted per subject: those whose first version is stored,
  // whose current version is not a deletion, and, for a reply, whose parent
  // is a stored top-level comment about the same subject. The count is the
  // same whatever order the records arrive in, and another key's "edit" of
  // a comment changes nothing.
  struct CommentThread {
    RecordId original;
    bool was_counted;  // before this record
    bool first;        // this record is the original
  };
  std::optional<CommentThread> comment_thread(const lmdb::Txn& txn, const Record& rec) const {
    if (rec.kind() != RecordKind::comment) return std::nullopt;
    auto edits = data_view(rec.body().getPayload().getComment().getEdits());
    if (edits.size() != 32) return CommentThread{rec.id(), false, true};  // the original itself, stored just now
    auto original = load(txn, to_id(edits));
    if (!original || original->kind() != RecordKind::comment || original->author() != rec.author()) return std::nullopt;
    return CommentThread{original->id(), comment_counts(txn, *original), false};
  }
  bool comment_counts(const lmdb::Txn& txn, const Record& original) const {
    auto c = original.body().getPayload().getComment();
    if (c.getEdits().size()) return false;  // an edit: counted through its original
    auto cur = parse_current(txn.get(db.current, current_key(RecordKind::comment, original.author(), original.id())));
    if (!cur) return false;  // signed by a revoked key: it never became current
    if (cur->id != original.id()) {
      // The current edit counts when it keeps the comment's place (as shown).
      auto edit = load(txn, cur->id);
      if (edit && edit->kind() == RecordKind::comment &&
          protocol::keeps_place(c, edit->body().getPayload().getComment()) &&
          edit->body().getPayload().getComment().getDeleted())
        return false;
    }
    if (c.getParent().size() == 32) {
      auto parent = load(txn, to_id(data_view(c.getParent())));
      if (!parent || parent->kind() != RecordKind::comment) return false;
      auto pc = parent->body().getPayload().getComment();
      if (pc.getParent().size() || pc.getEdits().size()) return false;
      if (subject_key(protocol::read_subject(pc.getSubject())) != subject_key(protocol::read_subject(c.getSubject())))
        return false;
    }
    return true;
  }
  Status add_comments(lmdb::Txn& txn, const Bytes& subject, int delta) {
    SocialCounts before = decode_social(txn.get(db.social, subject));
    if (delta < 0 && before.comments == 0) return {};
    SocialCounts after = before;
    after.comments = static_cast<std::uint32_t>(after.comments + delta);
    return write_social(txn, subject, before, after);
  }
  // A subject's counts, and its place in social_rank.
  Status write_social(lmdb::Txn& txn, const Bytes& subject, const SocialCounts& before, const SocialCounts& after) {
    for (auto [by, was, now] :
         {std::tuple{'R', before.reactions(), after.reactions()}, std::tuple{'C', before.comments, after.comments}}) {
      if (was == now || !ranked_subject(subject)) continue;
      if (was)
        if (auto st = txn.del(db.social_rank, social_rank_key(by, was, subject)); !st) return st;
      if (now)
        if (auto st = txn.put(db.social_rank, social_rank_key(by, now, subject), {}); !st) return st;
    }
    return txn.put(db.social, subject, encode_social(after));
  }
  // social_rank for an index written before it, or by a seedbank that
  // kept `social` without it: afresh from `social`.
  Status build_social_rank(lmdb::Txn& txn) {
    if (int rc = txn.noted(mdb_drop(txn.get(), db.social_rank, 0))) return lmdb::lmdb_error("clear social_rank", rc);
    std::vector<std::pair<Bytes, SocialCounts>> all;
    lmdb::Cursor c(txn, db.social);
    for (bool ok = c.first(); ok; ok = c.next())
      all.emplace_back(Bytes(c.key().begin(), c.key().end()), decode_social(c.value()));
    for (const auto& [subject, counts] : all)
      for (auto [by, n] : {std::pair{'R', counts.reactions()}, std::pair{'C', counts.comments}})
        if (n && ranked_subject(subject))
          if (auto st = txn.put(db.social_rank, social_rank_key(by, n, subject), {}); !st) return st;
    return {};
  }
  // What meta `social_rank` holds: the reactions and comments stored when
  // social_rank was last in step (a seedbank older than it stores them
  // without keeping it, and the next open sees that).
  Bytes social_counts_stored(const lmdb::Txn& txn) const {
    Bytes v;
    for (const char* kind : {"count/reaction", "count/comment"}) {
      std::uint64_t n = 0;
      if (auto c = txn.get(db.meta, protocol::as_bytes(kind)); c && c->size() == 8) n = get_be(*c, 0, 8);
      put_be(v, n, 8);
    }
    return v;
  }
  Status count_comment(lmdb::Txn& txn, const CommentThread& thread) {
    auto original = load(txn, thread.original);
    if (!original) return {};
    auto c = original->body().getPayload().getComment();
    Bytes subject = subject_key(protocol::read_subject(c.getSubject()));
    bool now = comment_counts(txn, *original);
    if (now != thread.was_counted)
      if (auto st = add_comments(txn, subject, now ? 1 : -1); !st) return st;
    // A top-level comment arriving: replies to it that came first count now.
    if (!thread.first || c.getParent().size()) return {};
    Bytes prefix = subject;
    append(prefix, ByteView(original->id()));
    std::vector<RecordId> waiting;
    lmdb::Cursor cur(txn, db.replies);
    for (bool ok = cur.seek(prefix); ok && waiting.size() < kMaxWaitingReplies && keys::starts_with(cur.key(), prefix);
         ok = cur.next())
      if (cur.key().size() == prefix.size() + 40) waiting.push_back(to_id(cur.key().subspan(prefix.size() + 8)));
    for (const auto& id : waiting)
      if (auto reply = load(txn, id); reply && comment_counts(txn, *reply))
        if (auto st = add_comments(txn, subject, 1); !st) return st;
    return {};
  }

  Result<IngestStatus> derive_views(lmdb::Txn& txn, const Record& rec) {
    if (rec.kind() == RecordKind::key_rotation)
      if (auto st = index_rotation(txn, rec); !st) return st.error();

    if (rec.kind() == RecordKind::comment)
      if (auto st = index_comment(txn, rec); !st) return st.error();
    auto target = replacement_target(rec);
    if (target) {
      auto author = rec.author();
      // A key revoked by its rotation signs nothing that counts after it:
      // no later rotation (a thief cannot undo the revocation), rating,
      // profile, retraction or deny-list. The record is kept (it replicates).
      if (voided(txn, rec)) return IngestStatus::superseded;
      Bytes ckey = current_key(rec.kind(), author, *target);
      auto previous = parse_current(txn.get(db.current, ckey));
      if (previous && std::tie(previous->t, previous->id) > std::make_tuple(rec.created_at(), rec.id()))
        return IngestStatus::superseded;
      Bytes value = id_bytes(rec.id());
      put_be(value, rec.created_at(), 8);
      if (auto st = txn.put(db.current, ckey, value); !st) return st.error();
      if (rec.kind() == RecordKind::rating) {
        if (auto st = apply_rating(txn, rec, previous); !st) return st.error();
      }
      if (auto st = apply_current(txn, rec, previous ? &previous->id : nullptr); !st) return st.error();
    }
    if (rec.kind() == RecordKind::release) {
      if (auto st = index_release(txn, rec); !st) return st.error();
      if (auto st = index_model(txn, rec); !st) return st.error();
      if (auto st = count_release_trends(txn, rec); !st) return st.error();
    }
    if (auto st = index_feed(txn, rec); !st) return st.error();
    if (rec.kind() == RecordKind::image_post) {
      auto release = load(txn, to_id(data_view(rec.body().getPayload().getImagePost().getRelease())));
      trends::count_post(trend_changes, rec, release ? &*release : nullptr, +1);
      Bytes k;
      append(k, data_view(rec.body().getPayload().getImagePost().getRelease()));
      append(k, time_id(rec.created_at(), rec.id()));
      if (auto st = txn.put(db.posts, k, {}); !st) return st.error();
      auto image = rec.body().getPayload().getImagePost().getImage().getSha256();
      if (image.size() == 32)
        if (auto st = txn.put(db.image_refs, image_ref_key(image, rec.id()), {}); !st) return st.error();
    }
    return IngestStatus::added;
  }

  // ---- trends ----

  // A release arrived: its counts (unless its author retracted it first),
  // and the posts about it that came before it move from "" to its type
  // and base model.
  Status count_release_trends(lmdb::Txn& txn, const Record& rec) {
    if (!retracted(txn, rec)) trends::count_release(trend_changes, rec, +1);
    lmdb::Cursor c(txn, db.posts);
    const ByteView prefix(rec.id());
    for (bool ok = c.seek(prefix); ok && keys::starts_with(c.key(), prefix); ok = c.next()) {
      if (c.key().size() != 72) continue;
      auto post = load(txn, to_id(c.key().subspan(40)));
      if (!post) continue;
      trends::count_post(trend_changes, *post, nullptr, -1);
      trends::count_post(trend_changes, *post, &rec, +1);
    }
    return {};
  }

  // Writes the counters changed since the last flush, in key order, each
  // with one cursor lookup (updated in place when it exists).
  Status flush_trends(lmdb::Txn& txn) {
    std::vector<const trends::Changes::value_type*> sorted;
    sorted.reserve(trend_changes.size());
    for (const auto& change : trend_changes)
      if (change.second != 0) sorted.push_back(&change);
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.get(), db.trends, &cursor)) return lmdb::lmdb_error("open trends", rc);
    struct Close {
      MDB_cursor* c;
      ~Close() { mdb_cursor_close(c); }
    } close{cursor};
    for (const auto* change : sorted) {
      MDB_val k{change->first.size(), const_cast<char*>(change->first.data())}, v{};
      const int found = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY);
      if (found != 0 && found != MDB_NOTFOUND) return lmdb::lmdb_error("read trends", found);
      std::int64_t n = 0;
      if (found == 0 && v.mv_size == 8)
        n = static_cast<std::int64_t>(get_be(ByteView(static_cast<const std::uint8_t*>(v.mv_data), 8), 0, 8));
      const std::int64_t next = std::max<std::int64_t>(0, n + change->second);
      int rc = 0;
      if (next == 0) {
        if (found == 0) rc = mdb_cursor_del(cursor, 0);
      } else {
        Bytes out;
        put_be(out, static_cast<std::uint64_t>(next), 8);
        MDB_val value{out.size(), out.data()};
        k = MDB_val{change->first.size(), const_cast<char*>(change->first.data())};
        rc = mdb_cursor_put(cursor, &k, &value, found == 0 && v.mv_size == 8 ? MDB_CURRENT : 0);
      }
      if (txn.noted(rc)) return lmdb::lmdb_error("write trends", rc);
    }
    trend_changes.clear();
    return {};
  }

  // The counters of every stored record, afresh (an index older than them).
  Status build_trends(lmdb::Txn& txn) {
    trend_changes.clear();
    if (int rc = txn.noted(mdb_drop(txn.get(), db.trends, 0))) return lmdb::lmdb_error("empty trends", rc);
    lmdb::Cursor c(txn, db.by_time);
    for (bool ok = c.first(); ok; ok = c.next()) {
      if (c.key().size() != 40) continue;
      auto rec = load(txn, to_id(c.key().subspan(8)));
      if (!rec) continue;
      switch (rec->kind()) {
        case RecordKind::release:
          if (!retracted(txn, *rec)) trends::count_release(trend_changes, *rec, +1);
          break;
        case RecordKind::image_post: {
          auto release = load(txn, to_id(data_view(rec->body().getPayload().getImagePost().getRelease())));
          trends::count_post(trend_changes, *rec, release ? &*release : nullptr, +1);
          break;
        }
        case RecordKind::reaction:
        case RecordKind::rating: {
          auto cur =
              parse_current(txn.get(db.current, current_key(rec->kind(), rec->author(), *replacement_target(*rec))));
          if (!cur || cur->id != rec->id()) break;
          if (rec->kind() == RecordKind::reaction)
            trends::count_reaction(trend_changes, *rec, +1);
          else
            trends::count_rating(trend_changes, *rec, +1);
          break;
        }
        default:
          break;
      }
      if (trend_changes.size() >= options.max_trend_changes)
        if (auto st = flush_trends(txn); !st) return st;
    }
    return flush_trends(txn);
  }

  // Counts `added` records of `kind`, of `bytes` signed bytes in all (or
  // takes them off with `remove`).
  Status add_count(lmdb::Txn& txn, RecordKind kind, std::uint64_t added, std::uint64_t bytes, bool remove = false) {
    std::string key = "count/" + std::string(protocol::to_string(kind));
    auto moved = [&](std::string_view meta, std::uint64_t by) {
      std::uint64_t n = 0;
      if (auto v = txn.get(db.meta, protocol::as_bytes(meta)); v && v->size() == 8) n = get_be(*v, 0, 8);
      Bytes value;
      put_be(value, remove ? n - std::min(n, by) : n + by, 8);
      return value;
    };
    if (auto st = txn.put(db.meta, protocol::as_bytes(bytes_key(kind)), moved(bytes_key(kind), bytes)); !st) return st;
    Bytes value = moved(key, added);
    // The search index holds as many releases: a seedbank older than it
    // counts releases without indexing them, and the next open sees that.
    if (kind == RecordKind::release)
      if (auto st = txn.put(db.meta, protocol::as_bytes("search"), value); !st) return st;
    if (auto st = txn.put(db.meta, protocol::as_bytes(key), value); !st) return st;
    const Bytes stored = records_stored(txn);
    if (auto st = txn.put(db.meta, protocol::as_bytes("views"), stored); !st) return st;
    if (bytes_in_step)
      if (auto st = txn.put(db.meta, protocol::as_bytes("bytes"), stored); !st) return st;
    // Likewise social_rank and the reactions and comments stored.
    if (kind == RecordKind::reaction || kind == RecordKind::comment)
      return txn.put(db.meta, protocol::as_bytes("social_rank"), social_counts_stored(txn));
    return {};
  }

  // opaque: <record id> -> payload tag u16be, for records of kinds this
  // seedbank did not know when they arrived. A newer seedbank that knows
  // some of those kinds indexes them when it opens the index, in the
  // transaction that opens it: an opaque record and its views are never
  // apart. Costs one scan of `opaque` per open.
  Status reindex_opaque(lmdb::Txn& txn) {
    std::vector<RecordId> known;
    {
      lmdb::Cursor c(txn, db.opaque);
      for (bool ok = c.first(); ok; ok = c.next())
        if (c.key().size() == 32 && c.value().size() == 2 &&
            protocol::record_kind_of(static_cast<std::uint16_t>(get_be(c.value(), 0, 2))) != RecordKind::unknown)
          known.push_back(to_id(c.key()));
    }
    for (const auto& id : known) {
      if (auto st = txn.del(db.opaque, id); !st) return st;
      auto rec = load(txn, id);
      const std::uint64_t size = rec ? rec->bytes().size() : 0;
      if (auto st = add_count(txn, RecordKind::unknown, 1, size, true); !st) return st;
      if (!rec || rec->kind() == RecordKind::unknown) continue;
      // It was checked against its envelope only: the checks of its kind
      // come now. One that fails them stays stored (it replicates) and is
      // left out of every view.
      if (!protocol::validate_body(rec->body())) continue;
      if (auto status = derive(txn, *rec); !status) return status.error();
      if (auto st = add_count(txn, rec->kind(), 1, size); !st) return st;
    }
    return {};
  }

  // agg values: count u32 ++ sum u64 (format 1), then thumbs up, thumbs
  // down and reviews u32 each (format 2).
  RatingAggregate read_agg(const lmdb::Txn& txn, ByteView release) const {
    RatingAggregate agg;
    if (auto v = txn.get(db.agg, release); v && v->size() >= 12) {
      agg.count = static_cast<std::uint32_t>(get_be(*v, 0, 4));
      agg.sum = get_be(*v, 4, 8);
      if (v->size() >= 24) {
        agg.thumbs_up = static_cast<std::uint32_t>(get_be(*v, 12, 4));
        agg.thumbs_down = static_cast<std::uint32_t>(get_be(*v, 16, 4));
        agg.reviews = static_cast<std::uint32_t>(get_be(*v, 20, 4));
      }
    }
    return agg;
  }

  static Bytes encode_agg(const RatingAggregate& a) {
    Bytes value;
    put_be(value, a.count, 4);
    put_be(value, a.sum, 8);
    put_be(value, a.thumbs_up, 4);
    put_be(value, a.thumbs_down, 4);
    put_be(value, a.reviews, 4);
    return value;
  }

  // Adds (sign +1) or removes (-1) one rating's share of an aggregate.
  static void count_rating(RatingAggregate& a, schema::Rating::Reader r, int sign) {
    auto add = [sign](auto& field, std::uint64_t n) {
      field = static_cast<std::remove_reference_t<decltype(field)>>(field + sign * static_cast<std::int64_t>(n));
    };
    add(a.count, 1);
    add(a.sum, r.getStars());
    if (r.getStars() >= 4) add(a.thumbs_up, 1);
    if (r.getStars() <= 2) add(a.thumbs_down, 1);
    if (r.getReview().size()) add(a.reviews, 1);
  }

  static void add_agg(RatingAggregate& to, const RatingAggregate& a, int sign) {
    to.count = static_cast<std::uint32_t>(to.count + sign * static_cast<std::int64_t>(a.count));
    to.sum = static_cast<std::uint64_t>(static_cast<std::int64_t>(to.sum) + sign * static_cast<std::int64_t>(a.sum));
    to.thumbs_up = static_cast<std::uint32_t>(to.thumbs_up + sign * static_cast<std::int64_t>(a.thumbs_up));
    to.thumbs_down = static_cast<std::uint32_t>(to.thumbs_down + sign * static_cast<std::int64_t>(a.thumbs_down));
    to.reviews = static_cast<std::uint32_t>(to.reviews + sign * static_cast<std::int64_t>(a.reviews));
  }

  Status apply_rating(lmdb::Txn& txn, const Record& rec, const std::optional<CurrentEntry>& previous) {
    auto release = data_view(rec.body().getPayload().getRating().getRelease());
    RatingAggregate before = read_agg(txn, release);
    RatingAggregate after = before;
    if (previous) {
      auto old_bytes = txn.get(db.records, previous->id);
      if (old_bytes) {
        auto old = protocol::load_stored_record(*old_bytes, &previous->id);
        if (old) count_rating(after, old->body().getPayload().getRating(), -1);
      }
    }
    count_rating(after, rec.body().getPayload().getRating(), +1);
    if (auto st = txn.put(db.agg, release, encode_agg(after)); !st) return st;
    // Move the release in the rating order, if the release is here.
    if (auto bytes = txn.get(db.records, release)) {
      RecordId rid = to_id(release);
      auto stored = protocol::load_stored_record(*bytes, &rid);
      if (stored && stored->kind() == RecordKind::release) {
        if (auto st = txn.del(db.rel_rating, rating_key(before, stored->created_at(), rid)); !st) return st;
        if (auto st = txn.put(db.rel_rating, rating_key(after, stored->created_at(), rid), {}); !st) return st;
        auto mkey = model_key_of(*stored);
        auto m = decode_model(txn.get(db.models, mkey));
        if (m && !retracted(txn, *stored)) {  // a model's figures cover its listed versions
          ModelEntry changed = *m;
          add_agg(changed.agg, before, -1);
          add_agg(changed.agg, after, +1);
          if (auto st = write_model(txn, mkey, &*m, changed); !st) return st;
        }
      }
    }
    return {};
  }

  Status index_release(lmdb::Txn& txn, const Record& rec) {
    auto r = rec.body().getPayload().getRelease();
    const RecordId& id = rec.id();
    auto updated = shown(txn, rec);  // an update by its author may have come first
    const std::uint64_t t = rec.created_at();
    Bytes tid = time_id(t, id);
    auto put_ordered = [&](MDB_dbi dbi, Bytes prefix) {
      append(prefix, tid);
      return txn.put(dbi, prefix, {});
    };
    auto put_hash = [&](HashType type, ByteView hash, std::uint16_t file) {
      if (hash.empty()) return Status{};
      return txn.put(db.hashes, hash_key(type, hash), hash_value(id, file));
    };
#define SB_TRY_ST(expr) \
  if (auto _st = (expr); !_st) return _st;

    SB_TRY_ST(put_ordered(db.rel_time, {}));
    {
      Bytes p;
      append(p, rec.author().bytes);
      SB_TRY_ST(put_ordered(db.rel_creator, p));
    }
    {
      Bytes p;
      put_be(p, static_cast<std::uint16_t>(r.getType()), 2);
      SB_TRY_ST(put_ordered(db.rel_type, p));
    }
    if (r.getBaseModel().size() > 0) {
      Bytes p;
      append(p, keys::fold_case(text_view(r.getBaseModel())));
      p.push_back(0);
      SB_TRY_ST(put_ordered(db.rel_base, p));
    }
    SB_TRY_ST(index_tags(txn, updated ? *updated : rec, true));
    for (const auto& word : keys::words(text_view(r.getModelName()))) {
      Bytes p;
      append(p, word);
      p.push_back(0);
      SB_TRY_ST(put_ordered(db.rel_word, p));
    }
    SB_TRY_ST(txn.put(db.rel_rating, rating_key(read_agg(txn, id), t, id), {}));
    SB_TRY_ST(index_terms(txn, updated ? *updated : rec));

    SB_TRY_ST(put_hash(HashType::release_id, id, kReleaseLevel));
    SB_TRY_ST(put_hash(HashType::btih_v2, data_view(r.getTorrent().getInfoHashV2()), kReleaseLevel));
    SB_TRY_ST(put_hash(HashType::btih_v1, data_view(r.getTorrent().getInfoHashV1()), kReleaseLevel));
    auto files = r.getFiles();
    for (unsigned i = 0; i < files.size(); ++i) {
      auto h = files[i].getHashes();
      auto file = static_cast<std::uint16_t>(i);
      SB_TRY_ST(put_hash(HashType::sha256, data_view(h.getSha256()), file));
      SB_TRY_ST(put_hash(HashType::autov1, data_view(h.getAutoV1()), file));
      SB_TRY_ST(put_hash(HashType::autov3, data_view(h.getAutoV3()), file));
      SB_TRY_ST(put_hash(HashType::pieces_root, data_view(h.getPiecesRoot()), file));
      Bytes crc;
      put_be(crc, h.getCrc32(), 4);
      SB_TRY_ST(put_hash(HashType::crc32, crc, file));
    }
    auto images = r.getImages();
    for (unsigned i = 0; i < images.size(); ++i)
      SB_TRY_ST(
          put_hash(HashType::sha256, data_view(images[i].getSha256()), static_cast<std::uint16_t>(kImageFlag | i)));
#undef SB_TRY_ST
    return {};
  }

  // The search terms of a release as shown (`rec`: shown(txn, release)),
  // added or removed.
  Status index_terms(lmdb::Txn& txn, const Record& rec, bool add = true) {
    for (const auto& [word, fields] : release_terms(rec.body().getPayload().getRelease())) {
      Bytes v{fields};
      put_be(v, rec.created_at(), 8);
      auto k = term_key(word, rec.id());
      if (auto st = add ? txn.put(db.terms, k, v) : txn.del(db.terms, k); !st) return st;
    }
    return {};
  }

  // rel_tag: folded tag ++ 0x00 ++ time_id, for a release as shown.
  Status index_tags(lmdb::Txn& txn, const Record& rec, bool add) {
    for (auto tag : rec.body().getPayload().getRelease().getTags()) {
      Bytes k;
      append(k, keys::fold_case(text_view(tag)));
      k.push_back(0);
      append(k, time_id(rec.created_at(), rec.id()));
      if (auto st = add ? txn.put(db.rel_tag, k, {}) : txn.del(db.rel_tag, k); !st) return st;
    }
    return {};
  }

  // The release as its author's current update shows it (apply_update);
  // nullopt when there is none.
  std::optional<Record> shown(const lmdb::Txn& txn, const Record& release) const {
    if (release.kind() != RecordKind::release) return std::nullopt;
    auto cur = parse_current(
        txn.get(db.current, current_key(RecordKind::release_update, release.author(), id_bytes(release.id()))));
    if (!cur) return std::nullopt;
    auto update = load(txn, cur->id);
    // One its author's revocation voids (a thief's) shows nothing.
    if (!update || voided(txn, *update)) return std::nullopt;
    return protocol::apply_update(release, *update);
  }

  // Moves a release's derived entries (rel_tag, terms, and tag counts while
  // it is its model's head) from how `from` shows it to how `to` does.
  // Every old entry goes before any new one is added: the two may share.
  Status move_views(lmdb::Txn& txn, const Record& release, const Record& from, const Record& to) {
    if (auto st = index_tags(txn, from, false); !st) return st;
    if (auto st = index_terms(txn, from, false); !st) return st;
    if (auto st = index_tags(txn, to, true); !st) return st;
    if (auto st = index_terms(txn, to, true); !st) return st;
    auto m = decode_model(txn.get(db.models, model_key_of(release)));
    if (m && m->has_head() && m->head == release.id()) {
      if (auto st = count_tags(txn, from, -1); !st) return st;
      if (auto st = count_tags(txn, to, +1); !st) return st;
    }
    return {};
  }

  // A revoking rotation of `author` became current: the updates it voids
  // stop showing, and their releases' entries go back to the signed state.
  Status void_updates(lmdb::Txn& txn, const PublicKey& author) {
    Bytes prefix = current_key(RecordKind::release_update, author, {});
    std::vector<RecordId> updates;
    lmdb::Cursor c(txn, db.current);
    for (bool ok = c.seek(prefix); ok && keys::starts_with(c.key(), prefix); ok = c.next())
      if (auto cur = parse_current(c.value())) updates.push_back(cur->id);
    for (const auto& id : updates) {
      auto update = load(txn, id);
      if (!update || update->kind() != RecordKind::release_update || !voided(txn, *update)) continue;
      auto target = data_view(update->body().getPayload().getReleaseUpdate().getRelease());
      auto release = target.size() == 32 ? load(txn, to_id(target)) : std::nullopt;
      if (!release || release->kind() != RecordKind::release) continue;
      if (auto view = protocol::apply_update(*release, *update))
        if (auto st = move_views(txn, *release, *view, *release); !st) return st;
    }
    return {};
  }

  // What an older seedbank may have left out of step: one that does not
  // know updates indexes and counts a release by its signed state. Every
  // release with a current update moves to how it shows, and the tag counts
  // are made afresh from the models' heads as shown. Idempotent.
  Status repair_shown(lmdb::Txn& txn) {
    const Bytes prefix{static_cast<std::uint8_t>(RecordKind::release_update)};
    std::vector<RecordId> releases;
    {
      lmdb::Cursor c(txn, db.current);
      for (bool ok = c.seek(prefix); ok && keys::starts_with(c.key(), prefix); ok = c.next())
        if (c.key().size() == 1 + 32 + 32) releases.push_back(to_id(c.key().subspan(33)));
    }
    // Whatever state an older seedbank left (the signed one, or an update
    // since voided): every candidate's entries go, then the shown ones.
    for (const auto& id : releases) {
      auto release = load(txn, id);
      if (!release || release->kind() != RecordKind::release) continue;
      auto cur = parse_current(txn.get(db.current, current_key(RecordKind::release_update, release->author(), id)));
      auto update = cur ? load(txn, cur->id) : std::nullopt;
      auto applied = update ? protocol::apply_update(*release, *update) : std::nullopt;
      if (!applied) continue;  // another key's: the release was indexed as signed
      for (const Record* gone : {&*release, &*applied}) {
        if (auto st = index_tags(txn, *gone, false); !st) return st;
        if (auto st = index_terms(txn, *gone, false); !st) return st;
      }
      auto view = shown(txn, *release);
      if (auto st = index_tags(txn, view ? *view : *release, true); !st) return st;
      if (auto st = index_terms(txn, view ? *view : *release, true); !st) return st;
    }
    // Curators' image ratings: an older seedbank neither counted nor
    // withdrew them. Afresh from the current lists.
    {
      std::vector<Bytes> rated;
      lmdb::Cursor c(txn, db.denied);
      for (bool ok = c.first(); ok; ok = c.next())
        if (c.key().size() == 32 + 1 + 32 + 1 && c.key()[32] == 'n') rated.emplace_back(c.key().begin(), c.key().end());
      for (const auto& k : rated)
        if (auto st = txn.del(db.denied, k); !st) return st;
      std::vector<RecordId> lists;
      const Bytes deny_prefix{static_cast<std::uint8_t>(RecordKind::deny_list)};
      lmdb::Cursor l(txn, db.current);
      for (bool ok = l.seek(deny_prefix); ok && keys::starts_with(l.key(), deny_prefix); ok = l.next())
        if (auto cur = parse_current(l.value())) lists.push_back(cur->id);
      for (const auto& id : lists)
        if (auto list = load(txn, id); list && list->kind() == RecordKind::deny_list && !voided(txn, *list))
          if (auto st = count_denied(txn, *list, +1, /*ratings_only=*/true); !st) return st;
    }
    if (int rc = txn.noted(mdb_drop(txn.get(), db.tags, 0))) return lmdb::lmdb_error("clear tags", rc);
    std::vector<RecordId> heads;
    {
      MDB_stat st;
      if (mdb_stat(txn.get(), db.models, &st) == 0 && st.ms_entries > 10000)
        options.log.info("counting the tags of " + std::to_string(st.ms_entries) + " models again");
      lmdb::Cursor c(txn, db.models);
      for (bool ok = c.first(); ok; ok = c.next())
        if (auto m = decode_model(c.value()); m && m->has_head()) heads.push_back(m->head);
    }
    for (const auto& head : heads)
      if (auto rec = load(txn, head); rec && rec->kind() == RecordKind::release) {
        auto view = shown(txn, *rec);
        if (auto st = count_tags(txn, view ? *view : *rec, +1); !st) return st;
      }
    return {};
  }
  static std::string bytes_key(RecordKind kind) { return "bytes/" + std::string(protocol::to_string(kind)); }
  // Meta bytes/<kind>: the signed bytes of the records counted in
  // count/<kind>, for IndexSpace; meta `bytes` is `views` when they were
  // last in step (an older seedbank stores records without them). Counted
  // afresh from the records when not.
  Status count_record_bytes(lmdb::Txn& txn) {
    std::uint64_t bytes[protocol::kRecordKinds] = {};
    {
      lmdb::Cursor c(txn, db.records);
      for (bool ok = c.first(); ok; ok = c.next()) {
        auto id = to_id(c.key());
        auto rec = protocol::load_stored_record(c.value(), &id);
        if (rec) bytes[static_cast<int>(rec->kind())] += c.value().size();
      }
    }
    for (int k = 0; k < protocol::kRecordKinds; ++k) {
      Bytes value;
      put_be(value, bytes[k], 8);
      if (auto st = txn.put(db.meta, protocol::as_bytes(bytes_key(static_cast<RecordKind>(k))), value); !st) return st;
    }
    return txn.put(db.meta, protocol::as_bytes("bytes"), records_stored(txn));
  }

  // Meta `views`: the records stored when the views were last in step (the
  // sum of count/<kind>). A seedbank older than it stores records without
  // keeping it, and the next open repairs what it may have left.
  Bytes records_stored(const lmdb::Txn& txn) const {
    std::uint64_t total = 0;
    for (int k = 0; k < protocol::kRecordKinds; ++k) {
      std::string key = "count/" + std::string(protocol::to_string(static_cast<RecordKind>(k)));
      if (auto v = txn.get(db.meta, protocol::as_bytes(key)); v && v->size() == 8) total += get_be(*v, 0, 8);
    }
    Bytes out;
    put_be(out, total, 8);
    return out;
  }

  // A release update became current: the tags and search terms it changes
  // move with it (and the tag counts, when the release is its model's head).
  Status apply_update(lmdb::Txn& txn, const Record& update, const RecordId* previous) {
    auto target = data_view(update.body().getPayload().getReleaseUpdate().getRelease());
    auto release = target.size() == 32 ? load(txn, to_id(target)) : std::nullopt;
    if (!release || release->kind() != RecordKind::release || release->author() != update.author()) return {};
    std::optional<Record> before;
    if (previous)  // what the views hold: the signed state when a revocation voided it
      if (auto old = load(txn, *previous); old && !voided(txn, *old)) before = protocol::apply_update(*release, *old);
    auto after = protocol::apply_update(*release, update);
    if (!after) return {};
    return move_views(txn, *release, before ? *before : *release, *after);
  }

  Status index_name_words(lmdb::Txn& txn, std::string_view name, const PublicKey& author, bool add) {
    for (const auto& w : keys::words(name, 16)) {
      Bytes k = term_key(w, author.bytes);
      if (auto st = add ? txn.put(db.name_words, k, {}) : txn.del(db.name_words, k); !st) return st;
    }
    return {};
  }

  // Builds `terms` and `name_words` for an index written before them, in
  // the transaction that opens it; says how far it is on `log`.
  Status build_search(lmdb::Txn& txn) {
    MDB_stat st;
    std::uint64_t total = mdb_stat(txn.get(), db.rel_time, &st) == 0 ? st.ms_entries : 0;
    if (total > 10000) options.log.info("building the search index over " + std::to_string(total) + " releases");
    std::uint64_t done = 0;
    lmdb::Cursor c(txn, db.rel_time);
    for (bool ok = c.first(); ok; ok = c.next()) {
      if (c.key().size() != 40) continue;
      auto rec = load(txn, to_id(c.key().subspan(8)));
      if (rec && rec->kind() == RecordKind::release) {
        auto updated = shown(txn, *rec);
        if (auto s = index_terms(txn, updated ? *updated : *rec); !s) return s;
      }
      if (++done % 100000 == 0)
        options.log.info("search index: " + std::to_string(done) + " of " + std::to_string(total) + " releases");
    }
    // Display names: afresh, since an older seedbank may have replaced
    // profiles meanwhile.
    if (int rc = txn.noted(mdb_drop(txn.get(), db.name_words, 0))) return lmdb::lmdb_error("clear name_words", rc);
    lmdb::Cursor p(txn, db.current);
    const Bytes profiles{static_cast<std::uint8_t>(RecordKind::profile)};
    for (bool ok = p.seek(profiles); ok && keys::starts_with(p.key(), profiles); ok = p.next()) {
      auto cur = parse_current(p.value());
      auto rec = cur ? load(txn, cur->id) : std::nullopt;
      if (rec && rec->kind() == RecordKind::profile)
        if (auto s = index_name_words(txn, text_view(rec->body().getPayload().getProfile().getDisplayName()),
                                      rec->author(), true);
            !s)
          return s;
    }
    return {};
  }

  // How well one query word finds a release (0: not at all), as the
  // search index scores it: the best field whose word it starts, or the
  // creator's display name or key.
  std::uint32_t word_weight(const lmdb::Txn& txn, const Record& release, const std::string& w) const {
    auto updated = shown(txn, release);
    const Record& rec = updated ? *updated : release;
    auto r = rec.body().getPayload().getRelease();
    std::uint32_t best = 0;
    auto consider = [&](capnp::Text::Reader text, std::uint32_t weight, std::size_t max_words,
                        std::size_t min_len = 1) {
      if (best < 2 * weight) best = std::max(best, weight * keys::word_match(text_view(text), w, max_words, min_len));
    };
    consider(r.getModelName(), field_weight(kFieldName), 16);
    for (auto tag : r.getTags()) consider(tag, field_weight(kFieldTag), 8);
    auto triggers = r.getTriggerWords();
    for (unsigned i = 0; i < triggers.size() && i < 32; ++i) consider(triggers[i], field_weight(kFieldTrigger), 8);
    consider(r.getVersionName(), field_weight(kFieldVersion), 16);
    for (auto text : {r.getDescription(), r.getModelDescription()})
      if (best < 2) {
        auto d = text_view(text).substr(0, kDescriptionBytes);
        best = std::max(best, field_weight(kFieldDescription) * keys::word_match(d, w, kDescriptionWords, 3));
      }
    if (best >= 2 * kCreatorWeight) return best;
    if (rec.author().to_text() == w) return 2 * kCreatorWeight;
    if (auto cur = parse_current(txn.get(db.current, current_key(RecordKind::profile, rec.author(), {}))))
      if (auto profile = load(txn, cur->id); profile && profile->kind() == RecordKind::profile)
        best = std::max(
            best, kCreatorWeight *
                      keys::word_match(text_view(profile->body().getPayload().getProfile().getDisplayName()), w, 16));
    return best;
  }

  struct TextHit {
    std::uint64_t t = 0;
    std::uint32_t score = 0;
  };
  using TextHits = std::unordered_map<RecordId, TextHit, IdHash>;

  // The releases one query word finds through the search index, with the
  // word's weight in each; nullopt when that takes more than `cap`
  // entries (too common to gather).
  std::optional<TextHits> word_hits(const lmdb::Txn& txn, const std::string& w, std::size_t cap) const {
    TextHits found;
    std::size_t n = 0;
    auto note = [&](const RecordId& id, std::uint64_t t, std::uint32_t weight) {
      auto& h = found[id];
      h.t = t;
      h.score = std::max(h.score, weight);
    };
    const ByteView prefix = protocol::as_bytes(w);
    lmdb::Cursor c(txn, db.terms);
    for (bool ok = c.seek(prefix); ok && keys::starts_with(c.key(), prefix); ok = c.next()) {
      auto key = c.key();
      if (key.size() < 33 || key[key.size() - 33] != 0 || c.value().size() < 9) continue;
      if (++n > cap) return std::nullopt;
      note(to_id(key.subspan(key.size() - 32)), get_be(c.value(), 1, 8),
           field_weight(c.value()[0]) * (key.size() - 33 == w.size() ? 2 : 1));
    }
    // The creators it names: display-name words it starts, or a key.
    std::vector<std::pair<PublicKey, std::uint32_t>> authors;
    lmdb::Cursor names(txn, db.name_words);
    for (bool ok = names.seek(prefix); ok && keys::starts_with(names.key(), prefix); ok = names.next()) {
      auto key = names.key();
      if (key.size() < 33 || key[key.size() - 33] != 0) continue;
      if (authors.size() == 256) return std::nullopt;  // a name too common to gather
      PublicKey k;
      std::copy_n(key.end() - 32, 32, k.bytes.begin());
      authors.emplace_back(k, kCreatorWeight * (key.size() - 33 == w.size() ? 2 : 1));
    }
    if (auto key = PublicKey::from_text(w)) authors.emplace_back(*key, 2 * kCreatorWeight);
    // One walk per author, at its best weight (a name can hold the word twice).
    std::sort(authors.begin(), authors.end(), [](const auto& a, const auto& b) {
      return a.first.bytes != b.first.bytes ? a.first.bytes < b.first.bytes : a.second > b.second;
    });
    authors.erase(std::unique(authors.begin(), authors.end(),
                              [](const auto& a, const auto& b) { return a.first.bytes == b.first.bytes; }),
                  authors.end());
    for (const auto& [author, weight] : authors) {
      lmdb::Cursor rel(txn, db.rel_creator);
      ByteView a(author.bytes.data(), 32);
      for (bool ok = rel.seek(a); ok && keys::starts_with(rel.key(), a); ok = rel.next()) {
        if (rel.key().size() != 72) continue;
        if (++n > cap) return std::nullopt;
        note(to_id(rel.key().subspan(40)), get_be(rel.key(), 32, 8), weight);
      }
    }
    return found;
  }

  // The releases every query word finds, with their relevance (the sum of
  // each word's weight). The rarest word's releases are gathered from the
  // search index and the other words checked on each of them; nullopt when
  // every word is too common to gather (over kMaxSearchGather): the
  // caller then walks its sort order and checks each release.
  // Without `rank`, the other words are left to matches() (the caller's
  // order is not relevance).
  std::optional<TextHits> text_candidates(const lmdb::Txn& txn, const std::vector<std::string>& words,
                                          bool rank) const {
    std::optional<TextHits> hits;
    const std::string* probe = nullptr;
    std::size_t cap = kMaxSearchGather;
    for (const auto& w : words)
      if (auto found = word_hits(txn, w, cap); found && (!hits || found->size() < hits->size())) {
        hits = std::move(found);
        probe = &w;
        cap = hits->size();
      }
    if (!hits || words.size() == 1 || !rank) return hits;
    for (auto it = hits->begin(); it != hits->end();) {
      auto rec = load(txn, it->first);
      std::uint32_t add = 0;
      bool all = rec.has_value();
      for (const auto& w : words) {
        if (&w == probe || !all) continue;
        auto weight = word_weight(txn, *rec, w);
        all = weight > 0;
        add += weight;
      }
      if (!all) {
        it = hits->erase(it);
      } else {
        it->second.score += add;
        ++it;
      }
    }
    return hits;
  }

  static ModelKey model_key_of(const Record& release) {
    return model_key(release.author(), text_view(release.body().getPayload().getRelease().getModelSlug()));
  }

  // Replaces a model's entry, keeping model_rating in step (only models
  // with a head are ranked).
  Status write_model(lmdb::Txn& txn, const ModelKey& key, const ModelEntry* before, const ModelEntry& after) {
    if (before && before->has_head())
      if (auto st = txn.del(db.model_rating, rating_key(before->agg, before->head_t, before->head)); !st) return st;
    if (after.has_head())
      if (auto st = txn.put(db.model_rating, rating_key(after.agg, after.head_t, after.head), {}); !st) return st;
    // Tag and creator counts follow the head: what a listing shows.
    RecordId old_head = before ? before->head : RecordId{};
    if (old_head != after.head) {
      if (before && before->has_head())
        if (auto st = count_head(txn, before->head, -1, !after.has_head()); !st) return st;
      if (after.has_head())
        if (auto st = count_head(txn, after.head, +1, !(before && before->has_head())); !st) return st;
    }
    return txn.put(db.models, key, encode_model(after));
  }

  // Adds (+1) or removes (-1) a head's tags from the tag counts, and its
  // model from its creator's count when the model appears or disappears.
  Status count_head(lmdb::Txn& txn, const RecordId& head, int delta, bool model_changes) {
    auto rec = load(txn, head);
    if (!rec || rec->kind() != RecordKind::release) return {};
    if (model_changes)
      if (auto st = bump(txn, db.creators, rec->author().bytes, {}, delta); !st) return st;
    auto updated = shown(txn, *rec);
    return count_tags(txn, updated ? *updated : *rec, delta);
  }
  // A release's tags (as shown) in the tag counts.
  Status count_tags(lmdb::Txn& txn, const Record& rec, int delta) {
    std::vector<std::string> seen;
    for (auto tag : rec.body().getPayload().getRelease().getTags()) {
      auto folded = keys::fold_case(text_view(tag));
      if (folded.empty() || folded.size() > 200 || std::find(seen.begin(), seen.end(), folded) != seen.end()) continue;
      seen.push_back(folded);
      if (auto st = bump(txn, db.tags, protocol::as_bytes(folded), text_view(tag), delta); !st) return st;
    }
    return {};
  }

  // A new version of a model: its numeric id, and the head when it is the
  // newest version not retracted.
  Status index_model(lmdb::Txn& txn, const Record& rec) {
    const ModelKey key = model_key_of(rec);
    Bytes versions_key(key.begin(), key.end());
    append(versions_key, time_id(rec.created_at(), rec.id()));
    if (auto st = txn.put(db.rel_model, versions_key, {}); !st) return st;
    if (auto st = txn.put(db.ids, number_key('v', numeric_id(rec.id())), rec.id()); !st) return st;
    auto before = decode_model(txn.get(db.models, key));
    if (!before)
      if (auto st = txn.put(db.ids, number_key('m', numeric_id(key)), key); !st) return st;
    ModelEntry after = before.value_or(ModelEntry{});
    after.versions += 1;
    if (!retracted(txn, rec)) {
      add_agg(after.agg, read_agg(txn, rec.id()), +1);  // ratings that came before the release
      if (!after.has_head() || std::tie(after.head_t, after.head) < std::make_tuple(rec.created_at(), rec.id())) {
        after.head = rec.id();
        after.head_t = rec.created_at();
      }
    }
    return write_model(txn, key, before ? &*before : nullptr, after);
  }

  // Adds `delta` to a count kept as 8 bytes, followed by `label` when first
  // written; a count that reaches 0 is removed.
  Status bump(lmdb::Txn& txn, MDB_dbi dbi, ByteView key, std::string_view label, int delta = 1) {
    Bytes value;
    std::uint64_t n = 0;
    if (auto v = txn.get(dbi, key); v && v->size() >= 8) {
      n = get_be(*v, 0, 8);
      value.assign(v->begin() + 8, v->end());
    } else {
      append(value, label);
    }
    std::uint64_t next = delta < 0 ? (n > 0 ? n - 1 : 0) : n + 1;
    if (next == 0) return txn.del(dbi, key);
    Bytes out;
    put_be(out, next, 8);
    append(out, value);
    return txn.put(dbi, key, out);
  }

  // A replaceable record became its author's current one for its target
  // (replacing `previous`, if any): keep the views derived from it in step.
  Status apply_current(lmdb::Txn& txn, const Record& rec, const RecordId* previous) {
    auto p = rec.body().getPayload();
    switch (rec.kind()) {
      case RecordKind::rating: {
        if (previous)
          if (auto old = load(txn, *previous)) trends::count_rating(trend_changes, *old, -1);
        trends::count_rating(trend_changes, rec, +1);
        Bytes k;
        append(k, data_view(p.getRating().getRelease()));
        append(k, rec.author().bytes);
        return txn.put(db.rel_ratings, k, rec.id());
      }
      case RecordKind::profile: {
        if (previous)
          if (auto old = load(txn, *previous); old && old->kind() == RecordKind::profile) {
            if (auto st = txn.del(db.names, name_key(text_view(old->body().getPayload().getProfile().getDisplayName()),
                                                     old->author()));
                !st)
              return st;
            if (auto st = index_name_words(txn, text_view(old->body().getPayload().getProfile().getDisplayName()),
                                           old->author(), false);
                !st)
              return st;
            if (auto avatar = old->body().getPayload().getProfile().getAvatar(); avatar.size() == 32)
              if (auto st = txn.del(db.image_refs, image_ref_key(avatar, old->id())); !st) return st;
          }
        if (auto avatar = p.getProfile().getAvatar(); avatar.size() == 32)
          if (auto st = txn.put(db.image_refs, image_ref_key(avatar, rec.id()), {}); !st) return st;
        if (p.getProfile().getDisplayName().size() == 0) return {};
        if (auto st = index_name_words(txn, text_view(p.getProfile().getDisplayName()), rec.author(), true); !st)
          return st;
        return txn.put(db.names, name_key(text_view(p.getProfile().getDisplayName()), rec.author()), {});
      }
      case RecordKind::deny_list: {
        // The list's entries replace its previous version's: counts per
        // (curator, target), since two lists of a curator may name the same.
        if (previous)
          if (auto old = load(txn, *previous); old && old->kind() == RecordKind::deny_list)
            if (auto st = count_denied(txn, *old, -1); !st) return st;
        return count_denied(txn, rec, +1);
      }
      case RecordKind::reaction: {
        if (previous)
          if (auto old = load(txn, *previous)) trends::count_reaction(trend_changes, *old, -1);
        trends::count_reaction(trend_changes, rec, +1);
        Bytes key = subject_key(protocol::read_subject(p.getReaction().getSubject()));
        const SocialCounts before = decode_social(txn.get(db.social, key));
        SocialCounts counts = before;
        if (previous)
          if (auto old = load(txn, *previous); old && old->kind() == RecordKind::reaction)
            if (auto* n = reaction_counter(counts, old->body().getPayload().getReaction().getKind()); n && *n) --*n;
        if (auto* n = reaction_counter(counts, p.getReaction().getKind())) ++*n;
        return write_social(txn, key, before, counts);
      }
      case RecordKind::retraction: {
        if (previous) return {};  // already retracted
        auto release_bytes = data_view(p.getRetraction().getRelease());
        if (release_bytes.size() != 32) return {};
        auto release = load(txn, to_id(release_bytes));
        if (!release || release->kind() != RecordKind::release || release->author() != rec.author()) return {};
        trends::count_release(trend_changes, *release, -1);
        return refresh_head(txn, model_key_of(*release), read_agg(txn, release->id()));
      }
      case RecordKind::release_update:
        return apply_update(txn, rec, previous);
      case RecordKind::collection:
        return apply_collection(txn, rec, previous);
      case RecordKind::key_rotation:
        return rec.body().getPayload().getKeyRotation().getRevokeOld() ? void_updates(txn, rec.author()) : Status{};
      default:
        return {};
    }
  }

  // collections: 'T' ++ createdAt u64be ++ record id for every current
  // collection that is not a deletion (walked backwards: newest first), and
  // 'N' ++ numeric id u64be -> author ++ SHA-256 of the slug (its key in
  // `current`), kept after a deletion so a later collection of the slug
  // has the same number.
  Status apply_collection(lmdb::Txn& txn, const Record& rec, const RecordId* previous) {
    if (previous)
      if (auto old = load(txn, *previous); old && old->kind() == RecordKind::collection) {
        Bytes k{'T'};
        append(k, time_id(old->created_at(), old->id()));
        if (auto st = txn.del(db.collections, k); !st) return st;
      }
    auto c = rec.body().getPayload().getCollection();
    const auto author = rec.author();  // by value: one copy to take bytes from
    Bytes where(author.bytes.begin(), author.bytes.end());
    append(where, *replacement_target(rec));
    auto number = numeric_id(collection_key(rec.author(), text_view(c.getSlug())));
    // The first collection to take a number keeps it (two keys sharing 53
    // bits would otherwise trade it with each version).
    if (auto k = number_key('N', number); !txn.get(db.collections, k))
      if (auto st = txn.put(db.collections, k, where); !st) return st;
    if (c.getDeleted()) return {};
    Bytes k{'T'};
    append(k, time_id(rec.created_at(), rec.id()));
    return txn.put(db.collections, k, {});
  }

  // Records per author and clock hour, for Admission. A record dated within
  // the hour before it arrived counts in the hour of its createdAt; an older
  // one (a history being synced, or back-dated to dodge the cap) counts
  // separately, in the hour it arrived.
  static Bytes author_hour_key(const PublicKey& author, std::uint64_t hour, bool late = false) {
    Bytes k(author.bytes.begin(), author.bytes.end());
    put_be(k, hour, 8);
    if (late) k.push_back('L');
    return k;
  }
  static bool is_late(const Record& rec, std::uint64_t arrival_ms) { return rec.created_at() + kHourMs <= arrival_ms; }
  static Bytes hour_bucket(const Record& rec, std::uint64_t arrival_ms) {
    bool late = is_late(rec, arrival_ms);
    return author_hour_key(rec.author(), (late ? arrival_ms : rec.created_at()) / kHourMs, late);
  }

  static bool is_social(const Record& rec) {
    return rec.kind() == RecordKind::reaction || rec.kind() == RecordKind::comment;
  }
  // Reactions and comments per author and hour, apart from the other
  // records' count: author ++ hour ++ 's' (by createdAt) or 'l' (late ones,
  // by arrival).
  static Bytes social_hour_key(const PublicKey& author, std::uint64_t hour, bool late) {
    Bytes k = author_hour_key(author, hour);
    k.push_back(late ? 'l' : 's');
    return k;
  }

  static Bytes author_time_key(const Record& rec) {
    const auto author = rec.author();  // one copy: begin and end of the same array
    Bytes k(author.bytes.begin(), author.bytes.end());
    append(k, time_id(rec.created_at(), rec.id()));
    return k;
  }

  // Why a verified record from a peer is refused (Admission), or nullopt.
  std::optional<std::string> refuse(const lmdb::Txn& txn, const Record& rec, const Admission& a,
                                    std::uint64_t now_ms) const {
    if (is_social(rec)) {
      if (a.social_work_bits && protocol::work_bits(rec) < a.social_work_bits)
        return std::string(protocol::to_string(rec.kind())) + " by " + rec.author().to_text() + " carries " +
               std::to_string(protocol::work_bits(rec)) + " bits of work, not the " +
               std::to_string(a.social_work_bits) + " this node asks of every reaction and comment";
      if (a.social_per_hour) {
        const bool late = is_late(rec, now_ms);
        std::uint64_t hour = now_ms / kHourMs;
        auto count = [&](std::uint64_t h) {
          auto v = txn.get(db.author_hour, social_hour_key(rec.author(), h, late));
          return v && v->size() >= 8 ? get_be(*v, 0, 8) : 0;
        };
        std::uint64_t recent = count(hour) + (hour ? count(hour - 1) : 0);
        if (recent >= std::uint64_t{a.social_per_hour} * (late ? kLateFactor : 1))
          return "its author " + rec.author().to_text() + " has " + std::to_string(recent) +
                 (late ? " reactions and comments dated over an hour back arriving here within the last hour or two"
                       : " reactions and comments from the last hour or two here") +
                 ", this node's limit per author";
      }
    }
    if (!a.new_key_work_bits && !a.per_author_per_hour) return std::nullopt;
    const auto key = rec.author();
    const auto& author = key.bytes;
    lmdb::Cursor c(txn, db.author_time);
    bool known = c.seek(ByteView(author.data(), 32)) && keys::starts_with(c.key(), ByteView(author.data(), 32));
    if (!known && a.new_key_work_bits && protocol::work_bits(rec) < a.new_key_work_bits)
      return "its author " + rec.author().to_text() + " is new here and the record carries " +
             std::to_string(protocol::work_bits(rec)) + " bits of work, not the " +
             std::to_string(a.new_key_work_bits) + " this node asks of new keys";
    // Records per author in this clock hour and the last one (two reads,
    // whatever the limit): recent ones by createdAt, older ones by arrival,
    // with kLateFactor times the room (histories are synced in bulk).
    if (known && a.per_author_per_hour) {
      const bool late = is_late(rec, now_ms);
      auto count = [&](std::uint64_t hour) {
        auto v = txn.get(db.author_hour, author_hour_key(key, hour, late));
        return v && v->size() >= 8 ? get_be(*v, 0, 8) : 0;
      };
      std::uint64_t hour = now_ms / kHourMs;
      std::uint64_t recent = count(hour) + (hour ? count(hour - 1) : 0);
      std::uint64_t limit = std::uint64_t{a.per_author_per_hour} * (late ? kLateFactor : 1);
      if (recent >= limit)
        return "its author " + rec.author().to_text() + " has " + std::to_string(recent) +
               (late ? " records dated over an hour back arriving here within the last hour or two"
                     : " records from the last hour or two here") +
               ", this node's limit per author";
    }
    return std::nullopt;
  }

  static Bytes denied_key(const PublicKey& curator, char kind, ByteView target) {
    Bytes k(curator.bytes.begin(), curator.bytes.end());
    k.push_back(static_cast<std::uint8_t>(kind));
    append(k, target);
    return k;
  }

  Status count_denied(lmdb::Txn& txn, const Record& list, int delta, bool ratings_only = false) {
    for (auto e : list.body().getPayload().getDenyList().getEntries()) {
      auto target = e.getTarget();
      if (ratings_only && target.which() != schema::DenyEntry::Target::NSFW_LEVEL) continue;
      char kind = 0;
      ByteView bytes;
      switch (target.which()) {
        case schema::DenyEntry::Target::RELEASE:
          kind = 'r', bytes = data_view(target.getRelease());
          break;
        case schema::DenyEntry::Target::CONTENT_HASH:
          kind = 'h', bytes = data_view(target.getContentHash());
          break;
        case schema::DenyEntry::Target::CREATOR:
          kind = 'c', bytes = data_view(target.getCreator());
          break;
        case schema::DenyEntry::Target::NSFW_LEVEL: {
          // 'n' ++ image ++ level: an image's levels per curator, the
          // highest of them applies.
          auto rated = target.getNsfwLevel();
          if (rated.getSha256().size() != 32) continue;
          Bytes k = denied_key(list.author(), 'n', data_view(rated.getSha256()));
          k.push_back(rated.getLevel());
          if (auto st = bump(txn, db.denied, k, {}, delta); !st) return st;
          continue;
        }
        default:
          continue;
      }
      if (auto st = bump(txn, db.denied, denied_key(list.author(), kind, bytes), {}, delta); !st) return st;
    }
    return {};
  }

  bool denied(const lmdb::Txn& txn, const Record& rec, const std::vector<PublicKey>& curators) const {
    if (curators.empty() || rec.kind() != RecordKind::release) return false;
    auto r = rec.body().getPayload().getRelease();
    for (const auto& c : curators) {
      if (txn.get(db.denied, denied_key(c, 'r', rec.id())) ||
          txn.get(db.denied, denied_key(c, 'c', rec.author().bytes)))
        return true;
      for (auto f : r.getFiles())
        if (txn.get(db.denied, denied_key(c, 'h', data_view(f.getHashes().getSha256())))) return true;
      for (auto img : r.getImages())
        if (txn.get(db.denied, denied_key(c, 'h', data_view(img.getSha256())))) return true;
    }
    return false;
  }

  std::optional<Rotation> rotation_of(const lmdb::Txn& txn, const PublicKey& author) const {
    auto cur = parse_current(txn.get(db.current, current_key(RecordKind::key_rotation, author, {})));
    if (!cur) return std::nullopt;
    if (auto summary = txn.get(db.rotations, cur->id); summary && summary->size() == 34) {
      Rotation out;
      std::memcpy(out.new_key.bytes.data(), summary->data() + 2, 32);
      out.revoked = (*summary)[0] != 0;
      out.keep_listed = (*summary)[1] != 0;
      out.at_ms = cur->t;
      out.record = cur->id;
      return out;
    }
    auto rec = load(txn, cur->id);  // indexed before the rotations table
    if (!rec || rec->kind() != RecordKind::key_rotation) return std::nullopt;
    auto k = rec->body().getPayload().getKeyRotation();
    Rotation out;
    out.new_key.bytes = protocol::util::digest_of(k.getNewKey());
    out.revoked = k.getRevokeOld();
    out.at_ms = rec->created_at();
    out.record = rec->id();
    return out;
  }

  // rotations: <rotation id> -> revokeOld, keepListed (one byte each) and
  // the new key (32 bytes), and
  // <rotation id><kept record id> -> {} for its keep list, so voided()
  // never reads a rotation record (up to 2 MiB).
  Status index_rotation(lmdb::Txn& txn, const Record& rec) {
    auto k = rec.body().getPayload().getKeyRotation();
    const auto id = rec.id();
    Bytes flags = {static_cast<std::uint8_t>(k.getRevokeOld()), static_cast<std::uint8_t>(k.getKeepListed())};
    append(flags, data_view(k.getNewKey()));
    if (auto st = txn.put(db.rotations, id, flags); !st) return st;
    for (auto kept : k.getKeep()) {
      Bytes key(id.begin(), id.end());
      append(key, data_view(kept));
      if (auto st = txn.put(db.rotations, key, {}); !st) return st;
    }
    return {};
  }

  // Whether the current revoking rotation of rec's author voids it: signed
  // after the rotation, or earlier but not in the rotation's keep list (when
  // it has one). One lookup for authors who never rotated, three at most.
  bool voided(const lmdb::Txn& txn, const Record& rec) const {
    auto rot = rotation_of(txn, rec.author());
    if (!rot || !rot->revoked || rot->record == rec.id()) return false;
    if (rec.created_at() > rot->at_ms) return true;
    if (!rot->keep_listed) return false;
    Bytes key(rot->record.begin(), rot->record.end());
    append(key, rec.id());
    return !txn.get(db.rotations, key).has_value();
  }

  static Bytes name_key(std::string_view name, const PublicKey& author) {
    Bytes k;
    append(k, keys::fold_case(name.substr(0, 200)));
    k.push_back(0);
    append(k, author.bytes);
    return k;
  }

  // After a retraction: the head is the newest version still listed, and
  // the retracted version's ratings no longer count for the model.
  Status refresh_head(lmdb::Txn& txn, const ModelKey& key, const RatingAggregate& withdrawn) {
    auto before = decode_model(txn.get(db.models, key));
    if (!before) return {};
    ModelEntry after = *before;
    add_agg(after.agg, withdrawn, -1);  // the retracted version's ratings leave the model's
    after.head = RecordId{};
    after.head_t = 0;
    lmdb::Cursor c(txn, db.rel_model);
    Bytes end(key.begin(), key.end());
    end = prefix_successor(std::move(end));
    ByteView prefix(key.data(), key.size());
    for (bool ok = c.seek_at_or_before(end); ok && keys::starts_with(c.key(), prefix); ok = c.prev()) {
      auto k = c.key();
      if (k.size() != 72 || std::equal(k.begin(), k.end(), end.begin(), end.end())) continue;
      auto version = load(txn, to_id(k.subspan(40)));
      if (!version || retracted(txn, *version)) continue;
      after.head = version->id();
      after.head_t = version->created_at();
      break;
    }
    return write_model(txn, key, &*before, after);
  }

  // Builds what format 2 added from the records of a format 1 index.
  // Format 4: image_refs from the image posts and current profiles stored
  // by an older seedbank. One scan of the records, once.
  // comments: subject_key ++ createdAt u64be ++ id, for top-level comments
  // as first written; replies: subject_key ++ parent id ++ createdAt u64be
  // ++ id, for replies as first written (so replies about another subject
  // are never in a comment's range). Edits are found through `current`.
  Status index_comment(lmdb::Txn& txn, const Record& rec) {
    auto c = rec.body().getPayload().getComment();
    if (c.getEdits().size()) return {};
    Bytes k = subject_key(protocol::read_subject(c.getSubject()));
    if (c.getParent().size() == 32) append(k, data_view(c.getParent()));
    append(k, time_id(rec.created_at(), rec.id()));
    return txn.put(c.getParent().size() ? db.replies : db.comments, k, {});
  }

  // image_feed: createdAt u64be ++ id, and author_feed: author ++
  // createdAt u64be ++ id, for every release with sample images and every
  // image post: the image feed, newest first, whole or by author.
  Status index_feed(lmdb::Txn& txn, const Record& rec) {
    bool images = rec.kind() == RecordKind::image_post ||
                  (rec.kind() == RecordKind::release && rec.body().getPayload().getRelease().getImages().size() > 0);
    if (!images) return {};
    if (auto st = txn.put(db.image_feed, time_id(rec.created_at(), rec.id()), {}); !st) return st;
    return txn.put(db.author_feed, author_time_key(rec), {});
  }

  Status build_image_feed(lmdb::Txn& txn) {
    lmdb::Cursor c(txn, db.by_time);
    for (bool ok = c.first(); ok; ok = c.next()) {
      if (c.key().size() != 40) continue;
      auto rec = load(txn, to_id(c.key().subspan(8)));
      if (!rec || rec->kind() == RecordKind::unknown) continue;
      if (auto st = index_feed(txn, *rec); !st) return st;
    }
    return {};
  }

  Status build_image_refs(lmdb::Txn& txn) {
    lmdb::Cursor c(txn, db.by_time);
    for (bool ok = c.first(); ok; ok = c.next()) {
      if (c.key().size() != 40) continue;
      auto rec = load(txn, to_id(c.key().subspan(8)));
      if (!rec) continue;
      capnp::Data::Reader image;
      if (rec->kind() == RecordKind::image_post) {
        image = rec->body().getPayload().getImagePost().getImage().getSha256();
      } else if (rec->kind() == RecordKind::profile) {
        auto cur = parse_current(txn.get(db.current, current_key(rec->kind(), rec->author(), {})));
        if (!cur || cur->id != rec->id()) continue;
        image = rec->body().getPayload().getProfile().getAvatar();
      }
      if (image.size() == 32)
        if (auto st = txn.put(db.image_refs, image_ref_key(image, rec->id()), {}); !st) return st;
    }
    return {};
  }

  Status migrate_from_1(lmdb::Txn& txn) {
    // Two passes: the rating counters format 2 added first, so models built
    // in the second pass sum complete figures.
    std::map<RecordId, RatingAggregate> thumbs;
    for (int pass = 0; pass < 2; ++pass) {
      lmdb::Cursor c(txn, db.by_time);
      for (bool ok = c.first(); ok; ok = c.next()) {
        if (c.key().size() != 40) continue;
        auto rec = load(txn, to_id(c.key().subspan(8)));
        if (!rec) continue;
        if (pass == 1) {
          if (auto st = txn.put(db.author_time, author_time_key(*rec), {}); !st) return st;
          if (auto st = bump(txn, db.author_hour, author_hour_key(rec->author(), rec->created_at() / kHourMs), {}); !st)
            return st;
        }
        if (rec->kind() == RecordKind::release) {
          if (pass == 1)
            if (auto st = index_model(txn, *rec); !st) return st;
          continue;
        }
        auto target = replacement_target(*rec);
        if (!target) continue;
        auto cur = parse_current(txn.get(db.current, current_key(rec->kind(), rec->author(), *target)));
        if (!cur || cur->id != rec->id() || rec->kind() == RecordKind::retraction) continue;
        if (pass == 0) {
          // Format 1 kept count and sum; the thumbs and review counts are
          // counted afresh from the current ratings.
          if (rec->kind() != RecordKind::rating) continue;
          RatingAggregate share;
          count_rating(share, rec->body().getPayload().getRating(), +1);
          auto& counts = thumbs[to_id(data_view(rec->body().getPayload().getRating().getRelease()))];
          add_agg(counts, share, +1);
        } else if (auto st = apply_current(txn, *rec, nullptr); !st) {
          return st;
        }
      }
      if (pass == 0) {
        for (const auto& [release, counts] : thumbs) {
          RatingAggregate agg = read_agg(txn, release);
          agg.thumbs_up = counts.thumbs_up;
          agg.thumbs_down = counts.thumbs_down;
          agg.reviews = counts.reviews;
          if (auto st = txn.put(db.agg, release, encode_agg(agg)); !st) return st;
        }
      }
    }
    return {};
  }

  // ---- queries ----

  // In `models_only` queries, a release is listed when it is its model's head.
  // Whether this node shows release `rec` (given the curators it follows),
  // as far as retraction, deny-lists and revocation go.
  bool shown(const lmdb::Txn& txn, const Record& rec, const std::vector<PublicKey>& curators) const {
    return !retracted(txn, rec) && !denied(txn, rec, curators) && !voided(txn, rec);
  }

  // The nearest version of rec's model newer (or older) than `rec` that
  // this node shows, if any.
  std::optional<Record> nearest_shown(const lmdb::Txn& txn, const Record& rec, const std::vector<PublicKey>& curators,
                                      bool newer) const {
    const ModelKey key = model_key_of(rec);
    Bytes from(key.begin(), key.end());
    append(from, time_id(rec.created_at(), rec.id()));
    lmdb::Cursor c(txn, db.rel_model);
    auto step = [&] { return newer ? c.next() : c.prev(); };
    for (bool ok = c.seek(from) && step(); ok && keys::starts_with(c.key(), ByteView(key.data(), key.size()));
         ok = step()) {
      auto version = load(txn, to_id(c.key().subspan(key.size() + 8)));
      if (version && shown(txn, *version, curators)) return version;
    }
    return std::nullopt;
  }

  // Whether `rec` (itself shown) stands for its model in listings: it is
  // the model's head, or every newer version is retracted, denied by
  // `curators` or voided, so the model falls back to it.
  bool shown_head(const lmdb::Txn& txn, const Record& rec, const std::vector<PublicKey>& curators) const {
    auto m = decode_model(txn.get(db.models, model_key_of(rec)));
    if (!m) return false;
    if (m->head == rec.id()) return true;
    if (m->has_head() && std::make_tuple(m->head_t, m->head) < std::make_tuple(rec.created_at(), rec.id()))
      return false;  // newer than the head: retracted
    return !nearest_shown(txn, rec, curators, true);
  }

  bool retracted(const lmdb::Txn& txn, const Record& release) const {
    return txn.get(db.current, current_key(RecordKind::retraction, release.author(), release.id())).has_value();
  }

  bool matches(const lmdb::Txn& txn, const Record& rec, const ReleaseQuery& q,
               const std::vector<std::string>& text_words) const {
    if (rec.kind() != RecordKind::release) return false;
    auto updated = shown(txn, rec);  // tags and the NSFW flag as shown
    auto r = (updated ? *updated : rec).body().getPayload().getRelease();
    if (q.type && static_cast<std::uint16_t>(r.getType()) != *q.type) return false;
    if (q.creator && rec.author() != *q.creator) return false;
    if (!q.any_type.empty() &&
        std::find(q.any_type.begin(), q.any_type.end(), static_cast<std::uint16_t>(r.getType())) == q.any_type.end())
      return false;
    if (!q.any_base_model.empty()) {
      auto base = keys::fold_case(text_view(r.getBaseModel()));
      bool found = false;
      for (const auto& b : q.any_base_model) found = found || keys::fold_case(b) == base;
      if (!found) return false;
    }
    if (rec.created_at() < q.created_after_ms) return false;
    if (q.hide_nsfw && r.getNsfw()) return false;
    if (!q.any_creator.empty() &&
        std::find(q.any_creator.begin(), q.any_creator.end(), rec.author()) == q.any_creator.end())
      return false;
    if (!q.base_model.empty() && keys::fold_case(text_view(r.getBaseModel())) != keys::fold_case(q.base_model))
      return false;
    if (!q.tag.empty()) {
      auto want = keys::fold_case(q.tag);
      bool found = false;
      for (auto tag : r.getTags()) found = found || keys::fold_case(text_view(tag)) == want;
      if (!found) return false;
    }
    for (const auto& w : text_words)
      if (word_weight(txn, rec, w) == 0) return false;
    if (!q.include_retracted && retracted(txn, rec)) return false;
    if (denied(txn, rec, q.deny_curators)) return false;
    // A key its owner declared compromised signs nothing after that.
    if (voided(txn, rec)) return false;
    if (q.models_only && !shown_head(txn, rec, q.deny_curators)) return false;
    return true;
  }

  std::optional<Record> load(const lmdb::Txn& txn, const RecordId& id) const {
    auto bytes = txn.get(db.records, id);
    if (!bytes) return std::nullopt;
    auto rec = protocol::load_stored_record(*bytes, &id);
    if (!rec) return std::nullopt;
    return std::move(rec).value();
  }
};

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::~Index() = default;
const std::string& Index::network() const { return impl_->options.network; }

Result<std::unique_ptr<Index>> Index::open(const IndexOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return make_error(ErrorCode::io, options.dir.string() + ": cannot create index folder: " + ec.message());
  ::chmod(options.dir.c_str(), 0700);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  int rc = mdb_env_create(&impl->env);
  if (rc) return lmdb::lmdb_error("create environment", rc);
  mdb_env_set_maxdbs(impl->env, 64);  // 39 used
  mdb_env_set_maxreaders(impl->env, 512);
  impl->limit = options.map_size;
  rc = mdb_env_set_mapsize(impl->env, static_cast<std::size_t>(options.map_size));
  if (rc) return lmdb::lmdb_error("set the index's size limit", rc);
  // MDB_NOMETASYNC: one fsync per commit instead of two; see Durability.
  rc = mdb_env_open(impl->env, options.dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600);
  if (rc) {
    auto err = lmdb::lmdb_error(("open " + options.dir.string()).c_str(), rc);
    if (rc == EAGAIN || rc == EBUSY) err.message += "; another process holds it";
    return err;
  }
  impl->mapped = impl->map_size();  // no other thread has it yet
  int stale = 0;
  mdb_reader_check(impl->env, &stale);  // readers left by a killed process

  auto txn = impl->begin(true);
  if (!txn) return txn.error();
  struct Named {
    const char* name;
    MDB_dbi* dbi;
    unsigned flags;
  };
  Dbs& d = impl->db;
  const Named named[] = {
      {"meta", &d.meta, 0},
      {"records", &d.records, 0},
      {"by_time", &d.by_time, 0},
      {"hashes", &d.hashes, MDB_DUPSORT | MDB_DUPFIXED},
      {"rel_time", &d.rel_time, 0},
      {"rel_creator", &d.rel_creator, 0},
      {"rel_type", &d.rel_type, 0},
      {"rel_base", &d.rel_base, 0},
      {"rel_tag", &d.rel_tag, 0},
      {"rel_word", &d.rel_word, 0},
      {"rel_rating", &d.rel_rating, 0},
      {"agg", &d.agg, 0},
      {"current", &d.current, 0},
      {"posts", &d.posts, 0},
      {"models", &d.models, 0},
      {"rel_model", &d.rel_model, 0},
      {"model_rating", &d.model_rating, 0},
      {"ids", &d.ids, MDB_DUPSORT},
      {"tags", &d.tags, 0},
      {"creators", &d.creators, 0},
      {"names", &d.names, 0},
      {"rel_ratings", &d.rel_ratings, 0},
      {"denied", &d.denied, 0},
      {"author_time", &d.author_time, 0},
      {"author_hour", &d.author_hour, 0},
      {"rotations", &d.rotations, 0},
      {"opaque", &d.opaque, 0},
      {"image_refs", &d.image_refs, 0},
      {"arrived", &d.arrived, 0},
      {"image_feed", &d.image_feed, 0},
      {"author_feed", &d.author_feed, 0},
      {"social", &d.social, 0},
      {"comments", &d.comments, 0},
      {"replies", &d.replies, 0},
      {"terms", &d.terms, 0},
      {"name_words", &d.name_words, 0},
      {"social_rank", &d.social_rank, 0},
      {"collections", &d.collections, 0},
      {"trends", &d.trends, 0},
  };
  for (const auto& n : named) {
    rc = mdb_dbi_open(txn->get(), n.name, MDB_CREATE | n.flags, n.dbi);
    if (rc) return lmdb::lmdb_error((std::string("open database ") + n.name).c_str(), rc);
  }
  auto version = txn->get(d.meta, protocol::as_bytes("version"));
  bool build_refs = false;    // formats 1-3 have no image_refs
  bool build_feed = false;    // formats 1-4 have no image_feed
  bool build_trends = false;  // formats 1-5 have no trends
  if (version)
    for (std::string_view old : {"1", "2", "3", "4", "5"}) {
      bool is = std::string_view(reinterpret_cast<const char*>(version->data()), version->size()) == old;
      build_refs |= is && old != "4" && old != "5";
      build_feed |= is && old != "5";
      build_trends |= is;
    }
  if (version && std::string_view(reinterpret_cast<const char*>(version->data()), version->size()) == "1") {
    if (auto st = impl->migrate_from_1(*txn); !st) return st.error();
    if (auto st = txn->put(d.meta, protocol::as_bytes("version"), protocol::as_bytes(kSchemaVersion)); !st)
      return st.error();
    version = txn->get(d.meta, protocol::as_bytes("version"));
  }
  if (version && (std::string_view(reinterpret_cast<const char*>(version->data()), version->size()) == "2" ||
                  std::string_view(reinterpret_cast<const char*>(version->data()), version->size()) == "3" ||
                  std::string_view(reinterpret_cast<const char*>(version->data()), version->size()) == "4" ||
                  std::string_view(reinterpret_cast<const char*>(version->data()), version->size()) == "5")) {
    if (auto st = txn->put(d.meta, protocol::as_bytes("version"), protocol::as_bytes(kSchemaVersion)); !st)
      return st.error();
    version = txn->get(d.meta, protocol::as_bytes("version"));
  }
  if (version && std::string_view(reinterpret_cast<const char*>(version->data()), version->size()) != kSchemaVersion)
    return make_error(ErrorCode::conflict,
                      options.dir.string() + ": index format " +
                          std::string(reinterpret_cast<const char*>(version->data()), version->size()) +
                          " is not supported by this seedbank; upgrade seedbank");
  auto network = txn->get(d.meta, protocol::as_bytes("network"));
  if (network) {
    std::string_view stored(reinterpret_cast<const char*>(network->data()), network->size());
    if (stored != options.network)
      return make_error(ErrorCode::conflict, options.dir.string() + ": this index belongs to network '" +
                                                 std::string(stored) + "', not '" + options.network +
                                                 "'; use another data dir for another network");
  }
  if (!version) {
    if (auto st = txn->put(d.meta, protocol::as_bytes("version"), protocol::as_bytes(kSchemaVersion)); !st)
      return st.error();
    if (auto st = txn->put(d.meta, protocol::as_bytes("network"), protocol::as_bytes(options.network)); !st)
      return st.error();
  }
  if (build_refs)
    if (auto st = impl->build_image_refs(*txn); !st) return st.error();
  if (build_feed)
    if (auto st = impl->build_image_feed(*txn); !st) return st.error();
  // What an older seedbank may have left out of step, judged before
  // reindex_opaque counts the records it indexes (and so moves the metas).
  auto same_meta = [&](const char* key, const Bytes& want) {
    auto v = txn->get(d.meta, protocol::as_bytes(key));
    return v && std::equal(v->begin(), v->end(), want.begin(), want.end());
  };
  const bool views_stale = !same_meta("views", impl->records_stored(*txn));
  const bool rank_stale = !same_meta("social_rank", impl->social_counts_stored(*txn));
  const bool bytes_stale = !same_meta("bytes", impl->records_stored(*txn));
  impl->bytes_in_step = !bytes_stale;
  if (auto st = impl->reindex_opaque(*txn); !st) return st.error();
  // The search index came after format 5: built for an index without it,
  // and again when an older seedbank stored releases meanwhile (its count
  // of releases is not the search index's).
  {
    // Copies: the build writes pages these views may point into.
    std::optional<Bytes> counted, searched;
    if (auto v = txn->get(d.meta, protocol::as_bytes("count/release"))) counted.emplace(v->begin(), v->end());
    if (auto v = txn->get(d.meta, protocol::as_bytes("search"))) searched.emplace(v->begin(), v->end());
    if (counted != searched) {
      if (auto st = impl->build_search(*txn); !st) return st.error();
      Bytes value(counted ? *counted : Bytes(8, 0));
      if (auto st = txn->put(d.meta, protocol::as_bytes("search"), value); !st) return st.error();
    }
  }
  if (views_stale) {
    if (auto st = impl->repair_shown(*txn); !st) return st.error();
    if (auto st = txn->put(d.meta, protocol::as_bytes("views"), impl->records_stored(*txn)); !st) return st.error();
  }
  if (rank_stale) {
    if (auto st = impl->build_social_rank(*txn); !st) return st.error();
    if (auto st = txn->put(d.meta, protocol::as_bytes("social_rank"), impl->social_counts_stored(*txn)); !st)
      return st.error();
  }
  // After reindex_opaque: the build counts what it indexed too. Counted
  // afresh too when counted by other rules (an older or newer seedbank).
  {
    auto rules = txn->get(d.meta, protocol::as_bytes("trends"));
    build_trends |=
        !rules || std::string_view(reinterpret_cast<const char*>(rules->data()), rules->size()) != trends::kRules;
  }
  if (auto st = build_trends ? impl->build_trends(*txn) : impl->flush_trends(*txn); !st) return st.error();
  if (build_trends)
    if (auto st = txn->put(d.meta, protocol::as_bytes("trends"), protocol::as_bytes(trends::kRules)); !st)
      return st.error();
  if (auto st = txn->commit(); !st) return st.error();
  // Bytes per kind are for display: counted in a transaction of their own,
  // so a full index still opens (and counts them at a later open).
  if (bytes_stale) {
    auto count = impl->begin(true);
    auto st = count ? impl->count_record_bytes(*count) : Status(count.error());
    if (st) st = count->commit();
    if (st)
      impl->bytes_in_step = true;
    else
      impl->options.log.warn("index: bytes per record kind not counted: " + st.error().message);
  }
  return std::unique_ptr<Index>(new Index(std::move(impl)));
}

IngestOutcome Index::ingest(ByteView bytes, Durability durability) {
  Bytes copy(bytes.begin(), bytes.end());
  return ingest_batch(std::span<const Bytes>(&copy, 1), durability)[0];
}

std::vector<IngestOutcome> Index::ingest_batch(std::span<const Bytes> records, Durability durability,
                                               const Admission& admission) {
  std::optional<std::uint64_t> full;
  auto outcomes = ingest_once(records, durability, admission, &full);
  // The map filled: what the failure rejected is stored again once it
  // grew. Each round needs a larger limit than the last, so this ends.
  while (full && impl_->grow(*full)) {
    std::vector<std::size_t> where;
    std::vector<Bytes> again;
    for (std::size_t i = 0; i < outcomes.size(); ++i)
      if (outcomes[i].status == IngestStatus::rejected && outcomes[i].error.code == ErrorCode::io) {
        where.push_back(i);
        again.emplace_back(records[i].begin(), records[i].end());
      }
    if (again.empty()) break;
    auto retried = ingest_once(again, durability, admission, &full);
    for (std::size_t k = 0; k < where.size(); ++k) outcomes[where[k]] = std::move(retried[k]);
  }
  return outcomes;
}

std::vector<IngestOutcome> Index::ingest_once(std::span<const Bytes> records, Durability durability,
                                              const Admission& admission, std::optional<std::uint64_t>* full_at) {
  const std::size_t n = records.size();
  std::vector<IngestOutcome> outcomes(n);
  std::vector<std::optional<Record>> verified(n);
  protocol::RecordLimits limits;
  limits.now_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());

  // Verifier threads take chunks of records in order; this thread writes
  // each chunk as soon as it is verified, so signature checks overlap the
  // LMDB writes. Chunks keep thread hand-offs rare.
  constexpr std::size_t kChunk = 64;
  const std::size_t chunks = (n + kChunk - 1) / kChunk;
  std::mutex ready_mutex;
  std::condition_variable ready_cv;
  std::vector<char> ready(chunks, 0);
  std::atomic<std::size_t> next{0};
  auto verify_some = [&] {
    for (;;) {
      std::size_t c = next.fetch_add(1);
      if (c >= chunks) return;
      for (std::size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) {
        auto rec = protocol::verify_record(records[i], impl_->options.network, limits);
        if (rec) {
          outcomes[i].id = rec->id();
          verified[i] = std::move(rec).value();
        } else {
          outcomes[i].status = IngestStatus::rejected;
          outcomes[i].error = rec.error();
        }
      }
      {
        std::lock_guard lock(ready_mutex);
        ready[c] = 1;
      }
      ready_cv.notify_all();
    }
  };
  const unsigned threads = n <= kChunk ? 0 : std::max(1u, impl_->options.verify_threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(verify_some);
  struct Join {
    std::vector<std::thread>& pool;
    ~Join() {
      for (auto& t : pool) t.join();
    }
  } join{pool};
  if (threads == 0) verify_some();  // a few records: verify inline

  std::lock_guard write_lock(impl_->write_mutex);
  // Counts of a batch that failed before its commit were never written.
  struct ForgetTrends {
    trends::Changes& changes;
    ~ForgetTrends() { changes.clear(); }
  } forget_trends{impl_->trend_changes};
  std::optional<protocol::Error> failure;
  std::size_t group_begin = 0;  // first record of the uncommitted group
  std::uint64_t added_by_kind[protocol::kRecordKinds] = {};
  std::uint64_t bytes_by_kind[protocol::kRecordKinds] = {};
  auto txn = impl_->begin(true);
  if (!txn) failure = txn.error();

  // Commits the records applied since group_begin; verifiers keep working
  // meanwhile, so the commit's I/O overlaps their signature checks.
  auto commit_group = [&](std::size_t end) {
    if (!failure)
      if (auto st = impl_->flush_trends(*txn); !st) failure = st.error();
    for (int k = 0; k < protocol::kRecordKinds && !failure; ++k) {
      if (added_by_kind[k])
        if (auto st = impl_->add_count(*txn, static_cast<RecordKind>(k), added_by_kind[k], bytes_by_kind[k]); !st)
          failure = st.error();
      added_by_kind[k] = bytes_by_kind[k] = 0;
    }
    if (!failure)
      if (auto st = txn->commit(); !st) failure = st.error();
    if (!failure && durability == Durability::local) {
      // The group is committed (it survives a process crash); a failed
      // flush only weakens power-loss safety, so it is retried and reported
      // on stderr, and the records stay "added".
      if (int rc = mdb_env_sync(impl_->env, 1); rc && (rc = mdb_env_sync(impl_->env, 1)))
        impl_->options.log.warn(lmdb::lmdb_error("flushing the index to disk", rc).message);
    }
    if (failure) {
      for (std::size_t i = group_begin; i < end; ++i)
        if (verified[i]) outcomes[i] = IngestOutcome{IngestStatus::rejected, verified[i]->id(), *failure};
    }
    group_begin = end;
  };

  for (std::size_t i = 0; i < n; ++i) {
    if (threads > 0 && i % kChunk == 0) {
      std::unique_lock lock(ready_mutex);
      ready_cv.wait(lock, [&] { return ready[i / kChunk] != 0; });
    }
    if (failure) {
      if (verified[i]) outcomes[i] = IngestOutcome{IngestStatus::rejected, verified[i]->id(), *failure};
      continue;
    }
    if (!verified[i]) continue;
    if (auto why = impl_->refuse(*txn, *verified[i], admission, limits.now_ms);
        why && !txn->get(impl_->db.records, verified[i]->id())) {
      outcomes[i] = IngestOutcome{
          IngestStatus::rejected, verified[i]->id(),
          make_error(ErrorCode::refused, "record " + protocol::to_hex(verified[i]->id()) + " refused: " + *why)};
      continue;
    }
    auto status = impl_->apply(*txn, *verified[i], limits.now_ms);
    if (!status) {
      failure = status.error();
      for (std::size_t j = group_begin; j <= i; ++j)
        if (verified[j]) outcomes[j] = IngestOutcome{IngestStatus::rejected, verified[j]->id(), *failure};
      continue;
    }
    outcomes[i].status = *status;
    if (*status != IngestStatus::duplicate) {
      ++added_by_kind[static_cast<int>(verified[i]->kind())];
      bytes_by_kind[static_cast<int>(verified[i]->kind())] += verified[i]->bytes().size();
    }
    // Records made to hold many counters are written out before a group ends.
    if (impl_->trend_changes.size() >= impl_->options.max_trend_changes)
      if (auto st = impl_->flush_trends(*txn); !st) {
        failure = st.error();
        for (std::size_t j = group_begin; j <= i; ++j)
          if (verified[j]) outcomes[j] = IngestOutcome{IngestStatus::rejected, verified[j]->id(), *failure};
        continue;
      }
    if (i + 1 - group_begin >= kCommitGroup && i + 1 < n) {
      commit_group(i + 1);
      if (!failure) {
        auto again = impl_->begin(true);
        if (again)
          txn = std::move(again);
        else
          failure = again.error();
      }
    }
  }
  if (!failure) commit_group(n);
  // This call's own: the flag is only set under write_mutex.
  full_at->reset();
  if (impl_->gate.map_full.exchange(false)) *full_at = impl_->mapped.load();
  return outcomes;
}

bool Index::contains(const RecordId& id) const {
  auto txn = impl_->begin(false);
  return txn && txn->get(impl_->db.records, id).has_value();
}

std::optional<UpdatedRelease> Index::updated(const Record& release) const {
  auto txn = impl_->begin(false);
  if (!txn || release.kind() != RecordKind::release) return std::nullopt;
  auto cur = parse_current(
      txn->get(impl_->db.current, current_key(RecordKind::release_update, release.author(), id_bytes(release.id()))));
  if (!cur) return std::nullopt;
  auto update = impl_->load(*txn, cur->id);
  // One its author's revocation voids (a thief's) shows nothing.
  if (!update || impl_->voided(*txn, *update)) return std::nullopt;
  auto view = protocol::apply_update(release, *update);
  if (!view) return std::nullopt;
  return UpdatedRelease{std::move(*view), update->id(), update->created_at()};
}

Record Index::shown(const Record& release) const {
  if (auto u = updated(release)) return std::move(u->shown);
  return protocol::load_stored_record(release.bytes(), &release.id()).value();
}

std::optional<RecordId> Index::update_of(const Record& release) const {
  auto u = updated(release);
  return u ? std::optional<RecordId>(u->update) : std::nullopt;
}

Result<Record> Index::get(const RecordId& id) const {
  auto txn = impl_->begin(false);
  if (!txn) return txn.error();
  auto bytes = txn->get(impl_->db.records, id);
  if (!bytes) return make_error(ErrorCode::not_found, "no record " + protocol::to_hex(id) + " in the local index");
  return protocol::load_stored_record(*bytes, &id);
}

namespace {

// A hex query normalised to nibbles, plus which hash types it may be.
struct HashQuery {
  std::string hex;  // lowercase
  std::optional<HashType> only;
};

std::optional<HashQuery> parse_hash_query(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  HashQuery q;
  auto strip = [&](std::string_view prefix, std::optional<HashType> type) {
    if (text.size() >= prefix.size() && keys::fold_case(text.substr(0, prefix.size())) == prefix) {
      text.remove_prefix(prefix.size());
      q.only = type;
      return true;
    }
    return false;
  };
  strip("sha256:", HashType::sha256) || strip("urn:btih:", HashType::btih_v1) ||
      strip("urn:btmh:1220", HashType::btih_v2) || strip("0x", std::nullopt);
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  if (text.size() < 8 || text.size() > 64) return std::nullopt;
  q.hex = keys::fold_case(text);
  return q;
}

}  // namespace

Result<std::vector<HashMatch>> Index::find_by_hash(std::string_view text, std::size_t limit) const {
  auto q = parse_hash_query(text);
  if (!q)
    return make_error(ErrorCode::invalid_argument,
                      "'" + std::string(text) +
                          "' is not a hash: give 8 to 64 hex digits (SHA256, AutoV2, AutoV1, "
                          "AutoV3, CRC32, info-hash or release id)");
  auto txn = impl_->begin(false);
  if (!txn) return txn.error();
  const std::size_t n = q->hex.size();
  struct Candidate {
    HashType type;
    std::size_t max_hex;
    bool exact_only;
  };
  const Candidate candidates[] = {
      {HashType::sha256, 64, false},      {HashType::autov1, 8, true},       {HashType::autov3, 64, false},
      {HashType::crc32, 8, true},         {HashType::btih_v1, 40, false},    {HashType::btih_v2, 64, false},
      {HashType::pieces_root, 64, false}, {HashType::release_id, 64, false},
  };
  std::vector<HashMatch> out;
  for (const auto& c : candidates) {
    if (q->only && *q->only != c.type) continue;
    if (n > c.max_hex || (c.exact_only && n != c.max_hex)) continue;
    // Whole bytes of the prefix, then an optional high nibble.
    auto whole = *protocol::from_hex(std::string_view(q->hex).substr(0, n & ~std::size_t{1}));
    Bytes prefix = hash_key(c.type, whole);
    std::optional<std::uint8_t> nibble;
    if (n % 2) nibble = static_cast<std::uint8_t>(*protocol::from_hex(std::string(1, q->hex[n - 1]) + "0")->data());
    Bytes start = prefix;
    if (nibble) start.push_back(*nibble);
    lmdb::Cursor cursor(*txn, impl_->db.hashes);
    for (bool ok = cursor.seek(start); ok && out.size() < limit; ok = cursor.next()) {
      auto key = cursor.key();
      if (!keys::starts_with(key, prefix)) break;
      if (nibble && (key.size() <= prefix.size() || (key[prefix.size()] & 0xf0) != *nibble)) break;
      auto value = cursor.value();
      if (value.size() != 34) continue;
      HashMatch m;
      m.type = c.type;
      m.hash.assign(key.begin() + 1, key.end());
      m.release = to_id(value);
      m.file = static_cast<std::uint16_t>(get_be(value, 32, 2));
      if (c.type == HashType::sha256)
        m.matched_as = n == 64 ? "SHA256" : n == 10 ? "AutoV2" : "SHA256 prefix";
      else
        m.matched_as = std::string(to_string(c.type));
      out.push_back(std::move(m));
    }
  }
  return out;
}

RatingAggregate Index::rating(const RecordId& release) const {
  auto txn = impl_->begin(false);
  if (!txn) return {};
  return impl_->read_agg(*txn, release);
}

std::optional<RecordId> Index::current(RecordKind kind, const PublicKey& author, ByteView target) const {
  auto txn = impl_->begin(false);
  if (!txn) return std::nullopt;
  auto entry = parse_current(txn->get(impl_->db.current, current_key(kind, author, target)));
  if (!entry) return std::nullopt;
  return entry->id;
}

std::optional<std::uint64_t> Index::arrived_ms(const RecordId& release) const {
  auto txn = impl_->begin(false);
  if (!txn) return std::nullopt;
  auto v = txn->get(impl_->db.arrived, release);
  if (!v || v->size() != 8) return std::nullopt;
  return get_be(*v, 0, 8);
}

bool Index::is_retracted(const RecordId& release) const {
  auto txn = impl_->begin(false);
  if (!txn) return false;
  auto rec = impl_->load(*txn, release);
  return rec && impl_->retracted(*txn, *rec);
}

bool Index::is_denied(const Record& release, const std::vector<PublicKey>& curators) const {
  auto txn = impl_->begin(false);
  return txn && impl_->denied(*txn, release, curators);
}

bool Index::is_denied(const protocol::Sha256Digest& content, const std::vector<PublicKey>& curators,
                      const std::optional<PublicKey>& creator) const {
  auto txn = impl_->begin(false);
  if (!txn) return false;
  for (const auto& c : curators) {
    if (txn->get(impl_->db.denied, Impl::denied_key(c, 'h', content))) return true;
    if (creator && txn->get(impl_->db.denied, Impl::denied_key(c, 'c', creator->bytes))) return true;
  }
  return false;
}

std::uint8_t Index::curated_level(const protocol::Sha256Digest& image, const std::vector<PublicKey>& curators) const {
  auto txn = impl_->begin(false);
  if (!txn) return 0;
  std::uint8_t level = 0;
  for (const auto& c : curators) {
    Bytes prefix = Impl::denied_key(c, 'n', image);
    lmdb::Cursor cur(*txn, impl_->db.denied);
    for (bool ok = cur.seek(prefix); ok && keys::starts_with(cur.key(), prefix); ok = cur.next()) {
      if (cur.key().size() != prefix.size() + 1) continue;
      std::uint8_t l = cur.key().back();
      if (l == protocol::kPG || l == protocol::kPG13 || l == protocol::kR || l == protocol::kX || l == protocol::kXXX)
        level = std::max(level, l);  // one this version does not know is not applied
    }
  }
  return level;
}

bool Index::voided(const Record& rec) const {
  auto txn = impl_->begin(false);
  return txn && impl_->voided(*txn, rec);
}

std::vector<RecordId> Index::records_by(const PublicKey& author, std::uint64_t until_ms) const {
  std::vector<RecordId> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  lmdb::Cursor c(*txn, impl_->db.author_time);
  ByteView prefix(author.bytes.data(), author.bytes.size());
  for (bool ok = c.seek(prefix); ok && keys::starts_with(c.key(), prefix); ok = c.next()) {
    auto k = c.key();
    if (k.size() != 32 + 40) continue;
    if (get_be(k, 32, 8) > until_ms) break;
    out.push_back(to_id(k.subspan(40)));
  }
  return out;
}

std::optional<Rotation> Index::rotation(const PublicKey& author) const {
  auto txn = impl_->begin(false);
  if (!txn) return std::nullopt;
  return impl_->rotation_of(*txn, author);
}

IndexStats Index::stats() const {
  IndexStats s;
  auto txn = impl_->begin(false);
  if (!txn) return s;
  MDB_stat st;
  if (mdb_stat(txn->get(), impl_->db.records, &st) == 0) s.records = st.ms_entries;
  for (int k = 0; k < protocol::kRecordKinds; ++k) {
    std::string key = "count/" + std::string(protocol::to_string(static_cast<RecordKind>(k)));
    if (auto v = txn->get(impl_->db.meta, protocol::as_bytes(key)); v && v->size() == 8)
      s.by_kind[k] = get_be(*v, 0, 8);
  }
  return s;
}

IndexSpace Index::space() const {
  IndexSpace s;
  auto txn = impl_->begin(false);
  if (!txn) return s;
  MDB_envinfo info{};
  MDB_stat env{};
  mdb_env_info(impl_->env, &info);
  mdb_env_stat(impl_->env, &env);
  const std::uint64_t page = env.ms_psize;
  s.limit = info.me_mapsize;
  s.used = (info.me_last_pgno + 1) * page;
  auto bytes_of = [&](MDB_dbi dbi) -> std::uint64_t {
    MDB_stat st{};
    if (mdb_stat(txn->get(), dbi, &st) != 0) return 0;
    return (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * page;
  };
  const Dbs& d = impl_->db;
  // The views only one kind feeds; the rest are shared.
  const std::pair<RecordKind, std::vector<MDB_dbi>> owned[] = {
      {RecordKind::release,
       {d.hashes, d.rel_time, d.rel_creator, d.rel_type, d.rel_base, d.rel_tag, d.rel_word, d.models, d.rel_model,
        d.ids, d.tags, d.creators, d.arrived, d.terms}},
      {RecordKind::rating, {d.rel_ratings}},
      {RecordKind::image_post, {d.posts, d.image_feed, d.author_feed}},
      {RecordKind::comment, {d.comments, d.replies}},
      {RecordKind::profile, {d.names}},
      {RecordKind::deny_list, {d.denied}},
      {RecordKind::key_rotation, {d.rotations}},
      {RecordKind::collection, {d.collections}},
      {RecordKind::unknown, {d.opaque}},
  };
  std::uint64_t accounted = 0;
  for (const auto& [kind, dbis] : owned)
    for (auto dbi : dbis) {
      const auto b = bytes_of(dbi);
      s.by_kind[static_cast<int>(kind)] += b;
      accounted += b;
    }
  // Ratings and releases feed agg and the rating orders, profiles and
  // releases name_words, posts and profiles image_refs.
  for (auto dbi : {d.meta, d.by_time, d.current, d.author_time, d.author_hour, d.social, d.social_rank, d.trends, d.agg,
                   d.rel_rating, d.model_rating, d.name_words, d.image_refs})
    s.shared += bytes_of(dbi);
  // The records table, shared out by the signed bytes each kind stored.
  const std::uint64_t records = bytes_of(d.records);
  std::uint64_t signed_total = 0;
  for (int k = 0; k < protocol::kRecordKinds; ++k) {
    if (auto v = txn->get(d.meta, protocol::as_bytes(Impl::bytes_key(static_cast<RecordKind>(k)))); v && v->size() == 8)
      s.record_bytes[k] = get_be(*v, 0, 8);
    signed_total += s.record_bytes[k];
  }
  std::uint64_t given = 0;
  for (int k = 0; k < protocol::kRecordKinds && signed_total; ++k) {
    const auto share = static_cast<std::uint64_t>(static_cast<long double>(records) * s.record_bytes[k] / signed_total);
    s.by_kind[k] += share;
    given += share;
  }
  given = std::min(given, records);
  s.shared += records - given;  // rounding, or every record of a kind no view counts
  accounted += s.shared + given;
  s.free = s.used > accounted ? s.used - accounted : 0;
  return s;
}

void Index::for_each_by_time(std::uint64_t from_ms,
                             const std::function<bool(std::uint64_t, const RecordId&)>& visit) const {
  auto txn = impl_->begin(false);
  if (!txn) return;
  lmdb::Cursor cursor(*txn, impl_->db.by_time);
  Bytes start;
  put_be(start, from_ms, 8);
  for (bool ok = cursor.seek(start); ok; ok = cursor.next()) {
    auto key = cursor.key();
    if (key.size() != 40) continue;
    if (!visit(get_be(key, 0, 8), to_id(key.subspan(8)))) break;
  }
}

bool Index::matches(const Record& release, const ReleaseQuery& query) const {
  auto txn = impl_->begin(false);
  return txn && impl_->matches(*txn, release, query, search_words(query.text));
}

Result<ReleasePage> Index::query_releases(const ReleaseQuery& q) const {
  const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 100);
  std::optional<Bytes> cursor_key;
  if (!q.cursor.empty()) {
    cursor_key = protocol::from_hex(q.cursor);
    if (!cursor_key)
      return make_error(ErrorCode::invalid_argument, "cursor '" + q.cursor + "' is not one this node returned");
  }
  auto txn = impl_->begin(false);
  if (!txn) return txn.error();
  auto text_words = search_words(q.text);

  // A driver yields (order key, release id) in descending order, strictly
  // below the cursor; the order key of the last item is the next cursor.
  struct Item {
    Bytes order;
    RecordId id;
  };
  // Text search: candidates' order keys (time_id: 40 bytes, rating_key:
  // 48) sorted here, in fixed arrays so 200,000 of them sort quickly.
  struct Candidate {
    std::array<std::uint8_t, 48> key{};
    bool operator>(const Candidate& o) const { return key > o.key; }
    bool operator==(const Candidate& o) const { return key == o.key; }
  };
  std::vector<Candidate> in_memory;
  std::size_t key_length = 0;
  std::size_t in_memory_pos = 0;
  std::optional<lmdb::Cursor> index_cursor;
  bool ranked_heads = false;  // walking model_rating: one head per model
  Bytes index_prefix;
  bool started = false;

  // Text: candidates come from the search index (releases every query
  // word finds, with their relevance; order keys of 44 bytes by relevance,
  // 40 by time, 48 by rating), then are ordered in memory. A query
  // whose every word is common (each finds more than kMaxSearchGather
  // releases) walks the sort order instead and checks the words on each
  // release: matches are dense then, so a page comes quickly.
  std::optional<Impl::TextHits> hits;
  if (!text_words.empty()) hits = impl_->text_candidates(*txn, text_words, q.sort == SortOrder::relevance);
  // A relevance cursor (score ++ time ++ id) and a time cursor (a page of a
  // query that walked the time order) go on from the same point in time
  // when the way of searching changes between pages.
  if (cursor_key && q.sort == SortOrder::relevance && !hits && cursor_key->size() == 44)
    cursor_key->erase(cursor_key->begin(), cursor_key->begin() + 4);
  if (hits) {
    in_memory.reserve(hits->size());
    for (const auto& [id, hit] : *hits) {
      const std::uint64_t t = hit.t;
      Bytes order;
      if (q.sort == SortOrder::relevance) {
        put_be(order, hit.score, 4);
        append(order, time_id(t, id));
      } else {
        order = time_id(t, id);
      }
      if (q.sort == SortOrder::highest_rated) {
        RatingAggregate agg = impl_->read_agg(*txn, id);
        if (q.models_only) {
          // Ranked by the model's ratings, as model_rating orders heads.
          auto rec = impl_->load(*txn, id);
          auto m = rec && rec->kind() == RecordKind::release
                       ? decode_model(txn->get(impl_->db.models, Impl::model_key_of(*rec)))
                       : std::nullopt;
          if (m) agg = m->agg;
        }
        order = rating_key(agg, t, id);
      }
      if (cursor_key &&
          !(cursor_key->size() == 40 && order.size() == 44 ? Bytes(order.begin() + 4, order.end()) < *cursor_key
                                                           : order < *cursor_key))
        continue;
      Candidate cand;
      key_length = std::min(order.size(), cand.key.size());
      std::copy_n(order.begin(), key_length, cand.key.begin());
      in_memory.push_back(cand);
    }
    std::sort(in_memory.begin(), in_memory.end(), std::greater<>());
    in_memory.erase(std::unique(in_memory.begin(), in_memory.end()), in_memory.end());
  } else {
    MDB_dbi dbi = impl_->db.rel_time;
    const PublicKey* creator = q.creator ? &*q.creator : q.any_creator.size() == 1 ? &q.any_creator[0] : nullptr;
    if (q.sort == SortOrder::highest_rated) {
      dbi = q.models_only ? impl_->db.model_rating : impl_->db.rel_rating;
      ranked_heads = q.models_only;
    } else if (creator) {
      dbi = impl_->db.rel_creator;
      append(index_prefix, creator->bytes);
    } else if (!q.tag.empty()) {
      dbi = impl_->db.rel_tag;
      append(index_prefix, keys::fold_case(q.tag));
      index_prefix.push_back(0);
    } else if (!q.base_model.empty() || q.any_base_model.size() == 1) {
      dbi = impl_->db.rel_base;
      append(index_prefix, keys::fold_case(q.base_model.empty() ? q.any_base_model[0] : q.base_model));
      index_prefix.push_back(0);
    } else if (q.type || q.any_type.size() == 1) {
      dbi = impl_->db.rel_type;
      put_be(index_prefix, q.type ? *q.type : q.any_type[0], 2);
    }
    index_cursor.emplace(*txn, dbi);
  }

  auto next = [&]() -> std::optional<Item> {
    if (!index_cursor) {
      if (in_memory_pos >= in_memory.size()) return std::nullopt;
      const auto& k = in_memory[in_memory_pos++].key;
      Bytes order(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(key_length));
      return Item{order, to_id(ByteView(order).subspan(key_length - 32))};
    }
    lmdb::Cursor& c = *index_cursor;
    bool ok;
    if (started) {
      ok = c.prev();
    } else {
      started = true;
      if (cursor_key) {
        ok = c.seek_at_or_before(*cursor_key);
        if (ok && std::equal(c.key().begin(), c.key().end(), cursor_key->begin(), cursor_key->end())) ok = c.prev();
      } else {
        Bytes end = prefix_successor(index_prefix);
        ok = end.empty() ? c.last() : c.seek_at_or_before(end);
        if (ok && !end.empty() && std::equal(c.key().begin(), c.key().end(), end.begin(), end.end())) ok = c.prev();
      }
    }
    if (!ok || !keys::starts_with(c.key(), index_prefix) || c.key().size() < 32) return std::nullopt;
    auto key = c.key();
    return Item{Bytes(key.begin(), key.end()), to_id(key.subspan(key.size() - 32))};
  };

  ReleasePage page;
  Bytes last_order;
  for (std::size_t scanned = 0;; ++scanned) {
    auto item = next();
    if (!item) break;
    if (scanned == kMaxQueryScan) {
      // Rare filters over a huge index: return what was found and let the
      // caller continue from here.
      page.next_cursor = protocol::to_hex(last_order.empty() ? item->order : last_order);
      break;
    }
    auto rec = impl_->load(*txn, item->id);
    // Models ranked by rating are walked by head: one this node does not
    // show stands in for its newest version that it does.
    if (rec && ranked_heads && !impl_->shown(*txn, *rec, q.deny_curators))
      rec = impl_->nearest_shown(*txn, *rec, q.deny_curators, false);
    if (!rec || !impl_->matches(*txn, *rec, q, text_words)) {
      last_order = item->order;
      continue;
    }
    if (page.items.size() == limit) {
      page.next_cursor = protocol::to_hex(last_order);
      break;
    }
    page.items.push_back(std::move(*rec));
    last_order = item->order;
  }
  return page;
}

std::optional<ModelInfo> Index::model(const ModelKey& key) const {
  auto txn = impl_->begin(false);
  if (!txn) return std::nullopt;
  auto m = decode_model(txn->get(impl_->db.models, key));
  if (!m) return std::nullopt;
  ModelInfo info;
  info.key = key;
  if (m->has_head()) info.head = m->head;
  info.rating = m->agg;
  info.version_count = m->versions;
  lmdb::Cursor c(*txn, impl_->db.rel_model);
  Bytes end = prefix_successor(Bytes(key.begin(), key.end()));
  ByteView prefix(key.data(), key.size());
  for (bool ok = c.seek_at_or_before(end); ok && keys::starts_with(c.key(), prefix) && info.versions.size() < 100;
       ok = c.prev())
    if (c.key().size() == 72) info.versions.push_back(to_id(c.key().subspan(40)));
  return info;
}

std::optional<ModelKey> Index::model_by_number(std::uint64_t id) const {
  auto txn = impl_->begin(false);
  if (!txn) return std::nullopt;
  auto v = txn->get(impl_->db.ids, number_key('m', id));  // the first, if two keys ever share a number
  if (!v || v->size() != 32) return std::nullopt;
  return to_id(*v);
}

std::optional<RecordId> Index::release_by_number(std::uint64_t id) const {
  auto txn = impl_->begin(false);
  if (!txn) return std::nullopt;
  auto v = txn->get(impl_->db.ids, number_key('v', id));
  if (!v || v->size() != 32) return std::nullopt;
  return to_id(*v);
}

std::vector<TagCount> Index::tags(std::string_view prefix, std::string_view after, std::size_t limit) const {
  std::vector<TagCount> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  const std::string folded_prefix = keys::fold_case(prefix);
  std::string start = std::max(folded_prefix, keys::fold_case(after));
  lmdb::Cursor c(*txn, impl_->db.tags);
  for (bool ok = start.empty() ? c.first() : c.seek(protocol::as_bytes(start)); ok && out.size() < limit;
       ok = c.next()) {
    auto k = c.key();
    std::string name(reinterpret_cast<const char*>(k.data()), k.size());
    if (!after.empty() && name == keys::fold_case(after)) continue;
    if (name.compare(0, folded_prefix.size(), folded_prefix) != 0) break;
    auto v = c.value();
    if (v.size() < 8) continue;
    out.push_back({std::string(reinterpret_cast<const char*>(v.data()) + 8, v.size() - 8), get_be(v, 0, 8)});
  }
  return out;
}

std::vector<TagCount> Index::top_tags(std::size_t limit) const {
  std::vector<TagCount> out;
  auto txn = impl_->begin(false);
  if (!txn || !limit) return out;
  auto more = [](const TagCount& a, const TagCount& b) {
    return a.models != b.models ? a.models > b.models : keys::fold_case(a.name) < keys::fold_case(b.name);
  };
  lmdb::Cursor c(*txn, impl_->db.tags);
  for (bool ok = c.first(); ok; ok = c.next()) {
    auto v = c.value();
    if (v.size() < 8) continue;
    TagCount tag{std::string(reinterpret_cast<const char*>(v.data()) + 8, v.size() - 8), get_be(v, 0, 8)};
    if (out.size() == limit && !more(tag, out.back())) continue;
    out.insert(std::upper_bound(out.begin(), out.end(), tag, more), std::move(tag));
    if (out.size() > limit) out.pop_back();
  }
  return out;
}

std::vector<CreatorCount> Index::creators(const std::optional<PublicKey>& after, std::size_t limit) const {
  std::vector<CreatorCount> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  lmdb::Cursor c(*txn, impl_->db.creators);
  bool ok = after ? c.seek(after->bytes) : c.first();
  if (ok && after && std::equal(c.key().begin(), c.key().end(), after->bytes.begin(), after->bytes.end()))
    ok = c.next();
  for (; ok && out.size() < limit; ok = c.next()) {
    if (c.key().size() != 32 || c.value().size() < 8) continue;
    CreatorCount cc;
    std::memcpy(cc.key.bytes.data(), c.key().data(), 32);
    cc.models = get_be(c.value(), 0, 8);
    out.push_back(cc);
  }
  return out;
}

std::uint64_t Index::model_count(const PublicKey& creator) const {
  auto txn = impl_->begin(false);
  if (!txn) return 0;
  auto v = txn->get(impl_->db.creators, creator.bytes);
  return v && v->size() >= 8 ? get_be(*v, 0, 8) : 0;
}

std::vector<PublicKey> Index::keys_named(std::string_view name, bool prefix, std::size_t limit) const {
  std::vector<PublicKey> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  Bytes start;
  append(start, keys::fold_case(name.substr(0, 200)));
  if (!prefix) start.push_back(0);
  lmdb::Cursor c(*txn, impl_->db.names);
  for (bool ok = start.empty() ? c.first() : c.seek(start); ok && out.size() < limit; ok = c.next()) {
    auto k = c.key();
    if (!keys::starts_with(k, start) || k.size() < 33) break;
    if (k[k.size() - 33] != 0) continue;
    PublicKey key;
    std::memcpy(key.bytes.data(), k.data() + k.size() - 32, 32);
    out.push_back(key);
  }
  return out;
}

std::vector<RecordId> Index::ratings_of(const RecordId& release, std::size_t limit) const {
  std::vector<RecordId> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  lmdb::Cursor c(*txn, impl_->db.rel_ratings);
  ByteView prefix(release.data(), release.size());
  for (bool ok = c.seek(prefix); ok && out.size() < limit && keys::starts_with(c.key(), prefix); ok = c.next())
    if (c.value().size() == 32) out.push_back(to_id(c.value()));
  return out;
}

std::vector<RecordId> Index::posts_of(const RecordId& release, std::size_t limit) const {
  std::vector<RecordId> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  lmdb::Cursor c(*txn, impl_->db.posts);
  Bytes end = prefix_successor(Bytes(release.begin(), release.end()));
  ByteView prefix(release.data(), release.size());
  for (bool ok = c.seek_at_or_before(end); ok && out.size() < limit && keys::starts_with(c.key(), prefix);
       ok = c.prev())
    if (c.key().size() == 72) out.push_back(to_id(c.key().subspan(40)));
  return out;
}

std::vector<FeedEntry> Index::image_feed(const std::optional<FeedEntry>& from, std::uint64_t since_ms,
                                         std::span<const PublicKey> authors, std::size_t limit) const {
  std::vector<FeedEntry> out;
  auto txn = impl_->begin(false);
  if (!txn || !limit) return out;
  // Walks one table from `from` (or its end) back, under `prefix`.
  auto walk = [&](MDB_dbi dbi, const Bytes& prefix) {
    lmdb::Cursor c(*txn, dbi);
    Bytes start = prefix;
    bool ok = false;
    if (from) {
      append(start, time_id(from->created_at, from->id));
      ok = c.seek_at_or_before(start);
    } else {
      ok = prefix.empty() ? c.last() : c.seek_at_or_before(prefix_successor(prefix));
    }
    std::size_t taken = 0;
    for (; ok && taken < limit && keys::starts_with(c.key(), prefix); ok = c.prev()) {
      auto key = c.key().subspan(prefix.size());
      if (key.size() != 40) continue;
      FeedEntry e{get_be(key, 0, 8), to_id(key.subspan(8))};
      if (e.created_at < since_ms) break;
      out.push_back(e);
      ++taken;
    }
  };
  if (authors.empty()) {
    walk(impl_->db.image_feed, {});
    return out;
  }
  for (const auto& author : authors) walk(impl_->db.author_feed, Bytes(author.bytes.begin(), author.bytes.end()));
  std::sort(out.begin(), out.end(), [](const FeedEntry& a, const FeedEntry& b) {
    return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id);
  });
  out.erase(std::unique(out.begin(), out.end(), [](const FeedEntry& a, const FeedEntry& b) { return a.id == b.id; }),
            out.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::vector<FeedEntry> Index::collections(const std::optional<FeedEntry>& after, std::size_t limit) const {
  std::vector<FeedEntry> out;
  auto txn = impl_->begin(false);
  if (!txn || !limit) return out;
  lmdb::Cursor c(*txn, impl_->db.collections);
  const Bytes prefix{'T'};
  bool ok = false;
  if (after) {
    Bytes start = prefix;
    append(start, time_id(after->created_at, after->id));
    ok = c.seek_at_or_before(start);
    if (ok && c.key().size() == start.size() && keys::starts_with(c.key(), start))
      ok = c.prev();  // `after` itself was on the previous page
  } else {
    ok = c.seek_at_or_before(prefix_successor(prefix));
  }
  for (; ok && out.size() < limit && keys::starts_with(c.key(), prefix); ok = c.prev())
    if (c.key().size() == 41) out.push_back({get_be(c.key(), 1, 8), to_id(c.key().subspan(9))});
  return out;
}

std::vector<RecordId> Index::collections_by(const PublicKey& author, std::size_t limit) const {
  std::vector<RecordId> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  const Bytes prefix = current_key(RecordKind::collection, author, {});
  lmdb::Cursor c(*txn, impl_->db.current);
  for (bool ok = c.seek(prefix); ok && out.size() < limit && keys::starts_with(c.key(), prefix); ok = c.next()) {
    auto entry = parse_current(c.value());
    if (!entry) continue;
    auto rec = impl_->load(*txn, entry->id);
    if (rec && rec->kind() == RecordKind::collection && !rec->body().getPayload().getCollection().getDeleted())
      out.push_back(entry->id);
  }
  return out;
}

std::optional<RecordId> Index::collection_by_number(std::uint64_t id) const {
  auto txn = impl_->begin(false);
  if (!txn) return std::nullopt;
  auto where = txn->get(impl_->db.collections, number_key('N', id));
  if (!where || where->size() != 64) return std::nullopt;
  auto author = PublicKey::from_bytes(where->first(32));
  if (!author) return std::nullopt;
  auto entry =
      parse_current(txn->get(impl_->db.current, current_key(RecordKind::collection, *author, where->subspan(32))));
  if (!entry) return std::nullopt;
  return entry->id;
}

std::vector<RankedSubject> Index::most_social(bool comments, const std::optional<Bytes>& after,
                                              std::size_t limit) const {
  std::vector<RankedSubject> out;
  auto txn = impl_->begin(false);
  if (!txn) return out;
  const std::uint8_t by = comments ? 'C' : 'R';
  lmdb::Cursor c(*txn, impl_->db.social_rank);
  // Backwards: from just before `after`, or from the end of this kind.
  bool ok = after ? c.seek_at_or_before(*after) : c.seek_at_or_before(Bytes{static_cast<std::uint8_t>(by + 1)});
  if (ok && after && keys::starts_with(c.key(), *after) && c.key().size() == after->size()) ok = c.prev();
  for (; ok && out.size() < limit && !c.key().empty() && c.key()[0] == by; ok = c.prev()) {
    auto subject = parse_subject_key(c.key().subspan(5));
    if (!subject) continue;
    out.push_back({static_cast<std::uint32_t>(get_be(c.key(), 1, 4)), *subject, Bytes(c.key().begin(), c.key().end())});
  }
  return out;
}

SocialCounts Index::social(const Subject& subject) const {
  auto txn = impl_->begin(false);
  if (!txn) return {};
  return decode_social(txn->get(impl_->db.social, subject_key(subject)));
}

std::vector<FeedEntry> Index::comments_of(const Subject& subject, const std::optional<FeedEntry>& before,
                                          std::size_t limit) const {
  std::vector<FeedEntry> out;
  auto txn = impl_->begin(false);
  if (!txn || !limit) return out;
  Bytes prefix = subject_key(subject);
  lmdb::Cursor c(*txn, impl_->db.comments);
  bool ok = false;
  if (before) {
    Bytes start = prefix;
    append(start, time_id(before->created_at, before->id));
    ok = c.seek_at_or_before(start);
    if (ok && std::ranges::equal(c.key(), start)) ok = c.prev();  // exclusive
  } else {
    ok = c.seek_at_or_before(prefix_successor(prefix));
  }
  for (; ok && out.size() < limit && keys::starts_with(c.key(), prefix); ok = c.prev()) {
    auto key = c.key().subspan(prefix.size());
    if (key.size() == 40) out.push_back(FeedEntry{get_be(key, 0, 8), to_id(key.subspan(8))});
  }
  return out;
}

std::vector<FeedEntry> Index::replies_of(const Subject& subject, const RecordId& comment,
                                         const std::optional<FeedEntry>& after, std::size_t limit) const {
  std::vector<FeedEntry> out;
  auto txn = impl_->begin(false);
  if (!txn || !limit) return out;
  Bytes prefix = subject_key(subject);
  append(prefix, ByteView(comment));
  Bytes start = prefix;
  if (after) append(start, time_id(after->created_at, after->id));
  lmdb::Cursor c(*txn, impl_->db.replies);
  bool ok = c.seek(start);
  if (ok && after && std::ranges::equal(c.key(), start)) ok = c.next();  // exclusive
  for (; ok && out.size() < limit && keys::starts_with(c.key(), prefix); ok = c.next()) {
    auto key = c.key().subspan(prefix.size());
    if (key.size() == 40) out.push_back(FeedEntry{get_be(key, 0, 8), to_id(key.subspan(8))});
  }
  return out;
}

std::vector<RecordId> Index::records_naming_image(ByteView sha256, std::size_t limit) const {
  std::vector<RecordId> out;
  auto txn = impl_->begin(false);
  if (!txn || sha256.empty() || sha256.size() > 32) return out;
  lmdb::Cursor c(*txn, impl_->db.image_refs);
  for (bool ok = c.seek(sha256); ok && out.size() < limit && keys::starts_with(c.key(), sha256); ok = c.next())
    if (c.key().size() == 64) out.push_back(to_id(c.key().subspan(32)));
  return out;
}

std::vector<RecordId> Index::ids_with_prefix(ByteView prefix, std::size_t limit) const {
  std::vector<RecordId> out;
  auto txn = impl_->begin(false);
  if (!txn || prefix.empty() || prefix.size() > 32) return out;
  lmdb::Cursor c(*txn, impl_->db.records);
  for (bool ok = c.seek(prefix); ok && out.size() < limit && keys::starts_with(c.key(), prefix); ok = c.next())
    if (c.key().size() == 32) out.push_back(to_id(c.key()));
  return out;
}

std::vector<TrendCount> Index::trend(TrendSeries series, std::uint32_t from, std::uint32_t to,
                                     std::string_view value_prefix, std::size_t limit) const {
  std::vector<TrendCount> out;
  each_trend(series, from, to, value_prefix, [&](std::uint32_t period, std::string_view value, std::uint64_t count) {
    if (out.size() >= limit) return false;
    out.push_back(TrendCount{period, std::string(value), count});
    return true;
  });
  return out;
}

void Index::each_trend(TrendSeries series, std::uint32_t from, std::uint32_t to, std::string_view value_prefix,
                       const std::function<bool(std::uint32_t, std::string_view, std::uint64_t)>& visit) const {
  auto txn = impl_->begin(false);
  if (!txn || from > to) return;
  const char tag = static_cast<char>(series);
  lmdb::Cursor c(*txn, impl_->db.trends);
  bool ok = c.seek(protocol::as_bytes(trends::key(tag, from, value_prefix)));
  while (ok) {
    ByteView k = c.key();
    if (k.size() < 5 || k[0] != static_cast<std::uint8_t>(tag)) break;
    const auto period = static_cast<std::uint32_t>(get_be(k, 1, 4));
    if (period > to) break;
    std::string_view value(reinterpret_cast<const char*>(k.data()) + 5, k.size() - 5);
    if (!value.starts_with(value_prefix)) {
      // Past this period's values with the prefix: on to the next period's.
      if (value < value_prefix) {
        ok = c.seek(protocol::as_bytes(trends::key(tag, period, value_prefix)));
      } else {
        if (period == to) break;
        ok = c.seek(protocol::as_bytes(trends::key(tag, period + 1, value_prefix)));
      }
      continue;
    }
    if (c.value().size() == 8 && !visit(period, value, get_be(c.value(), 0, 8))) return;
    ok = c.next();
  }
}

}  // namespace seedbank::indexer
