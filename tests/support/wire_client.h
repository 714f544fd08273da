// A gossip peer written against the wire protocol with blocking sockets,
// for tests that play a hostile peer and for load benchmarks.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/protocol/gossip_message.h"
#include "seedbank/protocol/gossip_session.h"
#include "support/sockaddr.h"

namespace seedbank::testing {

// The frame plaintext of a Records message carrying `records` as they are.
inline protocol::Bytes records_message(const std::vector<protocol::Bytes>& records) {
  capnp::MallocMessageBuilder m;
  auto list = m.initRoot<schema::GossipMessage>().initRecords(static_cast<unsigned>(records.size()));
  for (unsigned i = 0; i < records.size(); ++i) list.set(i, capnp::Data::Reader(records[i].data(), records[i].size()));
  return protocol::gossip::encode(m);
}

// A peer written against the wire protocol, with blocking sockets.
class WireClient {
 public:
  explicit WireClient(const std::string& address) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = ipv4_address(address);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~WireClient() { ::close(fd_); }

  // Runs the handshake as the initiator; false when the node closed on us.
  // Only the hellos (the keys the frames use), not the auth: what a
  // stranger can do before it proves anything.
  bool hellos(const protocol::SecretKey& key, const std::string& network = "test") {
    if (!connected_) return false;
    protocol::gossip::Handshake hs(protocol::gossip::Handshake::Role::initiator, key, network);
    if (!send_all(hs.hello().data(), hs.hello().size())) return false;
    std::uint8_t peer[protocol::gossip::kHelloSize];
    return recv_all(peer, sizeof peer) && hs.receive_hello(protocol::ByteView(peer, sizeof peer)).ok();
  }
  bool handshake(const protocol::SecretKey& key, const std::string& network = "test") {
    if (!connected_) return false;
    protocol::gossip::Handshake hs(protocol::gossip::Handshake::Role::initiator, key, network);
    if (!send_all(hs.hello().data(), hs.hello().size())) return false;
    std::uint8_t peer[protocol::gossip::kHelloSize];
    if (!recv_all(peer, sizeof peer)) return false;
    if (!hs.receive_hello(protocol::ByteView(peer, sizeof peer))) return false;
    sealer_.emplace(hs.send_key());
    opener_.emplace(hs.receive_key());
    auto auth = hs.auth(key);
    send_frame(auth);
    auto theirs = read_frame();
    return theirs && hs.receive_auth(*theirs).ok();
  }
  bool send_frame(protocol::ByteView plaintext) {
    protocol::Bytes frame;
    sealer_->seal(plaintext, &frame);
    return send_all(frame.data(), frame.size());
  }
  bool send_all(const void* data, std::size_t n) {
    return ::send(fd_, data, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n);
  }
  std::optional<protocol::Bytes> read_frame() {
    std::uint8_t header[4];
    if (!recv_all(header, 4)) return std::nullopt;
    auto n = opener_->body_size(header);
    if (!n) return std::nullopt;
    protocol::Bytes body(*n);
    if (!recv_all(body.data(), body.size())) return std::nullopt;
    auto plain = opener_->open(header, body);
    if (!plain) return std::nullopt;
    return *plain;
  }
  // True when the node closes the connection within `limit` (frames it
  // sends meanwhile are read and dropped).
  bool closed_within(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::uint8_t buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      auto r = ::recv(fd_, buf, sizeof buf, 0);
      if (r <= 0) return true;
    }
    return false;
  }

 private:
  bool recv_all(std::uint8_t* out, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) return false;
      auto r = ::recv(fd_, out + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }
  int fd_ = -1;

 public:
  int fd() const { return fd_; }

 private:
  bool connected_ = false;
  std::optional<protocol::gossip::FrameSealer> sealer_;
  std::optional<protocol::gossip::FrameOpener> opener_;
};

}  // namespace seedbank::testing
