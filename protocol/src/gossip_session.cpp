#include "seedbank/protocol/gossip_session.h"

#include <sodium.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "sha.h"

namespace seedbank::protocol::gossip {
namespace {

constexpr char kMagic[4] = {'S', 'B', 'G', '1'};
constexpr std::string_view kKeyContext = "seedbank/gossip/key/v1";
constexpr std::string_view kAuthContext = "seedbank/gossip/auth/v1";

Bytes sha256(ByteView a, ByteView b = {}) {
  detail::Digest d(detail::sha256_md());
  d.update(a);
  d.update(b);
  Bytes out(32);
  d.finish(out.data());
  return out;
}

void nonce_of(std::uint64_t counter, unsigned char* nonce) {
  std::memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  for (int i = 0; i < 8; ++i) nonce[i] = static_cast<unsigned char>(counter >> (8 * i));
}

}  // namespace

NetworkTag network_tag(std::string_view network) {
  std::string domain("seedbank/network/v1");
  domain.push_back('\0');
  domain.append(network);
  auto h = sha256(as_bytes(domain));
  NetworkTag tag;
  std::memcpy(tag.data(), h.data(), 32);
  return tag;
}

Handshake::Handshake(Role role, const SecretKey& /*node_key*/, std::string_view network)
    : role_(role), tag_(network_tag(network)) {
  crypto_kx_keypair(ephemeral_pk_.data(), ephemeral_sk_.data());
  std::memcpy(hello_.data(), kMagic, 4);
  std::memcpy(hello_.data() + 4, tag_.data(), 32);
  std::memcpy(hello_.data() + 36, ephemeral_pk_.data(), 32);
}

Handshake::~Handshake() {
  sodium_memzero(ephemeral_sk_.data(), ephemeral_sk_.size());
  sodium_memzero(send_.data(), send_.size());
  sodium_memzero(receive_.data(), receive_.size());
}

Status Handshake::receive_hello(ByteView peer) {
  if (peer.size() != kHelloSize || std::memcmp(peer.data(), kMagic, 4) != 0)
    return make_error(ErrorCode::malformed, "the peer does not speak the Seedbank gossip protocol (bad hello)");
  if (std::memcmp(peer.data() + 4, tag_.data(), 32) != 0)
    return make_error(ErrorCode::conflict, "the peer is on another Seedbank network (its network id differs)");
  std::memcpy(peer_hello_.data(), peer.data(), kHelloSize);
  const std::uint8_t* peer_pk = peer.data() + 36;
  std::array<std::uint8_t, 32> rx{}, tx{};
  int rc =
      role_ == Role::initiator
          ? crypto_kx_client_session_keys(rx.data(), tx.data(), ephemeral_pk_.data(), ephemeral_sk_.data(), peer_pk)
          : crypto_kx_server_session_keys(rx.data(), tx.data(), ephemeral_pk_.data(), ephemeral_sk_.data(), peer_pk);
  if (rc != 0) return make_error(ErrorCode::malformed, "the peer's ephemeral key is invalid");
  // Bind the keys to the whole transcript (both hellos, so the network too).
  auto transcript = transcript_hash();
  auto derive = [&](const std::array<std::uint8_t, 32>& kx, SessionKey* out) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, kx.data(), kx.size(), out->size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kKeyContext.data()), kKeyContext.size());
    crypto_generichash_update(&st, transcript.data(), transcript.size());
    crypto_generichash_final(&st, out->data(), out->size());
  };
  derive(tx, &send_);
  derive(rx, &receive_);
  sodium_memzero(rx.data(), rx.size());
  sodium_memzero(tx.data(), tx.size());
  keyed_ = true;
  return {};
}

Bytes Handshake::transcript_hash() const {
  const auto& first = role_ == Role::initiator ? hello_ : peer_hello_;
  const auto& second = role_ == Role::initiator ? peer_hello_ : hello_;
  return sha256(ByteView(first.data(), first.size()), ByteView(second.data(), second.size()));
}

namespace {
Bytes auth_message(char role, const Bytes& transcript) {
  Bytes m(kAuthContext.begin(), kAuthContext.end());
  m.push_back(0);
  m.push_back(static_cast<std::uint8_t>(role));
  m.insert(m.end(), transcript.begin(), transcript.end());
  return m;
}
}  // namespace

Bytes Handshake::auth(const SecretKey& node_key) const {
  auto sig = node_key.sign(auth_message(role_ == Role::initiator ? 'I' : 'R', transcript_hash()));
  Bytes out(node_key.public_key().bytes.begin(), node_key.public_key().bytes.end());
  out.insert(out.end(), sig.begin(), sig.end());
  return out;
}

Result<PublicKey> Handshake::receive_auth(ByteView auth) const {
  if (!keyed_) return make_error(ErrorCode::internal, "auth before hello");
  if (auth.size() != kAuthSize) return make_error(ErrorCode::malformed, "the peer's authentication has the wrong size");
  auto key = PublicKey::from_bytes(auth.subspan(0, 32));
  if (!key) return make_error(ErrorCode::malformed, "the peer's node key is not a valid Ed25519 key");
  auto message = auth_message(role_ == Role::initiator ? 'R' : 'I', transcript_hash());
  if (!verify_signature(*key, message, auth.subspan(32, 64)))
    return make_error(ErrorCode::bad_signature, "the peer's node key did not sign this session");
  return *key;
}

void FrameSealer::seal(ByteView plaintext, Bytes* out) {
  if (plaintext.size() > kMaxFramePlaintext) throw std::length_error("gossip frame over the maximum size");
  auto length = static_cast<std::uint32_t>(plaintext.size() + kTagSize);
  std::uint8_t header[kHeaderSize] = {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
                                      static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
  std::size_t at = out->size();
  out->resize(at + kHeaderSize + length);
  std::memcpy(out->data() + at, header, kHeaderSize);
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(counter_++, nonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out->data() + at + kHeaderSize, &written, plaintext.data(),
                                             plaintext.size(), header, kHeaderSize, nullptr, nonce, key_.data());
}

Result<std::size_t> FrameOpener::body_size(const std::uint8_t* header) const {
  std::uint32_t length = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                         (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  if (length < kTagSize) return make_error(ErrorCode::malformed, "a frame too short to be authentic");
  if (length - kTagSize > max_plaintext_)
    return make_error(ErrorCode::limit, "a frame of " + std::to_string(length) + " bytes, over the limit of " +
                                            std::to_string(max_plaintext_ + kTagSize));
  return std::size_t{length};
}

Result<Bytes> FrameOpener::open(const std::uint8_t* header, ByteView ciphertext) {
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(counter_, nonce);
  Bytes plain(ciphertext.size() >= kTagSize ? ciphertext.size() - kTagSize : 0);
  unsigned long long n = 0;
  if (ciphertext.size() < kTagSize ||
      crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &n, nullptr, ciphertext.data(), ciphertext.size(),
                                                 header, kHeaderSize, nonce, key_.data()) != 0)
    return make_error(ErrorCode::bad_signature, "a frame failed authentication (tampered, replayed or out of order)");
  ++counter_;
  plain.resize(n);
  return plain;
}

}  // namespace seedbank::protocol::gossip
