#include "seedbank/protocol/reconcile.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "sha.h"

namespace seedbank::protocol::reconcile {
namespace {

// Message format (all integers LEB128 varints):
//   message = version:u8(1) range*
//   range   = bound mode payload
//   bound   = time_code prefix_len prefix[prefix_len]
//             time_code 0: the end of the key space (last range only);
//             otherwise the bound's time is the previous bound's + code - 1.
//             The bound is (time, prefix padded with zeros): the range holds
//             the items from the previous bound (inclusive) to this one
//             (exclusive).
//   mode    = 0 skip | 1 fingerprint fp[16] | 2 id list count id[32]*count
constexpr std::uint8_t kVersion = 1;
enum class Mode : std::uint8_t { skip = 0, fingerprint = 1, list = 2 };
constexpr std::size_t kMaxListed = 1 << 16;

struct Bound {
  bool end = false;
  Item key;  // (time, prefix + zeros)
  std::uint8_t prefix_len = 0;
};

struct Range {
  Bound upper;
  Mode mode = Mode::skip;
  Fingerprint fp{};
  std::vector<Id> ids;
};

void put_varint(Bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  bool varint(std::uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      std::uint8_t b = in_[pos_++];
      *v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return shift < 63 || b <= 1;
    }
    return false;
  }
  bool bytes(std::uint8_t* out, std::size_t n) {
    if (in_.size() - pos_ < n) return false;
    std::memcpy(out, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool byte(std::uint8_t* out) { return bytes(out, 1); }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

Result<std::vector<Range>> decode(ByteView message, const Options& options) {
  auto bad = [](const std::string& what) {
    return make_error(ErrorCode::malformed, "reconciliation message: " + what);
  };
  if (message.size() > options.max_message_bytes)
    return make_error(ErrorCode::limit, "reconciliation message of " + std::to_string(message.size()) +
                                            " bytes is over the limit of " + std::to_string(options.max_message_bytes));
  Reader in(message);
  std::uint8_t version = 0;
  if (!in.byte(&version)) return bad("empty");
  if (version != kVersion) return bad("unknown version " + std::to_string(version));
  std::vector<Range> ranges;
  std::uint64_t time = 0;
  std::optional<Item> previous;
  while (!in.done()) {
    if (!ranges.empty() && ranges.back().upper.end) return bad("a range follows the end of the key space");
    if (ranges.size() >= options.max_ranges * 2) return bad("too many ranges");
    Range r;
    std::uint64_t code = 0;
    if (!in.varint(&code)) return bad("truncated bound");
    if (code == 0) {
      r.upper.end = true;
    } else {
      if (code - 1 > std::numeric_limits<std::uint64_t>::max() - time) return bad("bound time overflows");
      time += code - 1;
      r.upper.key.time = time;
      std::uint64_t len = 0;
      if (!in.varint(&len) || len > 32) return bad("bound prefix longer than an id");
      r.upper.prefix_len = static_cast<std::uint8_t>(len);
      if (!in.bytes(r.upper.key.id.data(), len)) return bad("truncated bound prefix");
      if (previous && !(*previous < r.upper.key)) return bad("bounds are not increasing");
    }
    std::uint8_t mode = 0;
    if (!in.byte(&mode) || mode > 2) return bad("unknown range mode");
    r.mode = static_cast<Mode>(mode);
    if (r.mode == Mode::fingerprint && !in.bytes(r.fp.data(), r.fp.size())) return bad("truncated fingerprint");
    if (r.mode == Mode::list) {
      std::uint64_t n = 0;
      if (!in.varint(&n) || n > kMaxListed) return bad("id list too long");
      if (n * 32 > message.size()) return bad("id list longer than the message");
      r.ids.resize(n);
      for (auto& id : r.ids)
        if (!in.bytes(id.data(), 32)) return bad("truncated id list");
    }
    ranges.push_back(std::move(r));
    if (!ranges.back().upper.end) previous = ranges.back().upper.key;
  }
  if (ranges.empty() || !ranges.back().upper.end) return bad("ranges do not reach the end of the key space");
  return ranges;
}

class Writer {
 public:
  Writer() { out_.push_back(kVersion); }
  std::size_t ranges() const { return ranges_; }
  std::size_t size() const { return out_.size(); }
  bool all_skip() const { return only_skips_; }

  void skip(const Bound& upper) {
    pending_skip_ = upper;  // merged with the skips that follow
    has_pending_skip_ = true;
  }
  void fingerprint(const Bound& upper, const Fingerprint& fp) {
    flush_skip();
    bound(upper);
    out_.push_back(static_cast<std::uint8_t>(Mode::fingerprint));
    out_.insert(out_.end(), fp.begin(), fp.end());
    only_skips_ = false;
  }
  void list(const Bound& upper, const Item* begin, const Item* end) {
    flush_skip();
    bound(upper);
    out_.push_back(static_cast<std::uint8_t>(Mode::list));
    put_varint(out_, static_cast<std::uint64_t>(end - begin));
    for (auto* it = begin; it != end; ++it) out_.insert(out_.end(), it->id.begin(), it->id.end());
    only_skips_ = false;
  }
  Bytes finish() {
    flush_skip();
    return std::move(out_);
  }

 private:
  void flush_skip() {
    if (!has_pending_skip_) return;
    has_pending_skip_ = false;
    bound(pending_skip_);
    out_.push_back(static_cast<std::uint8_t>(Mode::skip));
  }
  void bound(const Bound& b) {
    ++ranges_;
    if (b.end) {
      out_.push_back(0);
      return;
    }
    put_varint(out_, b.key.time - time_ + 1);
    time_ = b.key.time;
    put_varint(out_, b.prefix_len);
    out_.insert(out_.end(), b.key.id.begin(), b.key.id.begin() + b.prefix_len);
  }

  Bytes out_;
  std::uint64_t time_ = 0;
  std::size_t ranges_ = 0;
  bool only_skips_ = true;
  bool has_pending_skip_ = false;
  Bound pending_skip_;
};

// The smallest bound above `a` and at most `b` (a < b).
Bound bound_between(const Item& a, const Item& b) {
  Bound out;
  out.key.time = b.time;
  if (a.time == b.time) {
    std::size_t k = 0;
    while (k < 32 && a.id[k] == b.id[k]) ++k;
    out.prefix_len = static_cast<std::uint8_t>(k + 1);
    std::memcpy(out.key.id.data(), b.id.data(), k + 1);
  }
  return out;
}

}  // namespace

Fingerprint fingerprint(const Item* begin, const Item* end) {
  std::uint64_t sum[4] = {0, 0, 0, 0};
  for (auto* it = begin; it != end; ++it) {
    unsigned carry = 0;
    for (int limb = 0; limb < 4; ++limb) {
      std::uint64_t v;
      std::memcpy(&v, it->id.data() + 8 * limb, 8);  // little-endian hosts (x86-64, arm64)
      std::uint64_t s = sum[limb] + v;
      unsigned c1 = s < v;
      std::uint64_t t = s + carry;
      unsigned c2 = t < s;
      sum[limb] = t;
      carry = c1 | c2;
    }
  }
  std::uint8_t buf[40];
  std::memcpy(buf, sum, 32);
  std::uint64_t count = static_cast<std::uint64_t>(end - begin);
  std::memcpy(buf + 32, &count, 8);
  std::uint8_t digest[32];
  detail::Digest d(detail::sha256_md());
  d.update(buf, sizeof buf);
  d.finish(digest);
  Fingerprint fp;
  std::memcpy(fp.data(), digest, fp.size());
  return fp;
}

Reconciler::Reconciler(const std::vector<Item>& items, Options options) : items_(items), options_(options) {
  if (options_.branching < 2) options_.branching = 2;
  if (options_.list_below < 1) options_.list_below = 1;
}

Bytes Reconciler::initiate() const {
  Writer w;
  Bound end;
  end.end = true;
  w.fingerprint(end, fingerprint(items_.data(), items_.data() + items_.size()));
  return w.finish();
}

Result<Bytes> Reconciler::reply(ByteView message, Outcome* outcome) const {
  auto ranges = decode(message, options_);
  if (!ranges) return ranges.error();
  const Item* base = items_.data();
  const Item* all_end = base + items_.size();
  auto position = [&](const Bound& b) -> const Item* {
    if (b.end) return all_end;
    return std::lower_bound(base, all_end, b.key);
  };
  Writer w;
  const Item* lo = base;
  for (std::size_t r = 0; r < ranges->size(); ++r) {
    const Range& range = (*ranges)[r];
    const Item* hi = position(range.upper);
    if (w.ranges() >= options_.max_ranges || w.size() >= options_.max_message_bytes / 2) {
      // Enough for one message: the rest of the key space waits for the
      // next round as one fingerprint.
      Bound end;
      end.end = true;
      w.fingerprint(end, fingerprint(lo, all_end));
      break;
    }
    switch (range.mode) {
      case Mode::skip:
        w.skip(range.upper);
        break;
      case Mode::fingerprint: {
        auto count = static_cast<std::size_t>(hi - lo);
        if (fingerprint(lo, hi) == range.fp) {
          w.skip(range.upper);
        } else if (count < options_.list_below) {
          w.list(range.upper, lo, hi);
        } else {
          std::size_t parts = std::min(options_.branching, count);
          const Item* part_lo = lo;
          for (std::size_t i = 1; i <= parts; ++i) {
            const Item* part_hi = lo + count * i / parts;
            Bound upper = i == parts ? range.upper : bound_between(*(part_hi - 1), *part_hi);
            w.fingerprint(upper, fingerprint(part_lo, part_hi));
            part_lo = part_hi;
          }
        }
        break;
      }
      case Mode::list: {
        std::vector<Id> theirs = range.ids;
        std::sort(theirs.begin(), theirs.end());
        std::vector<Id> mine;
        for (auto* it = lo; it != hi; ++it) mine.push_back(it->id);
        std::sort(mine.begin(), mine.end());
        if (outcome) {
          std::set_difference(theirs.begin(), theirs.end(), mine.begin(), mine.end(),
                              std::back_inserter(outcome->need));
          std::set_difference(mine.begin(), mine.end(), theirs.begin(), theirs.end(),
                              std::back_inserter(outcome->have));
        }
        w.skip(range.upper);
        break;
      }
    }
    lo = hi;
  }
  if (w.all_skip()) return Bytes{};
  return w.finish();
}

Status validate_message(ByteView message, const Options& options) {
  auto ranges = decode(message, options);
  if (!ranges) return ranges.error();
  return {};
}

}  // namespace seedbank::protocol::reconcile
