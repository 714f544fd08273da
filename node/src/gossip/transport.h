// Gossip sessions over TCP: accepting and dialling, the handshake
// (protocol/gossip_session.h), encrypted frames, send queues, deadlines and
// rate limits. Each session gets a SessionId; the Engine is told when one
// opens or closes and gets every decoded message. The Transport is the
// engine's Sessions. Runs on the node's io_context; not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gossip/address_book.h"
#include "gossip/engine.h"
#include "gossip/sessions.h"
#include "seedbank/node/gossip.h"

namespace seedbank::node::gossip {

struct Session;

class Transport : public Sessions, public std::enable_shared_from_this<Transport> {
 public:
  // `options`, `node_key` and `book` must outlive every call until stop().
  Transport(boost::asio::io_context& io, const GossipOptions& options, const protocol::SecretKey& node_key,
            AddressBook& book);
  ~Transport() override;
  void set_engine(Engine* engine) { engine_ = engine; }

  // Listens on HOST:PORT (port 0 picks one) and accepts sessions.
  protocol::Status listen(const std::string& host_port);
  std::string listen_address() const { return listen_address_; }
  std::uint16_t listen_port() const;
  // Dials HOST:PORT now.
  void dial(const std::string& host_port);
  bool connected_to(const std::string& host_port) const;
  // Dials addresses from the book until `outbound` sessions are kept.
  void dial_more(Clock::time_point now, std::mt19937_64& rng);
  // Closes every session and stops accepting; nothing reaches the engine
  // or the book after this.
  void stop();
  bool stopped() const { return stopped_; }

  std::vector<PeerInfo> peers() const;
  std::size_t open_count() const;
  std::uint64_t sessions_refused() const { return sessions_refused_; }
  std::uint64_t bans() const { return bans_; }

  // Sessions
  void send(SessionId id, capnp::MessageBuilder& message) override;
  void close(SessionId id, const std::string& reason, bool ban) override;
  std::vector<SessionFacts> open_sessions() const override;
  std::optional<SessionFacts> facts(SessionId id) const override;
  void set_hello(SessionId id, const PeerHello& hello) override;
  void defer(std::function<void()> fn) override;
  void wake_at(Clock::time_point when) override;
  void resume(SessionId id) override;
  void ban(const SessionFacts& who, const std::string& reason) override;

 private:
  friend struct Session;
  void accept();
  std::shared_ptr<Session> add(boost::asio::ip::tcp::socket socket, bool outbound);
  void remove(SessionId id, bool was_open);
  SessionFacts facts_of(const Session& s) const;

  boost::asio::io_context& io_;
  const GossipOptions& options_;
  const protocol::SecretKey& node_key_;
  AddressBook& book_;
  protocol::Log log_;
  Engine* engine_ = nullptr;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::string listen_address_;
  std::map<SessionId, std::shared_ptr<Session>> sessions_;  // in the order they started
  SessionId next_id_ = 1;
  boost::asio::steady_timer wake_timer_;
  std::optional<Clock::time_point> wake_armed_;
  std::uint64_t sessions_refused_ = 0, bans_ = 0;
  bool stopped_ = false;
};

}  // namespace seedbank::node::gossip
