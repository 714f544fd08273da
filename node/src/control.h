// The control channel between the CLI and a running node: a Unix socket at
// <data dir>/control.sock (mode 0600), one JSON request line in, one JSON
// reply line out, per connection. Private to node/.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include "seedbank/protocol/result.h"

namespace seedbank::node {

inline std::filesystem::path control_socket_path(const std::filesystem::path& data_dir) {
  return data_dir / "control.sock";
}

// Answers one request by calling `reply` once, at once or later (a query
// answers when peers have); `reply` may be called on `io`'s thread only.
using ControlHandler = std::function<void(const nlohmann::json& request, std::function<void(nlohmann::json)> reply)>;

// Serves requests on `io` until destroyed. Requests over 1 MiB, or not JSON,
// get {"error": ...}. Only the node's own user can open the socket (0600).
class ControlServer {
 public:
  static protocol::Result<std::unique_ptr<ControlServer>> start(boost::asio::io_context& io,
                                                                const std::filesystem::path& socket_path,
                                                                ControlHandler handler);
  ~ControlServer();

 private:
  ControlServer(boost::asio::io_context& io, std::filesystem::path path, ControlHandler handler);
  void accept();
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  std::filesystem::path path_;
  ControlHandler handler_;
};

// Sends one request to the node on `data_dir` and waits up to `timeout` for
// its reply. Error not_found when no node is running there.
protocol::Result<nlohmann::json> control_request(const std::filesystem::path& data_dir, const nlohmann::json& request,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace seedbank::node
