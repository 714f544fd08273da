#include "seedbank/protocol/content_hash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "seedbank/protocol/crc32.h"
#include "sha.h"

namespace seedbank::protocol {
namespace detail {

const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

const EVP_MD* sha1_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return md;
}

Digest::Digest(const EVP_MD* md) : md_(md), ctx_(EVP_MD_CTX_new()) { reset(); }
Digest::~Digest() { EVP_MD_CTX_free(ctx_); }
void Digest::reset() { EVP_DigestInit_ex2(ctx_, md_, nullptr); }
void Digest::update(const std::uint8_t* data, std::size_t size) {
  if (size > 0) EVP_DigestUpdate(ctx_, data, size);
}
void Digest::finish(std::uint8_t* out) {
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, out, &n);
  reset();
}

namespace {

// One buffer's digest, with a context kept per thread for `md`.
template <class Out, const EVP_MD* (*md)()>
Out one_shot_digest(ByteView data) {
  thread_local Digest digest(md());
  Out out;
  digest.update(data);
  digest.finish(out.data());
  return out;
}

}  // namespace

Sha256Digest sha256(ByteView data) { return one_shot_digest<Sha256Digest, detail::sha256_md>(data); }

Sha1Digest sha1(ByteView data) { return one_shot_digest<Sha1Digest, detail::sha1_md>(data); }

}  // namespace detail

namespace {

using detail::Digest;

constexpr std::uint64_t kMinChunk = 4 * 1024 * 1024;
constexpr std::size_t kSlots = 3;  // read one chunk while two are hashed
constexpr std::uint64_t kMaxPieceSize = 64 * 1024 * 1024;

// Relative cost per byte, measured with OpenSSL on SHA-NI hardware; only
// the balance between the two workers depends on them.
constexpr double kCostSha256 = 1.0;
constexpr double kCostSha1 = 0.9;
constexpr double kCostCrc = 0.12;

std::string hex_prefix_upper(ByteView bytes, std::size_t hex_digits) {
  return to_hex_upper(bytes.first(hex_digits / 2));
}

bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::uint64_t next_pow2(std::uint64_t v) {
  std::uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

unsigned log2_exact(std::uint64_t v) {
  unsigned h = 0;
  while ((std::uint64_t{1} << h) < v) ++h;
  return h;
}

// Where the bytes come from: a file read into rotating buffers, or memory.
class Source {
 public:
  virtual ~Source() = default;
  // Makes [offset, offset+size) available at the returned pointer, valid
  // until the same slot is asked for again. nullptr with *error on failure.
  virtual const std::uint8_t* fetch(std::size_t slot, std::uint64_t offset, std::size_t size, Error* error) = 0;
};

class MemorySource final : public Source {
 public:
  explicit MemorySource(ByteView data) : data_(data) {}
  const std::uint8_t* fetch(std::size_t, std::uint64_t offset, std::size_t, Error*) override {
    return data_.data() + offset;
  }

 private:
  ByteView data_;
};

class FileSource final : public Source {
 public:
  FileSource(int fd, std::string name, std::size_t chunk_size) : fd_(fd), name_(std::move(name)) {
    for (auto& buffer : buffers_) buffer.reset(new std::uint8_t[chunk_size]);
  }
  const std::uint8_t* fetch(std::size_t slot, std::uint64_t offset, std::size_t size, Error* error) override {
    std::uint8_t* out = buffers_[slot].get();
    std::size_t got = 0;
    while (got < size) {
      ssize_t n = ::pread(fd_, out + got, size - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        *error = make_error(ErrorCode::io, name_ + ": read failed at offset " + std::to_string(offset + got) + ": " +
                                               std::strerror(errno));
        return nullptr;
      }
      if (n == 0) {
        *error = make_error(ErrorCode::io, name_ + ": the file shrank to " + std::to_string(offset + got) +
                                               " bytes while it was being hashed; hash it again once nothing "
                                               "is writing to it");
        return nullptr;
      }
      got += static_cast<std::size_t>(n);
    }
    return out;
  }

 private:
  int fd_;
  std::string name_;
  std::unique_ptr<std::uint8_t[]> buffers_[kSlots];
};

// One pass over a source: the reader (calling thread) fetches chunks into
// slots; worker 0 runs the ordered SHA-256/CRC/AutoV1 streams, worker 1 the
// ordered AutoV3 stream, and the independent merkle leaves and v1 pieces of
// each chunk are split between them so both finish together.
class Pass {
 public:
  Pass(Source& source, std::uint64_t size, const HashOptions& options)
      : source_(source), size_(size), options_(options) {
    leaf_group_ = (options.piece_size ? options.piece_size : kMinChunk) / kMerkleBlockSize;
    chunk_size_ = std::max<std::uint64_t>(kMinChunk, options.piece_size);
    chunks_ = size == 0 ? 0 : (size + chunk_size_ - 1) / chunk_size_;
    workers_ = std::clamp(options.threads, 1u, 2u);
    result_.size = size;
  }

  Result<FileDigests> run(const ProgressFn& progress) {
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < workers_; ++w) threads.emplace_back([this, w] { work(w); });

    Error error;
    bool failed = false;
    std::uint64_t consumed = 0;
    for (std::uint64_t i = 0; i < chunks_ && !failed; ++i) {
      Slot& slot = slots_[i % kSlots];
      if (i >= kSlots) {
        wait_done(slot);
        consume(slot);
        consumed += slot.size;
        if (progress) progress(consumed, size_);
      }
      std::size_t n = static_cast<std::size_t>(std::min(chunk_size_, size_ - i * chunk_size_));
      const std::uint8_t* data = source_.fetch(i % kSlots, i * chunk_size_, n, &error);
      if (!data) {
        failed = true;
        break;
      }
      if (i == 0) detect_autov3(ByteView(data, n));
      prepare(slot, i, data, n);
      publish(i);
    }
    if (failed) {
      abort();
    } else {
      for (std::uint64_t i = chunks_ > kSlots ? chunks_ - kSlots : 0; i < chunks_; ++i) {
        Slot& slot = slots_[i % kSlots];
        wait_done(slot);
        consume(slot);
        consumed += slot.size;
        if (progress) progress(consumed, size_);
      }
    }
    for (auto& t : threads) t.join();
    if (failed) return error;
    finish();
    return std::move(result_);
  }

 private:
  struct Slot {
    std::uint64_t index = 0;
    std::uint64_t offset = 0;
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::vector<Sha256Digest> leaves;
    std::vector<Sha1Digest> pieces;
    std::size_t split_leaves = 0;  // worker 0 hashes leaves [0, split_leaves)
    std::size_t split_pieces = 0;
    unsigned remaining = 0;  // workers still busy with this chunk
  };

  void detect_autov3(ByteView first) {
    auto offset = safetensors_data_offset(first, size_);
    if (offset) {
      has_v3_ = true;
      v3_offset_ = *offset;
    }
  }

  void prepare(Slot& slot, std::uint64_t index, const std::uint8_t* data, std::size_t size) {
    slot.index = index;
    slot.offset = index * chunk_size_;
    slot.data = data;
    slot.size = size;
    std::size_t blocks = (size + kMerkleBlockSize - 1) / kMerkleBlockSize;
    slot.leaves.resize(blocks);
    std::size_t pieces = 0;
    if (options_.piece_size && options_.v1_pieces) pieces = (size + options_.piece_size - 1) / options_.piece_size;
    slot.pieces.resize(pieces);

    // Balance: worker 0 does SHA-256 + CRC of the chunk, worker 1 the AutoV3
    // part; the divisible work D is split so both carry the same load.
    double chunk = static_cast<double>(size);
    double v3 = 0;
    if (has_v3_) {
      std::uint64_t begin = std::max(slot.offset, v3_offset_);
      std::uint64_t end = slot.offset + size;
      if (end > begin) v3 = static_cast<double>(end - begin);
    }
    double divisible = chunk * kCostSha256 + (pieces ? chunk * kCostSha1 : 0);
    double share0 =
        workers_ == 1
            ? 1.0
            : std::clamp((v3 * kCostSha256 + divisible - chunk * (kCostSha256 + kCostCrc)) / (2 * divisible), 0.0, 1.0);
    slot.split_leaves = static_cast<std::size_t>(share0 * static_cast<double>(blocks) + 0.5);
    slot.split_pieces = static_cast<std::size_t>(share0 * static_cast<double>(pieces) + 0.5);
    slot.remaining = workers_;
  }

  void publish(std::uint64_t index) {
    std::lock_guard lock(mutex_);
    published_ = index + 1;
    ready_.notify_all();
  }

  void abort() {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    ready_.notify_all();
  }

  void wait_done(Slot& slot) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return slot.remaining == 0; });
  }

  void work(unsigned worker) {
    Digest stream(detail::sha256_md());  // SHA256 for worker 0, AutoV3 for worker 1
    Digest leaf(detail::sha256_md());
    Digest piece(detail::sha1_md());
    std::uint32_t crc = 0;
    Digest autov1(detail::sha256_md());
    for (std::uint64_t i = 0; i < chunks_; ++i) {
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return published_ > i || aborted_; });
        if (aborted_) return;
      }
      Slot& slot = slots_[i % kSlots];
      if (worker == 0) {
        stream.update(slot.data, slot.size);
        crc = crc32_update(crc, ByteView(slot.data, slot.size));
        hash_autov1_window(slot, autov1);
      }
      if (worker == 1 || workers_ == 1) hash_autov3_part(slot, workers_ == 1 ? v3_stream_ : stream);
      std::size_t leaf_begin = worker == 0 ? 0 : slot.split_leaves;
      std::size_t leaf_end = worker == 0 ? slot.split_leaves : slot.leaves.size();
      for (std::size_t b = leaf_begin; b < leaf_end; ++b) {
        std::size_t off = b * kMerkleBlockSize;
        leaf.update(slot.data + off, std::min<std::size_t>(kMerkleBlockSize, slot.size - off));
        leaf.finish(slot.leaves[b].data());
      }
      std::size_t piece_begin = worker == 0 ? 0 : slot.split_pieces;
      std::size_t piece_end = worker == 0 ? slot.split_pieces : slot.pieces.size();
      for (std::size_t p = piece_begin; p < piece_end; ++p) hash_v1_piece(slot, p, piece);
      std::lock_guard lock(mutex_);
      if (--slot.remaining == 0) done_.notify_all();
    }
    // Each worker writes only its own fields of result_.
    if (worker == 0) {
      stream.finish(result_.sha256.data());
      autov1.finish(result_.autov1.data());
      result_.crc32 = crc;
    }
    if (has_v3_) {
      Sha256Digest v3;
      if (workers_ == 1)
        v3_stream_.finish(v3.data());
      else if (worker == 1)
        stream.finish(v3.data());
      if (worker == workers_ - 1) result_.autov3 = v3;
    }
  }

  void hash_autov1_window(const Slot& slot, Digest& digest) {
    std::uint64_t begin = std::max(slot.offset, kAutoV1Offset);
    std::uint64_t end = std::min(slot.offset + slot.size, kAutoV1Offset + kAutoV1Length);
    if (end > begin) digest.update(slot.data + (begin - slot.offset), end - begin);
  }

  void hash_autov3_part(const Slot& slot, Digest& digest) {
    if (!has_v3_) return;
    std::uint64_t begin = std::max(slot.offset, v3_offset_);
    std::uint64_t end = slot.offset + slot.size;
    if (end > begin) digest.update(slot.data + (begin - slot.offset), end - begin);
  }

  void hash_v1_piece(Slot& slot, std::size_t p, Digest& digest) {
    std::size_t off = p * options_.piece_size;
    std::size_t n = std::min<std::size_t>(options_.piece_size, slot.size - off);
    digest.update(slot.data + off, n);
    if (n < options_.piece_size && options_.pad_last_v1_piece) {
      static const std::uint8_t zeros[kMerkleBlockSize] = {};
      for (std::size_t left = options_.piece_size - n; left > 0;) {
        std::size_t k = std::min<std::size_t>(left, sizeof zeros);
        digest.update(zeros, k);
        left -= k;
      }
    }
    digest.finish(slot.pieces[p].data());
  }

  // Reader thread, in chunk order: fold the chunk's leaves into subtrees of
  // leaf_group_ leaves (the piece layer) and collect its v1 pieces.
  void consume(Slot& slot) {
    const std::size_t n = slot.leaves.size();
    if (chunks_ == 1) last_leaves_ = slot.leaves;
    for (std::size_t g = 0; g < n; g += leaf_group_) {
      std::size_t count = std::min<std::size_t>(leaf_group_, n - g);
      subtrees_.push_back(merkle_subtree_root(std::span(slot.leaves).subspan(g, count), leaf_group_));
    }
    result_.v1_pieces.insert(result_.v1_pieces.end(), slot.pieces.begin(), slot.pieces.end());
  }

  void finish() {
    if (size_ == 0) {
      Digest empty(detail::sha256_md());
      empty.finish(result_.sha256.data());
      empty.finish(result_.autov1.data());
      result_.autov1_window_short = true;
      return;
    }
    result_.autov1_window_short = size_ < kAutoV1Offset + kAutoV1Length;
    std::uint64_t total_leaves = (size_ + kMerkleBlockSize - 1) / kMerkleBlockSize;
    if (total_leaves <= leaf_group_) {
      result_.pieces_root = merkle_subtree_root(last_leaves_, next_pow2(total_leaves));
    } else {
      result_.pieces_root = merkle_root(subtrees_, log2_exact(leaf_group_));
    }
    if (options_.piece_size && size_ > options_.piece_size) result_.piece_layer = std::move(subtrees_);
    result_.autov3_offset = has_v3_ ? v3_offset_ : 0;
  }

  Source& source_;
  std::uint64_t size_;
  HashOptions options_;
  std::uint64_t leaf_group_ = 0;
  std::uint64_t chunk_size_ = 0;
  std::uint64_t chunks_ = 0;
  unsigned workers_ = 2;

  bool has_v3_ = false;
  std::uint64_t v3_offset_ = 0;
  Digest v3_stream_{detail::sha256_md()};  // AutoV3 when a single worker runs

  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable done_;
  std::uint64_t published_ = 0;
  bool aborted_ = false;
  Slot slots_[kSlots];

  std::vector<Sha256Digest> subtrees_;
  std::vector<Sha256Digest> last_leaves_;
  FileDigests result_;
};

Status validate(const HashOptions& options) {
  if (options.piece_size != 0 &&
      (!is_pow2(options.piece_size) || options.piece_size < kMerkleBlockSize || options.piece_size > kMaxPieceSize))
    return make_error(ErrorCode::invalid_argument,
                      "piece size " + std::to_string(options.piece_size) +
                          " is not a power of two from 16 KiB to 64 MiB; BitTorrent v2 needs one");
  return {};
}

}  // namespace

std::string FileDigests::sha256_hex() const { return to_hex_upper(sha256); }
std::string FileDigests::autov1_hex() const { return hex_prefix_upper(autov1, 8); }
std::string FileDigests::autov2_hex() const { return hex_prefix_upper(sha256, 10); }
std::string FileDigests::autov3_hex() const { return autov3 ? hex_prefix_upper(*autov3, 12) : std::string(); }
std::string FileDigests::crc32_hex() const {
  std::uint8_t be[4] = {static_cast<std::uint8_t>(crc32 >> 24), static_cast<std::uint8_t>(crc32 >> 16),
                        static_cast<std::uint8_t>(crc32 >> 8), static_cast<std::uint8_t>(crc32)};
  return to_hex_upper(be);
}

std::optional<std::uint64_t> safetensors_data_offset(ByteView first, std::uint64_t file_size) {
  if (first.size() < 9 || file_size < 10) return std::nullopt;
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | first[static_cast<std::size_t>(i)];
  if (header < 2 || header > file_size - 8) return std::nullopt;
  if (first[8] != '{') return std::nullopt;
  return header + 8;
}

Sha256Digest sha256_pair(const Sha256Digest& left, const Sha256Digest& right) {
  std::uint8_t both[64];
  std::memcpy(both, left.data(), 32);
  std::memcpy(both + 32, right.data(), 32);
  return detail::sha256(ByteView(both, 64));
}

Sha256Digest merkle_pad_hash(unsigned height) {
  Sha256Digest h{};
  for (unsigned i = 0; i < height; ++i) h = sha256_pair(h, h);
  return h;
}

Sha256Digest merkle_root(std::vector<Sha256Digest> nodes, unsigned height) {
  Sha256Digest pad = merkle_pad_hash(height);
  if (nodes.empty()) return pad;
  nodes.resize(next_pow2(nodes.size()), pad);
  while (nodes.size() > 1) {
    for (std::size_t i = 0; i < nodes.size() / 2; ++i) nodes[i] = sha256_pair(nodes[2 * i], nodes[2 * i + 1]);
    nodes.resize(nodes.size() / 2);
  }
  return nodes[0];
}

Sha256Digest merkle_subtree_root(std::span<const Sha256Digest> leaves, std::size_t width) {
  std::vector<Sha256Digest> level(leaves.begin(), leaves.end());
  level.resize(std::max<std::size_t>(width, 1), Sha256Digest{});
  return merkle_root(std::move(level), 0);
}

Result<FileDigests> hash_file(const std::filesystem::path& path, const HashOptions& options,
                              const ProgressFn& progress) {
  if (auto st = validate(options); !st) return st.error();
  const std::string name = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(errno == ENOENT ? ErrorCode::not_found : ErrorCode::io,
                      name + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::invalid_argument, name + ": not a regular file; give the path of a model file");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto size = static_cast<std::uint64_t>(st.st_size);
  FileSource source(fd, name, static_cast<std::size_t>(std::max<std::uint64_t>(kMinChunk, options.piece_size)));
  Pass pass(source, size, options);
  auto result = pass.run(progress);
  struct stat after {};
  bool changed = ::fstat(fd, &after) != 0 || after.st_size != st.st_size || after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
                 after.st_mtim.tv_nsec != st.st_mtim.tv_nsec;
  ::close(fd);
  if (result && changed)
    return make_error(ErrorCode::io, name +
                                         ": the file changed while it was being hashed; hash it again once "
                                         "nothing is writing to it");
  return result;
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex2(static_cast<EVP_MD_CTX*>(ctx_), detail::sha256_md(), nullptr);
}
Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
Sha256Stream::Sha256Stream(Sha256Stream&& other) noexcept : ctx_(other.ctx_) { other.ctx_ = nullptr; }
void Sha256Stream::update(ByteView data) {
  if (!data.empty()) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
Sha256Digest Sha256Stream::finish() {
  Sha256Digest out;
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &n);
  EVP_DigestInit_ex2(static_cast<EVP_MD_CTX*>(ctx_), detail::sha256_md(), nullptr);
  return out;
}

FileDigests hash_bytes(ByteView data, const HashOptions& options) {
  MemorySource source(data);
  Pass pass(source, data.size(), options);
  auto result = pass.run({});
  assert(result.ok());  // memory cannot fail to read
  return std::move(result).value();
}

}  // namespace seedbank::protocol
