// Signed records: the unit of Seedbank's replicated index.
//
// Wire and storage form: a SignedRecord (schemas/record.capnp) in canonical
// Cap'n Proto encoding (single segment, no segment table). The signature is
// Ed25519 by body.author over "seedbank/record/v1\0" ++ canonical(body). A
// record's id is the SHA-256 of its canonical bytes, so one record has one
// id. docs/protocol.md specifies all of this.
//
// verify_record() is the only way untrusted bytes become a Record: it checks
// size, canonical form, schema, field limits and the signature, in that
// order, before anything else reads a field.
//
// Forward compatibility (docs/protocol.md, "Forward compatibility"): a
// record whose payload is of a kind this version does not know verifies on
// its envelope alone (size, canonical form, traversal limits, author,
// network, createdAt, signature) and has kind() == RecordKind::unknown; it
// is kept and relayed as opaque signed bytes, never read. Enum values and
// fields a newer schema added are accepted as they are.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/result.h"
#include "seedbank/protocol/text.h"
#include "seedbank/schemas/record.capnp.h"

namespace seedbank::protocol {

using RecordId = Sha256Digest;

// Stable numbering, used in index keys: never renumber. A known kind is
// its payload union discriminant plus one.
enum class RecordKind : std::uint8_t {
  unknown = 0,  // a kind from a newer schema: see payload_tag()
  release = 1,
  rating = 2,
  profile = 3,
  image_post = 4,
  retraction = 5,
  key_rotation = 6,
  deny_list = 7,
  reaction = 8,
  comment = 9,
  release_update = 10,
  collection = 11,
};
inline constexpr int kRecordKinds = 12;       // RecordKind values, unknown included
std::string_view to_string(RecordKind kind);  // "release", ...; "unknown"
// The kind a payload union discriminant names in this version's schema
// (unknown for a discriminant a newer schema added).
RecordKind record_kind_of(std::uint16_t payload_tag);

inline constexpr std::string_view kRecordDomain{"seedbank/record/v1\0", 19};
inline constexpr std::string_view kRotationDomain{"seedbank/rotation/v1\0", 21};

struct RecordLimits {
  std::size_t max_record_bytes = 2 * 1024 * 1024;
  unsigned nesting_limit = 16;
  // Reject records stamped further than this in the future (0: no check).
  std::uint64_t now_ms = 0;
  std::uint64_t max_future_ms = 10 * 60 * 1000;
};

// An immutable, verified (or locally stored) record. Cheap to move; the
// readers it hands out live as long as the Record.
class Record {
 public:
  Record(Record&&) noexcept;
  Record& operator=(Record&&) noexcept;
  ~Record();

  const RecordId& id() const;
  RecordKind kind() const;
  // The payload union's discriminant as the record carries it (what a newer
  // schema numbers its kind); meaningful for every kind, known or not.
  std::uint16_t payload_tag() const;
  PublicKey author() const;
  std::uint64_t created_at() const;
  std::string network() const;
  ByteView bytes() const;  // canonical SignedRecord
  schema::SignedRecord::Reader reader() const;
  schema::RecordBody::Reader body() const { return reader().getBody(); }

  struct Impl;  // defined in record.cpp

 private:
  explicit Record(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend Result<Record> verify_record(ByteView, std::string_view, const RecordLimits&);
  friend Result<Record> load_stored_record(ByteView, const RecordId*);
};

// Untrusted bytes -> Record. `network` is the only network accepted.
Result<Record> verify_record(ByteView bytes, std::string_view network, const RecordLimits& limits = {});

// Bytes this node stored after verifying them: parse (bounds-checked) but
// do not re-verify the signature. `id` may be passed to skip re-hashing.
Result<Record> load_stored_record(ByteView bytes, const RecordId* id = nullptr);

// Builds, validates and signs a record. `fill` sets the payload union (and
// anything else) on the body; author, createdAt and network are set here.
// Returns canonical bytes, or the reason the content breaks a limit.
using BodyFiller = std::function<void(schema::RecordBody::Builder)>;
// `work_bits` > 0 also stamps the record with a proof of work of that
// strength (find_work_nonce); nodes ask it of keys they have never seen.
Result<Bytes> sign_record(const SecretKey& key, std::string_view network, std::uint64_t created_at_ms,
                          const BodyFiller& fill, std::uint32_t work_bits = 0);

// Proof of work: the leading zero bits of SHA-256("seedbank/work/v1\0" ++
// author ++ u64le(createdAt) ++ u64le(nonce)). It is tied to a key and a
// time, not to content: its job is to make each fresh key cost something.
// 2^bits hashes on average (12 bits: about 1 ms; 20 bits: about 0.3 s).
std::uint32_t work_bits(const PublicKey& author, std::uint64_t created_at_ms, std::uint64_t nonce);
std::uint64_t find_work_nonce(const PublicKey& author, std::uint64_t created_at_ms, std::uint32_t bits);
// The stamp a record carries.
std::uint32_t work_bits(const Record& record);

// Records a node signs for its user carry this much work.
inline constexpr std::uint32_t kDefaultWorkBits = 16;

// The most records a revoking KeyRotation can list in `keep` (40 bytes
// each, within a record's 2 MiB).
inline constexpr std::size_t kMaxKeptRecords = 50000;

// The bytes signed by a KeyRotation's new key.
Bytes rotation_message(const PublicKey& old_key, const PublicKey& new_key, std::uint64_t created_at_ms);

// Checks every limit of a body (sizes, counts, UTF-8, hash lengths, enum
// ranges) without the signature; used by sign_record and verify_record.
Status validate_body(schema::RecordBody::Reader body);

RecordId record_id_of(ByteView canonical_bytes);

// A collection's slug (schema Collection): 1 to 64 of a-z, 0-9 and '-'.
bool valid_collection_slug(std::string_view slug);

}  // namespace seedbank::protocol

namespace seedbank::protocol {

// A file name that is safe to create inside a folder on Linux, macOS and
// Windows: not empty, at most 255 bytes of UTF-8, no '/', '\\', NUL or other
// control characters, none of : * ? " < > |, not "." or "..", no
// Windows-reserved name (CON, NUL, COM1, ...) and no trailing dot or space.
Status validate_file_name(std::string_view name);

}  // namespace seedbank::protocol
