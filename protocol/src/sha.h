// Thin RAII wrappers over OpenSSL's EVP digests (hardware SHA extensions).
// Private to protocol/.
#pragma once

#include <openssl/evp.h>

#include <cstdint>

#include "seedbank/protocol/bytes.h"

namespace seedbank::protocol::detail {

// Fetched once; EVP_DigestInit with a pre-fetched EVP_MD skips the
// per-call provider lookup that dominates 16 KiB leaf hashing otherwise.
const EVP_MD* sha256_md();
const EVP_MD* sha1_md();

// One running digest. Not thread-safe; cheap to reset().
class Digest {
 public:
  explicit Digest(const EVP_MD* md);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void reset();
  void update(const std::uint8_t* data, std::size_t size);
  void update(ByteView data) { update(data.data(), data.size()); }
  // Writes EVP_MD_get_size(md) bytes and resets.
  void finish(std::uint8_t* out);

 private:
  const EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

Sha256Digest sha256(ByteView data);
Sha1Digest sha1(ByteView data);

}  // namespace seedbank::protocol::detail
