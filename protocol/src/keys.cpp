#include "seedbank/protocol/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace seedbank::protocol {
namespace {

constexpr std::string_view kPublicKeyHrp = "sbpk";
constexpr char kBech32Charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  (void)ready;
}

std::uint32_t bech32_polymod(const std::vector<std::uint8_t>& values) {
  constexpr std::uint32_t kGenerator[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::uint32_t chk = 1;
  for (std::uint8_t v : values) {
    std::uint8_t top = static_cast<std::uint8_t>(chk >> 25);
    chk = (chk & 0x1ffffff) << 5 ^ v;
    for (int i = 0; i < 5; ++i)
      if ((top >> i) & 1) chk ^= kGenerator[i];
  }
  return chk;
}

std::vector<std::uint8_t> hrp_expand(std::string_view hrp) {
  std::vector<std::uint8_t> out;
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(c) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(c) & 31);
  return out;
}

// Regroups bits; `pad` adds trailing zero bits (encode) or requires that the
// leftover bits are zero padding (decode).
std::optional<std::vector<std::uint8_t>> convert_bits(ByteView in, int from, int to, bool pad) {
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  const std::uint32_t maxv = (1u << to) - 1;
  for (std::uint8_t v : in) {
    if (v >> from) return std::nullopt;
    acc = acc << from | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & maxv));
    }
  }
  if (pad) {
    if (bits) out.push_back(static_cast<std::uint8_t>((acc << (to - bits)) & maxv));
  } else if (bits >= from || ((acc << (to - bits)) & maxv)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string bech32_encode(std::string_view hrp, ByteView data) {
  auto values = *convert_bits(data, 8, 5, true);
  auto check_input = hrp_expand(hrp);
  check_input.insert(check_input.end(), values.begin(), values.end());
  check_input.insert(check_input.end(), 6, 0);
  std::uint32_t mod = bech32_polymod(check_input) ^ 1;
  std::string out(hrp);
  out += '1';
  for (auto v : values) out += kBech32Charset[v];
  for (int i = 0; i < 6; ++i) out += kBech32Charset[(mod >> (5 * (5 - i))) & 31];
  return out;
}

std::optional<Bytes> bech32_decode(std::string_view expected_hrp, std::string_view text) {
  if (text.size() < expected_hrp.size() + 7 || text.size() > 90) return std::nullopt;
  bool lower = false, upper = false;
  std::string s;
  for (char c : text) {
    if (c >= 'a' && c <= 'z') lower = true;
    if (c >= 'A' && c <= 'Z') upper = true;
    s += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (lower && upper) return std::nullopt;
  auto sep = s.rfind('1');
  if (sep == std::string::npos || std::string_view(s).substr(0, sep) != expected_hrp) return std::nullopt;
  std::vector<std::uint8_t> values;
  for (char c : s.substr(sep + 1)) {
    const char* pos = std::strchr(kBech32Charset, c);
    if (!pos || c == '\0') return std::nullopt;
    values.push_back(static_cast<std::uint8_t>(pos - kBech32Charset));
  }
  if (values.size() < 6) return std::nullopt;
  auto check_input = hrp_expand(expected_hrp);
  check_input.insert(check_input.end(), values.begin(), values.end());
  if (bech32_polymod(check_input) != 1) return std::nullopt;
  values.resize(values.size() - 6);
  auto bytes = convert_bits(values, 5, 8, false);
  if (!bytes) return std::nullopt;
  return Bytes(bytes->begin(), bytes->end());
}

std::string PublicKey::to_text() const { return bech32_encode(kPublicKeyHrp, bytes); }

std::optional<PublicKey> PublicKey::from_bytes(ByteView b) {
  if (b.size() != 32) return std::nullopt;
  PublicKey key;
  std::memcpy(key.bytes.data(), b.data(), 32);
  return key;
}

std::optional<PublicKey> PublicKey::from_text(std::string_view text) {
  if (auto raw = from_hex_fixed<32>(text)) return PublicKey{*raw};
  auto decoded = bech32_decode(kPublicKeyHrp, text);
  if (!decoded) return std::nullopt;
  return from_bytes(*decoded);
}

SecretKey SecretKey::generate() {
  ensure_sodium();
  std::array<std::uint8_t, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  auto key = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return std::move(key).value();
}

Result<SecretKey> SecretKey::from_seed(ByteView seed) {
  ensure_sodium();
  if (seed.size() != crypto_sign_SEEDBYTES)
    return make_error(ErrorCode::invalid_argument, "an Ed25519 seed is 32 bytes, got " + std::to_string(seed.size()));
  SecretKey key;
  crypto_sign_seed_keypair(key.public_key_.bytes.data(), key.expanded_.data(), seed.data());
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept : expanded_(other.expanded_), public_key_(other.public_key_) {
  sodium_memzero(other.expanded_.data(), other.expanded_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    expanded_ = other.expanded_;
    public_key_ = other.public_key_;
    sodium_memzero(other.expanded_.data(), other.expanded_.size());
  }
  return *this;
}

SecretKey::~SecretKey() { sodium_memzero(expanded_.data(), expanded_.size()); }

Signature SecretKey::sign(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), expanded_.data());
  return sig;
}

bool verify_signature(const PublicKey& key, ByteView message, ByteView signature) {
  ensure_sodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.bytes.data()) == 0;
}

Status save_secret_key(const std::filesystem::path& path, const SecretKey& key, bool overwrite) {
  std::error_code ec;
  if (path.has_parent_path() && !std::filesystem::exists(path.parent_path(), ec)) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return make_error(ErrorCode::io, path.parent_path().string() + ": cannot create folder: " + ec.message());
    ::chmod(path.parent_path().c_str(), 0700);
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return make_error(ErrorCode::conflict, path.string() +
                                                 ": a key file already exists; choose another --out path or remove "
                                                 "it first (it may be someone's only copy of their identity)");
    return make_error(ErrorCode::io, path.string() + ": cannot create key file: " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);
  auto seed = key.seed();
  bool ok = ::write(fd, seed.data(), seed.size()) == static_cast<ssize_t>(seed.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::io, path.string() + ": writing the key failed (disk full?)");
  return {};
}

Result<SecretKey> load_secret_key(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(
        ErrorCode::not_found,
        path.string() + ": no key file here; create one with `seedbank keygen --out " + path.string() + "`");
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::invalid_argument, path.string() + ": not a regular file");
  if (st.st_size != 32)
    return make_error(ErrorCode::malformed, path.string() +
                                                ": a key file holds exactly 32 bytes (an Ed25519 seed), "
                                                "this one has " +
                                                std::to_string(st.st_size));
  if (st.st_mode & 077)
    return make_error(
        ErrorCode::unsafe, path.string() + ": key file is readable by other users (mode " +
                               [&] {
                                 char b[8];
                                 std::snprintf(b, sizeof b, "%03o", st.st_mode & 0777);
                                 return std::string(b);
                               }() +
                               "); run `chmod 600 " + path.string() + "`");
  std::ifstream in(path, std::ios::binary);
  std::array<std::uint8_t, 32> seed{};
  in.read(reinterpret_cast<char*>(seed.data()), 32);
  if (!in) return make_error(ErrorCode::io, path.string() + ": cannot read key file");
  auto key = SecretKey::from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

}  // namespace seedbank::protocol
