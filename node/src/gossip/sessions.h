// How the gossip engine sees sessions: by number, through a small
// interface the transport (or a test, or the fuzzer) implements.
#pragma once

#include <capnp/message.h>

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/protocol/keys.h"
#include "seedbank/schemas/gossip.capnp.h"

namespace seedbank::node::gossip {

using Clock = std::chrono::steady_clock;

// Names one session for its whole life; never reused (a later session from
// the same address gets a new one), so a stale id finds nothing.
using SessionId = std::uint64_t;
inline constexpr SessionId kNoSession = 0;

// What a peer said about itself in its hello.
struct PeerHello {
  std::uint32_t version = 0;
  std::uint64_t features = 0;  // Hello.features bits
  std::string agent;
  std::uint16_t gossip_port = 0, bt_port = 0;
};

// What the transport knows of an open, authenticated session.
struct SessionFacts {
  SessionId id = kNoSession;
  bool outbound = false;
  std::string dial_address;  // what this node dialled (outbound), else empty
  boost::asio::ip::address remote_ip;
  std::uint16_t remote_port = 0;
  protocol::PublicKey peer_id;
  PeerHello hello;
  std::size_t queued = 0;  // bytes written and not yet taken by the peer
};

// Implemented by the transport. Every call is made on the gossip thread,
// from inside an Engine call; none of them calls back into the engine
// except close(), which calls Engine::on_closed before it returns.
class Sessions {
 public:
  virtual ~Sessions() = default;
  // Sends to an open session; does nothing for one that is not open.
  virtual void send(SessionId id, capnp::MessageBuilder& message) = 0;
  // Closes it (and bans its key and address when `ban`); Engine::on_closed
  // has run when this returns.
  virtual void close(SessionId id, const std::string& reason, bool ban) = 0;
  // Open sessions, in the order they opened.
  virtual std::vector<SessionFacts> open_sessions() const = 0;
  // The facts of one open session, or nullopt.
  virtual std::optional<SessionFacts> facts(SessionId id) const = 0;
  // Keeps what the peer said in its hello with the session.
  virtual void set_hello(SessionId id, const PeerHello& hello) = 0;
  // Runs `fn` after the current engine call, once this I/O turn is over.
  virtual void defer(std::function<void()> fn) = 0;
  // The engine wants Engine::on_deadline called at (or soon after) `when`.
  virtual void wake_at(Clock::time_point when) = 0;
  // Reads `id` again if it was paused because Engine::accepting said no.
  virtual void resume(SessionId id) = 0;
  // Bans a peer whose session has closed (its records were checked after
  // it hung up), by the key and address it had; closes any session it has
  // open again.
  virtual void ban(const SessionFacts& who, const std::string& reason) = 0;
};

}  // namespace seedbank::node::gossip
