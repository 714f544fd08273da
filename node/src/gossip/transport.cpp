#include "gossip/transport.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <deque>
#include <iostream>

#include "gossip/endpoint.h"
#include "gossip/limits.h"
#include "seedbank/protocol/gossip_message.h"
#include "seedbank/protocol/gossip_session.h"

namespace seedbank::node::gossip {

namespace asio = boost::asio;
namespace p = seedbank::protocol;
namespace g = seedbank::protocol::gossip;
using tcp = asio::ip::tcp;
using p::ErrorCode;

// ---- one session ------------------------------------------------------------

struct Session : std::enable_shared_from_this<Session> {
  enum class State { handshake, auth, open, closed };

  SessionId id;
  std::shared_ptr<Transport> transport;
  tcp::socket socket;
  bool outbound;
  std::string dial_address;  // what we dialled (outbound)
  asio::ip::address remote_ip;
  std::uint16_t remote_port = 0;
  State state = State::handshake;
  std::unique_ptr<g::Handshake> handshake;
  std::optional<g::FrameSealer> sealer;
  std::optional<g::FrameOpener> opener;
  std::array<std::uint8_t, g::kHelloSize> peer_hello{};
  std::array<std::uint8_t, g::kHeaderSize> header{};
  p::Bytes body;
  std::deque<p::Bytes> out;
  std::size_t queued = 0;
  bool writing = false;
  bool paused = false;  // not reading: the engine stores what it sent first
  asio::steady_timer deadline;
  asio::steady_timer throttle;
  std::optional<p::PublicKey> peer_id;
  PeerHello hello;  // what the peer said in its hello
  Clock::time_point opened = Clock::now();
  double message_tokens = kMessageBurst, byte_tokens = kByteBurst;
  Clock::time_point refilled = Clock::now();
  std::uint64_t bytes_in = 0, bytes_out = 0;

  Session(SessionId i, std::shared_ptr<Transport> t, tcp::socket s, bool out_bound)
      : id(i),
        transport(std::move(t)),
        socket(std::move(s)),
        outbound(out_bound),
        deadline(socket.get_executor()),
        throttle(socket.get_executor()) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) {
      remote_ip = normalized(ep.address());
      remote_port = ep.port();
    }
  }

  std::string remote() const { return endpoint_text(remote_ip, remote_port); }
  Engine* engine() const { return transport->stopped_ ? nullptr : transport->engine_; }

  void start();
  void close(const std::string& reason, bool ban = false);
  void send(capnp::MessageBuilder& message);
  void send_raw_frame(p::ByteView plaintext);
  // Reading again after a pause (Transport::resume).
  void resume();

 private:
  void write_next();
  void read_header();
  void read_body(std::size_t n);
  void on_frame();
  void open_session();
  void arm(std::chrono::seconds after, const char* why);
};

void Session::arm(std::chrono::seconds after, const char* why) {
  deadline.expires_after(after);
  deadline.async_wait([self = shared_from_this(), why](const boost::system::error_code& ec) {
    if (!ec) self->close(why);
  });
}

void Session::start() {
  handshake = std::make_unique<g::Handshake>(outbound ? g::Handshake::Role::initiator : g::Handshake::Role::responder,
                                             transport->node_key_, transport->options_.network);
  arm(std::chrono::duration_cast<std::chrono::seconds>(kHandshakeTimeout), "handshake timed out");
  const auto& hello = handshake->hello();
  p::Bytes raw(hello.begin(), hello.end());
  out.push_back(std::move(raw));
  queued += g::kHelloSize;
  write_next();
  asio::async_read(
      socket, asio::buffer(peer_hello), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->state == State::closed) return self->close("connection closed during handshake");
        self->bytes_in += g::kHelloSize;
        if (auto st = self->handshake->receive_hello(p::ByteView(self->peer_hello.data(), self->peer_hello.size()));
            !st)
          return self->close(st.error().message, st.error().code == ErrorCode::malformed);
        self->sealer.emplace(self->handshake->send_key());
        self->opener.emplace(self->handshake->receive_key());
        self->state = State::auth;
        auto auth = self->handshake->auth(self->transport->node_key_);
        self->send_raw_frame(auth);
        self->read_header();
      });
}

void Session::send_raw_frame(p::ByteView plaintext) {
  p::Bytes frame;
  sealer->seal(plaintext, &frame);
  queued += frame.size();
  out.push_back(std::move(frame));
  if (queued > kMaxQueued) return close("the peer reads too slowly (" + std::to_string(queued) + " bytes queued)");
  write_next();
}

void Session::send(capnp::MessageBuilder& message) {
  if (state != State::open) return;
  auto plain = g::encode(message);
  send_raw_frame(plain);
}

void Session::write_next() {
  if (writing || out.empty() || state == State::closed) return;
  writing = true;
  asio::async_write(socket, asio::buffer(out.front()),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                      self->writing = false;
                      if (ec) return self->close("write failed: " + ec.message());
                      self->bytes_out += n;
                      self->queued -= self->out.front().size();
                      self->out.pop_front();
                      self->write_next();
                      if (self->state == State::open)
                        if (auto* e = self->engine()) e->pump(self->id);
                    });
}

void Session::resume() {
  paused = false;
  if (state == State::open) read_header();
}

void Session::read_header() {
  if (state == State::closed) return;
  if (state == State::open) arm(std::chrono::duration_cast<std::chrono::seconds>(kIdleTimeout), "idle for too long");
  asio::async_read(
      socket, asio::buffer(header), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->state == State::closed) return self->close("connection closed");
        auto n = self->opener->body_size(self->header.data());
        if (!n) return self->close(n.error().message, true);
        // Before the peer has proved its key, the one frame it may send is
        // its auth: a stranger never gets this node to hold a larger one.
        if (self->state == State::auth && *n != g::kAuthSize + g::kTagSize)
          return self->close("a frame of " + std::to_string(*n) + " bytes before authenticating (the auth frame has " +
                                 std::to_string(g::kAuthSize + g::kTagSize) + ")",
                             true);
        // The rest of a frame must follow promptly (no slow-drip frames).
        // During the handshake its own deadline stays.
        if (self->state == State::open)
          self->arm(std::chrono::duration_cast<std::chrono::seconds>(kFrameTimeout), "a frame arrived too slowly");
        self->read_body(*n);
      });
}

void Session::read_body(std::size_t n) {
  body.resize(n);
  asio::async_read(socket, asio::buffer(body),
                   [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                     if (ec || self->state == State::closed) return self->close("connection closed");
                     self->on_frame();
                   });
}

// The peer proved its key: keeps one session per node, then opens.
void Session::open_session() {
  auto& t = *transport;
  auto now = Clock::now();
  if (*peer_id == t.node_key_.public_key()) {
    if (!dial_address.empty() && !t.stopped_) t.book_.is_self(dial_address);
    return close("connected to itself");
  }
  if (!t.stopped_ && t.book_.banned(*peer_id, now)) return close("banned");
  // Two sessions with one node (both dialled at once): both ends keep the
  // one dialled by the smaller node key and close the other.
  std::shared_ptr<Session> other;
  for (const auto& [oid, o] : t.sessions_)
    if (o.get() != this && o->peer_id && *o->peer_id == *peer_id && o->state == State::open) other = o;
  if (other) {
    auto initiator = [&](const Session& x) { return x.outbound ? t.node_key_.public_key().bytes : x.peer_id->bytes; };
    if (outbound == other->outbound || initiator(*other) <= initiator(*this))
      return close("already connected to this node");
    other->close("replaced by a session both ends prefer");
  }
  state = State::open;
  deadline.cancel();
  handshake.reset();
  if (auto* e = engine()) e->on_open(id, now);
  read_header();
}

void Session::on_frame() {
  bytes_in += g::kHeaderSize + body.size();
  auto plain = opener->open(header.data(), body);
  if (!plain) return close(plain.error().message, true);
  if (state == State::auth) {
    auto pid = handshake->receive_auth(*plain);
    if (!pid) return close(pid.error().message, true);
    peer_id = *pid;
    return open_session();
  }
  // Rate limits: too many messages is a flood; too many bytes only slows
  // reading down.
  auto now = Clock::now();
  double dt = std::chrono::duration<double>(now - refilled).count();
  refilled = now;
  message_tokens = std::min(kMessageBurst, message_tokens + dt * kMessagesPerSecond) - 1;
  byte_tokens = std::min(kByteBurst, byte_tokens + dt * kBytesPerSecond) - static_cast<double>(body.size());
  if (message_tokens < 0)
    return close("flooding: over " + std::to_string(static_cast<int>(kMessagesPerSecond)) + " messages a second", true);
  auto message = g::ReceivedMessage::parse(*plain);
  if (!message) return close(message.error().message, true);
  auto* e = engine();
  if (!e) return;
  e->handle(id, message->root(), now);
  // Records are gathered while more frames already wait on the socket (a
  // sync in full flow): one index commit for many messages.
  boost::system::error_code ec;
  if (state == State::open && e->has_ingest(id) && (socket.available(ec) == 0 || ec)) e->flush_ingest(id, now);
  if (state == State::closed) return;
  // The peer sends faster than this node stores: wait (no deadline while
  // the wait is this node's) until Transport::resume.
  bool reading = e->accepting(id);  // (which may store, and close this session)
  if (state == State::closed) return;
  if (!reading) {
    paused = true;
    deadline.cancel();
    return;
  }
  if (byte_tokens < 0) {
    auto wait = std::chrono::milliseconds(static_cast<long>(-byte_tokens / kBytesPerSecond * 1000) + 1);
    throttle.expires_after(wait);
    throttle.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->read_header();
    });
    return;
  }
  read_header();
}

void Session::close(const std::string& reason, bool ban) {
  if (state == State::closed) return;
  bool was_open = state == State::open;
  state = State::closed;
  auto& t = *transport;
  if (!t.stopped_) {
    if (!was_open && outbound && !dial_address.empty() && remote_port != 0) t.book_.failed(dial_address);
    if (ban) {
      ++t.bans_;
      t.book_.ban(peer_id, remote_ip, remote(), reason, Clock::now());
    } else if (was_open) {
      t.log_.info("peer " + remote() + " left: " + reason);
    }
  }
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  deadline.cancel();
  throttle.cancel();
  t.remove(id, was_open);
}

// ---- the transport ------------------------------------------------------------

Transport::Transport(asio::io_context& io, const GossipOptions& options, const p::SecretKey& node_key,
                     AddressBook& book)
    : io_(io),
      options_(options),
      node_key_(node_key),
      book_(book),
      log_(options.log.with_component("gossip")),
      wake_timer_(io) {}

Transport::~Transport() = default;

p::Status Transport::listen(const std::string& host_port) {
  auto ep = parse_endpoint(host_port, true);
  if (!ep) return p::make_error(ErrorCode::invalid_argument, "--listen " + host_port + ": expected HOST:PORT");
  tcp::endpoint endpoint(ep->address, ep->port);
  acceptor_.emplace(io_);
  boost::system::error_code ec;
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(256, ec);
  if (ec)
    return p::make_error(ErrorCode::io, "gossip cannot listen on " + host_port + ": " + ec.message() +
                                            "; is the port in use? pick another with --listen");
  auto local = acceptor_->local_endpoint();
  listen_address_ = endpoint_text(local.address(), local.port());
  accept();
  return {};
}

std::uint16_t Transport::listen_port() const { return acceptor_ ? acceptor_->local_endpoint().port() : 0; }

std::shared_ptr<Session> Transport::add(tcp::socket socket, bool outbound) {
  auto s = std::make_shared<Session>(next_id_++, shared_from_this(), std::move(socket), outbound);
  sessions_.emplace(s->id, s);
  return s;
}

void Transport::remove(SessionId id, bool was_open) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto keep = it->second;  // the session may be running this
  sessions_.erase(it);
  if (was_open && !stopped_ && engine_) engine_->on_closed(id, Clock::now());
}

void Transport::accept() {
  if (!acceptor_) return;
  acceptor_->async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    if (self->stopped_) return;
    if (!ec) {
      boost::system::error_code e2;
      auto ep = socket.remote_endpoint(e2);
      auto addr = e2 ? asio::ip::address() : normalized(ep.address());
      std::size_t inbound = 0, same_address = 0;
      for (const auto& [id, s] : self->sessions_) {
        inbound += !s->outbound;
        same_address += !s->outbound && s->remote_ip == addr;
      }
      // Room is kept for the sessions this node dials itself.
      std::size_t inbound_limit =
          self->options_.max_sessions - std::min(self->options_.max_sessions, self->options_.outbound);
      if (e2 || inbound >= inbound_limit || (!is_loopback(addr) && same_address >= kMaxPerAddress) ||
          (!is_loopback(addr) && self->book_.banned(addr, Clock::now()))) {
        ++self->sessions_refused_;
        socket.close(e2);
      } else {
        self->add(std::move(socket), false)->start();
      }
    }
    if (ec && ec != asio::error::operation_aborted) {
      // Out of file descriptors, say: try again shortly, not in a spin.
      auto timer = std::make_shared<asio::steady_timer>(self->io_, std::chrono::milliseconds(200));
      timer->async_wait([self, timer](const boost::system::error_code&) { self->accept(); });
      return;
    }
    if (!ec) self->accept();
  });
}

bool Transport::connected_to(const std::string& host_port) const {
  auto ep = parse_endpoint(host_port);
  for (const auto& [id, s] : sessions_) {
    if (s->dial_address == host_port) return true;
    if (ep && s->remote_ip == ep->address && s->hello.gossip_port == ep->port) return true;
  }
  return false;
}

void Transport::dial(const std::string& host_port) {
  auto ep = parse_endpoint(host_port);
  if (!ep || stopped_) return;
  book_.dialling(host_port, Clock::now());
  auto socket = std::make_shared<tcp::socket>(io_);
  // Between loopback addresses (several nodes on one host, on 127.0.0.x),
  // from the one this node listens on, so peers learn the address that
  // reaches it. (Not elsewhere: another interface may need another source.)
  if (acceptor_) {
    auto local = acceptor_->local_endpoint().address();
    if (local.is_loopback() && ep->address.is_loopback() && local.is_v4() == ep->address.is_v4()) {
      boost::system::error_code ec;
      socket->open(local.is_v4() ? tcp::v4() : tcp::v6(), ec);
      if (!ec) socket->bind(tcp::endpoint(local, 0), ec);
      if (ec) socket = std::make_shared<tcp::socket>(io_);
    }
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(5));
  timer->async_wait([socket](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code e2;
      socket->close(e2);
    }
  });
  // Counted as an outbound session while connecting, so the dialler does
  // not start more than it wants.
  auto placeholder = add(tcp::socket(io_), true);
  placeholder->dial_address = host_port;
  socket->async_connect(tcp::endpoint(ep->address, ep->port),
                        [self = shared_from_this(), socket, timer, placeholder = placeholder->id,
                         host_port](const boost::system::error_code& ec) {
                          timer->cancel();
                          self->remove(placeholder, false);
                          if (self->stopped_) return;
                          if (ec) {
                            self->book_.failed(host_port);
                            return;
                          }
                          auto s = self->add(std::move(*socket), true);
                          s->dial_address = host_port;
                          s->start();
                        });
}

void Transport::dial_more(Clock::time_point now, std::mt19937_64& rng) {
  std::size_t outbound = 0;
  for (const auto& [id, s] : sessions_) outbound += s->outbound;
  if (outbound >= options_.outbound || sessions_.size() >= options_.max_sessions) return;
  auto candidates = book_.candidates(
      now, [this](const std::string& a) { return connected_to(a); }, rng);
  for (std::size_t i = 0; i < candidates.size() && outbound < options_.outbound; ++i, ++outbound) dial(candidates[i]);
}

void Transport::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  wake_timer_.cancel();
  auto sessions = sessions_;
  for (auto& [id, s] : sessions) s->close("node shutting down");
  sessions_.clear();
}

SessionFacts Transport::facts_of(const Session& s) const {
  SessionFacts f;
  f.id = s.id;
  f.outbound = s.outbound;
  f.dial_address = s.dial_address;
  f.remote_ip = s.remote_ip;
  f.remote_port = s.remote_port;
  if (s.peer_id) f.peer_id = *s.peer_id;
  f.hello = s.hello;
  f.queued = s.queued;
  return f;
}

std::vector<SessionFacts> Transport::open_sessions() const {
  std::vector<SessionFacts> out;
  for (const auto& [id, s] : sessions_)
    if (s->state == Session::State::open) out.push_back(facts_of(*s));
  return out;
}

std::size_t Transport::open_count() const {
  std::size_t n = 0;
  for (const auto& [id, s] : sessions_) n += s->state == Session::State::open;
  return n;
}

std::optional<SessionFacts> Transport::facts(SessionId id) const {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->state != Session::State::open) return std::nullopt;
  return facts_of(*it->second);
}

void Transport::send(SessionId id, capnp::MessageBuilder& message) {
  if (auto it = sessions_.find(id); it != sessions_.end()) {
    auto keep = it->second;  // sending may close it
    keep->send(message);
  }
}

void Transport::close(SessionId id, const std::string& reason, bool ban) {
  if (auto it = sessions_.find(id); it != sessions_.end()) {
    auto keep = it->second;
    keep->close(reason, ban);
  }
}

void Transport::set_hello(SessionId id, const PeerHello& hello) {
  if (auto it = sessions_.find(id); it != sessions_.end()) it->second->hello = hello;
}

void Transport::defer(std::function<void()> fn) {
  asio::post(io_, [w = weak_from_this(), fn = std::move(fn)] {
    auto self = w.lock();
    if (!self || self->stopped_) return;
    fn();
  });
}

void Transport::resume(SessionId id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second->paused) return;
  auto keep = it->second;
  keep->resume();
}

void Transport::ban(const SessionFacts& who, const std::string& reason) {
  if (stopped_) return;
  ++bans_;
  book_.ban(who.peer_id, who.remote_ip, endpoint_text(who.remote_ip, who.remote_port), reason, Clock::now());
  std::vector<std::shared_ptr<Session>> again;
  for (const auto& [id, s] : sessions_)
    if (s->peer_id && *s->peer_id == who.peer_id) again.push_back(s);
  for (const auto& s : again) s->close("banned: " + reason);
}

void Transport::wake_at(Clock::time_point when) {
  if (stopped_ || (wake_armed_ && *wake_armed_ <= when)) return;
  wake_armed_ = when;
  wake_timer_.expires_at(when);
  wake_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self || self->stopped_) return;
    self->wake_armed_.reset();
    if (self->engine_) self->engine_->on_deadline(Clock::now());
  });
}

std::vector<PeerInfo> Transport::peers() const {
  std::vector<PeerInfo> out;
  auto now = Clock::now();
  for (const auto& [id, s] : sessions_) {
    if (s->state == Session::State::closed || s->remote_port == 0) continue;
    PeerInfo i;
    i.address = s->remote();
    i.node_id = s->peer_id ? s->peer_id->to_text() : "";
    i.outbound = s->outbound;
    if (!s->outbound) {
      i.source = "inbound";
    } else if (auto source = book_.source_of(s->dial_address)) {
      i.source = to_string(*source);
    }
    i.state = s->state == Session::State::open ? "open" : "handshake";
    i.agent = s->hello.agent;
    i.version = s->hello.version;
    i.features = s->hello.features;
    i.gossip_port = s->hello.gossip_port;
    i.bt_port = s->hello.bt_port;
    i.bytes_in = s->bytes_in;
    i.bytes_out = s->bytes_out;
    if (engine_ && !stopped_) {
      auto c = engine_->counters(id);
      i.records_in = c.records_in;
      i.records_out = c.records_out;
    }
    i.connected_seconds = std::chrono::duration<double>(now - s->opened).count();
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace seedbank::node::gossip
