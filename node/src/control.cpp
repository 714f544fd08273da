#include "control.h"

#include <sys/stat.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace seedbank::node {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
constexpr std::size_t kMaxRequest = 1 << 20;

constexpr auto kRequestDeadline = std::chrono::seconds(30);  // to send the request line

struct Connection : std::enable_shared_from_this<Connection> {
  local::socket socket;
  asio::streambuf in{kMaxRequest};
  std::string out;
  ControlHandler& handler;
  asio::steady_timer deadline;
  Connection(local::socket s, ControlHandler& h)
      : socket(std::move(s)), handler(h), deadline(socket.get_executor(), kRequestDeadline) {}
  void start() {
    auto self = shared_from_this();
    // A client that connects and says nothing does not hold the socket.
    deadline.async_wait([self](const boost::system::error_code& ec) {
      if (ec) return;
      boost::system::error_code ignored;
      self->socket.close(ignored);
    });
    asio::async_read_until(socket, in, '\n', [self](const boost::system::error_code& ec, std::size_t n) {
      self->deadline.cancel();
      auto respond = [self](nlohmann::json reply) {
        self->out = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        asio::async_write(self->socket, asio::buffer(self->out),
                          [self](const boost::system::error_code&, std::size_t) {});
      };
      if (ec) return respond({{"error", "request too large or connection closed"}});
      std::string line(asio::buffers_begin(self->in.data()),
                       asio::buffers_begin(self->in.data()) + static_cast<long>(n));
      auto request = nlohmann::json::parse(line, nullptr, false);
      if (request.is_discarded() || !request.is_object()) return respond({{"error", "request is not a JSON object"}});
      try {
        self->handler(request, respond);
      } catch (const std::exception& e) {
        respond({{"error", std::string("request failed: ") + e.what()}});
      }
    });
  }
};

}  // namespace

ControlServer::ControlServer(asio::io_context& io, std::filesystem::path path, ControlHandler handler)
    : acceptor_(io), retry_(io), path_(std::move(path)), handler_(std::move(handler)) {}

protocol::Result<std::unique_ptr<ControlServer>> ControlServer::start(asio::io_context& io,
                                                                      const std::filesystem::path& path,
                                                                      ControlHandler handler) {
  // A socket left by a killed node is stale if nobody answers on it.
  if (std::filesystem::exists(path)) {
    local::socket probe(io);
    boost::system::error_code ec;
    probe.connect(local::endpoint(path.string()), ec);
    if (!ec)
      return protocol::make_error(protocol::ErrorCode::conflict,
                                  "another node is already running on this data dir (" + path.string() + ")");
    std::error_code stale;
    std::filesystem::remove(path, stale);
  }
  std::unique_ptr<ControlServer> server(new ControlServer(io, path, std::move(handler)));
  boost::system::error_code ec;
  server->acceptor_.open(local(), ec);
  if (!ec) server->acceptor_.bind(local::endpoint(path.string()), ec);
  if (!ec) ::chmod(path.c_str(), 0600);
  if (!ec) server->acceptor_.listen(16, ec);
  if (ec) return protocol::make_error(protocol::ErrorCode::io, path.string() + ": cannot listen: " + ec.message());
  server->accept();
  return server;
}

ControlServer::~ControlServer() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  std::error_code fec;
  std::filesystem::remove(path_, fec);
}

void ControlServer::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, local::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::make_shared<Connection>(std::move(socket), handler_)->start();
      return accept();
    }
    // Out of file descriptors, say: try again shortly, not in a spin.
    retry_.expires_after(std::chrono::milliseconds(200));
    retry_.async_wait([this](const boost::system::error_code& e) {
      if (!e) accept();
    });
  });
}

protocol::Result<nlohmann::json> control_request(const std::filesystem::path& data_dir, const nlohmann::json& request,
                                                 std::chrono::milliseconds timeout) {
  asio::io_context io;
  local::socket socket(io);
  boost::system::error_code ec;
  socket.connect(local::endpoint(control_socket_path(data_dir).string()), ec);
  if (ec) return protocol::make_error(protocol::ErrorCode::not_found, "no node is running on " + data_dir.string());
  std::string line = request.dump() + "\n";
  asio::streambuf in(16 << 20);
  boost::system::error_code result = asio::error::timed_out;
  asio::async_write(socket, asio::buffer(line), [&](const boost::system::error_code& wec, std::size_t) {
    if (wec) {
      result = wec;
      return;
    }
    asio::async_read_until(socket, in, '\n', [&](const boost::system::error_code& rec, std::size_t) { result = rec; });
  });
  io.run_for(timeout);
  if (result)
    return protocol::make_error(protocol::ErrorCode::io,
                                "the node on " + data_dir.string() + " did not answer: " + result.message());
  std::string reply(asio::buffers_begin(in.data()), asio::buffers_end(in.data()));
  auto json = nlohmann::json::parse(reply, nullptr, false);
  if (json.is_discarded()) return protocol::make_error(protocol::ErrorCode::malformed, "the node's reply is not JSON");
  return json;
}

}  // namespace seedbank::node
