// Range-based set reconciliation of record ids (the idea behind Negentropy).
//
// Both peers keep their record ids sorted by (createdAt, id). A message is a
// list of consecutive ranges covering the whole key space; each range says
// "skip" (we agree here), gives a fingerprint of the sender's ids in it, or
// lists them. A peer answers a fingerprint that differs from its own by
// splitting the range, or by listing its ids once the range is small; it
// answers a list by working out which ids each side lacks. The exchange
// ends when a message holds nothing but skips, after about
// log_branching(N / difference) round trips, and costs bytes in proportion
// to the difference, not to N.
//
// Pure code: no sockets, no index. The gossip session carries the bytes and
// fetches or pushes the records named in `need` and `have`.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol::reconcile {

using Id = std::array<std::uint8_t, 32>;

struct Item {
  std::uint64_t time = 0;  // createdAt, ms
  Id id{};
  friend auto operator<=>(const Item&, const Item&) = default;
};

// The fingerprint of a set of ids: the first 16 bytes of SHA-256 over their
// sum (as 256-bit little-endian integers, mod 2^256) and their count.
// Order-independent, so both sides compute it from their own items.
using Fingerprint = std::array<std::uint8_t, 16>;
Fingerprint fingerprint(const Item* begin, const Item* end);

struct Options {
  std::size_t branching = 8;      // sub-ranges a differing range splits into (8 and 8: see bench reconcile)
  std::size_t list_below = 8;     // list a range's ids when it holds fewer than this
  std::size_t max_ranges = 4096;  // per message; further ranges wait for the next round
  std::size_t max_message_bytes = 256 * 1024;
};

// What one message taught us, for the caller to act on.
struct Outcome {
  std::vector<Id> need;  // the peer has them, we do not: request them
  std::vector<Id> have;  // we have them, the peer does not: push them
};

// One side of a reconciliation over a fixed, sorted set of items. Items
// added to the set while it runs are picked up by the next reconciliation
// (push carries new records in the meantime).
class Reconciler {
 public:
  // `items` must be sorted and unique; it is borrowed, not copied.
  Reconciler(const std::vector<Item>& items, Options options = {});

  // The first message: one fingerprint of the whole set.
  Bytes initiate() const;

  // Answers a peer's message. An empty reply means the exchange is over
  // (send nothing). Errors: malformed or over-limit input; the caller drops
  // the peer's session.
  Result<Bytes> reply(ByteView message, Outcome* outcome) const;

 private:
  const std::vector<Item>& items_;
  Options options_;
};

// Checks a message without a set to compare with (for fuzzing and for a
// session's early validation): ranges in increasing order, sizes in bounds.
Status validate_message(ByteView message, const Options& options = {});

}  // namespace seedbank::protocol::reconcile
