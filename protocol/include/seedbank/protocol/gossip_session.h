// The gossip session's cryptography: a handshake that binds two node keys
// and a network id to fresh X25519 key material, then authenticated
// encryption of every frame. Pure code over bytes; node/ runs it on sockets.
//
//   initiator -> responder   hello  = "SBG1" network_tag:32 ephemeral_pk:32
//   responder -> initiator   hello  (same form)
//   both                     frame(auth) = node_pk:32 signature:64
//   both                     frame(message)*
//   frame = length:u32be ciphertext[length]   (XChaCha20-Poly1305, AD = length)
//
// docs/protocol.md ("Gossip session") has the whole grammar and the reasons.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol::gossip {

inline constexpr std::size_t kHelloSize = 68;
inline constexpr std::size_t kHeaderSize = 4;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kAuthSize = 96;
// The largest message a frame may carry. Records are at most 2 MiB each.
inline constexpr std::size_t kMaxFramePlaintext = 4u << 20;

using NetworkTag = std::array<std::uint8_t, 32>;
using SessionKey = std::array<std::uint8_t, 32>;

// SHA-256("seedbank/network/v1\0" ++ network): peers on different networks
// (main, a testnet, a devnet) fail the handshake before anything else.
NetworkTag network_tag(std::string_view network);

class Handshake {
 public:
  enum class Role { initiator, responder };
  Handshake(Role role, const SecretKey& node_key, std::string_view network);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // The 68 bytes this side sends first.
  const std::array<std::uint8_t, kHelloSize>& hello() const { return hello_; }
  // The peer's hello. Error conflict when it is on another network,
  // malformed when the bytes are not a Seedbank hello. Derives the keys.
  Status receive_hello(ByteView peer_hello);
  // This side's proof of identity, sent as the first encrypted frame: its
  // node key and a signature over both hellos and its role.
  Bytes auth(const SecretKey& node_key) const;
  // Checks the peer's proof; its node key on success, bad_signature or
  // malformed otherwise.
  Result<PublicKey> receive_auth(ByteView auth) const;

  const SessionKey& send_key() const { return send_; }
  const SessionKey& receive_key() const { return receive_; }

 private:
  Bytes transcript_hash() const;
  Role role_;
  NetworkTag tag_;
  std::array<std::uint8_t, 32> ephemeral_pk_{}, ephemeral_sk_{};
  std::array<std::uint8_t, kHelloSize> hello_{}, peer_hello_{};
  SessionKey send_{}, receive_{};
  bool keyed_ = false;
};

// Seals frames in one direction (counter nonces; never reused, since each
// direction has its own key).
class FrameSealer {
 public:
  explicit FrameSealer(const SessionKey& key) : key_(key) {}
  // Appends header and ciphertext of `plaintext`; throws std::length_error
  // over kMaxFramePlaintext (a bug in the caller: messages are built under it).
  void seal(ByteView plaintext, Bytes* out);

 private:
  SessionKey key_;
  std::uint64_t counter_ = 0;
};

class FrameOpener {
 public:
  explicit FrameOpener(const SessionKey& key, std::size_t max_plaintext = kMaxFramePlaintext)
      : key_(key), max_plaintext_(max_plaintext) {}
  // From a frame's 4-byte header: how many ciphertext bytes follow. Error
  // limit for a frame over the maximum, malformed for one too short to hold
  // the tag.
  Result<std::size_t> body_size(const std::uint8_t* header) const;
  // Decrypts the frame; error bad_signature when it was tampered with or is
  // out of order.
  Result<Bytes> open(const std::uint8_t* header, ByteView ciphertext);

 private:
  SessionKey key_;
  std::size_t max_plaintext_;
  std::uint64_t counter_ = 0;
};

}  // namespace seedbank::protocol::gossip
